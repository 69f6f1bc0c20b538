"""Settings: the mail sender and website, languages, sources, preferences, interests and
custom fields."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forms.public import LANGUAGE_NAMES
from gateway import accounts
from gateway.admin import csrf
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.errors import BadRequest, InletError
from gateway.i18n import N_, _
from gateway.models import FIELD_TYPES, Account
from gateway.web import in_db
from privacy import retention

# URL segment → (vocabulary kind, heading, the label of the input adding one)
KINDS = {"languages": ("language", N_("Languages"), N_("New language")),
         "sources": ("source", N_("Sources"), N_("New source")),
         "preferences": ("preference", N_("Preferences"), N_("New preference")),
         "interests": ("interest", N_("Interests"), N_("New interest"))}
HINTS = {
    "languages": N_("The languages contacts, forms and mails can have, as two-letter ISO 639-1 "
                    "codes such as de for German."),
    "sources": N_("Where a contact came from, such as Website or Fair: every import, form and "
                  "hook gives new contacts one."),
    "preferences": N_("What contacts choose about your mails, such as Weekly or Monthly; a form "
                      "can offer them as tick boxes."),
    "interests": N_("Topics a contact cares about, such as Sports or Music; a form can offer "
                    "them as tick boxes."),
}
# The notices after adding and removing a value, one per kind (each language has its genders).
ADDED = {"language": N_("Language '%(name)s' added."), "source": N_("Source '%(name)s' added."),
         "preference": N_("Preference '%(name)s' added."),
         "interest": N_("Interest '%(name)s' added.")}
REMOVED = {"language": N_("The language was removed; contacts keep the values they have."),
           "source": N_("The source was removed; contacts keep the values they have."),
           "preference": N_("The preference was removed; contacts keep the values they have."),
           "interest": N_("The interest was removed; contacts keep the values they have.")}


def _context(account_id: int, errors: dict | None = None, values: dict | None = None) -> dict:
    account = Account.get_by_id(account_id)
    return {"active": "settings", "field_types": FIELD_TYPES, "errors": errors or {},
            "error_ids": {},
            "values": values or {}, "account": account,
            "sender": accounts.sender_of(account),
            "default_address": accounts.default_sender_address(),
            "first_user": accounts.first_user_email(account_id) or _("nobody"),
            "sections": [(segment, heading, new_label,
                          accounts.list_vocabulary(account_id, kind))
                         for segment, (kind, heading, new_label) in KINDS.items()],
            "kinds": {segment: kind for segment, (kind, _h, _n) in KINDS.items()},
            # the names of the contacts' languages (the admin's own are ``language_names``)
            "hints": HINTS, "vocabulary_names": LANGUAGE_NAMES,
            "usage": accounts.label_usage(account_id), "field_label": accounts.field_label,
            "custom_fields": accounts.list_custom_fields(account_id),
            "retention": retention.policy()}


@page()
async def settings_page(request: Request, viewer: Viewer) -> Response:
    """GET /admin/settings"""
    return render(request, "settings.html", await in_db(_context, viewer.account_id))


def _kind(request: Request) -> tuple[str, str]:
    segment = request.path_params["kind"]
    if segment not in KINDS:
        raise BadRequest(_("Unknown kind of setting."))
    return segment, KINDS[segment][0]


def _error_text(exc: InletError) -> str:
    messages = [d.get("message") for d in exc.details if d.get("message")]
    return " ".join(messages) or _(exc.message)


async def failed(request: Request, viewer: Viewer, section: str, exc: InletError,
                 values: dict) -> Response:
    """The settings page again, with ``section``'s error (in the summary on top, linked to
    its field, and beside the section) and the values sent."""
    ctx = await in_db(_context, viewer.account_id, {section: _error_text(exc)},
                      {section: values})
    ctx["error_ids"] = {section: _field_id(section, exc)}
    return render(request, "settings.html", ctx, status=exc.status)


# The input a section's error is about, for the error summary's link.
_SECTION_FIELDS = {"sender": "sender-name", "logo": "logo-url", "custom-fields": "field-name"}


def _field_id(section: str, exc: InletError) -> str:
    field = next((d["field"] for d in exc.details if d.get("field")), None)
    if section == "sender" and field:
        return field.replace("_", "-")  # sender_address -> the input #sender-address
    return _SECTION_FIELDS.get(section, f"new-{section}")


@page()
async def add_entry(request: Request, viewer: Viewer) -> Response:
    """POST /admin/settings/{kind}"""
    segment, kind = _kind(request)
    form = await csrf.checked_form(request)
    name = str(form.get("name") or "")
    try:
        row = await in_db(accounts.add_vocabulary, viewer.account_id, kind, name)
    except InletError as exc:
        return await failed(request, viewer, segment, exc, {"name": name})
    flash(request, _(ADDED[kind]) % {"name": row.name})
    return redirect(request, "settings")


def _removal_page(request: Request, usage: dict, what: str, shown: str, back: str,
                  status: int = 200) -> Response:
    """The removal step: how many contacts, forms and hooks use the value, then Remove."""
    return render(request, "settings_remove.html",
                  {"active": "settings", "usage": usage, "what": what, "shown": shown,
                   "back": back, "blocked": bool(usage["forms"] or usage["hooks"])},
                  status=status)


@page()
async def delete_entry(request: Request, viewer: Viewer) -> Response:
    """GET (what removing it touches) / POST /admin/settings/{kind}/{entry_id}/delete"""
    segment, kind = _kind(request)
    if request.method == "GET":
        usage = await in_db(accounts.label_removal, viewer.account_id, kind,
                            request.path_params["entry_id"])
        shown = usage["name"]
        if kind == "language" and shown in LANGUAGE_NAMES:
            shown = f"{LANGUAGE_NAMES[shown]} ({shown})"
        return _removal_page(request, usage, kind, shown, f"h-{segment}")
    await csrf.checked_form(request)
    try:
        await in_db(accounts.delete_vocabulary, viewer.account_id, kind,
                    request.path_params["entry_id"])
    except InletError as exc:
        if exc.status == 404:
            raise
        return await failed(request, viewer, segment, exc, {})
    flash(request, _(REMOVED[kind]))
    return redirect(request, "settings")


@page()
async def add_field(request: Request, viewer: Viewer) -> Response:
    """POST /admin/settings/custom-fields"""
    form = await csrf.checked_form(request)
    choices = [c.strip() for c in str(form.get("choices") or "").replace("\n", ",").split(",")
               if c.strip()]
    data = {"name": str(form.get("name") or "").strip(), "type": form.get("type"),
            "choices": choices, "label": str(form.get("label") or "")}
    try:
        row = await in_db(accounts.add_custom_field, viewer.account_id, data)
    except InletError as exc:
        return await failed(request, viewer, "custom-fields", exc,
                             {**data, "choices": ", ".join(choices)})
    flash(request, _("Custom field '%(label)s' (%(name)s) added.")
          % {"label": accounts.field_label(row), "name": row.name})
    return redirect(request, "settings")


@page()
async def rename_field(request: Request, viewer: Viewer) -> Response:
    """POST /admin/settings/custom-fields/{entry_id}/label: a new display label."""
    form = await csrf.checked_form(request)
    label = str(form.get("label") or "")
    try:
        row = await in_db(accounts.rename_custom_field, viewer.account_id,
                          request.path_params["entry_id"], {"label": label})
    except InletError as exc:
        if exc.status == 404:
            raise
        return await failed(request, viewer, "custom-fields", exc,
                             {"rename": request.path_params["entry_id"], "label": label})
    flash(request, _("The field %(name)s is now shown as '%(label)s'.")
          % {"name": row.name, "label": accounts.field_label(row)})
    return redirect(request, "settings")


@page()
async def delete_field(request: Request, viewer: Viewer) -> Response:
    """GET (what removing it touches) / POST /admin/settings/custom-fields/{entry_id}/delete"""
    if request.method == "GET":
        usage = await in_db(accounts.field_removal, viewer.account_id,
                            request.path_params["entry_id"])
        return _removal_page(request, usage, "custom field",
                             f"{usage['label']} ({usage['name']})", "h-fields")
    await csrf.checked_form(request)
    try:
        await in_db(accounts.delete_custom_field, viewer.account_id,
                    request.path_params["entry_id"])
    except InletError as exc:
        if exc.status == 404:
            raise
        return await failed(request, viewer, "custom-fields", exc, {})
    flash(request, _("The custom field was removed."))
    return redirect(request, "settings")


@page()
async def save_sender(request: Request, viewer: Viewer) -> Response:
    """POST /admin/settings/sender: who the account's mails come from, and its website."""
    form = await csrf.checked_form(request)
    data = {key: str(form.get(key) or "") for key in
            ("sender_name", "sender_address", "notification_email", "report_language",
             "website_url")}
    try:
        account = await in_db(accounts.update_profile, viewer.account_id, data)
    except InletError as exc:
        return await failed(request, viewer, "sender", exc, data)
    flash(request, _("Mails now go from %(sender)s; reports and alerts to %(address)s.")
          % {"sender": accounts.sender_of(account),
             "address": await in_db(accounts.notification_address, account.id)})
    return redirect(request, "settings")
