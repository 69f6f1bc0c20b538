"""The account's vocabularies: languages, sources, preferences, interests, custom fields."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway import accounts
from gateway.errors import BadRequest
from gateway.i18n import _
from gateway.web import authorize, in_db, read_json

# URL segment → vocabulary kind
KINDS = {"languages": "language", "sources": "source", "preferences": "preference",
         "interests": "interest"}


def _kind(request: Request) -> str:
    return KINDS[request.path_params["vocabulary"]]


async def vocabulary(request: Request) -> JSONResponse:
    """GET/POST /api/{sources|languages|preferences|interests}"""
    kind = _kind(request)
    if request.method == "GET":
        token = await authorize(request, "contacts:read")
        rows = await in_db(accounts.list_vocabulary, token.account_id, kind)
        return JSONResponse({"items": [accounts.vocabulary_to_dict(r) for r in rows]})
    token = await authorize(request, "contacts:write")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest(_('The body must be a JSON object such as {"name": "Website"}.'))
    row = await in_db(accounts.add_vocabulary, token.account_id, kind, body.get("name"))
    return JSONResponse(accounts.vocabulary_to_dict(row), status_code=201)


async def vocabulary_entry(request: Request) -> Response:
    """DELETE /api/{vocabulary}/{id}"""
    token = await authorize(request, "contacts:write")
    await in_db(accounts.delete_vocabulary, token.account_id, _kind(request),
                request.path_params["entry_id"])
    return Response(status_code=204)


async def custom_fields(request: Request) -> JSONResponse:
    """GET/POST /api/custom-fields"""
    if request.method == "GET":
        token = await authorize(request, "contacts:read")
        rows = await in_db(accounts.list_custom_fields, token.account_id)
        return JSONResponse({"items": [accounts.custom_field_to_dict(r) for r in rows]})
    token = await authorize(request, "contacts:write")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest(_("The body must be a JSON object."))
    row = await in_db(accounts.add_custom_field, token.account_id, body)
    return JSONResponse(accounts.custom_field_to_dict(row), status_code=201)


async def custom_field(request: Request) -> Response:
    """PATCH (its label) / DELETE /api/custom-fields/{id}"""
    token = await authorize(request, "contacts:write")
    if request.method == "PATCH":
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadRequest(_('The body must be a JSON object such as '
                               '{"label": "Shoe size"}.'))
        row = await in_db(accounts.rename_custom_field, token.account_id,
                          request.path_params["entry_id"], body)
        return JSONResponse(accounts.custom_field_to_dict(row))
    await in_db(accounts.delete_custom_field, token.account_id, request.path_params["entry_id"])
    return Response(status_code=204)
