"""Add contacts: the chooser, and the "Add one contact" form."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from gateway import contacts
from gateway.accounts import list_custom_fields, list_vocabulary
from gateway.admin import csrf
from gateway.admin.contacts import provenance
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.errors import Conflict, ValidationFailed
from gateway.web import in_db

CONSENT_TEXT = "Added by hand; the user stated the data was obtained rightfully."


@page()
async def chooser(request: Request, viewer: Viewer) -> Response:
    """GET /admin/contacts/add: the four ways in."""
    return render(request, "add_contacts.html", {"active": "contacts"})


def form_choices(account_id: int) -> dict:
    """The account's vocabularies and custom fields, for the form's inputs."""
    return {kind: [v.name for v in list_vocabulary(account_id, kind)]
            for kind in ("language", "source", "preference", "interest")} | {
        "custom_fields": list_custom_fields(account_id)}


def contact_data(form: FormData, custom_fields) -> dict:
    """The API-shaped contact a submitted form describes."""
    data = {name: str(form.get(name) or "").strip()
            for name in ("email", "first_name", "name", "language", "source")}
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


def errors_by_field(details: list) -> dict[str, list[str]]:
    """ValidationFailed details grouped per input, for inline messages."""
    grouped: dict[str, list[str]] = {}
    for d in details:
        message = d.get("message") or "This value is not valid."
        if d.get("suggestion") and "Did you mean" not in message:
            message += f" Did you mean {d['suggestion']!r}?"
        grouped.setdefault(d.get("field") or "_", []).append(message)
    return grouped


def _add(viewer: Viewer, form: FormData, prov) -> dict:
    choices = form_choices(viewer.account_id)
    data = contact_data(form, choices["custom_fields"])
    details = []
    if not form.get("obtained_rightfully"):
        details.append({"field": "obtained_rightfully", "code": "required",
                        "message": "Confirm that this contact's data was obtained rightfully."})
    try:
        contacts.validate(viewer.account_id, data, creating=True)
    except ValidationFailed as exc:
        details.extend(exc.details)
    if not details:
        try:
            return {"created": contacts.create(viewer.account_id, data, prov)}
        except ValidationFailed as exc:
            details.extend(exc.details)
        except Conflict as exc:
            existing = exc.details[0]["id"] if exc.details else None
            return {**choices, "data": data, "errors": {"email": [
                "A contact with this e-mail address exists already."]}, "existing": existing}
    return {**choices, "data": data, "errors": errors_by_field(details), "existing": None}


@page()
async def add_one(request: Request, viewer: Viewer) -> Response:
    """GET/POST /admin/contacts/new"""
    if request.method == "GET":
        choices = await in_db(form_choices, viewer.account_id)
        return render(request, "add_one.html", {
            "active": "contacts", **choices, "errors": {}, "existing": None,
            "data": {"email": "", "first_name": "", "name": "", "language": "",
                     "source": "", "preferences": [], "interests": [], "custom_fields": {}}})
    form = await csrf.checked_form(request)
    result = await in_db(_add, viewer, form, provenance(request, viewer, CONSENT_TEXT))
    if "created" in result:
        contact = result["created"]
        flash(request, f"{contact.email} was added.")
        return redirect(request, "contact", contact_id=contact.id)
    return render(request, "add_one.html", {"active": "contacts", **result}, status=422)
