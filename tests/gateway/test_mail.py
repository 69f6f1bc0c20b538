"""Mail leaves through a real SMTP peer, or lands in the outbox as .eml."""

import threading
from datetime import timedelta
from email import message_from_bytes, policy

import pytest

from gateway import runtime
from gateway.db import db, utcnow
from gateway.mail import (
    BATCH,
    CONNECTIONS,
    REFUSED_REST,
    _mark_key,
    deliver_mail,
    deliver_queued,
    queue_mail,
    requeue_unsent,
)
from gateway.models import OutgoingMail
from gateway.settings import Settings
from tests.conftest import Mailbox, smtp_peer


def test_mail_through_smtp_once(mailbox, store, run_jobs):
    mail = queue_mail("ann@example.com", "Hello", "Plain text", "<p>HTML</p>",
                      headers={"List-Unsubscribe": "<mailto:unsub@example.com>"})
    run_jobs()
    [msg] = mailbox.to("ann@example.com")
    assert msg["Subject"] == "Hello"
    assert msg["List-Unsubscribe"] == "<mailto:unsub@example.com>"
    assert msg.get_body(("plain",)).get_content().strip() == "Plain text"
    assert "<p>HTML</p>" in msg.get_body(("html",)).get_content()
    assert deliver_mail(mail.id) == "skipped"  # a replay never sends twice
    assert len(mailbox.messages) == 1
    assert OutgoingMail.get_by_id(mail.id).status == "sent"


def test_a_mail_reads_right_with_accents_in_its_sender_subject_and_text(mailbox, store,
                                                                      run_jobs):
    queue_mail("ann@example.com", "Bevestig je inschrijving bij Café Zuid",
               "Dag Anaïs,\nBevestig hier: https://example.com/c/1\n", "<p>Dag Anaïs</p>",
               headers={"From": "Café Zuid <news@example.com>"})
    run_jobs()
    [msg] = mailbox.to("ann@example.com")
    assert msg["Subject"] == "Bevestig je inschrijving bij Café Zuid"
    assert msg["From"].addresses[0].display_name == "Café Zuid"
    assert msg["From"].addresses[0].addr_spec == "news@example.com"
    text = msg.get_body(("plain",)).get_content()
    assert text.replace("\r\n", "\n") == "Dag Anaïs,\nBevestig hier: https://example.com/c/1\n"
    assert "<p>Dag Anaïs</p>" in msg.get_body(("html",)).get_content()
    assert msg["Date"] and msg["Message-ID"]
    assert msg.get_all("MIME-Version") == ["1.0"]


def test_a_line_break_in_a_header_never_adds_a_header(mailbox, store, run_jobs):
    injected = queue_mail("ann@example.com", "Hi\r\nBcc: victim@example.com", "Text")
    queue_mail("bob@example.com", "Hi", "Text", headers={
        "Reply-To": "a@example.com\nBcc: victim@example.com"})
    fine = queue_mail("cid@example.com", "Hi", "Text")
    run_jobs()
    # the two are refused (they rest and are retried, never sent as written); the third goes
    assert [m["To"] for m in mailbox.messages] == ["cid@example.com"]
    assert not any(m["Bcc"] for m in mailbox.messages)
    assert OutgoingMail.get_by_id(injected.id).status == "queued"
    assert OutgoingMail.get_by_id(fine.id).status == "sent"


def test_outbox_when_no_smtp(store, settings, run_jobs):
    queue_mail("bob@example.com", "Hi", "Text")
    run_jobs()
    [eml] = list(settings.outbox_dir.glob("*.eml"))
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "bob@example.com" and msg["Subject"] == "Hi"


def test_smtp_down_keeps_the_mail_queued(env, store, settings, run_jobs):
    down = Settings(**{**settings.__dict__, "smtp_url": "smtp://127.0.0.1:1"})
    runtime._current["settings"] = down
    mail = queue_mail("c@example.com", "Hi", "Text")
    run_jobs()
    assert OutgoingMail.get_by_id(mail.id).status == "queued"
    assert OutgoingMail.get_by_id(mail.id).attempts >= 1


def test_mail_unsent_during_an_smtp_outage_goes_out_once_smtp_is_back(mailbox, store, settings,
                                                                      run_jobs):
    runtime._current["settings"] = Settings(**{**settings.__dict__,
                                               "smtp_url": "smtp://127.0.0.1:1"})
    mail = queue_mail("d@example.com", "Confirm", "Click")
    run_jobs()  # every retry fails: SMTP is down
    assert OutgoingMail.get_by_id(mail.id).status == "queued"
    runtime._current["settings"] = settings  # SMTP is back
    assert requeue_unsent(older_than=timedelta(0)) == 1
    run_jobs()
    assert requeue_unsent(older_than=timedelta(0)) == 0
    run_jobs()
    assert len(mailbox.to("d@example.com")) == 1
    assert OutgoingMail.get_by_id(mail.id).status == "sent"


def _smtp_down(settings):
    runtime._current["settings"] = Settings(**{**settings.__dict__,
                                               "smtp_url": "smtp://127.0.0.1:1"})


def test_a_mail_queued_without_scheduling_waits_for_the_callers_schedule(mailbox, store,
                                                                         run_jobs):
    from gateway.mail import schedule_delivery
    with db.atomic():  # the caller's transaction: it schedules after the commit
        mail = queue_mail("held@example.com", "Held", "Text", schedule=False)
        assert store.rq.count == 0
    schedule_delivery()
    assert store.rq.count == 1
    run_jobs()
    assert len(mailbox.to("held@example.com")) == 1
    assert OutgoingMail.get_by_id(mail.id).status == "sent"


def test_a_backlog_goes_out_from_one_job_over_parallel_sessions(mailbox, store, run_jobs):
    mails = [queue_mail(f"u{i}@example.com", f"Hi {i}", "Text") for i in range(120)]
    assert store.rq.count == 1  # one drain scheduled for 120 mails, not a job per mail
    run_jobs()
    # each mail exactly once, over CONNECTIONS sessions at once, each session oldest first
    assert sorted(m["To"] for m in mailbox.messages) == sorted(m.to for m in mails)
    assert mailbox.connections == CONNECTIONS
    order = {m.to: i for i, m in enumerate(mails)}
    for session in {id(s) for s in mailbox.sessions}:
        sent = [order[m["To"]] for m, s in zip(mailbox.messages, mailbox.sessions,
                                                strict=True) if id(s) == session]
        assert sent == sorted(sent)
    assert store.rq.finished_job_registry.count == 1
    assert OutgoingMail.select().where(OutgoingMail.status == "sent").count() == 120


def test_a_backlog_of_more_than_one_claim_brings_a_helper_drain(mailbox, store, run_jobs):
    claim = BATCH * CONNECTIONS
    for i in range(claim * 2 + 10):
        queue_mail(f"h{i}@example.com", "Hi", "Text", schedule=False)
    store.rq.enqueue(deliver_queued)
    run_jobs()
    finished = [store.rq.fetch_job(job_id) for job_id in store.rq.finished_job_registry
                .get_job_ids()]
    # the drain found a full claim and asked a second worker to help, once
    assert sorted(job.args for job in finished) == [(), (True,)]
    assert len(mailbox.messages) == claim * 2 + 10
    assert len({m["To"] for m in mailbox.messages}) == claim * 2 + 10  # none twice
    assert not store.redis.exists(_mark_key(helper=True))  # the helper cleared its mark


def test_a_mail_queued_as_a_drain_ends_is_handed_over(mailbox, store, run_jobs):
    from gateway.mail import _hand_over, _mark_key
    store.redis.set(_mark_key(), "1")  # a drain is running: queueing schedules nothing
    mail = queue_mail("late@example.com", "Late", "Text")
    assert store.rq.count == 0
    with db.connection_context():
        _hand_over()  # that drain's end sees the mail it never claimed
    assert store.rq.count == 1
    run_jobs()
    assert len(mailbox.to("late@example.com")) == 1
    assert OutgoingMail.get_by_id(mail.id).status == "sent"


def test_smtp_down_keeps_every_mail_queued_then_sends_each_once(mailbox, store, settings,
                                                                run_jobs):
    _smtp_down(settings)
    mails = [queue_mail(f"w{i}@example.com", "Confirm", "Click") for i in range(30)]
    run_jobs()  # the drain and each of its retries fail: SMTP is down
    runs = len(settings.job_retry_intervals) + 1
    rows = list(OutgoingMail.select())
    assert {(m.status, m.attempts) for m in rows} == {("queued", runs)}
    assert store.rq.failed_job_registry.count == 1
    runtime._current["settings"] = settings  # SMTP is back
    assert requeue_unsent(older_than=timedelta(0)) == 30
    run_jobs()
    assert sorted(m["To"] for m in mailbox.messages) == sorted(m.to for m in mails)
    assert {(m.status, m.attempts) for m in OutgoingMail.select()} == {("sent", runs + 1)}
    assert requeue_unsent(older_than=timedelta(0)) == 0


def test_racing_drains_and_old_jobs_never_send_a_mail_twice(mailbox, store):
    ids = [queue_mail(f"r{i}@example.com", "Race", "Text").id for i in range(150)]
    start = threading.Barrier(3)
    sent = []

    def drain():
        start.wait()
        sent.append(deliver_queued())

    def old_jobs():  # jobs queued before drains existed, one per mail, newest first
        start.wait()
        sent.append(sum(deliver_mail(mail_id) == "sent" for mail_id in reversed(ids)))
    threads = [threading.Thread(target=f) for f in (drain, drain, old_jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(sent) == 150
    assert sorted(m["To"] for m in mailbox.messages) == sorted(
        f"r{i}@example.com" for i in range(150))
    assert OutgoingMail.select().where(OutgoingMail.status == "sent").count() == 150


class Picky(Mailbox):
    """Refuses the recipients in ``refuse`` (a bad address), takes the others."""

    def __init__(self):
        super().__init__()
        self.refuse = {"bad@example.com"}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def picky(settings, store):
    box = Picky()
    with smtp_peer(box) as url:
        runtime._current["settings"] = Settings(**{**settings.__dict__, "smtp_url": url})
        yield box


def test_a_refused_mail_neither_blocks_the_others_nor_spins(picky, store, run_jobs):
    bad = queue_mail("bad@example.com", "Hi", "Text")  # the oldest: first in every batch
    for i in range(5):
        queue_mail(f"good{i}@example.com", "Hi", "Text")
    run_jobs()  # would never return if the drain kept handing the refused mail over
    assert sorted(m["To"] for m in picky.messages) == [f"good{i}@example.com" for i in range(5)]
    row = OutgoingMail.get_by_id(bad.id)
    assert (row.status, row.attempts) == ("queued", 1)
    assert store.rq.failed_job_registry.count == 0
    picky.refuse.clear()  # the address works now; its rest is over
    OutgoingMail.update(claimed_at=utcnow() - REFUSED_REST).where(
        OutgoingMail.id == bad.id).execute()
    assert requeue_unsent(older_than=timedelta(0)) == 1
    run_jobs()
    assert len(picky.to("bad@example.com")) == 1
    assert OutgoingMail.get_by_id(bad.id).status == "sent"


def test_embedded_queue_drains_to_the_outbox(env):
    env.pop("INLET_REDIS_URL")
    settings = Settings.from_env(env)
    queue = runtime.configure(settings)
    try:
        mails = [queue_mail(f"e{i}@example.com", "Hi", "Text") for i in range(3)]
        queue.run_pending()
        assert len(list(settings.outbox_dir.glob("*.eml"))) == 3
        assert [deliver_mail(m.id) for m in mails] == ["skipped"] * 3
    finally:
        db.close()
        runtime.reset()
