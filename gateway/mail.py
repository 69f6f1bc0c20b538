"""Outgoing mail: queued as a row, delivered in batches through SMTP or to the outbox folder.

``queue_mail`` stores the row and makes sure a drain job (``deliver_queued``) will run. With
Redis at most one drain is scheduled at a time (``gateway.queue.schedule_once``, as in
``gateway.intake``): an RQ worker forks once per job, so a job per mail drained only tens of
mails/s. A drain claims up to ``BATCH × CONNECTIONS`` mails, oldest first (``queued`` →
``sending`` in one statement, skipping rows another drain is claiming, so two drains never
take the same mail), sends them over ``CONNECTIONS`` SMTP sessions at once, marks them
``sent`` as the sessions report them, and repeats until none are due or
``DRAIN_BUDGET_SECONDS`` are used; then it hands over to a fresh job. A drain that claims a
full batch asks for one ``helper`` drain on another worker (a burst of sign-ups). Without
Redis each ``queue_mail`` adds an embedded drain job (no fork to save).

Exactly once, except in one crash window: a worker that dies after the server took a mail but
before it was marked ``sent`` (the mails reported while the previous marks were written: a
handful) leaves it ``sending``; ``requeue_unsent`` (a sweep) sends it again. SMTP unreachable:
the batch's unsent mails go back to ``queued`` (attempt counted) and the job raises, so the
queue's retries back off. The server refusing one mail (a bad address, greylisting): that mail
goes back and rests ``REFUSED_REST``; the rest of the batch goes on.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlparse

import jinja2
import redis

from gateway import i18n, runtime
from gateway.db import db, is_postgres, utcnow
from gateway.errors import ServiceUnavailable
from gateway.models import OutgoingMail
from gateway.queue import EmbeddedQueue, release, schedule_once
from gateway.settings import Settings
from gateway.templating import TEMPLATES_DIR

log = logging.getLogger("inlet.mail")

BATCH = 50  # mails per SMTP connection
# SMTP sessions a drain keeps busy at once: a relay answers each command of each mail in a
# round trip, so one session waits most of its time (listmonk and MTAs open several too).
CONNECTIONS = 4
DRAIN_BUDGET_SECONDS = 30  # a drain hands over to a fresh job after this long
SCHEDULE_SECONDS = 60  # a scheduled drain older than this is assumed lost: schedule again
REFUSED_REST = timedelta(minutes=5)  # a mail the server refused waits this long to be retried
# This one mail cannot go now (the server refused it and reset the transaction, or it cannot
# be encoded): the connection still serves the others. Anything else (refused connection,
# timeout, disconnect) fails the whole batch.
REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError,
           smtplib.SMTPNotSupportedError, ValueError)


# Text parts are not HTML: escaping would turn "O'Brien & Co" into "O&#39;Brien &amp; Co".
# Only our own templates/mail/*.txt are rendered here (account-written bodies go through the
# forms area's sandbox).
_text_templates = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                                     autoescape=False,  # noqa: S701 (text, not HTML)
                                     undefined=jinja2.StrictUndefined,
                                     keep_trailing_newline=True,
                                     extensions=["jinja2.ext.i18n"])
# {{ _("…") }} and {{ ngettext(…) }} in the task's language, as in gateway.templating
_text_templates.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True,
                                          pgettext=i18n.pgettext)
_text_templates.globals.update(language=i18n.current, number=i18n.number)


def render_text(name: str, **context) -> str:
    """The plain-text part of a mail from ``templates/<name>``, without HTML escaping."""
    return _text_templates.get_template(name).render(**context)


def queue_mail(to: str, subject: str, text: str, html: str | None = None, *,
               account_id: int | None = None, headers: dict | None = None,
               purpose: str = "", schedule: bool = True) -> OutgoingMail:
    """Store a mail and schedule its delivery (``schedule=False``: the caller will).

    Inside a transaction, pass ``schedule=False`` and call ``schedule_delivery`` after the
    commit: a running drain whose last look comes before the commit would miss the mail, and
    it would wait for the sweep.
    """
    mail = OutgoingMail.create(account=account_id, to=to, subject=subject, text=text,
                               html=html, headers=headers or {}, purpose=purpose)
    if schedule:
        schedule_delivery()
    return mail


def schedule_delivery(*, force: bool = False, helper: bool = False) -> None:
    """Make sure a drain will send the queued mails (with Redis: unless one is scheduled);
    ``helper``: a second drain beside a running one (a burst: one drain builds and sends on
    one core, and the other worker would stay idle)."""
    jobs = runtime.queue()
    if helper and isinstance(jobs, EmbeddedQueue):
        return  # one process runs the embedded jobs: a helper would only wait its turn
    try:
        # ``force`` (the sweep): the mark may belong to a drain that was lost with its worker.
        schedule_once(jobs, _mark_key(helper=helper), deliver_queued, *([True] if helper else []),
                      ttl=SCHEDULE_SECONDS, force=force)
    except (redis.exceptions.RedisError, ServiceUnavailable):
        # The mail is safe in the database: the next mail or the sweep schedules again.
        log.warning("could not schedule mail delivery; the sweep will", exc_info=True)


def _mark_key(*, helper: bool = False) -> str:
    kind = "helper" if helper else "scheduled"
    return f"inlet:mail:{runtime.settings().queue_name}:{kind}"


# ---- sending ---------------------------------------------------------------------------------

def build_message(settings: Settings, mail: OutgoingMail) -> Message:
    """The MIME message: a text part, and an HTML alternative when there is one."""
    # The ``email.mime`` classes, not ``EmailMessage``: its header registry parses every
    # header it is given, a millisecond a mail, most of a drain's CPU in a burst.
    headers = dict(mail.headers or {})
    msg = _part(mail.text, "plain")
    if mail.html:
        parts = [msg, _part(mail.html, "html")]
        for part in parts:
            del part["MIME-Version"]  # once, on the message
        msg = MIMEMultipart("alternative", _subparts=parts)
    _set_header(msg, "From", headers.pop("From", None) or settings.mail_from)  # an account's
    _set_header(msg, "To", mail.to)
    _set_header(msg, "Subject", mail.subject)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=f"inlet-{mail.id}")
    for name, value in headers.items():
        _set_header(msg, name, value)
    return msg


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # mostly-ASCII text stays readable (base64 text scores as spam)


def _part(body: str, subtype: str) -> MIMEText:
    return MIMEText(body, subtype, "us-ascii" if body.isascii() else _UTF8_QP)


def _set_header(msg: Message, name: str, value: str) -> None:
    """Set a header; a non-ASCII value RFC 2047-encoded (an address: its display name)."""
    if "\r" in value or "\n" in value:
        # A line break would start a header of the sender's choosing (Bcc:, a second body).
        raise ValueError(f"line break in the {name} header")
    if value.isascii():
        msg[name] = value
    elif name in _ADDRESS_HEADERS:
        # ``formataddr`` raises UnicodeEncodeError (a ValueError) for a non-ASCII address.
        msg[name] = ", ".join(formataddr(pair, "utf-8") for pair in getaddresses([value]))
    else:
        msg[name] = Header(value, "utf-8").encode()


_ADDRESS_HEADERS = {"From", "To", "Reply-To", "Cc", "Sender"}


def send(settings: Settings, msg: Message) -> None:
    """Hand ``msg`` to SMTP (``INLET_SMTP_URL``) or write it to the outbox as ``.eml``."""
    with connection(settings) as deliver:
        deliver(msg)


@contextlib.contextmanager
def connection(settings: Settings) -> Iterator[Callable[[Message], object]]:
    """A ``deliver(msg)`` for several mails: one SMTP session, or the outbox folder."""
    if not settings.smtp_url:
        yield partial(_write_eml, settings.outbox_dir)
        return
    smtp = _open_smtp(settings.smtp_url)
    try:
        yield smtp.send_message
    finally:
        _close_smtp(smtp)


def _write_eml(outbox: Path, msg: Message) -> None:
    outbox.mkdir(parents=True, exist_ok=True)
    name = msg["Message-ID"].strip("<>").replace("/", "_")
    Path(outbox, f"{name}.eml").write_bytes(bytes(msg))


def _open_smtp(smtp_url: str) -> smtplib.SMTP:
    """A ready SMTP session (TLS and login done) for ``smtp://``, ``smtp+starttls://``,
    ``smtps://``."""
    url = urlparse(smtp_url)
    secure = url.scheme == "smtps"
    factory = smtplib.SMTP_SSL if secure else smtplib.SMTP
    smtp = factory(url.hostname, url.port or (465 if secure else 25), timeout=15)
    try:
        if url.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
    except BaseException:
        smtp.close()
        raise
    return smtp


def _close_smtp(smtp: smtplib.SMTP) -> None:
    # The server has taken every mail already: a failing QUIT must not make us send again.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


# ---- delivery jobs ---------------------------------------------------------------------------

def deliver_queued(helper: bool = False) -> int:
    """Job: send due mails in batches until none are left; returns how many were sent. A
    drain that finds a backlog asks a second worker for a ``helper`` drain alongside it."""
    settings, started, sent = runtime.settings(), time.monotonic(), 0
    with db.connection_context():  # one database connection for the whole run
        while time.monotonic() - started < DRAIN_BUDGET_SECONDS:
            batch = _claim(BATCH * CONNECTIONS)
            if not batch:
                break
            if len(batch) == BATCH * CONNECTIONS and not helper:
                schedule_delivery(helper=True)
            sent += _send_batch(settings, batch)
        _hand_over(helper)
    return sent


def deliver_mail(mail_id: int) -> str:
    """Job: send one queued mail once (jobs queued before drains); "skipped" if not queued."""
    settings = runtime.settings()
    with db.connection_context():
        # Claim the row first: this job racing a drain or a retry never both send it.
        if not _take(OutgoingMail.id == mail_id, utcnow()):
            return "skipped"  # sent already, or another run has it
        mail = OutgoingMail.get_by_id(mail_id)
        try:
            send(settings, build_message(settings, mail))
        except Exception:
            _put_back([mail_id])  # this job's own retry sends it: no rest
            raise
        _mark_sent([mail_id])
    return "sent"


def _due(now: datetime):
    """Queued mails a drain may take: not claimed yet, given back after an SMTP failure, or
    refused by the server more than ``REFUSED_REST`` ago (``claimed_at`` kept as its time)."""
    return (OutgoingMail.status == "queued") & (
        OutgoingMail.claimed_at.is_null() | (OutgoingMail.claimed_at < now - REFUSED_REST))


def _take(where, now: datetime, *ctes) -> list[int]:
    """Claim the queued mails matching ``where``: ``queued`` → ``sending``, attempt counted;
    returns the ids this call claimed (a racing claimer's rows fail the status check)."""
    rows = (OutgoingMail.update(status="sending", attempts=OutgoingMail.attempts + 1,
                                claimed_at=now)
            .with_cte(*ctes).where(where & (OutgoingMail.status == "queued"))
            .returning(OutgoingMail.id).execute())
    return sorted(row.id for row in rows)


def _claim(limit: int) -> list[OutgoingMail]:
    """Claim up to ``limit`` due mails, oldest first; returns them in that order."""
    now = utcnow()
    due = (OutgoingMail.select(OutgoingMail.id).where(_due(now))
           .order_by(OutgoingMail.id).limit(limit))
    if is_postgres():
        # Rows another drain is claiming right now: take the next ones instead of waiting.
        due = due.for_update(skip_locked=True)
    # Materialized: PostgreSQL may rerun a plain ``IN (subquery)`` per row and take more
    # than ``limit`` mails.
    due = due.cte("due", materialized=True)
    ids = _take(OutgoingMail.id.in_(due.select(due.c.id)), now, due)
    if not ids:
        return []
    return list(OutgoingMail.select().where(OutgoingMail.id.in_(ids)).order_by(OutgoingMail.id))


def _send_batch(settings: Settings, batch: list[OutgoingMail]) -> int:
    """Send claimed mails over up to ``CONNECTIONS`` sessions at once, marking each mail as
    its session reports it; on a connection failure put back every mail not sent yet and
    raise. Returns how many were sent."""
    results: queue.SimpleQueue = queue.SimpleQueue()
    # Round robin: the oldest mails are each session's first.
    chunks = [batch[i::CONNECTIONS] for i in range(min(CONNECTIONS, len(batch)))]
    for chunk in chunks:
        threading.Thread(target=_send_chunk, args=(settings, chunk, results),
                         daemon=True).start()
    sent, open_sessions, failure = 0, len(chunks), None
    while open_sessions:
        # Everything reported while the last marks were written, marked in one statement:
        # under load marks cost a commit per group, not per mail, and a crash leaves at
        # most the group being written unmarked (the documented window).
        reports = _reports(results)
        sent_ids = [ref for kind, ref in reports if kind == "sent"]
        _mark_sent(sent_ids)
        sent += len(sent_ids)
        _put_back([ref for kind, ref in reports if kind == "refused"], rest=True)
        for kind, ref in reports:
            if kind == "failed":
                failure, unsent = ref
                log.warning("SMTP failed; %d claimed mails go back to the queue", len(unsent))
                _put_back(unsent)
            open_sessions -= kind in ("failed", "closed")
    if failure is not None:
        raise failure
    return sent


def _reports(results: queue.SimpleQueue) -> list[tuple[str, object]]:
    """The next report (waiting for it) and every other one already in ``results``."""
    reports = [results.get()]
    with contextlib.suppress(queue.Empty):
        while True:
            reports.append(results.get_nowait())
    return reports


def _send_chunk(settings: Settings, chunk: list[OutgoingMail],
                results: queue.SimpleQueue) -> None:
    """Thread: send ``chunk`` over one session, reporting each mail's fate to ``results``:
    ``sent``/``refused`` with its id, then ``closed``, or ``failed`` with the error and the
    ids not handed over. No database work here: the drain's thread owns the connection."""
    unsent = [mail.id for mail in chunk]
    try:
        with connection(settings) as deliver:
            for mail in chunk:
                kind = "sent" if _offer(settings, deliver, mail) else "refused"
                # From here the mail is off our hands: a crash before it is marked is the
                # documented window (the sweep finds it ``sending``), never a put-back.
                unsent.remove(mail.id)
                results.put((kind, mail.id))
    except Exception as exc:  # noqa: BLE001 (the drain's thread re-raises it)
        results.put(("failed", (exc, unsent)))
        return
    results.put(("closed", None))


def _offer(settings: Settings, deliver: Callable, mail: OutgoingMail) -> bool:
    """Deliver one mail; False if the server refused it (the drain puts it back, resting)."""
    try:
        deliver(build_message(settings, mail))
    except REFUSED as exc:
        log.warning("mail %s refused (%r); retrying it later", mail.id, exc)
        return False
    return True


def _put_back(ids: Iterable[int], *, rest: bool = False) -> None:
    """Claimed but unsent mails back to ``queued``; ``rest`` keeps ``claimed_at`` so drains
    leave them alone for ``REFUSED_REST`` (see ``_due``)."""
    ids = list(ids)
    if ids:
        fields = {"status": "queued"} if rest else {"status": "queued", "claimed_at": None}
        OutgoingMail.update(**fields).where(OutgoingMail.id.in_(ids)
                                            & (OutgoingMail.status == "sending")).execute()


def _mark_sent(ids: list[int]) -> None:
    if ids:
        OutgoingMail.update(status="sent", sent_at=utcnow()).where(
            OutgoingMail.id.in_(ids)).execute()


def _waiting() -> bool:
    """True when a drain would find a mail to take now."""
    return OutgoingMail.select(OutgoingMail.id).where(_due(utcnow())).exists()


def _hand_over(helper: bool = False) -> None:
    """End a drain: clear its mark, and schedule a fresh drain if mails are still due."""
    release(runtime.queue(), _mark_key(helper=helper))
    # The budget ran out, or a mail queued after our last claim saw the mark and relied on
    # us: hand over.
    if _waiting():
        schedule_delivery()


# ---- sweep -----------------------------------------------------------------------------------

def requeue_unsent(older_than: timedelta = timedelta(minutes=10)) -> int:
    """Sweep: put stuck mails back in line and schedule a drain; returns how many stale ones.

    A mail left ``sending`` past ``older_than`` (its worker died mid-send) goes back to
    ``queued``: delivery is at-least-once in that one crash window, exactly-once otherwise. A
    mail still queued after ``older_than`` (SMTP was down until the retries ran out, a drain
    was lost) counts as stale, at most once per ``older_than``, and forces a drain.
    """
    cutoff = utcnow() - older_than
    with db.connection_context():
        OutgoingMail.update(status="queued", claimed_at=None).where(
            (OutgoingMail.status == "sending") & (OutgoingMail.claimed_at < cutoff)).execute()
        stale = OutgoingMail.update(requeued_at=utcnow()).where(
            (OutgoingMail.status == "queued") & (OutgoingMail.created_at < cutoff)
            & ((OutgoingMail.requeued_at.is_null()) | (OutgoingMail.requeued_at < cutoff))
        ).execute()
        # Also when nothing is stale: a mail committed after a drain's last look has no drain.
        waiting = not stale and _waiting()
    if stale or waiting:
        schedule_delivery(force=bool(stale))
    return stale
