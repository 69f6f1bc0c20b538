"""Contact store operations shared by the API, imports, forms and connectors."""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from itertools import chain

from peewee import SQL, fn

from gateway.contact_listing import SORTS, Filters, decode_cursor, encode_cursor, keyset_page
from gateway.db import db, is_postgres, loads_stored, utcnow
from gateway.errors import BadRequest, Conflict, ValidationFailed
from gateway.merge import CLEAR, MergeResult, is_clear, is_empty, merge
from gateway.models import STATUSES, Consent, Contact, ContactEvent
from gateway.tenancy import owned
from gateway.validation import AccountVocabulary, clean_contact, multi_line, single_line

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
            # Decided before the values change, or a confirmation would read as an update.
            kind = "confirmed" if (result.values["status"] == "confirmed"
                                   and existing.status != "confirmed") else "updated"
            for name, value in result.values.items():
                setattr(existing, name, value)
            existing.updated_at = utcnow()
            existing.save()
            record_event(existing.id, kind, provenance)
        return existing, result


# ---- batched upsert (imports) ----------------------------------------------------------------

_JSON_FIELDS = frozenset({"preferences", "interests", "custom_fields"})
_BATCH = 900  # stays under SQLite's bound-variable limit


def upsert_many(account_id: int, cleans: list[dict], *, status: str | None,
                provenance: Provenance, field_types: dict[str, str],
                defaults: dict | None = None) -> list[tuple[int | None, MergeResult]]:
    """``upsert`` for many distinct e-mails: one lookup, ``merge()`` per row, bulk writes.

    Call inside a transaction. ``defaults`` fill what a NEW contact lacks (import fallbacks);
    a new contact still without language or source is not written (outcome "incomplete").
    Returns (contact id or None, MergeResult) per input, in order.
    """
    stored = _stored_by_email(account_id, [clean["email"] for clean in cleans])
    results = []
    for clean in cleans:
        found = stored.get(clean["email"])
        if found is None and defaults:
            clean = dict(clean, **{k: v for k, v in defaults.items()
                                   if is_empty(clean.get(k)) or is_clear(clean.get(k))})
        result = merge(found[1] if found else None, clean, field_types, status)
        if result.outcome == "created" and not (result.values.get("language")
                                                and result.values.get("source")):
            result = MergeResult("incomplete", result.values)
        results.append([found[0] if found else None, result])
    now = _stamp(utcnow())
    _insert_created(account_id, results, provenance, now)
    _update_changed(results, stored, provenance, now)
    return [(contact_id, result) for contact_id, result in results]


def _dumps(value) -> str:
    """JSON as ``JSONField`` stores it."""
    if isinstance(value, list) and all(type(item) is str for item in value):
        return _dumps_labels(tuple(value))  # label lists repeat: encode each kind once
    return _encode(value)


def _one_shot_encoder():
    """``json.dumps(value, ensure_ascii=False, sort_keys=True)``, built once.

    ``json.dumps`` with options builds a new ``JSONEncoder`` on every call, and even a kept
    one builds its C encoder on every ``encode``: half the cost on a row's short dict. This is
    that same C encoder, made once; without the circular check, as the values are JSON."""
    base = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the plain encoder gives the same text
        return base.encode
    chunks = make(None, base.default, json.encoder.encode_basestring, None,
                  base.key_separator, base.item_separator, True, False, True)
    return lambda value: "".join(chunks(value, 0))


_encode = _one_shot_encoder()


@functools.lru_cache(maxsize=4096)
def _dumps_labels(labels: tuple[str, ...]) -> str:
    return json.dumps(list(labels), ensure_ascii=False)


_decode = json.JSONDecoder(parse_constant=lambda name: None).raw_decode


def _loads(raw: str):
    """``loads_stored`` minus its per-call checks (a third of its cost on short texts);
    anything but one bare value (surrounding space, say) goes through it."""
    try:
        value, end = _decode(raw)
    except json.JSONDecodeError:
        return loads_stored(raw)
    return value if end == len(raw) else loads_stored(raw)


@functools.lru_cache(maxsize=4096)
def _parse_labels(raw: str) -> tuple:
    """A stored label list, parsed once per distinct text (callers copy it to a list)."""
    return tuple(loads_stored(raw))


def _stamp(now):
    """``now`` as the driver stores it (SQLite's own adapter is slow when called per row)."""
    return now if is_postgres() else now.isoformat(" ")


def _sql_value(name: str, value):
    return _dumps(value) if name in _JSON_FIELDS else value


def _executemany(template: str, width: int, rows: list, pg_template: str | None = None) -> None:
    """Run one statement for many rows: a prepared ``executemany`` on SQLite, multi-row
    ``VALUES`` pages on PostgreSQL (psycopg2's executemany is a round trip per row)."""
    if not rows:
        return
    cursor = db.cursor()
    if is_postgres():
        from psycopg2.extras import execute_values
        execute_values(cursor, pg_template or template.replace("({marks})", "%s"), rows,
                       page_size=1000)
    else:
        cursor.executemany(_sql(template, width), rows)


# Rows per multi-row INSERT on SQLite: past a few hundred, longer statements gain nothing.
_ROWS_PER_INSERT = 500


def _insert_many(template: str, width: int, rows: list) -> None:
    """Run an ``INSERT ... VALUES ({marks})`` for many rows, in pages of multi-row ``VALUES``.

    On SQLite a page costs about a third less than ``executemany``: that runs the statement
    once per row, opening the table's and each index's cursor every time. The rows get the
    same ids, in the same order. PostgreSQL pages them already (see ``_executemany``)."""
    if not rows or is_postgres():
        _executemany(template, width, rows)
        return
    cursor = db.cursor()
    size = min(_ROWS_PER_INSERT, _variable_limit() // width)
    for start in range(0, len(rows), size):
        page = rows[start:start + size]
        cursor.execute(_multi_row_sql(template, width, len(page)),
                       list(chain.from_iterable(page)))


def _variable_limit() -> int:
    """How many bound values one SQLite statement may hold (999 before SQLite 3.32)."""
    return db.connection().getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


@functools.lru_cache(maxsize=64)
def _multi_row_sql(template: str, width: int, count: int) -> str:
    """``template`` with ``count`` rows of ``width`` SQLite placeholders in its ``VALUES``."""
    one = "(" + ", ".join([db.param] * width) + ")"
    return template.replace("({marks})", ", ".join([one] * count))


def select_by_emails(sql: str, account_id: int, emails: list[str]) -> list[tuple]:
    """Rows of a fixed ``sql`` (``{p}``: a placeholder, ``{marks}``: the e-mails' placeholders)
    for an account's e-mails, in batches under SQLite's variable limit."""
    rows: list[tuple] = []
    for start in range(0, len(emails), _BATCH):
        batch = emails[start:start + _BATCH]
        # Built by hand: Peewee's per-value nodes cost more than the query itself here.
        query = sql.format(p=db.param, marks=", ".join([db.param] * len(batch)))
        rows.extend(db.execute_sql(query, [account_id, *batch]).fetchall())
    return rows


_SELECT_STORED = ("SELECT id, email, first_name, name, language, source, status, preferences, "
                  "interests, custom_fields FROM contact WHERE account_id = {p} "
                  "AND email IN ({marks})")
_SELECT_IDS = "SELECT email, id FROM contact WHERE account_id = {p} AND email IN ({marks})"


def _stored_by_email(account_id: int, emails: list[str]) -> dict[str, tuple[int, dict]]:
    """{email: (id, stored values)} for the ones that exist, locked on PostgreSQL."""
    sql = _SELECT_STORED + (" FOR UPDATE" if is_postgres() else "")
    found: dict[str, tuple[int, dict]] = {}
    loads, labels = _loads, _parse_labels
    for cid, email, first, name, language, source, status, prefs, interests, custom \
            in select_by_emails(sql, account_id, emails):
        found[email] = (cid, {
            "email": email, "first_name": first, "name": name, "language": language,
            "source": source, "status": status, "preferences": list(labels(prefs or "[]")),
            "interests": list(labels(interests or "[]")),
            "custom_fields": loads(custom) if custom and custom != "{}" else {}})
    return found


def _sql(template: str, width: int) -> str:
    """A statement for executemany: ``{marks}`` becomes ``width`` driver placeholders."""
    return template.format(marks=", ".join([db.param] * width), p=db.param)


# Fixed statements (column names are constants; every value is a bound parameter).
_INSERT_CONTACT = ("INSERT INTO contact (account_id, email, first_name, name, language, source, "
                   "status, preferences, interests, custom_fields, created_at, updated_at) "
                   "VALUES ({marks})")
# Consent and history rows are made from the contact rows in SQL: one statement per batch of
# ids instead of binding every value of every row from Python.
_CONSENT_FROM_CONTACTS = ("INSERT INTO consent (account_id, contact_id, channel, reference, "
                          "actor, ip, user_agent, text, at) SELECT account_id, id, {p}, {p}, "
                          "{p}, {p}, {p}, {p}, {p} FROM contact WHERE {ids}")
_UPDATE_NAMES = ("first_name", "name", "language", "source", "status", "preferences",
                 "interests", "custom_fields")
_UPDATE_CONTACT = ("UPDATE contact SET first_name = {p}, name = {p}, language = {p}, "
                   "source = {p}, status = {p}, preferences = {p}, interests = {p}, "
                   "custom_fields = {p}, updated_at = {p} WHERE id = {p}")
_UPDATE_CONTACT_PG = ("UPDATE contact SET first_name = v.first_name, name = v.name, "
                      "language = v.language, source = v.source, status = v.status, "
                      "preferences = v.preferences, interests = v.interests, "
                      "custom_fields = v.custom_fields, updated_at = v.updated_at "
                      "FROM (VALUES %s) AS v(first_name, name, language, source, status, "
                      "preferences, interests, custom_fields, updated_at, id) "
                      "WHERE contact.id = v.id")
_EVENT_FROM_CONTACTS = ("INSERT INTO contact_event (contact_id, kind, channel, reference, at) "
                        "SELECT id, {p}, {p}, {p}, {p} FROM contact WHERE {ids}")


def _ids_by_email(account_id: int, emails: list[str]) -> dict[str, int]:
    return dict(select_by_emails(_SELECT_IDS, account_id, emails))


def _new_ids(account_id: int, created: list) -> list[int]:
    """The ids of the rows just inserted, in order."""
    if is_postgres():
        ids = _ids_by_email(account_id, [item[1].values["email"] for item in created])
        return [ids[item[1].values["email"]] for item in created]
    # SQLite gives a row without an explicit id the largest id ever given plus one
    # (AUTOINCREMENT), and our transaction holds the write lock since the insert: the batch's
    # ids are the consecutive ones ending at the largest. Saves a lookup per row.
    last = db.execute_sql("SELECT MAX(id) FROM contact").fetchone()[0]
    return list(range(last - len(created) + 1, last + 1))


def _insert_created(account_id: int, results: list, p: Provenance, now) -> None:
    created = [item for item in results if item[1].outcome == "created"]
    if not created:
        return
    labels, encode = _dumps_labels, _encode
    rows = []
    for item in created:
        v = item[1].values  # as merge() makes them: every key, label lists of text
        custom = v["custom_fields"]
        prefs, interests = v["preferences"], v["interests"]
        rows.append((account_id, v["email"], v["first_name"], v["name"], v["language"],
                     v["source"], v["status"], labels(tuple(prefs)) if prefs else "[]",
                     labels(tuple(interests)) if interests else "[]",
                     encode(custom) if custom else "{}", now, now))
    _insert_many(_INSERT_CONTACT, 12, rows)
    for item, contact_id in zip(created, _new_ids(account_id, created), strict=True):
        item[0] = contact_id
    _from_contacts(_CONSENT_FROM_CONTACTS, [item[0] for item in created],
                   [p.channel, p.reference, p.actor, p.ip, p.user_agent, p.text, now])
    _events([(item[0], "created") for item in created], p, now)


def _update_changed(results: list, stored: dict, p: Provenance, now) -> None:
    changed = [item for item in results if item[1].outcome == "updated"]
    if not changed:
        return
    _executemany(_UPDATE_CONTACT, 0,
                 [(*[_sql_value(n, item[1].values.get(n)) for n in _UPDATE_NAMES], now,
                   item[0]) for item in changed], _UPDATE_CONTACT_PG)
    _events([(item[0], "confirmed" if item[1].values["status"] == "confirmed"
              and stored[item[1].values["email"]][1]["status"] != "confirmed" else "updated")
             for item in changed], p, now)


def _events(rows: list[tuple[int, str]], p: Provenance, now) -> None:
    by_kind: dict[str, list[int]] = {}
    for contact_id, kind in rows:
        by_kind.setdefault(kind, []).append(contact_id)
    for kind, ids in by_kind.items():
        _from_contacts(_EVENT_FROM_CONTACTS, ids, [kind, p.channel, p.reference, now])


def _from_contacts(template: str, ids: list[int], values: list) -> None:
    """Run an ``INSERT ... SELECT`` over contact rows by id (``values`` fill its ``{p}``,
    ``{ids}`` the condition on the id)."""
    p = db.param
    if ids and max(ids) - min(ids) + 1 == len(ids) == len(set(ids)):
        # A run of consecutive ids (a batch's new contacts): one range scan in one statement
        # instead of id lists of _BATCH, each sorted and looked up row by row.
        db.execute_sql(template.format(p=p, ids=f"id BETWEEN {p} AND {p}"),
                       [*values, min(ids), max(ids)])
        return
    for start in range(0, len(ids), _BATCH):
        batch = ids[start:start + _BATCH]
        db.execute_sql(template.format(p=p, ids=f"id IN ({', '.join([p] * len(batch))})"),
                       [*values, *batch])


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
        raise BadRequest("The body must be a JSON object.")


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


def patch(account_id: int, contact_id, data: dict, provenance: Provenance
          ) -> tuple[Contact, MergeResult]:
    """Change one contact; same merge rules, the e-mail stays."""
    _require_object(data)
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
        raise Conflict("A contact with this e-mail exists already.", details=details)
    at, reason = blacklistings([existing.id]).get(existing.id, (existing.updated_at, None))
    details[0] |= {"blacklisted_at": _iso(at), "reason": reason}
    raise Conflict(f"{existing.email} is blacklisted (since {at:%Y-%m-%d}"
                   + (f": {reason}" if reason else "") + ") and cannot be added again.",
                   details=details)


# ---- listing with keyset pagination (filters and pages: gateway/contact_listing.py) -------

def list_contacts(account_id: int, *, status: str | None = None, email: str | None = None,
                  q: str | None = None, source: str | None = None, sort: str = "-created_at",
                  cursor: str | None = None, limit: int = 50, before: str | None = None,
                  **filters) -> dict:
    """One page of contacts, newest first by default, walking an index (no OFFSET).

    ``filters``: the other ``contact_listing.Filters`` (language, interest, preference,
    added_after, added_before, import_id); ``before`` asks for the page before a cursor."""
    if sort not in SORTS:
        raise BadRequest("sort must be -created_at or created_at.")
    if not 1 <= limit <= 500:
        raise BadRequest("limit must be between 1 and 500.")
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
    ``limit`` itself, an estimate meaning "more than ``limit``"."""
    bounded = Contact.select(SQL("1")).where(where).limit(limit + 1)
    exact = Contact.select(fn.COUNT(SQL("*"))).from_(bounded.alias("bounded")).scalar()
    if exact <= limit:
        return exact, False
    if not is_postgres():
        return limit, True
    sql, params = Contact.select(SQL("1")).where(where).sql()
    plan = db.execute_sql("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return max(int(plan[0]["Plan"]["Plan Rows"]), limit), True


__all__ = ["CLEAR", "Provenance", "create", "put", "get", "patch", "delete", "blacklist",
           "blacklistings", "list_contacts", "to_dict", "upsert", "upsert_many", "validate",
           "encode_cursor", "decode_cursor"]
