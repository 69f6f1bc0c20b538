"""Submissions: what a visitor posted, read into a clean contact, and the job that writes it
once (created unconfirmed, or merged under the merge rules) with at most one mail.

Every write to a contact goes through ``gateway.contacts.upsert`` (the one merge path).
"""

from __future__ import annotations

import time

from forms import sql
from forms.mails import queue_confirmation, queue_welcome
from forms.public import CUSTOM_PREFIX, PublicForm, form_reference, public_form_by_id
from gateway.contacts import Provenance, upsert
from gateway.db import db, utcnow
from gateway.mail import schedule_delivery
from gateway.merge import is_clear
from gateway.models import Contact
from gateway.validation import FieldError, clean_contact


def read_submission(form: PublicForm, items: list[tuple[str, str]], language: str
                    ) -> tuple[dict, dict, list[FieldError]]:
    """``(raw values for re-display, clean contact, errors)`` from posted ``items``.

    Only the inputs the form shows are read; the source is the form's. A visitor may not clear
    a stored value, so ``.``/``-`` count as empty here.
    """
    multi: dict[str, list[str]] = {}
    for key, value in items[:200]:
        # NUL can't be stored (PostgreSQL text refuses it): drop it here, or the queued job
        # would fail after the visitor was told "thank you".
        multi.setdefault(key, []).append(value[:2000].replace("\x00", ""))

    def one(name):
        value = (multi.get(name) or [""])[0].strip()
        return "" if is_clear(value) else value
    raw: dict = {"email": one("email")}
    data: dict = {"email": raw["email"], "source": form.source, "language": language,
                  "custom_fields": {}}
    for name in form.fields:
        if name in ("first_name", "name"):
            raw[name] = data[name] = one(name)
        elif name == "language":
            raw[name] = one(name)
            data["language"] = raw[name] or language
        elif name in ("preferences", "interests"):
            raw[name] = data[name] = [v for v in multi.get(name, []) if v.strip()]
        elif name in form.custom:
            key = CUSTOM_PREFIX + name
            ftype = form.custom[name][0]
            if ftype == "multiple_choice":
                raw[key] = [v for v in multi.get(key, []) if v.strip()]
                if raw[key]:
                    data["custom_fields"][name] = raw[key]
            else:
                raw[key] = one(key)
                if raw[key]:
                    data["custom_fields"][name] = raw[key]
    clean, errors = clean_contact(form.vocab, data, creating=True)
    for err in errors:  # custom inputs carry their prefix on the page
        if err.field in form.custom:
            err.field = CUSTOM_PREFIX + err.field
    return raw, clean, errors


def submission_item(form: PublicForm, clean: dict, *, ip: str | None, user_agent: str | None,
                    language: str) -> dict:
    """The JSON-able job payload of an accepted submission."""
    return {"form_id": form.id, "account_id": form.account_id, "language": language,
            "contact": clean, "ip": ip, "user_agent": (user_agent or "")[:500],
            "at": time.time()}


def handle_submission(item_id: str, item: dict) -> str:
    """Write an accepted submission (idempotent per ``item_id``); returns the outcome.

    New address: created unconfirmed (confirmed without double opt-in) with a consent record
    and a confirmation mail. Known: merged under the merge rules; still unconfirmed gets a new
    confirmation mail (at most ``mails.MAX_CONFIRMATION_MAILS`` a day). Blacklisted: untouched.
    The write and the mail are two transactions: a rerun after a crash between them sends
    the mail the crashed run owed, and never a second one.
    """
    with db.connection_context():
        form = public_form_by_id(item["form_id"])
        if form is None:
            return "form_gone"
        done = sql.run(sql.SUBMISSION, item_id).fetchone()
        if done is None:
            contact, outcome, owed = _write_submission(form, item_id, item)
        else:  # a rerun: the write is done; the mail too unless the run crashed before it
            contact_id, outcome, mail_sent = done
            owed = contact_id is not None and not mail_sent
            contact = Contact.get_by_id(contact_id) if owed else None
        if owed:
            _sendowed_mail(form, item_id, contact, outcome, item["language"])
        return outcome


def _write_submission(form: PublicForm, item_id: str, item: dict
                      ) -> tuple[Contact | None, str, bool]:
    """Store the contact and the ``Submission`` row in one transaction; returns
    ``(contact, outcome, mail owed)``."""
    # Re-validate: the account's vocabularies may have changed since the request.
    clean, errors = clean_contact(form.vocab, unclean(item["contact"]), creating=True)
    if errors:
        _insert_submission(item_id, form.id, None, "invalid", mail_sent=True)
        return None, "invalid", False
    provenance = Provenance(channel="form", reference=form_reference(form.id, form.name),
                            actor=form.name,
                            ip=item.get("ip"), user_agent=item.get("user_agent"),
                            text=form.texts_in(item["language"])["consent"])
    status = "unconfirmed" if form.double_opt_in else "confirmed"
    with db.atomic():
        before = sql.run(sql.CONTACT_STATUS, form.account_id, clean["email"]).fetchone()
        if before is not None:
            # The form's source is for new contacts; the page language is only a guess.
            clean.pop("source", None)
            if "language" not in form.fields:
                clean.pop("language", None)
        contact, result = upsert(form.account_id, clean, status=status, provenance=provenance,
                                 field_types=form.vocab.field_types)
        outcome = result.outcome
        if before is not None and before[0] != "confirmed" and contact.status == "confirmed":
            outcome = "confirmed"
        owed = owed_mail(form, contact, outcome) is not None
        # No mail owed (blacklisted, nothing new): marked sent now, which saves a statement.
        _insert_submission(item_id, form.id, contact.id, outcome, mail_sent=not owed)
    return contact, outcome, owed


def owed_mail(form: PublicForm, contact, outcome: str) -> str | None:
    """The mail a submission's contact gets: "confirm", "welcome" or None (``contact``: any
    object with its ``status``)."""
    if contact.status == "unconfirmed" and form.double_opt_in:
        return "confirm"
    if outcome in ("created", "confirmed") and form.welcome and contact.status == "confirmed":
        return "welcome"
    return None


def _sendowed_mail(form: PublicForm, item_id: str, contact: Contact, outcome: str,
                    language: str) -> None:
    """Queue the submission's mail and mark it sent in one transaction: a crash leaves both
    undone, so the rerun sends it once."""
    with db.atomic():
        kind = owed_mail(form, contact, outcome)
        if kind == "confirm":
            queued = queue_confirmation(form, contact, language) is not None
        else:
            queued = kind == "welcome" and queue_welcome(form, contact, language)
        sql.run(sql.MARK_MAIL_SENT, True, item_id)
    if queued:
        schedule_delivery()  # after the commit: a drain must find the mail


def _insert_submission(item_id: str, form_id: int, contact_id: int | None, outcome: str, *,
                       mail_sent: bool) -> None:
    sql.run(sql.INSERT_SUBMISSION, item_id, form_id, contact_id, outcome, mail_sent, utcnow())


def unclean(values: dict) -> dict:
    """The job payload back into ``clean_contact`` input (it is JSON: no CLEAR markers)."""
    return {k: v for k, v in values.items() if v is not None}
