"""The end of an import: the report (counts, warnings, link), its e-mail and welcome mails."""

from __future__ import annotations

from peewee import fn

from gateway import runtime
from gateway.accounts import notification_address
from gateway.db import db, utcnow
from gateway.imports import mapping, spool
from gateway.imports.models import Import, ImportRowError
from gateway.imports.texts import count, number
from gateway.mail import render_text, schedule_delivery
from gateway.models import Account, Consent, Contact, OutgoingMail
from gateway.templating import environment

REASONS = {
    "invalid_email": "invalid e-mail address", "blacklisted": "blacklisted contact",
    "duplicate": "duplicate in file", "invalid_date": "invalid date",
    "unknown_language": "unknown language", "unknown_source": "unknown source",
    "unknown_preference": "unknown preference", "unknown_interest": "unknown interest",
    "unknown_choice": "unknown choice value", "too_long": "value too long",
    "required": "missing required value", "invalid_number": "invalid number",
    "invalid_boolean": "invalid yes/no value", "number_out_of_range": "number out of range",
}
# The admin page serving the error file behind the admin login (the API's needs a token,
# which the person reading the mail does not hold); tests check it against the admin routes.
ADMIN_ERRORS_PATH = "/admin/imports/{import_id}/errors.csv"


def errors_url(imp: Import) -> str:
    """The absolute link to the import's error file, for the logged-in admin."""
    return runtime.settings().base_url + ADMIN_ERRORS_PATH.format(import_id=imp.id)


def reason_text(code: str) -> str:
    """A code's reason as people read it: "unknown interest"."""
    return REASONS.get(code, code.replace("_", " "))


def reason_counts(import_id: int) -> list[dict]:
    """Per reason: the rows that fail for it and the cells it concerns (a row can fail for
    several reasons, or hold several unknown values); blacklisted rows are counted apart."""
    rows = (ImportRowError.select(ImportRowError.code,
                                  fn.COUNT(ImportRowError.record.distinct()),
                                  fn.COUNT(ImportRowError.id))
            .where((ImportRowError.imp == import_id) & (ImportRowError.code != "blacklisted"))
            .group_by(ImportRowError.code).tuples())
    found = [{"code": code, "reason": reason_text(code), "rows": n_rows, "cells": n_cells}
             for code, n_rows, n_cells in rows]
    return sorted(found, key=lambda r: (-r["rows"], r["code"]))


def warnings(imp: Import) -> list[str]:
    """What the uploader should know besides the counts."""
    counts, fallbacks = imp.counts or {}, imp.fallbacks or {}
    notes = []
    for name in ("language", "source"):
        missing = counts.get(f"missing_{name}", 0)
        if missing and fallbacks.get(name) and name in (imp.needs_fallbacks or []):
            notes.append(f"{count(missing, 'new contact')} had no {name}: "
                         f"they got the fallback '{fallbacks[name]}'.")
    if counts.get("blacklisted"):
        blacklisted = count(counts["blacklisted"], "row is a blacklisted contact",
                            "rows are blacklisted contacts")
        notes.append(f"{blacklisted} and left untouched.")
    return notes


def summary(imp: Import) -> dict:
    """The report as data: counts, reasons (rows and cells), warnings and the headline."""
    counts = imp.counts or {}
    headline = f"{count(counts.get('created', 0), 'new contact')} added"
    if imp.step == "failed":
        headline = f"import failed, {headline}"
    reasons = reason_counts(imp.id)
    return {"counts": counts, "headline": headline,
            "reasons": {r["reason"]: r["rows"] for r in reasons},  # rows per reason
            "reason_counts": reasons,  # rows and cells per reason
            # a row failing for two reasons is in both: say so when the sum exceeds the rows
            "overlap": sum(r["rows"] for r in reasons) > counts.get("failed", 0),
            # the import's own notes first: why it failed, keys a JSON import ignored
            "warnings": [*(imp.warnings or []), *warnings(imp)], "errors_url": errors_url(imp)}


def render_report(imp: Import) -> tuple[str, str, str]:
    """(subject, text, html) of the report e-mail."""
    context = summary(imp) | {"filename": imp.filename or f"import {imp.id}",
                              "account": Account.get_by_id(imp.account_id).name,
                              "count": count, "number": number}
    subject = f"Import {context['filename']}: {context['headline']}"
    text = render_text("mail/import_report.txt", **context)
    html = environment.get_template("mail/import_report.html").render(**context)
    return subject, text, html


def default_recipient(account_id: int) -> str | None:
    """Who gets the report of an import that named no one: the account's notification
    address (``gateway.accounts.notification_address``)."""
    return notification_address(account_id)


def finish(imp: Import) -> str:
    """Mark the import done (with its report mail) in one commit, then queue the mails."""
    with db.atomic() as tx:
        if imp.kind == "csv":  # what the next file's mapping starts from
            mapping.remember(imp.account_id, imp.mapping, imp.fallbacks or {},
                             {"id": imp.id, "filename": imp.filename,
                              "finished_at": utcnow().isoformat() + "Z"})
        mail_id = imp.report_mail
        if imp.notify_email and not mail_id:
            subject, text, html = render_report(imp)
            mail_id = OutgoingMail.create(account=imp.account_id, to=imp.notify_email,
                                          subject=subject, text=text, html=html,
                                          purpose="import-report").id
        moved = (Import.update(step="done", finished_at=utcnow(), updated_at=utcnow(),
                               report_mail=mail_id)
                 .where((Import.id == imp.id) & (Import.step == "finalising")).execute())
        if not moved:
            tx.rollback()
            return "skipped"
        _announce_finished(imp)
    send_pending(Import.get_by_id(imp.id))
    return "done"


def _announce_finished(imp: Import) -> None:
    """The ``import.finished`` event, in the transaction that finishes the import (when the
    events area is installed)."""
    try:
        from events.emit import emit
    except ImportError:  # the events area is optional
        return
    emit(imp.account_id, "import.finished", {"import": {
        "id": imp.id, "kind": imp.kind, "filename": imp.filename, "status": "done",
        "counts": imp.counts or {}}})


def send_pending(imp: Import) -> None:
    """Queue the report and welcome mails not sent yet (safe to call again)."""
    spool.remove(spool.file_path(imp))
    if imp.welcome:
        _welcome_mails(imp)
    # One drain sends the report and every welcome mail (not a job per mail).
    schedule_delivery()


def _welcome_mails(imp: Import) -> list[int]:
    """One welcome mail row per contact this import created (made once), still unsent."""
    purpose = f"welcome:import:{imp.id}"
    have = {to for (to,) in OutgoingMail.select(OutgoingMail.to).where(
        OutgoingMail.purpose == purpose).tuples()}
    account = Account.get_by_id(imp.account_id).name
    created = (Contact.select(Contact.email, Contact.first_name, Contact.language)
               .join(Consent, on=(Consent.contact == Contact.id))
               .where((Consent.account == imp.account_id) & (Consent.channel == "import")
                      & (Consent.reference == f"import:{imp.id}")).tuples())
    html_t = environment.get_template("mail/import_welcome.html")
    with db.atomic():
        for email, first_name, language in created:
            if email in have:
                continue
            context = {"first_name": first_name or "", "account": account,
                       "language": language}
            OutgoingMail.create(account=imp.account_id, to=email,
                                subject=f"Welcome to {account}",
                                text=render_text("mail/import_welcome.txt", **context),
                                html=html_t.render(**context), purpose=purpose)
    return [mail_id for (mail_id,) in OutgoingMail.select(OutgoingMail.id).where(
        (OutgoingMail.purpose == purpose) & (OutgoingMail.status != "sent")).tuples()]
