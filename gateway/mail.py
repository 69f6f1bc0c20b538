"""Outgoing mail: queued as a row, delivered by a job through SMTP or to the outbox folder."""

from __future__ import annotations

import smtplib
import ssl
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
        mail = OutgoingMail.get_or_none(OutgoingMail.id == mail_id)
        if mail is None or mail.status == "sent":
            return "skipped"  # idempotent: a replay never sends twice
        OutgoingMail.update(attempts=OutgoingMail.attempts + 1).where(
            OutgoingMail.id == mail_id).execute()
        send(settings, build_message(settings, mail))
        OutgoingMail.update(status="sent", sent_at=utcnow()).where(
            OutgoingMail.id == mail_id).execute()
    return "sent"
