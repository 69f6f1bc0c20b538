"""The end of an import: the report (counts, warnings, link), its e-mail and welcome mails."""

from __future__ import annotations

from gateway import runtime
from gateway.db import db, utcnow
from gateway.imports import spool
from gateway.imports.models import Import
from gateway.mail import schedule_delivery
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


def errors_url(imp: Import) -> str:
    """The absolute link to the import's error file."""
    return f"{runtime.settings().base_url}/api/imports/{imp.id}/errors.csv"


def warnings(imp: Import) -> list[str]:
    """What the uploader should know besides the counts."""
    counts, fallbacks = imp.counts or {}, imp.fallbacks or {}
    notes = []
    for name in ("language", "source"):
        missing = counts.get(f"missing_{name}", 0)
        if missing and fallbacks.get(name) and name in (imp.needs_fallbacks or []):
            notes.append(f"{missing} new contact(s) had no {name}: "
                         f"they got the fallback {fallbacks[name]!r}.")
    if counts.get("blacklisted"):
        notes.append(f"{counts['blacklisted']} row(s) are blacklisted contacts and were left "
                     "untouched.")
    return notes


def summary(imp: Import) -> dict:
    """The report as data: counts, readable reasons, warnings and the headline."""
    counts = imp.counts or {}
    created = counts.get("created", 0)
    headline = f"{created} new contact{'s' if created != 1 else ''} added"
    if imp.step == "failed":
        headline = f"import failed, {headline}"
    return {"counts": counts, "headline": headline,
            "reasons": {REASONS.get(code, code.replace("_", " ")): n
                        for code, n in (counts.get("failed_by_reason") or {}).items()},
            # the import's own notes first: why it failed, keys a JSON import ignored
            "warnings": [*(imp.warnings or []), *warnings(imp)], "errors_url": errors_url(imp)}


def render_report(imp: Import) -> tuple[str, str, str]:
    """(subject, text, html) of the report e-mail."""
    context = summary(imp) | {"filename": imp.filename or f"import {imp.id}",
                              "account": Account.get_by_id(imp.account_id).name}
    subject = f"Import {context['filename']}: {context['headline']}"
    text = environment.get_template("mail/import_report.txt").render(**context)
    html = environment.get_template("mail/import_report.html").render(**context)
    return subject, text, html


def finish(imp: Import) -> str:
    """Mark the import done (with its report mail) in one commit, then queue the mails."""
    with db.atomic() as tx:
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
    send_pending(Import.get_by_id(imp.id))
    return "done"


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
    text_t = environment.get_template("mail/import_welcome.txt")
    html_t = environment.get_template("mail/import_welcome.html")
    with db.atomic():
        for email, first_name, language in created:
            if email in have:
                continue
            context = {"first_name": first_name or "", "account": account,
                       "language": language}
            OutgoingMail.create(account=imp.account_id, to=email,
                                subject=f"Welcome to {account}", text=text_t.render(**context),
                                html=html_t.render(**context), purpose=purpose)
    return [mail_id for (mail_id,) in OutgoingMail.select(OutgoingMail.id).where(
        (OutgoingMail.purpose == purpose) & (OutgoingMail.status != "sent")).tuples()]
