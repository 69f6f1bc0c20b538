"""Outgoing mail: queued as a row, delivered by a job through SMTP or to the outbox folder."""

from __future__ import annotations

import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import unquote, urlparse

from gateway import runtime
from gateway.db import db, utcnow
from gateway.models import OutgoingMail
from gateway.settings import Settings


def queue_mail(to: str, subject: str, text: str, html: str | None = None, *,
               account_id: int | None = None, headers: dict | None = None,
               purpose: str = "") -> OutgoingMail:
    """Store a mail and queue its delivery; call inside the caller's transaction or not."""
    mail = OutgoingMail.create(account=account_id, to=to, subject=subject, text=text,
                               html=html, headers=headers or {}, purpose=purpose)
    runtime.queue().enqueue(deliver_mail, mail.id, job_id=f"mail-{mail.id}")
    return mail


def build_message(settings: Settings, mail: OutgoingMail) -> EmailMessage:
    """The MIME message: a text part, and an HTML alternative when there is one."""
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Message-ID"] = make_msgid(idstring=f"inlet-{mail.id}")
    for name, value in (mail.headers or {}).items():
        msg[name] = value
    msg.set_content(mail.text)
    if mail.html:
        msg.add_alternative(mail.html, subtype="html")
    return msg


def send(settings: Settings, msg: EmailMessage) -> None:
    """Hand ``msg`` to SMTP (``INLET_SMTP_URL``) or write it to the outbox as ``.eml``."""
    if not settings.smtp_url:
        outbox = settings.outbox_dir
        outbox.mkdir(parents=True, exist_ok=True)
        name = msg["Message-ID"].strip("<>").replace("/", "_")
        Path(outbox, f"{name}.eml").write_bytes(bytes(msg))
        return
    url = urlparse(settings.smtp_url)
    secure = url.scheme == "smtps"
    port = url.port or (465 if secure else 25)
    factory = smtplib.SMTP_SSL if secure else smtplib.SMTP
    with factory(url.hostname, port, timeout=15) as smtp:
        if url.scheme == "smtp+starttls":
            smtp.starttls(context=ssl.create_default_context())
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(msg)


def deliver_mail(mail_id: int) -> str:
    """Job: send one queued mail once; raises (and so retries) while SMTP is down."""
    settings = runtime.settings()
    with db.connection_context():
        # Claim the row first: two runs of this job (a retry racing a sweep) never both send.
        claimed = OutgoingMail.update(status="sending", attempts=OutgoingMail.attempts + 1,
                                      claimed_at=utcnow()).where(
            (OutgoingMail.id == mail_id) & (OutgoingMail.status == "queued")).execute()
        if not claimed:
            return "skipped"  # sent already, or another run has it
        mail = OutgoingMail.get_by_id(mail_id)
        try:
            send(settings, build_message(settings, mail))
        except Exception:
            OutgoingMail.update(status="queued").where(OutgoingMail.id == mail_id).execute()
            raise
        OutgoingMail.update(status="sent", sent_at=utcnow()).where(
            OutgoingMail.id == mail_id).execute()
    return "sent"


def requeue_unsent(older_than: timedelta = timedelta(minutes=10)) -> int:
    """Queue again every mail still unsent after its job's retries ran out (SMTP was down).

    A mail left ``sending`` by a worker that died mid-send goes back too: delivery is
    at-least-once in that one crash window, and exactly-once otherwise.
    """
    cutoff = utcnow() - older_than
    with db.connection_context():
        OutgoingMail.update(status="queued").where(
            (OutgoingMail.status == "sending") & (OutgoingMail.claimed_at < cutoff)).execute()
        stale = [m.id for m in OutgoingMail.select(OutgoingMail.id).where(
            (OutgoingMail.status == "queued") & (OutgoingMail.created_at < cutoff)
            & ((OutgoingMail.requeued_at.is_null()) | (OutgoingMail.requeued_at < cutoff)))]
        for mail_id in stale:
            OutgoingMail.update(requeued_at=utcnow()).where(OutgoingMail.id == mail_id).execute()
            runtime.queue().enqueue(deliver_mail, mail_id)
    return len(stale)
