"""Access requests: everything Inlet holds about one person, as one JSON document."""

from __future__ import annotations

from datetime import datetime

from connectors.models import Delivery
from events.models import Event
from forms.models import Confirmation, Submission, UnsubscribeLink
from gateway import contacts
from gateway.db import loads_stored, utcnow
from gateway.imports import reader, spool
from gateway.imports.models import Import, ImportRowError
from gateway.models import Consent, ContactEvent, OutgoingMail
from gateway.personal_data import mentions

MAX_ITEMS = 1000  # per kind: the newest; a person has far fewer


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def document(account_id: int, contact_id) -> dict:
    """The access document of one contact of the account (404 otherwise)."""
    contact = contacts.get(account_id, contact_id)
    email = contact.email
    return {
        "generated_at": _iso(utcnow()),
        "contact": contacts.to_dict(contact),
        "consents": [_consent(c) for c in Consent.select().where(
            (Consent.contact == contact.id) & (Consent.account == account_id))
            .order_by(Consent.at).limit(MAX_ITEMS)],
        "history": [{"kind": e.kind, "channel": e.channel, "reference": e.reference,
                     "at": _iso(e.at), "reason": e.reason}
                    for e in ContactEvent.select().where(ContactEvent.contact == contact.id)
                    .order_by(ContactEvent.at, ContactEvent.id).limit(MAX_ITEMS)],
        "confirmation_links": [_confirmation(c) for c in Confirmation.select().where(
            Confirmation.contact == contact.id).order_by(Confirmation.created_at)],
        "unsubscribe_links": [{"form_id": u.form_id, "created_at": _iso(u.created_at),
                               "used_at": _iso(u.used_at)}
                              for u in UnsubscribeLink.select().where(
                                  UnsubscribeLink.contact == contact.id)],
        "form_submissions": [{"form_id": s.form_id, "outcome": s.outcome,
                              "at": _iso(s.created_at)}
                             for s in Submission.select().where(Submission.contact == contact.id)],
        "mails": [_mail(m) for m in OutgoingMail.select().where(
            (OutgoingMail.to == email) & ((OutgoingMail.account == account_id)
                                          | OutgoingMail.account.is_null()))
            .order_by(OutgoingMail.created_at).limit(MAX_ITEMS)],
        "hook_deliveries": [_delivery(d) for d in Delivery.select().where(
            (Delivery.account == account_id) & mentions(Delivery.payload, email))
            .order_by(Delivery.received_at).limit(MAX_ITEMS)],
        "import_rows": _import_rows(account_id, email),
        "events": _events(account_id, contact.id),
    }


def _consent(c: Consent) -> dict:
    return {"channel": c.channel, "reference": c.reference, "actor": c.actor, "ip": c.ip,
            "user_agent": c.user_agent, "text": c.text, "at": _iso(c.at)}


def _confirmation(c: Confirmation) -> dict:
    return {"form_id": c.form_id, "language": c.language, "sent_at": _iso(c.created_at),
            "used_at": _iso(c.used_at), "used_ip": c.used_ip,
            "used_user_agent": c.used_user_agent, "confirmed": c.confirmed}


def _mail(m: OutgoingMail) -> dict:
    return {"subject": m.subject, "purpose": m.purpose, "status": m.status,
            "created_at": _iso(m.created_at), "sent_at": _iso(m.sent_at), "text": m.text}


def _delivery(d: Delivery) -> dict:
    return {"id": d.id, "hook_id": d.hook_id, "status": d.status,
            "received_at": _iso(d.received_at), "payload": d.payload}


def _import_rows(account_id: int, email: str) -> list[dict]:
    """The rows of the account's stored uploads naming the address, with their errors."""
    found = []
    for imp in Import.select().where(Import.account == account_id).order_by(Import.id):
        path = spool.file_path(imp)
        try:
            if email.encode(imp.encoding, "ignore") not in path.read_bytes().lower():
                continue
        except FileNotFoundError:
            continue  # purged after its retention period
        for record, cells in reader.iter_records(path, imp.encoding, imp.delimiter):
            if any(email in cell.lower() for cell in cells):
                errors = [{"column": e.column, "code": e.code, "reason": e.reason}
                          for e in ImportRowError.select().where(
                              (ImportRowError.imp == imp.id) & (ImportRowError.record == record))]
                found.append({"import_id": imp.id, "filename": imp.filename,
                              "uploaded_at": _iso(imp.created_at), "row": record + 2,
                              "cells": dict(zip(imp.columns, cells, strict=False)),
                              "errors": errors})
    return found[:MAX_ITEMS]


def _events(account_id: int, contact_id: int) -> list[dict]:
    """The outbound events written about the contact (the events area)."""
    return [{"id": e.id, "type": e.type, "at": _iso(e.created_at), "data": loads_stored(e.data)}
            for e in Event.select().where((Event.account == account_id)
                                          & (Event.contact_id == contact_id))
            .order_by(Event.id).limit(MAX_ITEMS)]
