"""The core's part of the privacy contract (``Area.erase``/``Area.retention``), and the
helpers every area's eraser uses to find and blank an address in its rows.

``erase`` removes the contact (its consent records, history and every row referring to it go
with it), the mails sent to the address, the stored API answers and finished jobs that quote
it, and the ``.eml`` copies in the outbox; ``purge_mail_bodies`` empties sent mails' bodies
once INLET_RETENTION_MAILS days old.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email import message_from_bytes, policy

from peewee import fn

from gateway import runtime
from gateway.models import Contact, EmbeddedJob, IdempotencyKey, OutgoingMail

ERASED = "[erased]"


def mentions(column, email: str):
    """The condition: ``column``'s text holds ``email`` (any case). Through ``LOWER()``: a
    JSON column would otherwise encode the pattern as JSON."""
    return fn.LOWER(column).contains(email.lower())


def redact(text, email: str):
    """``text`` with every occurrence of ``email`` (any case) replaced by ``[erased]``."""
    if not isinstance(text, str) or not email:
        return text
    return re.sub(re.escape(email), ERASED, text, flags=re.IGNORECASE)


def redact_json(value, email: str):
    """A JSON value with the address blanked in every string, keys included."""
    if isinstance(value, str):
        return redact(value, email)
    if isinstance(value, list):
        return [redact_json(item, email) for item in value]
    if isinstance(value, dict):
        return {redact(key, email): redact_json(item, email) for key, item in value.items()}
    return value


def cutoff(now: datetime, retained: str) -> datetime:
    """The instant before which ``retained`` (an INLET_RETENTION_* name) is purged."""
    return now - timedelta(days=runtime.settings().retention_days(retained))


def erase(account_id: int, contact_id: int, email: str) -> None:
    """Remove the contact and what the core keeps naming its address."""
    contact = Contact.get_or_none((Contact.id == contact_id) & (Contact.account == account_id))
    if contact is not None:
        contact.delete_instance(recursive=True)
    OutgoingMail.delete().where(OutgoingMail.to == email).execute()
    for mail in OutgoingMail.select().where(
            mentions(OutgoingMail.to, email) | mentions(OutgoingMail.subject, email)
            | mentions(OutgoingMail.text, email) | mentions(OutgoingMail.html, email)):
        # mails to others quoting the address (an import report): the address goes
        OutgoingMail.update(to=redact(mail.to, email), subject=redact(mail.subject, email),
                            text=redact(mail.text, email), html=redact(mail.html, email)
                            ).where(OutgoingMail.id == mail.id).execute()
    IdempotencyKey.delete().where((IdempotencyKey.account == account_id)
                                  & mentions(IdempotencyKey.response, email)).execute()
    EmbeddedJob.delete().where((EmbeddedJob.status != "queued")
                               & mentions(EmbeddedJob.args, email)).execute()
    _erase_outbox(email)


def _erase_outbox(email: str) -> None:
    """Delete the outbox's ``.eml`` files to or about the address (written without SMTP)."""
    outbox = runtime.settings().outbox_dir
    if not outbox.is_dir():
        return
    needle = email.lower().encode()
    for path in outbox.glob("*.eml"):
        raw = path.read_bytes()
        if needle in raw.lower() or needle in _decoded(raw):
            path.unlink(missing_ok=True)


def _decoded(raw: bytes) -> bytes:
    """A mail's headers and text parts decoded (bodies may be base64 or quoted-printable)."""
    message = message_from_bytes(raw, policy=policy.default)
    parts = [str(value) for value in message.values()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts).lower().encode()


def purge_mail_bodies(now: datetime) -> int:
    """Empty the bodies of mails sent before the retention period (subject, addressee and
    dates stay, for the record); returns how many."""
    return (OutgoingMail.update(text="", html=None)
            .where((OutgoingMail.status == "sent")
                   & (OutgoingMail.sent_at < cutoff(now, "mails"))
                   & ((OutgoingMail.text != "") | OutgoingMail.html.is_null(False)))
            .execute())
