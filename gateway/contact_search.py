"""Searching contacts by part of the e-mail, first name or name, by index at a million rows.

PostgreSQL: trigram GIN indexes (``pg_trgm``) on the three columns serve ``ILIKE '%q%'``.
SQLite: an FTS5 table with the trigram tokenizer (``contact_search``, external content:
it stores only the index), kept in sync with ``contact`` by triggers. A trigram index needs
three characters; a shorter search scans, as before.

Created by schema version 18 (``create_indexes``). A later SQLite upgrade that rebuilds the
``contact`` table (``gateway.db.rebuild_sqlite_table``) drops its triggers and must call
``create_indexes`` again.
"""

from __future__ import annotations

import logging

from peewee import SQL

from gateway.db import db, is_postgres
from gateway.models import Contact

log = logging.getLogger("inlet.search")

COLUMNS = ("email", "first_name", "name")
TRIGRAM = 3  # characters a trigram index needs
# SQLite: a search matching up to this many contacts is driven from the FTS index (each hit
# costs a row lookup, ~1 µs); a broader one walks the (account, status, created_at) index
# with LIKE, which finds a page of such common matches within a few thousand rows.
FTS_DRIVE_LIMIT = 25_000

_FTS_SQL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS contact_search USING fts5(email, first_name, name, "
    "content='contact', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS contact_search_insert AFTER INSERT ON contact BEGIN "
    "INSERT INTO contact_search(rowid, email, first_name, name) "
    "VALUES (new.id, new.email, new.first_name, new.name); END",
    "CREATE TRIGGER IF NOT EXISTS contact_search_delete AFTER DELETE ON contact BEGIN "
    "INSERT INTO contact_search(contact_search, rowid, email, first_name, name) "
    "VALUES ('delete', old.id, old.email, old.first_name, old.name); END",
    # Only when a searched column changes: an import updating other fields pays nothing.
    "CREATE TRIGGER IF NOT EXISTS contact_search_update AFTER UPDATE ON contact "
    "WHEN old.email IS NOT new.email OR old.first_name IS NOT new.first_name "
    "OR old.name IS NOT new.name BEGIN "
    "INSERT INTO contact_search(contact_search, rowid, email, first_name, name) "
    "VALUES ('delete', old.id, old.email, old.first_name, old.name); "
    "INSERT INTO contact_search(rowid, email, first_name, name) "
    "VALUES (new.id, new.email, new.first_name, new.name); END",
)


def create_indexes() -> None:
    """Schema version 18: the search indexes (idempotent)."""
    if is_postgres():
        _create_trigram_indexes()
        return
    for statement in _FTS_SQL:
        db.execute_sql(statement)
    # Fills the index from the rows already there (a no-op cost on an empty table).
    db.execute_sql("INSERT INTO contact_search(contact_search) VALUES ('rebuild')")


def _create_trigram_indexes() -> None:
    available = db.execute_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").fetchone()
    if not available:
        log.warning("pg_trgm is not available: contact search scans instead of using an index")
        return
    # In ``public`` when allowed: an extension installed in an application's own schema is
    # dropped with that schema, and with it every other schema's index that uses it.
    public = db.execute_sql("SELECT has_schema_privilege(oid, 'CREATE') FROM pg_namespace "
                            "WHERE nspname = 'public'").fetchone()
    db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm"
                   + (" SCHEMA public" if public and public[0] else ""))
    # The operator class is named with the extension's schema: the contact table may live in
    # a schema of its own (search_path) that is not where the extension was installed.
    [schema] = db.execute_sql("SELECT extnamespace::regnamespace::text FROM pg_extension "
                              "WHERE extname = 'pg_trgm'").fetchone()
    for column in COLUMNS:
        db.execute_sql(f"CREATE INDEX IF NOT EXISTS contact_{column}_trgm ON contact "
                       f"USING gin ({column} {schema}.gin_trgm_ops)")


def search_condition(q: str):
    """The condition "e-mail, first name or name contains ``q``, ignoring case"."""
    like = (Contact.email.contains(q.lower()) | Contact.first_name.contains(q)
            | Contact.name.contains(q))  # ILIKE on PostgreSQL (trigram indexes), LIKE on SQLite
    if is_postgres() or len(q) < TRIGRAM:
        return like
    phrase = '"' + q.replace('"', '""') + '"'
    hits = db.execute_sql("SELECT count(*) FROM (SELECT rowid FROM contact_search WHERE "
                          "contact_search MATCH ? LIMIT ?)",
                          (phrase, FTS_DRIVE_LIMIT + 1)).fetchone()[0]
    if hits > FTS_DRIVE_LIMIT:
        return like
    return Contact.id.in_(SQL("(SELECT rowid FROM contact_search WHERE contact_search MATCH ?)",
                              [phrase]))
