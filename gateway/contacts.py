"""Contact store operations shared by the API, imports, forms and connectors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from peewee import SQL, fn

from gateway import changes, contact_rows
from gateway.contact_listing import SORTS, Filters, decode_cursor, encode_cursor, keyset_page
from gateway.db import db, is_postgres, utcnow
from gateway.errors import BadRequest, Conflict, ValidationFailed
from gateway.i18n import _
from gateway.merge import CLEAR, MergeResult, is_clear, is_empty, merge
from gateway.models import STATUSES, Consent, Contact, ContactEvent
from gateway.tenancy import owned
from gateway.validation import AccountVocabulary, clean_contact, multi_line, single_line
from privacy import suppression

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

    def __post_init__(self):
        # Metadata is kept, never refused: clipped to its declared column length (the same on
        # SQLite and PostgreSQL, which alone would refuse it), without what no store can hold.
        for name in ("reference", "actor", "ip", "user_agent"):
            value = getattr(self, name)
            if value is not None:
                limit = Consent._meta.fields[name].max_length
                setattr(self, name, single_line(str(value))[:limit])
        if self.text is not None:
            self.text = multi_line(self.text)


def to_dict(contact: Contact) -> dict:
    """The contact shape of the API (README, "API")."""
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
        raise BadRequest(_("The body must be a JSON object."))
    vocab = vocab or AccountVocabulary.load(account_id)
    clean, errors = clean_contact(vocab, data, creating=creating)
    if errors:
        raise ValidationFailed(details=[e.to_dict() for e in errors])
    return clean


def upsert(account_id: int, clean: dict, *, status: str | None, provenance: Provenance,
           field_types: dict[str, str], replace_labels: bool = False
           ) -> tuple[Contact, MergeResult]:
    """Create or merge one contact under the merge rules; the one write path for one record
    (``replace_labels``: see ``merge.merge``)."""
    with db.atomic():
        existing = (Contact.select().where((Contact.account == account_id)
                                           & (Contact.email == clean["email"]))
                    .for_update().first() if is_postgres() else
                    Contact.get_or_none(account=account_id, email=clean["email"]))
        if existing is None:
            suppression.check(account_id, clean["email"])  # an erased address stays out
        before = stored_values(existing) if existing else None
        result = merge(before, clean, field_types, status, replace_labels=replace_labels)
        if result.outcome == "created":
            contact = Contact.create(account=account_id, **result.values)
            record_consent(account_id, contact.id, provenance)
            record_event(contact.id, "created", provenance)
            changes.announce([changes.ContactChange(account_id, contact.id, "created", (),
                                                    provenance)])
            return contact, result
        if result.outcome == "updated":
            # Decided before the values change, or a confirmation would read as an update.
            kind = "confirmed" if (result.values["status"] == "confirmed"
                                   and existing.status != "confirmed") else "updated"
            for name, value in result.values.items():
                setattr(existing, name, value)
            existing.updated_at = utcnow()
            existing.save()
            record_event(existing.id, kind, provenance)
            changes.announce([changes.ContactChange(
                account_id, existing.id, changes.update_kind(before, result.values),
                changes.changed_fields(before, result.values), provenance)])
        return existing, result


# ---- batched upsert (imports) ----------------------------------------------------------------

def upsert_many(account_id: int, cleans: list[dict], *, status: str | None,
                provenance: Provenance, field_types: dict[str, str],
                defaults: dict | None = None) -> list[tuple[int | None, MergeResult]]:
    """``upsert`` for many distinct e-mails: one lookup, ``merge()`` per row, bulk writes.

    Call inside a transaction. ``defaults`` fill what a NEW contact lacks (import fallbacks);
    a new contact still without language or source is not written (outcome "incomplete").
    Returns (contact id or None, MergeResult) per input, in order.
    """
    stored = contact_rows.stored_by_email(account_id, [clean["email"] for clean in cleans],
                                          lock=True)
    refused = suppression.suppressed(account_id, [c["email"] for c in cleans
                                                  if c["email"] not in stored])
    results = []
    for clean in cleans:
        found = stored.get(clean["email"])
        if clean["email"] in refused:  # erased and suppressed (privacy.suppression)
            # nothing is written, as for a blacklisted contact (rule 5)
            results.append([None, MergeResult("suppressed", {"status": "blacklisted"})])
            continue
        if found is None and defaults:
            clean = dict(clean, **{k: v for k, v in defaults.items()
                                   if is_empty(clean.get(k)) or is_clear(clean.get(k))})
        result = merge(found[1] if found else None, clean, field_types, status)
        if result.outcome == "created" and not (result.values.get("language")
                                                and result.values.get("source")):
            result = MergeResult("incomplete", result.values)
        results.append([found[0] if found else None, result])
    now = contact_rows.stamp(utcnow())
    _insert_created(account_id, results, provenance, now)
    _update_changed(results, stored, provenance, now)
    changes.announce_batch(account_id, results, stored, provenance)
    return [(contact_id, result) for contact_id, result in results]


def _insert_created(account_id: int, results: list, p: Provenance, now) -> None:
    created = [item for item in results if item[1].outcome == "created"]
    if not created:
        return
    ids = contact_rows.insert_created(account_id, [item[1].values for item in created], p, now)
    for item, contact_id in zip(created, ids, strict=True):
        item[0] = contact_id
    _events([(contact_id, "created") for contact_id in ids], p, now)


def _update_changed(results: list, stored: dict, p: Provenance, now) -> None:
    changed = [item for item in results if item[1].outcome == "updated"]
    if not changed:
        return
    contact_rows.update_changed([(item[0], item[1].values) for item in changed], now)
    _events([(item[0], "confirmed" if item[1].values["status"] == "confirmed"
              and stored[item[1].values["email"]][1]["status"] != "confirmed" else "updated")
             for item in changed], p, now)


def _events(rows: list[tuple[int, str]], p: Provenance, now) -> None:
    contact_rows.events(rows, p, now)


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
        _refuse_existing(existing)
    contact, result = upsert(account_id, clean, status=status, provenance=provenance,
                             field_types=vocab.field_types)
    if result.outcome != "created":
        _refuse_existing(contact)
    return contact


def _require_object(data) -> None:
    """400 unless the body is a JSON object (a list or a string would crash ``dict()``)."""
    if not isinstance(data, dict):
        raise BadRequest(_("The body must be a JSON object."))


def _status(value, default: str | None) -> str | None:
    if value in (None, ""):
        return default
    if value not in STATUSES:
        raise ValidationFailed(details=[{"field": "status", "code": "invalid_status",
                                         "message": _("status must be one of %(statuses)s")
                                         % {"statuses": STATUSES},
                                         "value": value}])
    return value


def put(account_id: int, email: str, data: dict, provenance: Provenance
        ) -> tuple[Contact, MergeResult]:
    """Upsert by e-mail under the merge rules."""
    _require_object(data)
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
    return owned(Contact, account_id, contact_id, "contact")


def patch(account_id: int, contact_id, data: dict, provenance: Provenance, *,
          replace_labels: bool = False) -> tuple[Contact, MergeResult]:
    """Change one contact; same merge rules, the e-mail stays (``replace_labels``: the body
    holds the whole sets of preferences and interests, as the admin edit page sends them)."""
    _require_object(data)
    contact = get(account_id, contact_id)
    data = dict(data)
    if data.get("email") not in (None, contact.email):
        raise ValidationFailed(details=[{"field": "email", "code": "immutable",
                                         "message": _("The e-mail of a contact cannot "
                                                      "change.")}])
    data["email"] = contact.email
    status = _status(data.get("status"), default=None)
    vocab = AccountVocabulary.load(account_id)
    clean = validate(account_id, data, creating=False, vocab=vocab)
    return upsert(account_id, clean, status=status, provenance=provenance,
                  field_types=vocab.field_types, replace_labels=replace_labels)


def delete(account_id: int, contact_id) -> None:
    """Remove one contact and its records."""
    contact = get(account_id, contact_id)
    with db.atomic():
        changes.announce([changes.ContactChange(account_id, contact.id, "deleted", (),
                                                Provenance(channel=""))])
        contact.delete_instance(recursive=True)


def blacklist(account_id: int, contact_id, provenance: Provenance,
              reason: str | None = None) -> Contact:
    """Blacklist a contact: it is never changed by an inbound path again; ``reason`` (why,
    in the user's words) is kept in its history and shown with it."""
    contact = get(account_id, contact_id)
    if contact.status != "blacklisted":
        contact.status = "blacklisted"
        contact.updated_at = utcnow()
        with db.atomic():
            contact.save()
            ContactEvent.create(contact=contact.id, kind="blacklisted",
                                channel=provenance.channel, reference=provenance.reference,
                                reason=multi_line(reason).strip()[:1000] if reason else None)
            changes.announce([changes.ContactChange(account_id, contact.id, "blacklisted",
                                                    ("status",), provenance)])
    return contact


def blacklistings(contact_ids: list[int]) -> dict[int, tuple]:
    """{contact id: (when, reason)} of the latest blacklisting of each (a contact stored as
    blacklisted without one, by an import say, is absent)."""
    found: dict[int, tuple] = {}
    for event in (ContactEvent.select(ContactEvent.contact, ContactEvent.at, ContactEvent.reason)
                  .where(ContactEvent.contact.in_(contact_ids or [0])
                         & (ContactEvent.kind == "blacklisted"))
                  .order_by(ContactEvent.at, ContactEvent.id)):
        found[event.contact_id] = (event.at, event.reason)
    return found


def _refuse_existing(existing: Contact) -> None:
    """409 for an e-mail that is known; a blacklisted one says so, since when and why."""
    details = [{"id": existing.id, "email": existing.email, "status": existing.status}]
    if existing.status != "blacklisted":
        raise Conflict(_("A contact with this e-mail exists already."), details=details)
    at, reason = blacklistings([existing.id]).get(existing.id, (existing.updated_at, None))
    details[0] |= {"blacklisted_at": _iso(at), "reason": reason}
    raise Conflict(blacklisted_message(existing.email, at.date(), reason), details=details)


def blacklisted_message(email: str, day, reason: str | None) -> str:
    """Why ``email`` cannot be added: blacklisted since ``day``, and why."""
    if reason:
        return _("%(email)s is blacklisted (since %(day)s: %(reason)s) and cannot be added "
                 "again.") % {"email": email, "day": f"{day:%Y-%m-%d}", "reason": reason}
    return _("%(email)s is blacklisted (since %(day)s) and cannot be added again.") % {
        "email": email, "day": f"{day:%Y-%m-%d}"}


# ---- listing with keyset pagination (filters and pages: gateway/contact_listing.py) -------

def list_contacts(account_id: int, *, status: str | None = None, email: str | None = None,
                  q: str | None = None, source: str | None = None, sort: str = "-created_at",
                  cursor: str | None = None, limit: int = 50, before: str | None = None,
                  **filters) -> dict:
    """One page of contacts, newest first by default, walking an index (no OFFSET).

    ``filters``: the other ``contact_listing.Filters`` (language, interest, preference,
    added_after, added_before, import_id); ``before`` asks for the page before a cursor."""
    if sort not in SORTS:
        raise BadRequest(_("sort must be -created_at or created_at."))
    if not 1 <= limit <= 500:
        raise BadRequest(_("limit must be between 1 and 500."))
    where = Filters(status=status, email=email, q=q, source=source, **filters).where(account_id)
    total, estimated = count_contacts(where)
    rows, next_cursor, prev_cursor = keyset_page(where, sort=sort, cursor=cursor,
                                                 before=before, limit=limit)
    return {"items": [to_dict(c) for c in rows], "next_cursor": next_cursor,
            "prev_cursor": prev_cursor, "total": total, "total_is_estimate": estimated}


# Counted exactly up to here; above it an exact count (a scan of every matching row: ~1 s at
# a million contacts) would cost more than the page it sits on.
EXACT_COUNT_LIMIT = 10_000


def count_contacts(where, limit: int = EXACT_COUNT_LIMIT) -> tuple[int, bool]:
    """How many contacts ``where`` holds for, and whether that is an estimate.

    Exact up to ``limit`` (a count over at most ``limit + 1`` rows). Above it, PostgreSQL's
    planner estimate, and never less than ``limit``; SQLite has none, so it answers
    ``limit`` itself, an estimate meaning "more than ``limit``". On PostgreSQL a planner
    estimate far above ``limit`` is answered at once: the bounded count of a broad search
    (a name part 11 % of a million contacts share) filters a hundred thousand rows to find
    its ``limit + 1``, ~150 ms a tab, and would then be replaced by the estimate anyway."""
    estimate = _planner_estimate(where) if is_postgres() else None
    if estimate is not None and estimate >= ESTIMATE_FIRST_FACTOR * limit:
        return estimate, True
    bounded = Contact.select(SQL("1")).where(where).limit(limit + 1)
    exact = Contact.select(fn.COUNT(SQL("*"))).from_(bounded.alias("bounded")).scalar()
    if exact <= limit:
        return exact, False
    return max(estimate or 0, limit), True


# A planner estimate this many times the exact-count limit is taken as it is (estimates of
# a search are rough, but not 5× too high: below this the bounded count decides).
ESTIMATE_FIRST_FACTOR = 5


def _planner_estimate(where) -> int:
    sql, params = Contact.select(SQL("1")).where(where).sql()
    plan = db.execute_sql("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


__all__ = ["CLEAR", "Provenance", "create", "put", "get", "patch", "delete", "blacklist",
           "blacklistings", "list_contacts", "to_dict", "upsert", "upsert_many", "validate",
           "encode_cursor", "decode_cursor", "blacklisted_message"]
