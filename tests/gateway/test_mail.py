"""Mail leaves through a real SMTP peer, or lands in the outbox as .eml."""

from email import message_from_bytes, policy

from gateway.mail import deliver_mail, queue_mail
from gateway.models import OutgoingMail


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


def test_outbox_when_no_smtp(store, settings, run_jobs):
    queue_mail("bob@example.com", "Hi", "Text")
    run_jobs()
    [eml] = list(settings.outbox_dir.glob("*.eml"))
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "bob@example.com" and msg["Subject"] == "Hi"


def test_smtp_down_keeps_the_mail_queued(env, store, settings, run_jobs):
    from gateway import runtime
    from gateway.settings import Settings
    down = Settings(**{**settings.__dict__, "smtp_url": "smtp://127.0.0.1:1"})
    runtime._current["settings"] = down
    mail = queue_mail("c@example.com", "Hi", "Text")
    run_jobs()
    assert OutgoingMail.get_by_id(mail.id).status == "queued"
    assert OutgoingMail.get_by_id(mail.id).attempts >= 1


def test_mail_unsent_during_an_smtp_outage_goes_out_once_smtp_is_back(mailbox, store, settings,
                                                                      run_jobs):
    from datetime import timedelta

    from gateway import runtime
    from gateway.mail import requeue_unsent
    from gateway.settings import Settings
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
