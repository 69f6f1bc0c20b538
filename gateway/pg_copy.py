"""PostgreSQL's set-based writes of a batch of contacts (``gateway.contacts.upsert_many``).

The rows go in with ``COPY`` (psycopg2's ``copy_expert``) into a temporary table, and one
statement moves them from there: ``INSERT … SELECT … RETURNING`` for new contacts, ``UPDATE …
FROM`` for changed ones. Binding values one statement per row, or even in multi-row
``VALUES`` pages (``execute_values`` quotes every value in Python), costs several times that.
What is written is decided elsewhere (``gateway.merge``); this module only moves rows.
"""

from __future__ import annotations

import io
import re

from gateway.db import db

# COPY's text format: a tab between columns, a newline after a row, \N for NULL; a backslash,
# tab, newline or carriage return inside a value is escaped. NUL cannot be stored at all
# (validation refuses it before anything gets here).
_SPECIAL = re.compile(r"[\\\t\n\r]").search
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_cell(value) -> str:
    """One value as COPY's text format writes it."""
    if value is None:
        return "\\N"
    if value.__class__ is not str:
        value = str(value)
    return value.translate(_ESCAPES) if _SPECIAL(value) else value


def copy_text(rows) -> str:
    """The rows (tuples of text, numbers or None) as COPY's text format."""
    cell = copy_cell
    lines = []
    for row in rows:
        try:  # the common row: text only, nothing to escape
            line = "\t".join(row)
        except TypeError:  # a None or a number in it
            line = None
        if line is None or "\\" in line or "\n" in line or "\r" in line \
                or line.count("\t") != len(row) - 1:
            line = "\t".join([cell(value) for value in row])
        lines.append(line)
    lines.append("")
    return "\n".join(lines)


def copy_into(table: str, columns: str, rows, *, joined: bool = False) -> None:
    """Make the temporary ``table`` (``columns``: its column definitions) and COPY ``rows``
    into it. It is dropped at commit, or by ``drop`` once used: a transaction may write
    several batches. ``joined``: it will be joined to a table (and is analysed for that)."""
    cursor = db.cursor()
    cursor.execute(f"CREATE TEMPORARY TABLE {table} ({columns}) ON COMMIT DROP")
    names = ", ".join(part.split()[0] for part in columns.split(","))
    cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN", io.StringIO(copy_text(rows)))
    if joined:  # the planner knows nothing of a new table: told its size, it joins by index
        cursor.execute(f"ANALYZE {table}")


def drop(table: str) -> None:
    """Drop a temporary table made by ``copy_into``."""
    db.execute_sql(f"DROP TABLE {table}")


_NEW = ("n integer, email text, first_name text, name text, language text, source text, "
        "status text, preferences text, interests text, custom_fields text")
_INSERT = ("INSERT INTO contact (account_id, email, first_name, name, language, source, "
           "status, preferences, interests, custom_fields, created_at, updated_at) "
           "SELECT %s, email, first_name, name, language, source, status, preferences, "
           "interests, custom_fields, %s, %s FROM inlet_new_contact ORDER BY n "
           "RETURNING id, email")


def insert_contacts(account_id: int, rows: list[tuple], now) -> dict[str, int]:
    """Insert new contacts, ``rows`` of (email, first_name, name, language, source, status,
    preferences, interests, custom_fields) as stored; {email: new id}, the ids ascending in
    the order of ``rows``."""
    with db.atomic():  # the table lives until commit: outside a transaction, one is needed
        copy_into("inlet_new_contact", _NEW, [(str(n), *row) for n, row in enumerate(rows)])
        ids = dict((email, cid) for cid, email in
                   db.execute_sql(_INSERT, [account_id, now, now]).fetchall())
        drop("inlet_new_contact")
    return ids


_CHANGED = ("id integer, first_name text, name text, language text, source text, "
            "status text, preferences text, interests text, custom_fields text")
_UPDATE = ("UPDATE contact SET first_name = v.first_name, name = v.name, "
           "language = v.language, source = v.source, status = v.status, "
           "preferences = v.preferences, interests = v.interests, "
           "custom_fields = v.custom_fields, updated_at = %s "
           "FROM inlet_changed_contact AS v WHERE contact.id = v.id")


def update_contacts(rows: list[tuple], now) -> None:
    """Store the new values of changed contacts, ``rows`` of (id, first_name, name,
    language, source, status, preferences, interests, custom_fields) as stored."""
    with db.atomic():
        copy_into("inlet_changed_contact", _CHANGED, [(str(row[0]), *row[1:]) for row in rows],
                  joined=True)
        db.execute_sql(_UPDATE, [now])
        drop("inlet_changed_contact")
