"""The fixed SQL statements the forms jobs run for every submission, and how to run one.

A drain runs these for every submission; Peewee would build the same SQL each time, which
costs more CPU than the database spends on them. ``{p}`` is the driver's placeholder.
"""

from __future__ import annotations

from gateway.db import db

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


def run(template: str, *params):
    """Execute one of the fixed statements above; returns the cursor."""
    return db.execute_sql(template.replace("{p}", db.param), params)
