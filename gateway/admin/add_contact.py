"""Add contacts: the chooser, and the "Add one contact" form."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from forms.public import LANGUAGE_NAMES
from gateway import contacts
from gateway.accounts import add_vocabulary, list_custom_fields, list_vocabulary
from gateway.admin import csrf
from gateway.admin.contacts import provenance
from gateway.admin.dates import as_utc
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.db import db
from gateway.errors import Conflict, ValidationFailed
from gateway.i18n import N_, _
from gateway.validation import AccountVocabulary, single_line
from gateway.web import in_db

# Kept with the consent record in the language of the person who added the contact.
CONSENT_TEXT = N_("Added by hand; the user stated the data was obtained rightfully.")
# Offered when the account has no source yet (a new account): one click, no trip to Settings;
# in the user's language, as the source is then created with that name.
DEFAULT_SOURCES = (N_("Website"), N_("Fair"), N_("Shop"), N_("Phone"), N_("Business card"))
EMPTY = {"email": "", "first_name": "", "name": "", "language": "", "source": "",
         "new_source": "", "preferences": [], "interests": [], "custom_fields": {},
         "obtained_rightfully": False}


@page()
async def chooser(request: Request, viewer: Viewer) -> Response:
    """GET /admin/contacts/add: the four ways in."""
    return render(request, "add_contacts.html", {"active": "contacts"})


def language_label(code: str) -> str:
    """'Nederlands (nl)'; a code we have no name for stays as it is."""
    name = LANGUAGE_NAMES.get(code)
    return f"{name} ({code})" if name else code


def field_label(field) -> str:
    """What the form calls a custom field: its display label, else its name."""
    return getattr(field, "label", None) or field.name


def form_choices(account_id: int) -> dict:
    """The account's vocabularies and custom fields, for the form's inputs."""
    choices = {kind: [v.name for v in list_vocabulary(account_id, kind)]
               for kind in ("language", "source", "preference", "interest")}
    fields = list_custom_fields(account_id)
    # not "language": that name is the templates' language() (the page's own language)
    codes = choices.pop("language")
    return choices | {
        "language_codes": codes,
        "languages": [(code, language_label(code)) for code in codes],
        "custom_fields": fields, "field_labels": {f.name: field_label(f) for f in fields},
        "default_sources": [name for name in map(_, DEFAULT_SOURCES)
                            if name not in choices["source"]]}


def contact_data(form: FormData, custom_fields) -> dict:
    """The API-shaped contact a submitted form describes."""
    data = {name: str(form.get(name) or "").strip()
            for name in ("email", "first_name", "name", "language", "source", "new_source")}
    # Typed wins over a default picked: the text box is the more deliberate choice.
    data["new_source"] = single_line(data["new_source"] or str(form.get("new_source_pick") or ""))
    data["obtained_rightfully"] = bool(form.get("obtained_rightfully"))
    data["preferences"] = form.getlist("preferences")
    data["interests"] = form.getlist("interests")
    custom = {}
    for field in custom_fields:
        key = f"cf_{field.name}"
        if field.type == "multiple_choice":
            values = form.getlist(key)
            if values:
                custom[field.name] = values
        elif field.type == "boolean":
            if form.get(key):
                custom[field.name] = True
        elif str(form.get(key) or "").strip():
            custom[field.name] = str(form.get(key)).strip()
    data["custom_fields"] = custom
    return data


def email_reason(value: str) -> str:
    """Why an address is not valid, in email-validator's words (missing domain ending, a
    second @, a space…), for the person who typed it."""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        # email-validator's reason is English only: kept, after a translated lead
        return _("This is not a valid e-mail address: %(reason)s") % {"reason": exc}
    return _("This is not a valid e-mail address.")


def errors_by_field(details: list) -> dict[str, list[str]]:
    """ValidationFailed details grouped per input, for inline messages."""
    grouped: dict[str, list[str]] = {}
    for d in details:
        message = d.get("message") or _("This value is not valid.")
        if d.get("code") == "invalid_email" and d.get("value"):
            message = email_reason(str(d["value"]))  # the store's shape check gives no reason
        if d.get("suggestion"):
            guess = _("Did you mean '%(hint)s'?") % {"hint": d["suggestion"]}
            if guess not in message:  # the store's message may say it already
                message += " " + guess
        grouped.setdefault(d.get("field") or "_", []).append(message)
    return grouped


def _source_to_create(account_id: int, data: dict, vocab: AccountVocabulary) -> str | None:
    """The new source the form asks for (typed, or a default picked), put in ``data``; an
    existing one differing only in case is used instead of a twin."""
    wanted = data.get("new_source")
    if not wanted:
        return None
    same = next((s for s in vocab.sources if s.casefold() == wanted.casefold()), None)
    data["source"] = same or wanted
    if same:
        return None
    vocab.sources.add(wanted)  # validate as if it existed; it is stored with the contact
    return wanted


def _check(account_id: int, data: dict) -> tuple[list, str | None]:
    """Every problem with the submitted contact, and the source to create with it."""
    vocab = AccountVocabulary.load(account_id)
    new_source = _source_to_create(account_id, data, vocab)
    details = []
    if not data["obtained_rightfully"]:
        details.append({"field": "obtained_rightfully", "code": "required",
                        "message": _("Confirm that this contact's data was obtained "
                                     "rightfully.")})
    try:
        contacts.validate(account_id, data, creating=True, vocab=vocab)
    except ValidationFailed as exc:
        details.extend(exc.details)
    return details, new_source


def _store(account_id: int, data: dict, new_source: str | None, prov):
    """The new source (if any) and the contact, together or not at all."""
    with db.atomic() as txn:
        try:
            if new_source:
                add_vocabulary(account_id, "source", new_source)
            return contacts.create(account_id, data, prov)
        except Exception:
            txn.rollback()
            raise


def _blacklisted(found: dict, tz) -> str:
    """Why a blacklisted address cannot be added: since when (the day in the account's zone,
    as the Blacklisted tab shows it; the API's message gives UTC's) and why."""
    day = as_utc(found["blacklisted_at"]).astimezone(tz).date()
    return contacts.blacklisted_message(found["email"], day, found.get("reason"))


def _add(viewer: Viewer, form: FormData, prov) -> dict:
    choices = form_choices(viewer.account_id)
    data = contact_data(form, choices["custom_fields"])
    details, new_source = _check(viewer.account_id, data)
    if not details:
        try:
            return {"created": _store(viewer.account_id, data, new_source, prov)}
        except ValidationFailed as exc:
            details.extend({**d, "field": "source"} if d.get("field") == "name" else d
                           for d in exc.details)
        except Conflict as exc:
            existing = exc.details[0].get("id") if exc.details else None
            blacklisted = exc.details and exc.details[0].get("status") == "blacklisted"
            return {**choices, "data": data, "errors": {"email": [
                _blacklisted(exc.details[0], viewer.tz) if blacklisted else
                _("A contact with this e-mail address exists already.")]}, "existing": existing}
    return {**choices, "data": data, "errors": errors_by_field(details), "existing": None}


@page()
async def add_one(request: Request, viewer: Viewer) -> Response:
    """GET/POST /admin/contacts/new"""
    if request.method == "GET":
        choices = await in_db(form_choices, viewer.account_id)
        return render(request, "add_one.html", {
            "active": "contacts", **choices, "errors": {}, "existing": None, "data": EMPTY})
    form = await csrf.checked_form(request)
    result = await in_db(_add, viewer, form, provenance(request, viewer, _(CONSENT_TEXT)))
    if "created" in result:
        contact = result["created"]
        flash(request, _("%(email)s was added.") % {"email": contact.email})
        return redirect(request, "contact", contact_id=contact.id)
    return render(request, "add_one.html", {"active": "contacts", **result}, status=422)
