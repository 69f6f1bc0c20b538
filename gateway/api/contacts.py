"""Contact endpoints: list, add, upsert, read, change, delete, blacklist."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway import contacts, idempotency
from gateway.contact_listing import import_id, instant
from gateway.contacts import Provenance
from gateway.errors import BadRequest
from gateway.i18n import _
from gateway.web import authorize, in_db, query_int, read_json


def _provenance(request: Request) -> Provenance:
    token = request.state.token
    return Provenance(channel="api", reference=f"token:{token.id}", actor=token.name or
                      token.prefix, ip=request.client.host if request.client else None,
                      user_agent=request.headers.get("user-agent"))


async def list_contacts(request: Request) -> JSONResponse:
    """GET /api/contacts"""
    token = await authorize(request, "contacts:read")
    params = request.query_params
    page = await in_db(contacts.list_contacts, token.account_id, status=params.get("status"),
                       email=params.get("email"), q=params.get("q"),
                       source=params.get("source"), sort=params.get("sort") or "-created_at",
                       cursor=params.get("cursor"), before=params.get("before"),
                       limit=query_int(request, "limit", 50), **list_filters(params))
    return JSONResponse(page)


def list_filters(params) -> dict:
    """The optional filters of GET /api/contacts (README, "API"), checked (400)."""
    return {"language": params.get("language") or None,
            "interest": params.get("interest") or None,
            "preference": params.get("preference") or None,
            "added_after": instant("added_after", params.get("added_after")),
            "added_before": instant("added_before", params.get("added_before")),
            "import_id": import_id(params.get("import"))}


async def create_contact(request: Request) -> Response:
    """POST /api/contacts (an ``Idempotency-Key`` makes a retry get the first answer)"""
    token = await authorize(request, "contacts:write")
    body = await read_json(request)

    async def create() -> Response:
        contact = await in_db(contacts.create, token.account_id, body, _provenance(request))
        return JSONResponse(contacts.to_dict(contact), status_code=201,
                            headers={"Location": str(request.url_for("api:contact",
                                                                      contact_id=contact.id))})
    return await idempotency.respond(request, token.account_id, body, create)


async def put_contact(request: Request) -> JSONResponse:
    """PUT /api/contacts/{email}"""
    token = await authorize(request, "contacts:write")
    body = await read_json(request)
    contact, result = await in_db(contacts.put, token.account_id,
                                  request.path_params["email"], body, _provenance(request))
    data = contacts.to_dict(contact) | {"outcome": result.outcome}
    return JSONResponse(data, status_code=201 if result.outcome == "created" else 200)


async def contact(request: Request) -> Response:
    """GET, PATCH, DELETE /api/contacts/{id}"""
    contact_id = request.path_params["contact_id"]
    if request.method == "GET":
        token = await authorize(request, "contacts:read")
        found = await in_db(contacts.get, token.account_id, contact_id)
        return JSONResponse(contacts.to_dict(found))
    token = await authorize(request, "contacts:write")
    if request.method == "DELETE":
        await in_db(contacts.delete, token.account_id, contact_id)
        return Response(status_code=204)
    body = await read_json(request)
    changed, result = await in_db(contacts.patch, token.account_id, contact_id, body,
                                  _provenance(request))
    return JSONResponse(contacts.to_dict(changed) | {"outcome": result.outcome})


async def blacklist_contact(request: Request) -> JSONResponse:
    """POST /api/contacts/{id}/blacklist"""
    token = await authorize(request, "contacts:write")
    has_body = (request.headers.get("content-length", "0").strip() not in ("", "0")
                or "transfer-encoding" in request.headers)  # the body is optional
    body = await read_json(request) if has_body else {}
    if not isinstance(body, dict):
        raise BadRequest(_('Send no body, or {"reason": "..."}.'))
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadRequest(_("reason must be a string."))
    found = await in_db(contacts.blacklist, token.account_id,
                        request.path_params["contact_id"], _provenance(request), reason)
    return JSONResponse(contacts.to_dict(found))
