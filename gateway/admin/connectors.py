"""Connector pages over ``connectors.service``: hooks (generic and Efficy), the secret shown
once, ready-to-paste requests, a test delivery, the mapping edited field by field with a
preview, deliveries in every state, dead letters with replay and refused requests."""

from __future__ import annotations

import json
from dataclasses import asdict

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors import jobs, mapping, records, refusals, samples, selftest, service
from connectors.models import AUTH_MODES, DELETE_ACTIONS, HOOK_STATUSES, KINDS, Hook
from gateway import i18n, web
from gateway.accounts import list_custom_fields, list_vocabulary
from gateway.admin import csrf, hook_mapping
from gateway.admin.add_contact import errors_by_field
from gateway.admin.hook_mapping import BadJson, parse_json
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.errors import InletError
from gateway.i18n import _, ngettext, pgettext
from gateway.web import in_db

__all__ = ["BadJson", "hook_from_form", "routes"]


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
        "mapping": hook_mapping.from_form(form),
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
            "languages": [v.name for v in list_vocabulary(account_id, "language")],
            "custom_fields": [f.name for f in list_custom_fields(account_id)]}


def _preview_body(account_id: int, values: dict, hook_id=None):
    """(body, where it came from): the hook's last delivery, else a sample for ``values``."""
    draft = Hook(id=hook_id, account=account_id, kind=values.get("kind", "generic"),
                 mapping=values.get("mapping") or {}, language=values.get("language"),
                 source=values.get("source"))
    payload = samples.last_payload(draft) if hook_id else None
    if payload is not None:
        return payload, _("the last delivery")
    return samples.sample(draft), _("a sample body")


def _editor(account_id: int, values: dict, hook_id=None, errors=None, raw=None) -> dict:
    choices = _choices(account_id)
    rules = values.get("mapping") or {}
    body, origin = _preview_body(account_id, values, hook_id)
    original = json.dumps(rules, indent=2, ensure_ascii=False)
    return {"active": "connectors", "values": values, "hook_id": hook_id,
            "errors": errors_by_field(errors or []), "error_list": errors or [],
            "raw": raw or {"mapping": original,
                           "language_map": json.dumps(values.get("language_map") or {},
                                                      indent=2, ensure_ascii=False)},
            "mapping_original": original,
            "rows": hook_mapping.rows(rules, choices["custom_fields"],
                                      hook_mapping.first_record(body)),
            "preview_origin": origin, "preview_body": samples.pretty(body), **choices}


NEW_HOOK = {"kind": "generic", "name": "", "auth": "standard-webhooks", "source": None,
            "language": None, "contact_status": "confirmed", "form_id": None,
            "on_delete": "ignore", "consent_text": None, "id_path": None, "enabled": True,
            "mapping": {}, "language_map": {}}


def _new_values(account_id: int, kind: str) -> dict:
    """A new hook's form: the flat default mapping and the account's first source."""
    choices = _choices(account_id)
    rules = mapping.flat(choices["custom_fields"]) if kind == "generic" else {}
    return {**NEW_HOOK, "kind": kind, "mapping": rules,
            "source": choices["sources"][0] if choices["sources"] else None}


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
        if form.get("action") == "preview":  # show what the unsaved mapping reads
            if hook_id is not None:
                service.get_hook(viewer.account_id, hook_id)  # 404 for another account's
            return _editor(viewer.account_id, {**data, "kind": kind}, hook_id)
        try:
            if hook_id is None:
                hook, secret = service.create_hook(viewer.account_id, {**data, "kind": kind})
                return hook, secret
            return service.update_hook(viewer.account_id, hook_id, data), None
        except InletError as exc:
            if exc.status == 404:
                raise
            return _editor(viewer.account_id, {**data, "kind": kind}, hook_id,
                           exc.details or [{"field": "_", "message": _(exc.message)}])
    result = await in_db(work)
    if isinstance(result, dict):
        status = 200 if form.get("action") == "preview" else 422
        return render(request, "connectors/edit.html", result, status=status)
    hook, secret = result
    if secret:
        request.session["new_secret"] = secret  # shown once by the page that follows
    flash(request, (_("The hook '%(name)s' was created.") if secret
                    else _("The hook '%(name)s' was saved.")) % {"name": hook.name})
    return redirect(request, "hook", hook_id=hook.id)


@page()
async def new_hook(request: Request, viewer: Viewer) -> Response:
    """GET/POST /admin/connectors/new"""
    if request.method == "GET":
        kind = request.query_params.get("kind") if request.query_params.get("kind") in KINDS \
            else "generic"

        def fresh():
            return _editor(viewer.account_id, _new_values(viewer.account_id, kind))
        return render(request, "connectors/edit.html", await in_db(fresh))
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


def _delivery_view(delivery) -> dict:
    """A delivery for the log: its state in words, what it wrote, why records failed."""
    view = service.delivery_to_dict(delivery)
    result = view["result"]
    view["contact_ids"] = [r["contact_id"] for r in result.get("records", [])
                           if r.get("contact_id")][:5]
    view["reasons"] = records.reasons(result)
    view["error"] = i18n.stored(view["error"], records.STORED)  # stored in English by the job
    view["counts"] = {k: v for k, v in result.get("counts", {}).items()
                      if isinstance(v, int) and v}
    return view


def _field_labels() -> dict:
    """The contact fields of the test preview by their names for people."""
    return {**{name: _(label) for name, label in hook_mapping.LABELS.items()},
            "status": pgettext("contact", "Status"), "custom_fields": _("Custom fields")}


def _detail(account_id: int, hook_id, secret=None, test=None, outcome=None) -> dict:
    hook = service.get_hook(account_id, hook_id)
    info = service.to_dict(hook)
    body = samples.sample(hook)
    last = samples.last_payload(hook)
    return {"active": "connectors", "hook": info, "secret": secret,
            "mapping_rows": [r for r in hook_mapping.rows(hook.mapping or {}, ())
                             if r["mode"] != "none"] if hook.kind == "generic" else [],
            "examples": samples.requests(info["url"], hook.auth, body, secret),
            "outcome": outcome, "field_labels": _field_labels(),
            "waiting": jobs.waiting(hook.id),
            "deliveries": [_delivery_view(d)
                           for d in service.list_deliveries(account_id, hook.id, limit=20)],
            "dead": [_delivery_view(d) | {"payload": samples.pretty(d.payload)}
                     for d in service.dead_letters(account_id, hook.id, limit=50)],
            "refused": [refusals.to_dict(r) | {"reason": i18n.stored(r.reason, records.STORED)}
                        for r in refusals.recent(hook.id)],
            "test": test or {"payload": samples.pretty(last if last is not None else body),
                             "origin": _("the last delivery") if last is not None
                             else _("a sample body"), "result": None, "error": None}}


@page()
async def hook_detail(request: Request, viewer: Viewer) -> Response:
    """GET /admin/connectors/{id}: URL, secret once, requests to copy, tests, deliveries."""
    secret = request.session.pop("new_secret", None)
    hook_id = request.path_params["hook_id"]
    outcome = request.session.get("test_outcome")
    if outcome and outcome.get("hook_id") == hook_id:
        request.session.pop("test_outcome")
        # the answer of the app's own endpoint (English) or a job's stored error
        outcome = outcome | {"reason": i18n.stored(outcome.get("reason"), records.STORED)}
    else:
        outcome = None
    ctx = await in_db(_detail, viewer.account_id, hook_id, secret, None, outcome)
    return render(request, "connectors/detail.html", ctx)


@page()
async def test_payload(request: Request, viewer: Viewer) -> Response:
    """POST /admin/connectors/{id}/test: what a payload would become (nothing is written)."""
    hook_id = request.path_params["hook_id"]
    form = await csrf.checked_form(request)
    raw = str(form.get("payload") or "")

    def work():
        test = {"payload": raw, "origin": None, "result": None, "error": None}
        try:
            test["result"] = service.test_hook(viewer.account_id, hook_id,
                                               parse_json(form, "payload", None))
        except BadJson as exc:
            test["error"] = str(exc)
        except InletError as exc:
            if exc.status == 404:
                raise
            test["error"] = _(exc.message)
        return _detail(viewer.account_id, hook_id, test=test)
    ctx = await in_db(work)
    return render(request, "connectors/detail.html", ctx,
                  status=422 if ctx["test"]["error"] else 200)


@page()
async def send_test(request: Request, viewer: Viewer) -> Response:
    """POST /admin/connectors/{id}/send-test: sign a sample, post it to the hook, report."""
    hook_id = request.path_params["hook_id"]
    await csrf.checked_form(request)
    hook = await in_db(service.get_hook, viewer.account_id, hook_id)
    route = "hook_receive_efficy" if hook.kind == "efficy" else "hook_receive"
    path = request.app.url_path_for(route, hook_id=hook.id)
    outcome = await selftest.send(request.app, str(path), viewer.account_id, hook.id)
    # POST-redirect-GET: the outcome rides in the session to the hook's page, shown once, so
    # a reload shows the page again instead of sending another delivery.
    request.session["test_outcome"] = {"hook_id": hook.id, **asdict(outcome)}
    return redirect(request, "hook", hook_id=hook.id)


@page()
async def rotate(request: Request, viewer: Viewer) -> Response:
    """POST /admin/connectors/{id}/rotate: a new secret, the old one valid 24 h more."""
    hook_id = request.path_params["hook_id"]
    await csrf.checked_form(request)
    _hook, secret = await in_db(service.rotate_secret, viewer.account_id, hook_id)
    request.session["new_secret"] = secret
    flash(request, _("A new secret was made; the previous one keeps working for 24 hours."))
    return redirect(request, "hook", hook_id=hook_id)


@page()
async def replay(request: Request, viewer: Viewer) -> Response:
    """POST /admin/connectors/{id}/dead-letters/{delivery_id}/replay (or all of them)."""
    hook_id = request.path_params["hook_id"]
    delivery_id = request.path_params.get("delivery_id")
    await csrf.checked_form(request)
    if delivery_id:
        await in_db(service.replay, viewer.account_id, hook_id, delivery_id)
        flash(request, _("The delivery is queued again."))
    else:
        replayed = await in_db(service.replay_all, viewer.account_id, hook_id)
        flash(request, ngettext("%(num)s delivery is queued again.",
                                "%(num)s deliveries are queued again.", len(replayed))
              % {"num": i18n.number(len(replayed))})
    return redirect(request, "hook", hook_id=hook_id)


@page()
async def delete(request: Request, viewer: Viewer) -> Response:
    """POST /admin/connectors/{id}/delete"""
    hook_id = request.path_params["hook_id"]
    await csrf.checked_form(request)
    await in_db(service.delete_hook, viewer.account_id, hook_id)
    flash(request, _("The hook was deleted; the contacts it brought in stay."))
    return redirect(request, "hooks")


routes = [
    Route("/connectors", hooks_list, name="hooks"),
    Route("/connectors/new", new_hook, methods=["GET", "POST"], name="hook_new"),
    Route("/connectors/{hook_id:int}", hook_detail, name="hook"),
    Route("/connectors/{hook_id:int}/edit", edit_hook, methods=["GET", "POST"],
          name="hook_edit"),
    Route("/connectors/{hook_id:int}/test", test_payload, methods=["POST"], name="hook_test"),
    Route("/connectors/{hook_id:int}/send-test", send_test, methods=["POST"],
          name="hook_send_test"),
    Route("/connectors/{hook_id:int}/rotate", rotate, methods=["POST"], name="hook_rotate"),
    Route("/connectors/{hook_id:int}/delete", delete, methods=["POST"], name="hook_delete"),
    Route("/connectors/{hook_id:int}/dead-letters/replay", replay, methods=["POST"],
          name="hook_replay_all"),
    Route("/connectors/{hook_id:int}/dead-letters/{delivery_id}/replay", replay,
          methods=["POST"], name="hook_replay"),
]
