"""Event endpoint pages over ``events.endpoints``: the list with a form to add one, and a
page per endpoint — its secret once, counts, deliveries, attempts, a test event, replay."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from events import endpoints as service
from events.models import TYPES
from gateway.admin import csrf
from gateway.admin.pages import Viewer, not_found, page, redirect, render
from gateway.admin.session import flash
from gateway.errors import InletError
from gateway.web import in_db

ACTIVE = "events"


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
            "values": data, "errors": exc.details or [{"message": exc.message}]}, status=422)
    request.session["new_secret"] = secret  # shown once by the page that follows
    flash(request, "The endpoint was added.")
    return redirect(request, "event_endpoint", endpoint_id=endpoint.id)


def _detail(account_id: int, endpoint_id, **extra) -> dict:
    endpoint = service.get_endpoint(account_id, endpoint_id)
    return {"active": ACTIVE, "endpoint": service.to_dict(endpoint),
            "deliveries": service.list_deliveries(account_id, endpoint.id, limit=50),
            "attempts": service.list_attempts(account_id, endpoint.id, limit=20),
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
        _, secret = await in_db(service.rotate_secret, account_id, endpoint_id)
        request.session["new_secret"] = secret
        flash(request, "A new secret was made; events carry the old one's signature for "
                       "24 hours too.")
    elif name in ("enable", "disable"):
        await in_db(service.update_endpoint, account_id, endpoint_id,
                    {"enabled": name == "enable"})
        flash(request, f"The endpoint is {name}d.")
    elif name == "delete":
        await in_db(service.delete_endpoint, account_id, endpoint_id)
        flash(request, "The endpoint was deleted with its delivery log.")
        return redirect(request, "event_endpoints")
    elif name == "replay":
        count = await in_db(service.replay_all, account_id, endpoint_id)
        flash(request, f"{count} dead deliveries are queued again.")
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
    flash(request, "The delivery is queued again.")
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
