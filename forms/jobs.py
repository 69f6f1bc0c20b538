"""Queue jobs of the forms area: module-level, JSON-able arguments, idempotent."""

from __future__ import annotations

from forms import confirmations, mails, submission_batch, submissions
from gateway.db import db


def process_submission(item_id: str, item: dict) -> str:
    """Intake handler: write one accepted submission (``submissions.handle_submission``)."""
    return submissions.handle_submission(item_id, item)


def submission_order_key(item: dict) -> str:
    """Submissions of one address are applied in arrival order (the intake's order key)."""
    return f"{item['account_id']}:{item['contact']['email']}"


# The intake's batch contract (gateway.intake): a batch in one transaction, order per address.
process_submission.many = submission_batch.handle_many
process_submission.order_key = submission_order_key


def confirm_link(confirmation_id: int, ip: str | None = None,
                 user_agent: str | None = None, nonce: str | None = None) -> str:
    """Confirm the contact of a used confirmation link (once); ``nonce``: the link's."""
    with db.connection_context():
        return confirmations.confirm(confirmation_id, ip, user_agent, nonce)


def resend_confirmation(confirmation_id: int) -> None:
    """A new confirmation mail for an expired link (within the daily cap)."""
    with db.connection_context():
        confirmations.resend(confirmation_id)


def send_confirmation(form_id: int, contact_id: int, language: str | None = None) -> bool:
    """Send form ``form_id``'s double opt-in mail to ``contact_id`` (for connectors' hooks)."""
    with db.connection_context():
        return mails.send_confirmation(form_id, contact_id, language=language) is not None


def unsubscribe_link(token: str) -> None:
    """Blacklist the contact of a welcome mail's unsubscribe link, if it is still valid."""
    with db.connection_context():
        confirmations.unsubscribe_by_token(token)


def unsubscribe_contact(contact_id: int, account_id: int) -> None:
    """Blacklist a contact (only jobs queued before links carried nonces still name this)."""
    with db.connection_context():
        confirmations.unsubscribe(contact_id, account_id)
