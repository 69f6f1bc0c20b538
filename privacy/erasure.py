"""Erasure: remove one person from every area's tables and files, keeping only a keyed hash
of the address when it must stay refused (``privacy.suppression``).

``request`` records an ``Erasure`` row and queues ``run``; ``run`` is idempotent (a done
erasure does nothing, a half-done one is done again) and ``requeue_lost`` (a sweep) queues
again what a killed worker left. Each area declares its eraser (``Area.erase``); they run in
one transaction, then ``sweep_leftovers`` blanks any copy an area did not know about, and the
freed space is reclaimed: SQLite overwrites deleted content (``secure_delete``, set on every
connection by ``gateway.db``) and the WAL is checkpointed and truncated; PostgreSQL tables
touched are VACUUMed, so the dead row versions are pruned.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import peewee

from gateway import runtime
from gateway.db import JSONField, db, is_postgres, utcnow
from gateway.dotted import resolve
from gateway.models import Contact, ContactEvent
from gateway.personal_data import mentions, redact, redact_json
from gateway.registry import AREAS
from gateway.schema import all_models
from gateway.tenancy import owned
from privacy import suppression
from privacy.models import Erasure, Suppression

log = logging.getLogger("inlet.privacy")
LOST_AFTER = timedelta(minutes=5)  # a queued erasure older than this lost its job


def request(account_id: int, contact_id, requested_by: str = "") -> Erasure:
    """Ask for a contact's erasure (404 for an unknown one); asking again is harmless."""
    found = Erasure.get_or_none((Erasure.account == account_id)
                                & (Erasure.contact_id == _as_int(contact_id)))
    if found is None:
        contact = owned(Contact, account_id, contact_id, "contact")
        (Erasure.insert(account=account_id, contact_id=contact.id,
                        requested_by=requested_by[:200]).on_conflict_ignore().execute())
        found = Erasure.get((Erasure.account == account_id) & (Erasure.contact_id == contact.id))
    if found.status != "done":
        runtime.queue().enqueue(run, found.id)
    return found


def _as_int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def to_dict(erasure: Erasure) -> dict:
    """The API shape of an erasure."""
    return {"id": erasure.id, "contact_id": erasure.contact_id, "status": erasure.status,
            "requested_at": erasure.requested_at.isoformat() + "Z",
            "done_at": erasure.done_at.isoformat() + "Z" if erasure.done_at else None,
            "suppressed": erasure.suppressed}


def erasers() -> list:
    """Every area's eraser, in the registry's order (the core's first)."""
    return [resolve(area.erase) for area in AREAS if area.erase]


def run(erasure_id: int) -> str:
    """The job: erase the person everywhere (idempotent); returns the erasure's status."""
    with db.connection_context():
        erasure = Erasure.get_or_none(Erasure.id == erasure_id)
        if erasure is None or erasure.status == "done":
            return erasure.status if erasure else "missing"
        contact = Contact.get_or_none((Contact.id == erasure.contact_id)
                                      & (Contact.account == erasure.account_id))
        reason = _suppression_reason(contact) if contact else None
        with db.atomic():
            if contact is not None:
                for erase in erasers():
                    erase(erasure.account_id, contact.id, contact.email)
                sweep_leftovers(contact.email)
                if reason:
                    suppression.add(erasure.account_id, contact.email, reason)
            Erasure.update(status="done", done_at=utcnow(), suppressed=bool(reason)).where(
                Erasure.id == erasure.id).execute()
        reclaim()
    return "done"


def _suppression_reason(contact: Contact) -> str | None:
    """Why the address must stay refused: it was blacklisted, or unsubscribed (a blacklisting
    by its unsubscribe link); None when it may come back."""
    if contact.status != "blacklisted":
        return None
    unsubscribed = ContactEvent.select().where((ContactEvent.contact == contact.id)
                                               & (ContactEvent.kind == "blacklisted")
                                               & (ContactEvent.reference == "unsubscribe"))
    return "unsubscribed" if unsubscribed.exists() else "blacklisted"


def _text_columns(model) -> list:
    return [f for f in model._meta.sorted_fields
            if isinstance(f, peewee.CharField | peewee.TextField)]


def sweep_leftovers(email: str) -> int:
    """Blank the address wherever an area's eraser left it (any text column of any table),
    logging the table, so "erased" holds even for an area that forgot a column."""
    fixed = 0
    for model in all_models():
        if model in (Suppression, Erasure):
            continue
        columns = _text_columns(model)
        if not columns:
            continue
        condition = mentions(columns[0], email)
        for column in columns[1:]:
            condition |= mentions(column, email)
        for row in model.select(model._meta.primary_key, *columns).where(condition).tuples():
            changes = {column: (redact_json if isinstance(column, JSONField) else redact)(
                value, email) for column, value in zip(columns, row[1:], strict=True)}
            model.update(changes).where(model._meta.primary_key == row[0]).execute()
            fixed += 1
            log.warning("erasure: blanked an address left in table %s", model._meta.table_name)
    return fixed


def reclaim() -> None:
    """Free space keeps no copy: SQLite's WAL is checkpointed and truncated (deleted content
    was zeroed by ``secure_delete``); PostgreSQL's tables are VACUUMed."""
    if is_postgres():
        for model in all_models():
            db.execute_sql(f'VACUUM "{model._meta.table_name}"')
        return
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def requeue_lost() -> int:
    """Sweep: queue again the erasures a killed worker left queued."""
    with db.connection_context():
        lost = list(Erasure.select(Erasure.id).where(
            (Erasure.status == "queued") & (Erasure.requested_at < utcnow() - LOST_AFTER)))
    for erasure in lost:
        runtime.queue().enqueue(run, erasure.id)
    return len(lost)
