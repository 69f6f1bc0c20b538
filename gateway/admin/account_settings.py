"""Settings: languages, sources, preferences, interests and custom fields."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway import accounts
from gateway.admin import csrf
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.errors import BadRequest, InletError
from gateway.models import FIELD_TYPES
from gateway.web import in_db

# URL segment → (vocabulary kind, heading)
KINDS = {"languages": ("language", "Languages"), "sources": ("source", "Sources"),
         "preferences": ("preference", "Preferences"), "interests": ("interest", "Interests")}


def _context(account_id: int, errors: dict | None = None, values: dict | None = None) -> dict:
    return {"active": "settings", "field_types": FIELD_TYPES, "errors": errors or {},
            "values": values or {},
            "sections": [(segment, heading, kind, accounts.list_vocabulary(account_id, kind))
                         for segment, (kind, heading) in KINDS.items()],
            "custom_fields": accounts.list_custom_fields(account_id)}


@page()
async def settings_page(request: Request, viewer: Viewer) -> Response:
    """GET /admin/settings"""
    return render(request, "settings.html", await in_db(_context, viewer.account_id))


def _kind(request: Request) -> tuple[str, str]:
    segment = request.path_params["kind"]
    if segment not in KINDS:
        raise BadRequest("Unknown kind of setting.")
    return segment, KINDS[segment][0]


def _error_text(exc: InletError) -> str:
    messages = [d.get("message") for d in exc.details if d.get("message")]
    return " ".join(messages) or exc.message


async def _failed(request: Request, viewer: Viewer, section: str, exc: InletError,
                  values: dict) -> Response:
    ctx = await in_db(_context, viewer.account_id, {section: _error_text(exc)},
                      {section: values})
    return render(request, "settings.html", ctx, status=exc.status)


@page()
async def add_entry(request: Request, viewer: Viewer) -> Response:
    """POST /admin/settings/{kind}"""
    segment, kind = _kind(request)
    form = await csrf.checked_form(request)
    name = str(form.get("name") or "")
    try:
        row = await in_db(accounts.add_vocabulary, viewer.account_id, kind, name)
    except InletError as exc:
        return await _failed(request, viewer, segment, exc, {"name": name})
    flash(request, f"{kind.capitalize()} {row.name!r} added.")
    return redirect(request, "settings")


@page()
async def delete_entry(request: Request, viewer: Viewer) -> Response:
    """POST /admin/settings/{kind}/{entry_id}/delete"""
    _, kind = _kind(request)
    await csrf.checked_form(request)
    await in_db(accounts.delete_vocabulary, viewer.account_id, kind,
                request.path_params["entry_id"])
    flash(request, f"The {kind} was removed; contacts keep the values they have.")
    return redirect(request, "settings")


@page()
async def add_field(request: Request, viewer: Viewer) -> Response:
    """POST /admin/settings/custom-fields"""
    form = await csrf.checked_form(request)
    choices = [c.strip() for c in str(form.get("choices") or "").replace("\n", ",").split(",")
               if c.strip()]
    data = {"name": str(form.get("name") or "").strip(), "type": form.get("type"),
            "choices": choices}
    try:
        row = await in_db(accounts.add_custom_field, viewer.account_id, data)
    except InletError as exc:
        return await _failed(request, viewer, "custom-fields", exc,
                             {**data, "choices": ", ".join(choices)})
    flash(request, f"Custom field {row.name!r} added.")
    return redirect(request, "settings")


@page()
async def delete_field(request: Request, viewer: Viewer) -> Response:
    """POST /admin/settings/custom-fields/{entry_id}/delete"""
    await csrf.checked_form(request)
    await in_db(accounts.delete_custom_field, viewer.account_id,
                request.path_params["entry_id"])
    flash(request, "The custom field was removed.")
    return redirect(request, "settings")
