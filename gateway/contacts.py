"""Contact store operations shared by the API, imports, forms and connectors."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from peewee import Tuple

from gateway.db import db, is_postgres, utcnow
from gateway.errors import BadRequest, Conflict, NotFound, ValidationFailed
from gateway.merge import CLEAR, MergeResult, merge
from gateway.models import STATUSES, Consent, Contact, ContactEvent
from gateway.validation import AccountVocabulary, clean_contact

STORED_FIELDS = ("email", "first_name", "name", "language", "source", "status",
                 "preferences", "interests", "custom_fields")


@dataclass
class Provenance:
    """Where an inbound record came from, for the consent record and history."""

    channel: str  # api, import, form, connector, admin
    reference: str = ""
    actor: str = ""
    ip: str | None = None
    user_agent: str | None = None
    text: str | None = None


def to_dict(contact: Contact) -> dict:
    """The SPEC §7 contact shape."""
    return {
        "id": contact.id, "email": contact.email, "first_name": contact.first_name,
        "name": contact.name, "language": contact.language, "source": contact.source,
        "status": contact.status, "preferences": contact.preferences or [],
        "interests": contact.interests or [], "custom_fields": contact.custom_fields or {},
        "created_at": _iso(contact.created_at), "updated_at": _iso(contact.updated_at),
    }


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds") + "Z"


def stored_values(contact: Contact) -> dict:
    """The merge-relevant values of a stored contact."""
    return {name: getattr(contact, name) for name in STORED_FIELDS}


def validate(account_id: int, data: dict, *, creating: bool,
             vocab: AccountVocabulary | None = None) -> dict:
    """Clean ``data`` or raise 422 with every field error."""
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    vocab = vocab or AccountVocabulary.load(account_id)
    clean, errors = clean_contact(vocab, data, creating=creating)
    if errors:
        raise ValidationFailed(details=[e.to_dict() for e in errors])
    return clean


def upsert(account_id: int, clean: dict, *, status: str | None, provenance: Provenance,
           field_types: dict[str, str]) -> tuple[Contact, MergeResult]:
    """Create or merge one contact under the merge rules; the one write path for one record."""
    with db.atomic():
        existing = (Contact.select().where((Contact.account == account_id)
                                           & (Contact.email == clean["email"]))
                    .for_update().first() if is_postgres() else
                    Contact.get_or_none(account=account_id, email=clean["email"]))
        result = merge(stored_values(existing) if existing else None, clean, field_types, status)
        if result.outcome == "created":
            contact = Contact.create(account=account_id, **result.values)
            record_consent(account_id, contact.id, provenance)
            record_event(contact.id, "created", provenance)
            return contact, result
        if result.outcome == "updated":
            for name, value in result.values.items():
                setattr(existing, name, value)
            existing.updated_at = utcnow()
            existing.save()
            kind = "confirmed" if (result.values["status"] == "confirmed"
                                   and existing.status != "confirmed") else "updated"
            record_event(existing.id, kind, provenance)
        return existing, result


def record_consent(account_id: int, contact_id: int, p: Provenance) -> None:
    """Keep how, when and by whom a contact came in."""
    Consent.create(account=account_id, contact=contact_id, channel=p.channel,
                   reference=p.reference, actor=p.actor, ip=p.ip, user_agent=p.user_agent,
                   text=p.text)


def record_event(contact_id: int, kind: str, p: Provenance) -> None:
    """Append to a contact's history."""
    ContactEvent.create(contact=contact_id, kind=kind, channel=p.channel, reference=p.reference)


def create(account_id: int, data: dict, provenance: Provenance) -> Contact:
    """Add a new contact; 409 with the existing id when the e-mail is known."""
    vocab = AccountVocabulary.load(account_id)
    clean = validate(account_id, data, creating=True, vocab=vocab)
    status = _status(data.get("status"), default="confirmed")
    existing = Contact.get_or_none(account=account_id, email=clean["email"])
    if existing:
        raise Conflict("A contact with this e-mail exists already.",
                       details=[{"id": existing.id, "email": existing.email}])
    contact, result = upsert(account_id, clean, status=status, provenance=provenance,
                             field_types=vocab.field_types)
    if result.outcome != "created":
        raise Conflict("A contact with this e-mail exists already.",
                       details=[{"id": contact.id, "email": contact.email}])
    return contact


def _status(value, default: str | None) -> str | None:
    if value in (None, ""):
        return default
    if value not in STATUSES:
        raise ValidationFailed(details=[{"field": "status", "code": "invalid_status",
                                         "message": f"status must be one of {STATUSES}",
                                         "value": value}])
    return value


def put(account_id: int, email: str, data: dict, provenance: Provenance
        ) -> tuple[Contact, MergeResult]:
    """Upsert by e-mail under the merge rules."""
    data = dict(data, email=data.get("email") or email)
    vocab = AccountVocabulary.load(account_id)
    clean = validate(account_id, data, creating=False, vocab=vocab)
    existing = Contact.get_or_none(account=account_id, email=clean["email"])
    if existing is None:  # a new contact needs the mandatory fields
        clean = validate(account_id, data, creating=True, vocab=vocab)
    status = _status(data.get("status"), default=None if existing else "confirmed")
    return upsert(account_id, clean, status=status, provenance=provenance,
                  field_types=vocab.field_types)


def get(account_id: int, contact_id) -> Contact:
    """One contact of this account, or 404 (never another account's)."""
    try:
        contact_id = int(contact_id)
    except (TypeError, ValueError):
        raise NotFound("No such contact.") from None
    contact = Contact.get_or_none((Contact.id == contact_id) & (Contact.account == account_id))
    if contact is None:
        raise NotFound("No such contact.")
    return contact


def patch(account_id: int, contact_id, data: dict, provenance: Provenance
          ) -> tuple[Contact, MergeResult]:
    """Change one contact; same merge rules, the e-mail stays."""
    contact = get(account_id, contact_id)
    data = dict(data)
    if data.get("email") not in (None, contact.email):
        raise ValidationFailed(details=[{"field": "email", "code": "immutable",
                                         "message": "The e-mail of a contact cannot change."}])
    data["email"] = contact.email
    status = _status(data.get("status"), default=None)
    vocab = AccountVocabulary.load(account_id)
    clean = validate(account_id, data, creating=False, vocab=vocab)
    return upsert(account_id, clean, status=status, provenance=provenance,
                  field_types=vocab.field_types)


def delete(account_id: int, contact_id) -> None:
    """Remove one contact and its records."""
    contact = get(account_id, contact_id)
    with db.atomic():
        contact.delete_instance(recursive=True)


def blacklist(account_id: int, contact_id, provenance: Provenance) -> Contact:
    """Blacklist a contact: it is never changed by an inbound path again."""
    contact = get(account_id, contact_id)
    if contact.status != "blacklisted":
        contact.status = "blacklisted"
        contact.updated_at = utcnow()
        contact.save()
        record_event(contact.id, "blacklisted", provenance)
    return contact


# ---- listing with keyset pagination -------------------------------------------------------

def encode_cursor(created_at: datetime, contact_id: int) -> str:
    """An opaque cursor: the (created_at, id) of the last row seen."""
    raw = json.dumps([created_at.isoformat(), contact_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Inverse of ``encode_cursor``; 400 on garbage."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, contact_id = json.loads(raw)
        return datetime.fromisoformat(stamp), int(contact_id)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise BadRequest("The cursor is not valid.") from None


def list_contacts(account_id: int, *, status: str | None = None, email: str | None = None,
                  q: str | None = None, source: str | None = None, sort: str = "-created_at",
                  cursor: str | None = None, limit: int = 50) -> dict:
    """One page of contacts, newest first by default, walking an index (no OFFSET)."""
    if sort not in ("-created_at", "created_at"):
        raise BadRequest("sort must be -created_at or created_at.")
    if status not in (None, "", *STATUSES):
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}.")
    if not 1 <= limit <= 500:
        raise BadRequest("limit must be between 1 and 500.")
    where = Contact.account == account_id
    if status:
        where &= Contact.status == status
    if email:
        where &= Contact.email == email.strip().lower()
    if source:
        where &= Contact.source == source
    if q:
        where &= Contact.email.contains(q.strip().lower())
    total = Contact.select().where(where).count()
    page_where = where
    desc = sort.startswith("-")
    if cursor:
        stamp, last_id = decode_cursor(cursor)
        # A row-value comparison lets both databases seek straight into the index.
        key, mark = Tuple(Contact.created_at, Contact.id), Tuple(stamp, last_id)
        page_where &= (key < mark) if desc else (key > mark)
    order = ((Contact.created_at.desc(), Contact.id.desc()) if desc
             else (Contact.created_at.asc(), Contact.id.asc()))
    rows = list(Contact.select().where(page_where).order_by(*order).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return {"items": [to_dict(c) for c in rows], "next_cursor": next_cursor, "total": total}


__all__ = ["CLEAR", "Provenance", "create", "put", "get", "patch", "delete", "blacklist",
           "list_contacts", "to_dict", "upsert", "validate"]
