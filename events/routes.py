"""The /api/event-endpoints resource and the /api/events list."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from events import endpoints as service
from gateway.web import authorize, in_db, query_int, read_json

SCOPE = "admin"  # endpoints are account configuration: they send contacts elsewhere
READ_SCOPES = ("admin", "contacts:read")


async def collection(request: Request) -> Response:
    """GET, POST /api/event-endpoints (POST is Zapier's REST Hooks subscribe)."""
    token = await authorize(request, SCOPE)
    if request.method == "GET":
        found = await in_db(_listed, token.account_id)
        return JSONResponse({"items": found})
    body = await read_json(request)
    # No Idempotency-Key here: its kept answer would hold the secret for a day.
    endpoint, secret = await in_db(service.create_endpoint, token.account_id, body)
    shape = await in_db(service.to_dict, endpoint)
    return JSONResponse(shape | {"secret": secret}, status_code=201, headers={
        "Location": str(request.url_for("event_endpoints:endpoint", endpoint_id=endpoint.id))})


def _listed(account_id: int) -> list[dict]:
    rows = service.list_endpoints(account_id)
    stats = service.counts([row.id for row in rows])
    return [service.to_dict(row, stats[row.id]) for row in rows]


async def endpoint(request: Request) -> Response:
    """GET, PATCH, DELETE /api/event-endpoints/{endpoint_id} (DELETE: Zapier's unsubscribe)"""
    token = await authorize(request, SCOPE)
    endpoint_id = request.path_params["endpoint_id"]
    if request.method == "GET":
        return JSONResponse(await in_db(_shape, service.get_endpoint, token.account_id,
                                        endpoint_id))
    if request.method == "DELETE":
        await in_db(service.delete_endpoint, token.account_id, endpoint_id)
        return Response(status_code=204)
    body = await read_json(request)
    return JSONResponse(await in_db(_shape, service.update_endpoint, token.account_id,
                                    endpoint_id, body))


def _shape(fn, *args) -> dict:
    return service.to_dict(fn(*args))


async def rotate_secret(request: Request) -> JSONResponse:
    """POST /api/event-endpoints/{endpoint_id}/rotate-secret"""
    token = await authorize(request, SCOPE)

    def rotate() -> dict:
        changed, secret = service.rotate_secret(token.account_id,
                                                request.path_params["endpoint_id"])
        return service.to_dict(changed) | {"secret": secret}
    return JSONResponse(await in_db(rotate))


async def deliveries(request: Request) -> JSONResponse:
    """GET /api/event-endpoints/{endpoint_id}/deliveries?status=&limit="""
    token = await authorize(request, SCOPE)
    found = await in_db(service.list_deliveries, token.account_id,
                        request.path_params["endpoint_id"],
                        status=request.query_params.get("status") or None,
                        limit=_limit(request))
    return JSONResponse({"items": found})


async def attempts(request: Request) -> JSONResponse:
    """GET /api/event-endpoints/{endpoint_id}/attempts?limit="""
    token = await authorize(request, SCOPE)
    found = await in_db(service.list_attempts, token.account_id,
                        request.path_params["endpoint_id"], _limit(request))
    return JSONResponse({"items": found})


def _limit(request: Request) -> int:
    from gateway.errors import BadRequest
    limit = query_int(request, "limit", 50)
    if not 1 <= limit <= 500:
        raise BadRequest("limit must be between 1 and 500.")
    return limit


async def send_test(request: Request) -> JSONResponse:
    """POST /api/event-endpoints/{endpoint_id}/test — a signed test event, sent now."""
    token = await authorize(request, SCOPE)
    outcome = await in_db(service.send_test, token.account_id,
                          request.path_params["endpoint_id"])
    return JSONResponse(outcome)


async def replay(request: Request) -> JSONResponse:
    """POST /api/event-endpoints/{endpoint_id}/deliveries/{event_delivery_id}/replay"""
    token = await authorize(request, SCOPE)
    found = await in_db(service.replay, token.account_id, request.path_params["endpoint_id"],
                        request.path_params["event_delivery_id"])
    return JSONResponse({"replayed": 1, "delivery_id": found}, status_code=202)


async def replay_all(request: Request) -> JSONResponse:
    """POST /api/event-endpoints/{endpoint_id}/replay — every dead delivery."""
    token = await authorize(request, SCOPE)
    count = await in_db(service.replay_all, token.account_id,
                        request.path_params["endpoint_id"])
    return JSONResponse({"replayed": count}, status_code=202)


async def events(request: Request) -> JSONResponse:
    """GET /api/events?type=&after=&limit= — recent events, for polling and samples."""
    token = await authorize(request, *READ_SCOPES)
    page = await in_db(service.list_events, token.account_id,
                       kind=request.query_params.get("type") or None,
                       after=request.query_params.get("after") or None,
                       limit=query_int(request, "limit", 50))
    return JSONResponse(page)


routes = [
    Route("/api/events", events, methods=["GET"], name="events"),
    Route("/api/event-endpoints", collection, methods=["GET", "POST"],
          name="event_endpoints_collection"),
    Mount("/api/event-endpoints", name="event_endpoints", routes=[
        Route("/{endpoint_id:int}", endpoint, methods=["GET", "PATCH", "DELETE"],
              name="endpoint"),
        Route("/{endpoint_id:int}/rotate-secret", rotate_secret, methods=["POST"],
              name="rotate_secret"),
        Route("/{endpoint_id:int}/test", send_test, methods=["POST"], name="test"),
        Route("/{endpoint_id:int}/deliveries", deliveries, methods=["GET"],
              name="deliveries"),
        Route("/{endpoint_id:int}/attempts", attempts, methods=["GET"], name="attempts"),
        Route("/{endpoint_id:int}/replay", replay_all, methods=["POST"], name="replay_all"),
        Route("/{endpoint_id:int}/deliveries/{event_delivery_id:int}/replay", replay,
              methods=["POST"], name="replay"),
    ]),
]
