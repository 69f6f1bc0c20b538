"""Connector pages over ``connectors.service``: hooks (generic and Efficy), the secret shown
once, the mapping with a test-payload preview, recent deliveries and dead letters with replay."""

from __future__ import annotations

import json

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors import service
from connectors.models import AUTH_MODES, DELETE_ACTIONS, HOOK_STATUSES, KINDS
from gateway import web
from gateway.accounts import list_vocabulary
from gateway.admin import csrf
from gateway.admin.add_contact import errors_by_field
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.errors import InletError
from gateway.web import in_db

EXAMPLE_MAPPING = {"email": "data.email", "first_name": "data.first_name",
                   "interests": {"path": "data.tags"}}
EXAMPLE_PAYLOAD = {"data": {"email": "ann@example.com", "first_name": "Ann"}}


class BadJson(Exception):
    """A JSON textarea that does not parse; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def parse_json(form: FormData, name: str, default):
    """The JSON value of a textarea (``default`` when empty), or BadJson."""
    raw = str(form.get(name) or "").strip()
    if not raw:
        return default
    try:
        return web.parse_json(raw)
    except InletError as exc:
        raise BadJson(name, exc.message) from None


def hook_from_form(form: FormData) -> dict:
    """The ``connectors.service`` hook data an edit form describes (it validates the values)."""
    form_id = str(form.get("form_id") or "").strip()
    return {
        "name": str(form.get("name") or "").strip(), "auth": form.get("auth"),
        "source": form.get("source") or None, "language": form.get("language") or None,
        "contact_status": form.get("contact_status"),
        "form_id": web.whole_number(form_id),
        "on_delete": form.get("on_delete") or "ignore",
        "consent_text": str(form.get("consent_text") or "").strip() or None,
        "id_path": str(form.get("id_path") or "").strip() or None,
        "enabled": bool(form.get("enabled")),
        "mapping": parse_json(form, "mapping", {}),
        "language_map": parse_json(form, "language_map", {}),
    }


def _choices(account_id: int) -> dict:
    forms = []
    try:
        from forms.definitions import list_forms
        forms = [(f.id, f.name) for f in list_forms(account_id)]
    except ImportError:  # the forms area is optional
        pass
    return {"kinds": KINDS, "auth_modes": AUTH_MODES, "statuses": HOOK_STATUSES,
            "delete_actions": DELETE_ACTIONS, "forms": forms,
            "sources": [v.name for v in list_vocabulary(account_id, "source")],
            "languages": [v.name for v in list_vocabulary(account_id, "language")]}


def _editor(account_id: int, values: dict, hook_id=None, errors=None, raw=None) -> dict:
    return {"active": "connectors", "values": values, "hook_id": hook_id,
            "errors": errors_by_field(errors or []), "error_list": errors or [],
            "raw": raw or {"mapping": json.dumps(values.get("mapping") or {}, indent=2),
                           "language_map": json.dumps(values.get("language_map") or {},
                                                      indent=2)},
            "example_mapping": json.dumps(EXAMPLE_MAPPING, indent=2), **_choices(account_id)}


NEW_HOOK = {"kind": "generic", "name": "", "auth": "standard-webhooks", "source": None,
            "language": None, "contact_status": "confirmed", "form_id": None,
            "on_delete": "ignore", "consent_text": None, "id_path": None, "enabled": True,
            "mapping": EXAMPLE_MAPPING, "language_map": {}}


# ---- pages ----------------------------------------------------------------------------------

def _list(account_id: int) -> dict:
    hooks = service.list_hooks(account_id)
    return {"active": "connectors",
            "hooks": [(service.to_dict(h), len(service.dead_letters(account_id, h.id)))
                      for h in hooks]}


@page()
async def hooks_list(request: Request, viewer: Viewer) -> Response:
    """GET /admin/connectors"""
    return render(request, "connectors/list.html", await in_db(_list, viewer.account_id))


async def _save(request: Request, viewer: Viewer, hook_id=None) -> Response:
    form = await csrf.checked_form(request)
    raw = {"mapping": str(form.get("mapping") or ""),
           "language_map": str(form.get("language_map") or "")}
    kind = form.get("kind") or "generic"

    def work():
        try:
            data = hook_from_form(form)
        except BadJson as exc:
            values = {**NEW_HOOK, "kind": kind, "name": form.get("name") or ""}
            return _editor(viewer.account_id, values, hook_id,
                           [{"field": exc.field, "message": str(exc)}], raw)
        try:
            if hook_id is None:
                hook, secret = service.create_hook(viewer.account_id, {**data, "kind": kind})
                return hook, secret
            return service.update_hook(viewer.account_id, hook_id, data), None
        except InletError as exc:
            if exc.status == 404:
                raise
            return _editor(viewer.account_id, {**data, "kind": kind}, hook_id,
                           exc.details or [{"field": "_", "message": exc.message}], raw)
    result = await in_db(work)
    if isinstance(result, dict):
        return render(request, "connectors/edit.html", result, status=422)
    hook, secret = result
    if secret:
        request.session["new_secret"] = secret  # shown once by the page that follows
    flash(request, f"The hook {hook.name!r} was {'created' if secret else 'saved'}.")
    return redirect(request, "hook", hook_id=hook.id)


@page()
async def new_hook(request: Request, viewer: Viewer) -> Response:
    """GET/POST /admin/connectors/new"""
    if request.method == "GET":
        kind = request.query_params.get("kind") if request.query_params.get("kind") in KINDS \
            else "generic"
        values = {**NEW_HOOK, "kind": kind, "mapping": NEW_HOOK["mapping"]
                  if kind == "generic" else {}}
        return render(request, "connectors/edit.html",
                      await in_db(_editor, viewer.account_id, values))
    return await _save(request, viewer)


@page()
async def edit_hook(request: Request, viewer: Viewer) -> Response:
    """GET/POST /admin/connectors/{id}/edit"""
    hook_id = request.path_params["hook_id"]
    if request.method == "GET":
        def current():
            return _editor(viewer.account_id,
                           service.to_dict(service.get_hook(viewer.account_id, hook_id)),
                           hook_id)
        return render(request, "connectors/edit.html", await in_db(current))
    return await _save(request, viewer, hook_id)


def _detail(account_id: int, hook_id, test=None) -> dict:
    hook = service.get_hook(account_id, hook_id)
    return {"active": "connectors", "hook": service.to_dict(hook),
            "deliveries": [service.delivery_to_dict(d)
                           for d in service.list_deliveries(account_id, hook.id, limit=20)],
            "dead": [service.delivery_to_dict(d, payload=True)
                     for d in service.dead_letters(account_id, hook.id, limit=50)],
            "test": test or {"payload": json.dumps(EXAMPLE_PAYLOAD, indent=2), "result": None,
                             "error": None}}


@page()
async def hook_detail(request: Request, viewer: Viewer) -> Response:
    """GET /admin/connectors/{id}: URL, secret once, test preview, deliveries, dead letters."""
    secret = request.session.pop("new_secret", None)
    ctx = await in_db(_detail, viewer.account_id, request.path_params["hook_id"])
    return render(request, "connectors/detail.html", {**ctx, "secret": secret})


@page()
async def test_payload(request: Request, viewer: Viewer) -> Response:
    """POST /admin/connectors/{id}/test: what a payload would become (nothing is written)."""
    hook_id = request.path_params["hook_id"]
    form = await csrf.checked_form(request)
    raw = str(form.get("payload") or "")

    def work():
        test = {"payload": raw, "result": None, "error": None}
        try:
            test["result"] = service.test_hook(viewer.account_id, hook_id,
                                               parse_json(form, "payload", None))
        except BadJson as exc:
            test["error"] = str(exc)
        except InletError as exc:
            if exc.status == 404:
                raise
            test["error"] = exc.message
        return _detail(viewer.account_id, hook_id, test)
    ctx = await in_db(work)
    return render(request, "connectors/detail.html", {**ctx, "secret": None},
                  status=422 if ctx["test"]["error"] else 200)


@page()
async def rotate(request: Request, viewer: Viewer) -> Response:
    """POST /admin/connectors/{id}/rotate: a new secret, the old one valid 24 h more."""
    hook_id = request.path_params["hook_id"]
    await csrf.checked_form(request)
    _, secret = await in_db(service.rotate_secret, viewer.account_id, hook_id)
    request.session["new_secret"] = secret
    flash(request, "A new secret was made; the previous one keeps working for 24 hours.")
    return redirect(request, "hook", hook_id=hook_id)


@page()
async def replay(request: Request, viewer: Viewer) -> Response:
    """POST /admin/connectors/{id}/dead-letters/{delivery_id}/replay (or all of them)."""
    hook_id = request.path_params["hook_id"]
    delivery_id = request.path_params.get("delivery_id")
    await csrf.checked_form(request)
    if delivery_id:
        await in_db(service.replay, viewer.account_id, hook_id, delivery_id)
        flash(request, "The delivery is queued again.")
    else:
        replayed = await in_db(service.replay_all, viewer.account_id, hook_id)
        flash(request, f"{len(replayed)} deliveries are queued again.")
    return redirect(request, "hook", hook_id=hook_id)


@page()
async def delete(request: Request, viewer: Viewer) -> Response:
    """POST /admin/connectors/{id}/delete"""
    hook_id = request.path_params["hook_id"]
    await csrf.checked_form(request)
    await in_db(service.delete_hook, viewer.account_id, hook_id)
    flash(request, "The hook was deleted; the contacts it brought in stay.")
    return redirect(request, "hooks")


routes = [
    Route("/connectors", hooks_list, name="hooks"),
    Route("/connectors/new", new_hook, methods=["GET", "POST"], name="hook_new"),
    Route("/connectors/{hook_id:int}", hook_detail, name="hook"),
    Route("/connectors/{hook_id:int}/edit", edit_hook, methods=["GET", "POST"],
          name="hook_edit"),
    Route("/connectors/{hook_id:int}/test", test_payload, methods=["POST"], name="hook_test"),
    Route("/connectors/{hook_id:int}/rotate", rotate, methods=["POST"], name="hook_rotate"),
    Route("/connectors/{hook_id:int}/delete", delete, methods=["POST"], name="hook_delete"),
    Route("/connectors/{hook_id:int}/dead-letters/replay", replay, methods=["POST"],
          name="hook_replay_all"),
    Route("/connectors/{hook_id:int}/dead-letters/{delivery_id}/replay", replay,
          methods=["POST"], name="hook_replay"),
]
