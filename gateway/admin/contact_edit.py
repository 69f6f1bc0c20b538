"""Edit one contact: the API's PATCH (same validation, same merge rules) behind a form."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from gateway import contacts
from gateway.admin import csrf
from gateway.admin.add_contact import errors_by_field, form_choices
from gateway.admin.contacts import provenance
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.errors import ValidationFailed
from gateway.i18n import _
from gateway.web import in_db

CLEAR = "-"  # the merge rules' "clear this field" (README, "Merge rules")


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "").strip()


def edit_data(form: FormData, stored: dict, choices: dict) -> tuple[dict, dict]:
    """(PATCH body, values to show again).

    A form sends every field, so an emptied one means "clear it" (``-`` under the merge
    rules, which otherwise keep a stored value when given nothing). Preferences and interests
    are the whole ticked set (saved with ``replace_labels``): unticking removes one. A stored
    label the page could not offer (no longer in the vocabulary) is kept, never dropped unseen."""
    shown = {name: _text(form, name) for name in ("first_name", "name", "language", "source")}
    body = {name: value or (CLEAR if stored.get(name) else "") for name, value in shown.items()}
    for name, kind in (("preferences", "preference"), ("interests", "interest")):
        offered = set(choices[kind])
        ticked = [label for label in form.getlist(name) if label in offered]
        unseen = [label for label in stored[name] if label not in offered]
        shown[name] = body[name] = list(dict.fromkeys(ticked + unseen))
    custom_fields, custom, shown_custom = choices["custom_fields"], {}, {}
    for field in custom_fields:
        key, before = f"cf_{field.name}", stored["custom_fields"].get(field.name)
        if field.type == "multiple_choice":
            value = form.getlist(key)
        elif field.type == "boolean":
            value = True if form.get(key) else (False if before is not None else None)
        else:
            value = _text(form, key)
        shown_custom[field.name] = value
        if value not in (None, "", []):
            custom[field.name] = value
        elif before not in (None, "", []):
            custom[field.name] = CLEAR
    body["custom_fields"] = custom
    return body, shown | {"custom_fields": shown_custom}


def _form(account_id: int, contact_id: int) -> dict:
    contact = contacts.to_dict(contacts.get(account_id, contact_id))
    return {**form_choices(account_id), "contact": contact, "data": contact, "errors": {}}


def _save(account_id: int, contact_id: int, form: FormData, prov) -> dict:
    page_data = _form(account_id, contact_id)
    stored = page_data["contact"]
    if stored["status"] == "blacklisted":
        return page_data | {"errors": {"_": [_("A blacklisted contact is never changed.")]}}
    body, shown = edit_data(form, stored, page_data)
    try:
        contacts.patch(account_id, contact_id, body, prov, replace_labels=True)
    except ValidationFailed as exc:
        return page_data | {"data": stored | shown, "errors": errors_by_field(exc.details)}
    return {"saved": stored["email"]}


@page()
async def edit(request: Request, viewer: Viewer) -> Response:
    """GET/POST /admin/contacts/{id}/edit"""
    contact_id = request.path_params["contact_id"]
    if request.method == "GET":
        data = await in_db(_form, viewer.account_id, contact_id)
        return render(request, "contact_edit.html", {"active": "contacts", **data})
    form = await csrf.checked_form(request)
    result = await in_db(_save, viewer.account_id, contact_id, form,
                         provenance(request, viewer))
    if "saved" in result:
        flash(request, _("%(email)s was saved.") % {"email": result["saved"]})
        return redirect(request, "contact", contact_id=contact_id)
    return render(request, "contact_edit.html", {"active": "contacts", **result}, status=422)
