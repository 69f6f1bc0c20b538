"""The fixed SQL statements the forms jobs run for every submission, and how to run one.

A drain runs these for every submission; Peewee would build the same SQL each time, which
costs more CPU than the database spends on them. ``{p}`` is the driver's placeholder.
"""

from __future__ import annotations

from gateway.db import db, is_postgres, run_many

FORM_STAMP = "SELECT updated_at FROM form WHERE id = {p}"
SUBMISSION = "SELECT contact_id, outcome, mail_sent FROM submission WHERE id = {p}"
CONTACT_STATUS = "SELECT status FROM contact WHERE account_id = {p} AND email = {p}"
INSERT_SUBMISSION = ("INSERT INTO submission (id, form_id, contact_id, outcome, mail_sent, "
                     "created_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p})")
MARK_MAIL_SENT = "UPDATE submission SET mail_sent = {p} WHERE id = {p}"
CONFIRMATIONS_SINCE = ("SELECT COUNT(*) FROM confirmation WHERE contact_id = {p} "
                       "AND created_at >= {p}")
LINK_MAIL = "UPDATE confirmation SET mail_id = {p} WHERE id = {p}"
LOCK_CONTACT_PG = "SELECT id FROM contact WHERE id = {p} FOR UPDATE"
LOCK_CONTACT_SQLITE = "UPDATE contact SET status = status WHERE id = {p}"

# Batches (forms.batch): ``{marks}`` is a list of placeholders, ``%s`` a psycopg2 VALUES list.
SUBMISSIONS_DONE = "SELECT id, contact_id, outcome, mail_sent FROM submission WHERE id IN ({marks})"
STATUS_BY_EMAIL = ("SELECT email, status FROM contact WHERE email IN ({marks}) "
                   "AND account_id = {p}")
CONFIRMATIONS_SINCE_MANY = ("SELECT contact_id, COUNT(*) FROM confirmation WHERE contact_id IN "
                            "({marks}) AND created_at >= {p} GROUP BY contact_id")
CONSENT_ORIGIN = ("UPDATE consent SET ip = {p}, user_agent = {p} WHERE contact_id = {p} "
                  "AND channel = 'form'")
CONSENT_ORIGIN_PG = ("UPDATE consent SET ip = v.ip, user_agent = v.user_agent "
                     "FROM (VALUES %s) AS v(ip, user_agent, contact_id) "
                     "WHERE consent.contact_id = v.contact_id AND consent.channel = 'form'")
SQLITE_SEQUENCE = "SELECT seq FROM sqlite_sequence WHERE name = ?"
PG_NEXT_IDS = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"
INSERT_ROWS = "INSERT INTO {table} ({columns}) VALUES ({marks})"


def run(template: str, *params):
    """Execute one of the fixed statements above; returns the cursor."""
    return db.execute_sql(template.replace("{p}", db.param), params)


def run_in(template: str, values: list, *params):
    """Rows of a fixed statement whose ``{marks}`` takes ``values`` (in slices the SQLite
    variable limit allows), ``params`` filling the ``{p}`` that follow it."""
    rows: list = []
    for start in range(0, len(values), 500):
        part = values[start:start + 500]
        query = template.replace("{marks}", ", ".join([db.param] * len(part)))
        rows.extend(db.execute_sql(query.replace("{p}", db.param), [*part, *params]).fetchall())
    return rows


def reserve_ids(table: str, count: int) -> list[int]:
    """``count`` fresh ids of ``table``, to insert with (inside a write transaction)."""
    if is_postgres():
        return [row[0] for row in db.execute_sql(PG_NEXT_IDS, (table, count)).fetchall()]
    # SQLite: the writer lock is ours until commit; AUTOINCREMENT keeps its high-water mark.
    row = db.execute_sql(SQLITE_SEQUENCE, (table,)).fetchone()
    last = row[0] if row else 0  # no row: the table never had one
    return list(range(last + 1, last + 1 + count))


def insert_rows(table: str, columns: tuple[str, ...], rows: list) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``."""
    quoted = ", ".join(f'"{name}"' for name in columns)  # "to" is a keyword
    template = INSERT_ROWS.format(table=table, columns=quoted, marks="{marks}")
    if is_postgres():
        run_many(template.replace("({marks})", "%s"), rows)
    else:
        run_many(template.replace("{marks}", ", ".join(["{p}"] * len(columns))), rows)
