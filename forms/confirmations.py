"""Confirmations and unsubscribes: what a mailed link stands for, and using it once.

A confirmation link confirms its contact (then the welcome mail, if the form sends one); an
unsubscribe link blacklists its contact. Each link names its row and that row's nonce, so a
link dies with its row. Jobs (``forms.jobs``) call ``confirm``, ``resend``,
``unsubscribe_by_token`` and ``unsubscribe``; the public routes call ``inspect_link`` and
``unsubscribe_target``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from forms import tokens
from forms.mails import send_confirmation, send_welcome
from forms.models import Confirmation, UnsubscribeLink
from forms.public import form_reference
from gateway import runtime
from gateway.contacts import Provenance, blacklist, upsert
from gateway.db import db, utcnow
from gateway.errors import NotFound
from gateway.models import Contact
from gateway.validation import AccountVocabulary


@dataclass(frozen=True)
class LinkState:
    """What a confirmation link stands for, to choose the page to show."""

    state: str  # valid | used | expired | invalid
    confirmation_id: int | None = None
    form_id: int | None = None
    language: str | None = None
    nonce: str | None = None  # the link's own: keys its job, so no other link's is taken


def inspect_link(token: str, now: float | None = None) -> LinkState:
    """Check a confirmation token and its stored state (reads only)."""
    settings = runtime.settings()
    try:
        cid, nonce = tokens.read_confirm_token(settings.secret_key, token,
                                               settings.token_max_age, now)
        expired = False
    except tokens.ExpiredToken as exc:
        (cid, nonce), expired = exc.payload, True
    except tokens.InvalidToken:
        return LinkState("invalid")
    row = _confirmation(cid, nonce)
    if row is None:  # deleted (with its contact, say): the link is dead for good
        return LinkState("invalid")
    contact = Contact.get_by_id(row.contact_id)
    if row.used_at is not None or contact.status == "confirmed":
        state = "used"
    elif expired:
        state = "expired"
    else:
        state = "valid"
    return LinkState(state, row.id, row.form_id, row.language, row.nonce)


def _confirmation(confirmation_id: int, nonce: str | None) -> Confirmation | None:
    """The confirmation row a link names; its nonce must match when one is given."""
    query = Confirmation.id == confirmation_id
    if nonce is not None:
        query &= Confirmation.nonce == nonce
    return Confirmation.get_or_none(query)


def confirm(confirmation_id: int, ip: str | None = None, user_agent: str | None = None,
            nonce: str | None = None) -> str:
    """Use a confirmation link once: confirm the contact, then the welcome mail if enabled.

    Returns confirmed | used | blacklisted | gone. Idempotent: a rerun changes nothing, but
    still sends the welcome mail a crashed run confirmed without sending. ``nonce``: the
    link's (None only for jobs queued before links carried one).
    """
    with db.atomic():
        row = _confirmation(confirmation_id, nonce)
        if row is None:
            return "gone"
        outcome = _use_link(row, ip, user_agent) if row.used_at is None else "used"
    if row.confirmed and not row.welcome_sent:
        if send_welcome(row.form_id, row.contact_id, language=row.language):
            Confirmation.update(welcome_sent=True).where(Confirmation.id == row.id).execute()
    return outcome


def _use_link(row: Confirmation, ip: str | None, user_agent: str | None) -> str:
    contact = Contact.get_by_id(row.contact_id)
    row.used_at, row.used_ip, row.used_user_agent = utcnow(), ip, (user_agent or "")[:500]
    if contact.status != "unconfirmed":  # blacklisted: rule 5; confirmed: nothing to do
        row.save()
        return "blacklisted" if contact.status == "blacklisted" else "used"
    vocab = AccountVocabulary.load(contact.account_id)
    upsert(contact.account_id, {"email": contact.email}, status="confirmed",
           provenance=Provenance(channel="form", reference=form_reference(row.form_id),
                                 ip=ip, user_agent=user_agent),
           field_types=vocab.field_types)
    row.confirmed = True
    row.save()
    return "confirmed"


def resend(confirmation_id: int) -> None:
    """A new confirmation mail for the contact of an (expired) link, within the daily cap."""
    row = Confirmation.get_or_none(Confirmation.id == confirmation_id)
    if row is not None:
        send_confirmation(row.form_id, row.contact_id, language=row.language)


@dataclass(frozen=True)
class UnsubscribeTarget:
    """The contact an unsubscribe link stands for."""

    contact_id: int
    account_id: int
    job_key: str  # unique per link: one link's click never swallows another's
    link_id: int | None = None  # None: a link mailed before links carried nonces


def unsubscribe_target(token: str) -> UnsubscribeTarget | None:
    """Who an unsubscribe link stands for; None when forged or its row is gone (for good)."""
    try:
        claim = tokens.read_unsubscribe_token(runtime.settings().secret_key, token)
    except tokens.InvalidToken:
        return None
    if isinstance(claim, tokens.LegacyUnsubscribe):
        return _legacy_target(claim)
    link_id, nonce = claim
    row = (UnsubscribeLink.select(UnsubscribeLink.contact, Contact.account)
           .join(Contact).where((UnsubscribeLink.id == link_id)
                                & (UnsubscribeLink.nonce == nonce)).tuples().first())
    if row is None:
        return None
    return UnsubscribeTarget(row[0], row[1], f"forms-unsubscribe-{nonce}", link_id)


def _legacy_target(claim: tokens.LegacyUnsubscribe) -> UnsubscribeTarget | None:
    """A link mailed before links carried nonces (schema 3) names a contact by id.

    Unsubscribe links must work for as long as old mails are read (RFC 8058 one-click, the
    right to object), so these stay valid, but only for a contact that already existed when
    the link was signed: one that later got a deleted contact's id was created after it.
    """
    contact = Contact.get_or_none((Contact.id == claim.contact_id)
                                  & (Contact.account == claim.account_id))
    # The signature's clock has whole seconds: a contact made in the same second counts.
    signed = datetime.fromtimestamp(claim.issued_at + 1, UTC).replace(tzinfo=None)
    if contact is None or contact.created_at >= signed:
        return None
    return UnsubscribeTarget(contact.id, claim.account_id,
                             f"forms-unsubscribe-{contact.id}-{claim.issued_at}")


def unsubscribe_by_token(token: str) -> None:
    """Blacklist the contact of a still valid unsubscribe link (checked again: it is a job)."""
    target = unsubscribe_target(token)
    if target is None:
        return
    with db.atomic():
        if target.link_id is not None:
            UnsubscribeLink.update(used_at=utcnow()).where(
                (UnsubscribeLink.id == target.link_id) & UnsubscribeLink.used_at.is_null()
            ).execute()
        unsubscribe(target.contact_id, target.account_id)


def unsubscribe(contact_id: int, account_id: int) -> None:
    """Blacklist a contact who asked to stop receiving mail (unsubscribed = blacklisted)."""
    try:
        blacklist(account_id, contact_id, Provenance(channel="form", reference="unsubscribe"))
    except NotFound:
        pass  # deleted meanwhile: nothing to do
