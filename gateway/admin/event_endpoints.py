"""Event endpoint pages over ``events.endpoints``: the list with a form to add one, and a
page per endpoint — its secret once, counts, deliveries, attempts, a test event, replay."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from events import endpoints as service
from events import targets
from events.models import TYPES
from gateway import i18n
from gateway.admin import csrf
from gateway.admin.pages import Viewer, not_found, page, redirect, render
from gateway.admin.session import flash
from gateway.errors import InletError
from gateway.i18n import N_, _, ngettext
from gateway.web import in_db

ACTIVE = "events"
# What deliveries and the sweep store in English (events.delivery, events.jobs,
# events.targets): an attempt's error, a delivery's last one, why an endpoint was disabled.
STORED = i18n.stored_texts(
    N_("answered %(status)s"), N_("no answer within %(seconds)s s"),
    N_("redirects are not followed: point the endpoint at the final URL"),
    N_("the endpoint is disabled; replay once it is enabled again"),
    N_("refused: %(reason)s"), N_("%(host)s could not be resolved (%(error)s)"),
    N_("%(host)s: no address"),
    N_("disabled on %(date)s: failing since %(since)s UTC"),
    *targets.REFUSALS.values(), targets.METADATA_REFUSAL)


def shown(text: str | None) -> str | None:
    """A stored text in the reader's language."""
    return i18n.stored(text, STORED) if text else text


def _list_context(account_id: int) -> dict:
    rows = service.list_endpoints(account_id)
    stats = service.counts([row.id for row in rows])
    return {"active": ACTIVE, "types": TYPES, "errors": [], "values": {},
            "endpoints": [service.to_dict(row, stats[row.id]) for row in rows]}


@page()
async def endpoints_list(request: Request, viewer: Viewer) -> Response:
    """GET /admin/event-endpoints; POST adds one (then its page shows the secret once)."""
    if request.method == "GET":
        return render(request, "events/list.html", await in_db(_list_context,
                                                               viewer.account_id))
    form = await csrf.checked_form(request)
    data = {"url": str(form.get("url") or "").strip(), "events": form.getlist("events"),
            "description": str(form.get("description") or "").strip(),
            "batch": bool(form.get("batch"))}
    try:
        endpoint, secret = await in_db(service.create_endpoint, viewer.account_id, data)
    except InletError as exc:
        if exc.status != 422:
            raise
        ctx = await in_db(_list_context, viewer.account_id)
        return render(request, "events/list.html", ctx | {
            "values": data, "errors": exc.details or [{"message": _(exc.message)}]},
            status=422)
    request.session["new_secret"] = secret  # shown once by the page that follows
    flash(request, _("The endpoint was added."))
    return redirect(request, "event_endpoint", endpoint_id=endpoint.id)


def _detail(account_id: int, endpoint_id, **extra) -> dict:
    endpoint = service.get_endpoint(account_id, endpoint_id)
    info = service.to_dict(endpoint)
    info["disabled_reason"] = shown(info["disabled_reason"])
    return {"active": ACTIVE, "endpoint": info,
            "deliveries": [d | {"last_error": shown(d["last_error"])} for d in
                           service.list_deliveries(account_id, endpoint.id, limit=50)],
            "attempts": [a | {"error": shown(a["error"])} for a in
                         service.list_attempts(account_id, endpoint.id, limit=20)],
            "secret": None, "outcome": None, **extra}


@page()
async def endpoint_detail(request: Request, viewer: Viewer) -> Response:
    """GET /admin/event-endpoints/{id}"""
    secret = request.session.pop("new_secret", None)
    return render(request, "events/detail.html", await in_db(
        _detail, viewer.account_id, request.path_params["endpoint_id"], secret=secret))


@page()
async def send_test(request: Request, viewer: Viewer) -> Response:
    """POST /admin/event-endpoints/{id}/test: a signed test event now; shows the answer."""
    endpoint_id = request.path_params["endpoint_id"]
    await csrf.checked_form(request)
    outcome = await in_db(service.send_test, viewer.account_id, endpoint_id)
    outcome["error"] = shown(outcome["error"])
    return render(request, "events/detail.html", await in_db(
        _detail, viewer.account_id, endpoint_id, outcome=outcome))


@page()
async def action(request: Request, viewer: Viewer) -> Response:
    """POST /admin/event-endpoints/{id}/{rotate|enable|disable|delete|replay}"""
    endpoint_id = request.path_params["endpoint_id"]
    name = request.path_params["action"]
    await csrf.checked_form(request)
    account_id = viewer.account_id
    if name == "rotate":
        _endpoint, secret = await in_db(service.rotate_secret, account_id, endpoint_id)
        request.session["new_secret"] = secret
        flash(request, _("A new secret was made; events carry the old one's signature for "
                         "24 hours too."))
    elif name in ("enable", "disable"):
        await in_db(service.update_endpoint, account_id, endpoint_id,
                    {"enabled": name == "enable"})
        flash(request, _("The endpoint is enabled.") if name == "enable"
              else _("The endpoint is disabled."))
    elif name == "delete":
        await in_db(service.delete_endpoint, account_id, endpoint_id)
        flash(request, _("The endpoint was deleted with its delivery log."))
        return redirect(request, "event_endpoints")
    elif name == "replay":
        count = await in_db(service.replay_all, account_id, endpoint_id)
        flash(request, ngettext("%(num)s dead delivery is queued again.",
                                "%(num)s dead deliveries are queued again.", count)
              % {"num": i18n.number(count)})
    else:
        raise not_found()
    return redirect(request, "event_endpoint", endpoint_id=endpoint_id)


@page()
async def replay_one(request: Request, viewer: Viewer) -> Response:
    """POST /admin/event-endpoints/{id}/deliveries/{event_delivery_id}/replay"""
    endpoint_id = request.path_params["endpoint_id"]
    await csrf.checked_form(request)
    await in_db(service.replay, viewer.account_id, endpoint_id,
                request.path_params["event_delivery_id"])
    flash(request, _("The delivery is queued again."))
    return redirect(request, "event_endpoint", endpoint_id=endpoint_id)


routes = [
    Route("/event-endpoints", endpoints_list, methods=["GET", "POST"], name="event_endpoints"),
    Route("/event-endpoints/{endpoint_id:int}", endpoint_detail, name="event_endpoint"),
    Route("/event-endpoints/{endpoint_id:int}/test", send_test, methods=["POST"],
          name="event_endpoint_test"),
    Route("/event-endpoints/{endpoint_id:int}/deliveries/{event_delivery_id:int}/replay",
          replay_one, methods=["POST"], name="event_endpoint_replay"),
    Route("/event-endpoints/{endpoint_id:int}/{action}", action, methods=["POST"],
          name="event_endpoint_action"),
]
