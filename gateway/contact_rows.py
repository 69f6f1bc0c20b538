"""How a batch of contacts is read and written as rows (``gateway.contacts.upsert_many``).

The merge decisions are made before (``gateway.merge``); this module reads the stored values
of a batch in one query and writes what was decided set-based: new contacts with their
consent and history rows, changed contacts with theirs. On SQLite a prepared statement runs
for many rows (multi-row ``VALUES`` pages for inserts); on PostgreSQL the rows go in with
``COPY`` (``gateway.pg_copy``). Values are encoded as ``JSONField`` stores them.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from itertools import chain

from gateway import pg_copy
from gateway.db import db, is_postgres, loads_stored

BATCH = 900  # e-mails per lookup on SQLite: stays under its bound-variable limit


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


encode = _one_shot_encoder()


@functools.lru_cache(maxsize=4096)
def dumps_labels(labels: tuple[str, ...]) -> str:
    """A label list as stored (label lists repeat: each kind is encoded once)."""
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


def stamp(now):
    """``now`` as the driver stores it (SQLite's own adapter is slow when called per row)."""
    return now if is_postgres() else now.isoformat(" ")


def stored_row(values: dict) -> tuple:
    """Merge values as the stored (email, first_name, name, language, source, status,
    preferences, interests, custom_fields)."""
    prefs, interests, custom = values["preferences"], values["interests"], \
        values["custom_fields"]
    return (values["email"], values["first_name"], values["name"], values["language"],
            values["source"], values["status"],
            dumps_labels(tuple(prefs)) if prefs else "[]",
            dumps_labels(tuple(interests)) if interests else "[]",
            encode(custom) if custom else "{}")


# ---- reading --------------------------------------------------------------------------------

def select_by_emails(sql: str, account_id: int, emails: list[str]) -> list[tuple]:
    """Rows of a fixed ``sql`` (``{p}``: a placeholder, ``{emails}``: the condition on the
    e-mail column) for an account's e-mails: one query on PostgreSQL (an array), batches
    under the variable limit on SQLite."""
    if is_postgres():
        return db.execute_sql(sql.format(p="%s", emails="= ANY(%s)"),
                              [account_id, emails]).fetchall() if emails else []
    rows: list[tuple] = []
    for start in range(0, len(emails), BATCH):
        batch = emails[start:start + BATCH]
        # Built by hand: Peewee's per-value nodes cost more than the query itself here.
        query = sql.format(p=db.param, emails=f"IN ({', '.join([db.param] * len(batch))})")
        rows.extend(db.execute_sql(query, [account_id, *batch]).fetchall())
    return rows


_SELECT_STORED = ("SELECT id, email, first_name, name, language, source, status, preferences, "
                  "interests, custom_fields FROM contact WHERE account_id = {p} "
                  "AND email {emails}")


def stored_by_email(account_id: int, emails: list[str], *, lock: bool = False
                    ) -> dict[str, tuple[int, dict]]:
    """{email: (id, stored merge values)} for the ones that exist (``lock``: FOR UPDATE on
    PostgreSQL, where the batch then writes them)."""
    sql = _SELECT_STORED + (" FOR UPDATE" if lock and is_postgres() else "")
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


# ---- writing --------------------------------------------------------------------------------

# Rows per multi-row INSERT on SQLite: past a few hundred, longer statements gain nothing.
ROWS_PER_INSERT = 500


def _insert_many(template: str, width: int, rows: list) -> None:
    """Run an SQLite ``INSERT ... VALUES ({marks})`` for many rows, in pages of multi-row
    ``VALUES``: a page costs about a third less than ``executemany``, which runs the statement
    once per row, opening the table's and each index's cursor every time. The rows get the
    same ids, in the same order."""
    cursor = db.cursor()
    size = min(ROWS_PER_INSERT, _variable_limit() // width)
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


# Fixed statements (column names are constants; every value is a bound parameter).
_INSERT_CONTACT = ("INSERT INTO contact (email, first_name, name, language, source, status, "
                   "preferences, interests, custom_fields, account_id, created_at, "
                   "updated_at) VALUES ({marks})")
# Consent and history rows are made from the contact rows in SQL: one statement per batch of
# ids instead of binding every value of every row from Python.
_CONSENT_FROM_CONTACTS = ("INSERT INTO consent (account_id, contact_id, channel, reference, "
                          "actor, ip, user_agent, text, at) SELECT account_id, id, {p}, {p}, "
                          "{p}, {p}, {p}, {p}, {p} FROM contact WHERE {ids}")
_UPDATE_CONTACT = ("UPDATE contact SET first_name = ?, name = ?, language = ?, source = ?, "
                   "status = ?, preferences = ?, interests = ?, custom_fields = ?, "
                   "updated_at = ? WHERE id = ?")
_EVENT_FROM_CONTACTS = ("INSERT INTO contact_event (contact_id, kind, channel, reference, at) "
                        "SELECT id, {p}, {p}, {p}, {p} FROM contact WHERE {ids}")


def insert_created(account_id: int, created: list[dict], p, now) -> list[int]:
    """Insert new contacts (merge values) with their consent records (provenance ``p``);
    their ids, in order."""
    rows = [stored_row(values) for values in created]
    if is_postgres():
        by_email = pg_copy.insert_contacts(account_id, rows, now)
        ids = [by_email[row[0]] for row in rows]
    else:
        _insert_many(_INSERT_CONTACT, 12, [(*row, account_id, now, now) for row in rows])
        # SQLite gives a row without an explicit id the largest id ever given plus one
        # (AUTOINCREMENT), and our transaction holds the write lock since the insert: the
        # batch's ids are the consecutive ones ending at the largest. Saves a lookup per row.
        last = db.execute_sql("SELECT MAX(id) FROM contact").fetchone()[0]
        ids = list(range(last - len(rows) + 1, last + 1))
    from_contacts(_CONSENT_FROM_CONTACTS, ids,
                  [p.channel, p.reference, p.actor, p.ip, p.user_agent, p.text, now])
    return ids


def update_changed(changed: list[tuple[int, dict]], now) -> None:
    """Store the merge values of changed contacts, [(id, values)]."""
    if not changed:
        return
    if is_postgres():
        pg_copy.update_contacts([(cid, *stored_row(values)[1:]) for cid, values in changed],
                                now)
        return
    db.cursor().executemany(_UPDATE_CONTACT, [(*stored_row(values)[1:], now, cid)
                                              for cid, values in changed])


def events(rows: list[tuple[int, str]], p, now) -> None:
    """Append history rows [(contact id, kind)] with provenance ``p``."""
    by_kind: dict[str, list[int]] = {}
    for contact_id, kind in rows:
        by_kind.setdefault(kind, []).append(contact_id)
    for kind, ids in by_kind.items():
        from_contacts(_EVENT_FROM_CONTACTS, ids, [kind, p.channel, p.reference, now])


def from_contacts(template: str, ids: list[int], values: list) -> None:
    """Run an ``INSERT ... SELECT`` over contact rows by id (``values`` fill its ``{p}``,
    ``{ids}`` the condition on the id)."""
    p = db.param
    if ids and max(ids) - min(ids) + 1 == len(ids) == len(set(ids)):
        # A run of consecutive ids (a batch's new contacts): one range scan in one statement
        # instead of id lists of BATCH, each sorted and looked up row by row.
        db.execute_sql(template.format(p=p, ids=f"id BETWEEN {p} AND {p}"),
                       [*values, min(ids), max(ids)])
        return
    if is_postgres():  # one array
        db.execute_sql(template.format(p=p, ids="id = ANY(%s)"), [*values, ids])
        return
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        db.execute_sql(template.format(p=p, ids=f"id IN ({', '.join([p] * len(batch))})"),
                       [*values, *batch])
