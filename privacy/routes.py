"""The privacy endpoints under /api: export, access document, erasure."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from gateway.api.contacts import list_filters
from gateway.contact_listing import Filters
from gateway.web import authorize, in_db
from privacy import access, erasure
from privacy.export import Options, produce

TRUE = frozenset({"1", "true", "yes", "on"})


def export_options(params) -> Options:
    """The export's options from a query string: the list's filters, format, delimiter, bom."""
    filters = Filters(status=params.get("status") or None, email=params.get("email") or None,
                      q=params.get("q") or None, source=params.get("source") or None,
                      **list_filters(params))
    return Options(filters, fmt=params.get("format") or "csv",
                   delimiter=params.get("delimiter") or ",",
                   bom=(params.get("bom") or "").lower() in TRUE,
                   sort=params.get("sort") or "created_at")


def stream(account_id: int, options: Options) -> StreamingResponse:
    """The export as a download (the filters were checked before: a 400 comes first)."""
    return StreamingResponse(produce(account_id, options), media_type=options.media_type,
                             headers={"Content-Disposition": "attachment; filename="
                                      f'"{options.filename(account_id)}"',
                                      "Cache-Control": "no-store"})


async def export_contacts(request: Request) -> StreamingResponse:
    """GET /api/contacts/export?format=csv|jsonl&delimiter=,|;&bom=1&<the list's filters>"""
    token = await authorize(request, "contacts:read")
    options = export_options(request.query_params)
    await in_db(options.filters.where, token.account_id)  # 400 on a bad filter, before 200
    return stream(token.account_id, options)


async def contact_data(request: Request) -> JSONResponse:
    """GET /api/contacts/{id}/data: everything held about the person."""
    token = await authorize(request, "contacts:read")
    data = await in_db(access.document, token.account_id, request.path_params["contact_id"])
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


async def erase_contact(request: Request) -> JSONResponse:
    """POST /api/contacts/{id}/erase: queued (202), done once the job ran (200 on a repeat)."""
    token = await authorize(request, "admin")
    found = await in_db(erasure.request, token.account_id, request.path_params["contact_id"],
                        f"token:{token.id}")
    return JSONResponse(erasure.to_dict(found), status_code=200 if found.status == "done"
                        else 202)


api_routes = [
    Route("/contacts/export", export_contacts, methods=["GET"], name="contacts_export"),
    Route("/contacts/{contact_id:int}/data", contact_data, methods=["GET"], name="contact_data"),
    Route("/contacts/{contact_id:int}/erase", erase_contact, methods=["POST"],
          name="contact_erase"),
]
