"""The schema: every area's tables (from the registry) and the upgrades, in order.

A new database gets every table from version 1; a table added later (a new area's, say)
also needs an upgrade appended here, which creates it on databases made before.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee

from connectors.models import Delivery, Refusal
from events.models import MODELS as EVENT_MODELS
from events.models import EventFanout
from forms.models import Confirmation, Form, RefusedOrigin, UnsubscribeLink
from gateway.contact_search import create_indexes as create_search_indexes
from gateway.db import AutoIncrementField, add_autoincrement, apply_migrations, db, is_sqlite
from gateway.imports.models import ImportPart
from gateway.models import AdminSession, IdempotencyKey, Vocabulary
from gateway.registry import AREAS
from privacy.models import Erasure, Suppression


def all_models() -> list[type[peewee.Model]]:
    """Every table of every area (each area declares its own, see ``Area.models``)."""
    return [model for area in AREAS for model in area.models]


def _initial_schema() -> None:
    db.create_tables(all_models(), safe=True)


def _import_parts() -> None:
    db.create_tables([ImportPart], safe=True)


def _ids_never_reused() -> None:
    """Version 3: ids are never reused, and confirm/unsubscribe links carry a row nonce."""
    if "nonce" not in {c.name for c in db.get_columns("confirmation")}:
        # Rows from before get random nonces that no mailed link carries: links mailed
        # before named the row by contact id and are refused now (they expire within days;
        # the invalid-link page leads back to the form).
        db.execute_sql("ALTER TABLE confirmation ADD COLUMN nonce VARCHAR(32) NOT NULL "
                       "DEFAULT ''")
        fn = peewee.fn
        random_hex = (fn.lower(fn.hex(fn.randomblob(16))) if is_sqlite()
                      else fn.replace(fn.gen_random_uuid().cast("text"), "-", ""))
        Confirmation.update(nonce=random_hex).execute()
    db.create_tables([UnsubscribeLink], safe=True)
    if is_sqlite():  # PostgreSQL sequences never went back: nothing to do there
        tables = set(db.get_tables())  # a later version's tables come with AUTOINCREMENT
        for model in all_models():
            if (isinstance(model._meta.primary_key, AutoIncrementField)
                    and model._meta.table_name in tables):
                add_autoincrement(model._meta.table_name)


def _admin_sessions() -> None:
    db.create_tables([AdminSession], safe=True)


def _idempotency_keys() -> None:
    db.create_tables([IdempotencyKey], safe=True)
    # the sweep finding replays and retries whose job was lost reads by (status, updated_at)
    Delivery._schema.create_indexes(safe=True)


def _hook_refusals() -> None:
    """Version 6: the requests a hook refused (shown on its admin page)."""
    db.create_tables([Refusal], safe=True)


def _import_fixes() -> None:
    """Version 8: an import keeps its fixes of unknown labels; the remembered mapping keeps
    its fallbacks and names the finished import it came from."""
    for table, column, default in (("import", "fixes", "[]"),
                                   ("import_mapping_memory", "fallbacks", "{}"),
                                   ("import_mapping_memory", "origin", "{}")):
        if column not in {c.name for c in db.get_columns(table)}:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN {column} TEXT NOT NULL '
                           f"DEFAULT '{default}'")


def _senders_and_refused_origins() -> None:
    """Version 7: an account's mail sender and website; the sites a form refused."""
    have = {c.name for c in db.get_columns("account")}
    for column, size in (("sender_name", 200), ("sender_address", 254), ("website_url", 2000)):
        if column not in have:
            db.execute_sql(f"ALTER TABLE account ADD COLUMN {column} VARCHAR({size})")
    db.create_tables([RefusedOrigin], safe=True)


def _account_time_zone() -> None:
    """Version 9: the account's time zone, for dates in the admin."""
    if "time_zone" not in {c.name for c in db.get_columns("account")}:
        db.execute_sql("ALTER TABLE account ADD COLUMN time_zone VARCHAR(64)")


def _custom_field_labels() -> None:
    """Version 12: a custom field's display label; contacts found by source and language
    by index (Settings counts the contacts a value is on before it is removed)."""
    if "label" not in {c.name for c in db.get_columns("custom_field")}:
        db.execute_sql("ALTER TABLE custom_field ADD COLUMN label VARCHAR(200)")
    for column in ("source", "language"):
        db.execute_sql(f"CREATE INDEX IF NOT EXISTS contact_account_id_{column} "
                       f"ON contact (account_id, {column})")


def _form_labels() -> None:
    """Version 11: a form's label texts per language; a form that offered "all" of the
    account's preferences or interests now lists the ones it showed, so labels added later
    do not appear on it."""
    if "label_texts" not in {c.name for c in db.get_columns("form")}:
        db.execute_sql("ALTER TABLE form ADD COLUMN label_texts TEXT NOT NULL DEFAULT '{}'")
    rows = Form.select(Form.id, Form.account, Form.fields, Form.preferences, Form.interests)
    for form in rows:
        changes = {}
        for field, kind in ((Form.preferences, "preference"), (Form.interests, "interest")):
            if field.name in (form.fields or ()) and not getattr(form, field.name):
                changes[field] = sorted(v.name for v in Vocabulary.select(Vocabulary.name).where(
                    (Vocabulary.account == form.account_id) & (Vocabulary.kind == kind)))
        if changes:
            Form.update(changes).where(Form.id == form.id).execute()


def _event_reasons() -> None:
    """Version 10: a history row keeps the reason a person gave (why a contact was
    blacklisted)."""
    if "reason" not in {c.name for c in db.get_columns("contact_event")}:
        db.execute_sql("ALTER TABLE contact_event ADD COLUMN reason TEXT")


def _privacy() -> None:
    """Version 17: suppression entries and erasure requests (the privacy area)."""
    db.create_tables([Suppression, Erasure], safe=True)


def _event_tables() -> None:
    """Version 16: outbound event endpoints, the event outbox, deliveries and attempts."""
    db.create_tables(list(EVENT_MODELS), safe=True)


def _search_indexes_and_logo() -> None:
    """Version 18: contacts searched by index (``gateway.contact_search``); the account's
    logo."""
    create_search_indexes()
    if "logo" not in {c.name for c in db.get_columns("account")}:
        db.execute_sql("ALTER TABLE account ADD COLUMN logo TEXT")


def _notification_address() -> None:
    """Version 19: where an account's reports and alerts go, and their files' language."""
    have = {c.name for c in db.get_columns("account")}
    if "notification_email" not in have:
        db.execute_sql("ALTER TABLE account ADD COLUMN notification_email VARCHAR(254)")
    if "report_language" not in have:
        db.execute_sql("ALTER TABLE account ADD COLUMN report_language VARCHAR(8)")


def _endpoint_hold() -> None:
    """Version 20: an unreachable event endpoint is held as a whole (``held_until``)."""
    if "held_until" not in {c.name for c in db.get_columns("event_endpoint")}:
        db.execute_sql("ALTER TABLE event_endpoint ADD COLUMN held_until TIMESTAMP")


def _user_language() -> None:
    """Version 21: each admin user's language."""
    if "language" not in {c.name for c in db.get_columns("user")}:
        db.execute_sql('ALTER TABLE "user" ADD COLUMN language VARCHAR(8)')


def _lighter_event_writes() -> None:
    """Version 22: events are purged by id (no ``created_at`` index); on PostgreSQL a delivery
    row no longer checks its event by constraint (written together: see ``EventDelivery``)."""
    db.execute_sql("DROP INDEX IF EXISTS event_created_at")
    if not is_sqlite():  # PostgreSQL (SQLite would rebuild the table, for a cheap check)
        db.execute_sql("ALTER TABLE event_delivery "
                       "DROP CONSTRAINT IF EXISTS event_delivery_event_id_fkey")


def _import_language() -> None:
    """Version 23: the language an import was started in (for its report mail)."""
    if "language" not in {c.name for c in db.get_columns("import")}:
        db.execute_sql('ALTER TABLE "import" ADD COLUMN language VARCHAR(8)')


def _event_fanout() -> None:
    """Version 24: contact events are fanned out to deliveries by the workers
    (``EventFanout``); a delivery is unique per event and endpoint."""
    db.create_tables([EventFanout], safe=True)
    db.execute_sql("DROP INDEX IF EXISTS event_delivery_event_id")
    db.execute_sql("CREATE UNIQUE INDEX IF NOT EXISTS event_delivery_event_id_endpoint_id "
                   "ON event_delivery (event_id, endpoint_id)")


# Each upgrade is (version, function); new ones are appended, never edited.
MIGRATIONS: list[tuple[int, Callable[[], None]]] = [
    (1, _initial_schema),
    (2, _import_parts),
    (3, _ids_never_reused),
    (4, _admin_sessions),
    (5, _idempotency_keys),
    (6, _hook_refusals),
    (7, _senders_and_refused_origins),
    (8, _import_fixes),
    (9, _account_time_zone),
    (10, _event_reasons),
    (11, _form_labels),
    (12, _custom_field_labels),
    (16, _event_tables),
    (17, _privacy),
    (18, _search_indexes_and_logo),
    (19, _notification_address),
    (20, _endpoint_hold),
    (21, _user_language),
    (22, _lighter_event_writes),
    (23, _import_language),
    (24, _event_fanout),
]


def upgrade() -> list[int]:
    """Bring the schema to the newest version; returns the versions applied."""
    return apply_migrations(MIGRATIONS)
