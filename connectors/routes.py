"""Connector routes: the receiving endpoints and the /api/hooks resource."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from connectors import jobs, mapping, records, refusals, service
from connectors.signatures import verify, verify_bearer
from gateway import idempotency, intake
from gateway.db import utcnow
from gateway.errors import InletError, NotFound, ServiceUnavailable, UnsupportedMediaType
from gateway.web import (
    authorize,
    client_ip,
    in_db,
    parse_json,
    query_int,
    read_body,
    read_json,
    shared,
)

MAX_BODY_BYTES = 1024 * 1024
SCOPE = "admin"  # hooks are account configuration: they write contacts unattended
# Refusals worth showing on the hook's page: the sender's mistakes (auth, size, type, body).
# 404 has no hook to show it on; a 503 (paused hook, Redis away) is no mistake of theirs.
REFUSALS_KEPT = (400, 401, 413, 415, 422)
log = logging.getLogger("inlet.connectors")


# ---- receiving -------------------------------------------------------------------------------

async def receive_generic(request: Request) -> JSONResponse:
    """POST /hooks/{hook_id}"""
    return await _receive(request, "generic")


async def receive_efficy(request: Request) -> JSONResponse:
    """POST /hooks/efficy/{hook_id}"""
    return await _receive(request, "efficy")


async def _receive(request: Request, kind: str) -> JSONResponse:
    """Verify → durably enqueue → 202 with the delivery id; no database write here."""
    hook_id = request.path_params["hook_id"]
    config = service.cached_config(hook_id) or await shared(("hook", hook_id), in_db,
                                                             service.load_config, hook_id)
    if not config.exists or config.kind != kind:
        raise NotFound("No such hook." if not config.exists else
                       f"This is a {config.kind} hook; post to its own URL.")
    try:
        return await _accept(request, config, kind)
    except InletError as exc:
        if exc.status in REFUSALS_KEPT and refusals.allowed(config.id):
            await _remember_refusal(config.id, exc, client_ip(request))
        raise


async def _remember_refusal(hook_id: int, exc: InletError, ip: str) -> None:
    """Keep a refusal for the hook's page; a failure to keep it never changes the answer."""
    try:
        await in_db(refusals.record, hook_id, exc.status, exc.message, ip)
    except Exception:
        log.exception("could not record a refusal of hook %s", hook_id)


async def _accept(request: Request, config: service.HookConfig, kind: str) -> JSONResponse:
    """The checks and the intake of one request to an existing hook."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise UnsupportedMediaType("Send the body as application/json.")
    body = await read_body(request, MAX_BODY_BYTES)
    headers = request.headers
    if config.auth == "bearer":
        verify_bearer(config.secrets, headers.get("authorization"))
    else:
        verify(config.secrets, headers.get("webhook-id"), headers.get("webhook-timestamp"),
               headers.get("webhook-signature"), body)
    if not config.enabled:
        raise ServiceUnavailable("This hook is paused; deliveries are refused until it is "
                                 "enabled again.", retry_after=300)
    payload = parse_json(body)  # refuses now what no store could keep, not in a worker later
    found, skipped = records.records_of(kind, payload)
    key = _dedupe_key(config, headers.get("webhook-id"), payload)
    item = {"hook": config.id, "webhook_id": key, "received_at": utcnow().isoformat(),
            "body": body.decode()}
    accepted = await intake.submit(request.app.state.settings, jobs.STREAM,
                                   jobs.accept_delivery, item, item_id=intake.new_id("dlv_"),
                                   dedupe_key=f"{config.id}:{key}" if key else None)
    return JSONResponse({"delivery_id": accepted.id, "duplicate": accepted.duplicate,
                         "records": len(found), "skipped": skipped}, status_code=202)


def _dedupe_key(config: service.HookConfig, webhook_id: str | None, payload) -> str | None:
    """The configured body path's value, else the webhook-id header (None: no dedupe)."""
    if config.id_path:
        value = mapping.resolve(payload, config.id_path)
        if isinstance(value, str | int) and str(value).strip():
            return str(value)[:200]
    return webhook_id[:200] if webhook_id else None


# ---- /api/hooks --------------------------------------------------------------------------

async def hooks(request: Request) -> JSONResponse:
    """GET, POST /api/hooks"""
    token = await authorize(request, SCOPE)
    if request.method == "GET":
        found = await in_db(service.list_hooks, token.account_id)
        return JSONResponse({"items": [service.to_dict(h) for h in found]})
    body = await read_json(request)
    hook, secret = await in_db(service.create_hook, token.account_id, body)
    return JSONResponse(service.to_dict(hook) | {"secret": secret}, status_code=201,
                        headers={"Location": str(request.url_for("hooks:hook",
                                                                  hook_id=hook.id))})


async def hook(request: Request) -> Response:
    """GET, PATCH, DELETE /api/hooks/{hook_id}"""
    token = await authorize(request, SCOPE)
    hook_id = request.path_params["hook_id"]
    if request.method == "GET":
        found = await in_db(service.get_hook, token.account_id, hook_id)
        return JSONResponse(service.to_dict(found))
    if request.method == "DELETE":
        await in_db(service.delete_hook, token.account_id, hook_id)
        return Response(status_code=204)
    body = await read_json(request)
    changed = await in_db(service.update_hook, token.account_id, hook_id, body)
    return JSONResponse(service.to_dict(changed))


async def test_hook(request: Request) -> JSONResponse:
    """POST /api/hooks/{hook_id}/test — a dry run of a sample payload."""
    token = await authorize(request, SCOPE)
    body = await read_json(request, MAX_BODY_BYTES)
    preview = await in_db(service.test_hook, token.account_id, request.path_params["hook_id"],
                          body)
    return JSONResponse(preview)


async def rotate_secret(request: Request) -> JSONResponse:
    """POST /api/hooks/{hook_id}/rotate-secret"""
    token = await authorize(request, SCOPE)
    changed, secret = await in_db(service.rotate_secret, token.account_id,
                                  request.path_params["hook_id"])
    return JSONResponse(service.to_dict(changed) | {"secret": secret})


async def deliveries(request: Request) -> JSONResponse:
    """GET /api/hooks/{hook_id}/deliveries?status=&limit="""
    token = await authorize(request, SCOPE)
    status = request.query_params.get("status") or None
    found = await in_db(service.list_deliveries, token.account_id,
                        request.path_params["hook_id"], status=status,
                        limit=query_int(request, "limit", 50))
    return JSONResponse({"items": [service.delivery_to_dict(d) for d in found]})


async def delivery(request: Request) -> JSONResponse:
    """GET /api/hooks/{hook_id}/deliveries/{delivery_id} (with its payload)"""
    token = await authorize(request, SCOPE)
    found = await in_db(service.get_delivery, token.account_id,
                        request.path_params["hook_id"], request.path_params["delivery_id"])
    return JSONResponse(service.delivery_to_dict(found, payload=True))


async def dead_letters(request: Request) -> JSONResponse:
    """GET /api/hooks/{hook_id}/dead-letters"""
    token = await authorize(request, SCOPE)
    found = await in_db(service.dead_letters, token.account_id, request.path_params["hook_id"],
                        query_int(request, "limit", 100))
    return JSONResponse({"items": [service.delivery_to_dict(d, payload=True) for d in found]})


async def replay(request: Request) -> Response:
    """POST /api/hooks/{hook_id}/dead-letters/{delivery_id}/replay (Idempotency-Key aware)"""
    token = await authorize(request, SCOPE)

    async def run() -> Response:
        found = await in_db(service.replay, token.account_id, request.path_params["hook_id"],
                            request.path_params["delivery_id"])
        return JSONResponse(service.delivery_to_dict(found), status_code=202)
    return await idempotency.respond(request, token.account_id, None, run)


async def replay_all(request: Request) -> Response:
    """POST /api/hooks/{hook_id}/dead-letters/replay — every dead letter of the hook."""
    token = await authorize(request, SCOPE)

    async def run() -> Response:
        found = await in_db(service.replay_all, token.account_id,
                            request.path_params["hook_id"])
        return JSONResponse({"items": [service.delivery_to_dict(d) for d in found]},
                            status_code=202)
    return await idempotency.respond(request, token.account_id, None, run)


# The receiving endpoints: matched first, they take the senders' traffic (see gateway.app).
public_routes = [
    Route("/hooks/{hook_id:int}", receive_generic, methods=["POST"], name="hook_receive"),
    Route("/hooks/efficy/{hook_id:int}", receive_efficy, methods=["POST"],
          name="hook_receive_efficy"),
]
routes = [
    Route("/api/hooks", hooks, methods=["GET", "POST"], name="hooks_collection"),
    Mount("/api/hooks", name="hooks", routes=[
        Route("/{hook_id:int}", hook, methods=["GET", "PATCH", "DELETE"], name="hook"),
        Route("/{hook_id:int}/test", test_hook, methods=["POST"], name="test"),
        Route("/{hook_id:int}/rotate-secret", rotate_secret, methods=["POST"],
              name="rotate_secret"),
        Route("/{hook_id:int}/deliveries", deliveries, methods=["GET"], name="deliveries"),
        Route("/{hook_id:int}/deliveries/{delivery_id}", delivery, methods=["GET"],
              name="delivery"),
        Route("/{hook_id:int}/dead-letters", dead_letters, methods=["GET"],
              name="dead_letters"),
        Route("/{hook_id:int}/dead-letters/replay", replay_all, methods=["POST"],
              name="replay_all"),
        Route("/{hook_id:int}/dead-letters/{delivery_id}/replay", replay, methods=["POST"],
              name="replay"),
    ]),
]
