"""/api/imports: start an import (CSV upload or JSON), follow it, make the choices, finalise,
download the failing rows."""

from __future__ import annotations

import hashlib

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import i18n, idempotency
from gateway.errors import BadRequest, UnsupportedMediaType
from gateway.i18n import _
from gateway.imports import reader, service
from gateway.models import ApiToken
from gateway.web import authorize, in_db, read_json, whole_number

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file
MAX_JSON_BYTES = 40 * 1024 * 1024  # 100,000 contacts of a few hundred bytes
TRUE = frozenset({"1", "true", "yes", "on"})


def _actor(token: ApiToken) -> str:
    return f"token:{token.id} {token.name or token.prefix}".strip()


async def _limited_stream(request: Request, limit: int):
    """The body, refused with 413 as soon as it passes ``limit`` (while streaming)."""
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise reader.FileTooLarge()
        yield chunk


async def _upload(request: Request, token: ApiToken) -> Response:
    limit = reader.MAX_BYTES + MULTIPART_OVERHEAD
    declared = whole_number(request.headers.get("content-length")) or 0
    if declared > limit:
        raise reader.FileTooLarge()
    parser = MultiPartParser(request.headers, _limited_stream(request, limit), max_files=1,
                             max_fields=10)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(_("The multipart body is not valid: %(why)s") % {"why": exc.message}) \
            from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise BadRequest(_("Send the CSV file in a multipart field named 'file'."))
        notify = form.get("notify") or None
        welcome = str(form.get("welcome", "")).lower() in TRUE

        async def create() -> Response:
            imp = await in_db(service.create_from_upload, token.account_id, upload.filename,
                              upload.file, actor=_actor(token), notify_email=notify,
                              welcome=welcome)
            return _accepted(request, await in_db(service.to_dict, imp))
        # The multipart boundary differs per attempt: a retry is the same file and fields.
        payload = None
        if idempotency.key_of(request) is not None:
            payload = {"file": await run_in_threadpool(_digest, upload.file),
                       "filename": upload.filename, "notify": notify, "welcome": welcome}
        return await idempotency.respond(request, token.account_id, payload, create)
    finally:
        await form.close()


def _digest(file) -> str:
    """SHA-256 of an uploaded file, read from its start; leaves it at its start."""
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in iter(lambda: file.read(1 << 20), b""):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


async def _json_import(request: Request, token: ApiToken) -> Response:
    body = await read_json(request, MAX_JSON_BYTES)
    if not isinstance(body, dict) or "contacts" not in body:
        raise BadRequest(_('Send {"contacts": [...]} (or a multipart CSV upload).'))

    def create():
        imp = service.create_from_json(token.account_id, body["contacts"], actor=_actor(token),
                                       notify_email=body.get("notify"),
                                       welcome=bool(body.get("welcome")))
        try:
            if body.get("fallbacks"):
                service.set_fallbacks(token.account_id, imp.id, body["fallbacks"])
            if body.get("obtained_rightfully") is True:
                service.set_consent(token.account_id, imp.id, True, actor=_actor(token))
        except BaseException:
            # The request failed as a whole (e.g. 503: the queue is down): the client never
            # learns this import's id, so keep none; its retry starts afresh, no duplicate.
            service.discard(token.account_id, imp.id)
            raise
        return service.state(token.account_id, imp.id)

    async def start() -> Response:
        return _accepted(request, await in_db(create))
    return await idempotency.respond(request, token.account_id, body, start)


def _accepted(request: Request, data: dict) -> JSONResponse:
    """202 with the import and its Location."""
    location = str(request.url_for("imports:import", import_id=data["id"]))
    return JSONResponse(data, status_code=202, headers={"Location": location})


async def create_import(request: Request) -> Response:
    """POST /api/imports: a multipart CSV ``file`` or JSON ``{"contacts": [...]}``.

    With an ``Idempotency-Key`` header a retry gets the first answer (``gateway.idempotency``).
    """
    token = await authorize(request, "imports:write")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        return await _upload(request, token)
    if ctype == "application/json":
        return await _json_import(request, token)
    raise UnsupportedMediaType(_("Upload the CSV as multipart/form-data (field 'file') or "
                                 'send JSON {"contacts": [...]}.'))


async def list_imports(request: Request) -> JSONResponse:
    """GET /api/imports: the account's latest imports."""
    token = await authorize(request, "imports:write", "contacts:read")
    return JSONResponse({"items": await in_db(service.list_imports, token.account_id)})


async def show_import(request: Request) -> JSONResponse:
    """GET /api/imports/{id}: step, progress, counts, mapping."""
    token = await authorize(request, "imports:write", "contacts:read")
    return JSONResponse(await in_db(service.state, token.account_id,
                                    request.path_params["import_id"]))


async def put_mapping(request: Request) -> JSONResponse:
    """PUT /api/imports/{id}/mapping {"mapping": {column: field|null}}."""
    token = await authorize(request, "imports:write")
    body = await read_json(request)
    if not isinstance(body, dict) or "mapping" not in body:
        raise BadRequest(_('Send {"mapping": {column: field or null}}.'))
    return JSONResponse(await in_db(service.set_mapping, token.account_id,
                                    request.path_params["import_id"], body["mapping"]))


async def put_consent(request: Request) -> JSONResponse:
    """PUT /api/imports/{id}/consent {"obtained_rightfully": true}."""
    token = await authorize(request, "imports:write")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest(_('Send {"obtained_rightfully": true}.'))
    welcome = body.get("welcome")
    return JSONResponse(await in_db(service.set_consent, token.account_id,
                                    request.path_params["import_id"],
                                    body.get("obtained_rightfully"), actor=_actor(token),
                                    welcome=None if welcome is None else bool(welcome)))


async def put_fallbacks(request: Request) -> JSONResponse:
    """PUT /api/imports/{id}/fallbacks {"language": "nl", "source": "Website"}."""
    token = await authorize(request, "imports:write")
    body = await read_json(request)
    return JSONResponse(await in_db(service.set_fallbacks, token.account_id,
                                    request.path_params["import_id"], body))


async def put_fixes(request: Request) -> JSONResponse:
    """PUT /api/imports/{id}/fixes {"fixes": [{"kind", "value", "action", "to"}]}: answer the
    unknown labels; the rows are checked again with the answers applied."""
    token = await authorize(request, "imports:write")
    body = await read_json(request)
    if not isinstance(body, dict) or "fixes" not in body:
        raise BadRequest(_('Send {"fixes": [{"kind", "value", "action", "to"}]}.'))
    return JSONResponse(await in_db(service.set_fixes, token.account_id,
                                    request.path_params["import_id"], body["fixes"]))


async def delete_import(request: Request) -> Response:
    """DELETE /api/imports/{id}: cancel an abandoned import (its file is removed)."""
    token = await authorize(request, "imports:write")
    await in_db(service.cancel, token.account_id, request.path_params["import_id"])
    return Response(status_code=204)


async def post_finalise(request: Request) -> JSONResponse:
    """POST /api/imports/{id}/finalise: queue the writing (202)."""
    token = await authorize(request, "imports:write")
    data = await in_db(service.finalise, token.account_id, request.path_params["import_id"])
    return JSONResponse(data, status_code=200 if data["step"] == "done" else 202)


async def errors_csv(request: Request) -> Response:
    """GET /api/imports/{id}/errors.csv: the failing rows with a reason column."""
    token = await authorize(request, "imports:write", "contacts:read")
    import_id = request.path_params["import_id"]
    body = await in_db(service.errors_csv, token.account_id, import_id,
                       request.query_params.get("lang"),
                       i18n.from_accept_language(request.headers.get("accept-language")))
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'})


routes = [
    Route("/api/imports", create_import, methods=["POST"], name="imports:create"),
    Route("/api/imports", list_imports, methods=["GET"], name="imports:list"),
    Route("/api/imports/{import_id:int}", show_import, methods=["GET"], name="imports:import"),
    Route("/api/imports/{import_id:int}", delete_import, methods=["DELETE"],
          name="imports:delete"),
    Route("/api/imports/{import_id:int}/fixes", put_fixes, methods=["PUT"],
          name="imports:fixes"),
    Route("/api/imports/{import_id:int}/mapping", put_mapping, methods=["PUT"],
          name="imports:mapping"),
    Route("/api/imports/{import_id:int}/consent", put_consent, methods=["PUT"],
          name="imports:consent"),
    Route("/api/imports/{import_id:int}/fallbacks", put_fallbacks, methods=["PUT"],
          name="imports:fallbacks"),
    Route("/api/imports/{import_id:int}/finalise", post_finalise, methods=["POST"],
          name="imports:finalise"),
    Route("/api/imports/{import_id:int}/errors.csv", errors_csv, methods=["GET"],
          name="imports:errors"),
]
