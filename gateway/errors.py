"""One exception tree for the whole gateway, mapped to the one JSON error shape (README, "API")."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway import i18n
from gateway.i18n import N_

log = logging.getLogger("inlet")


class InletError(Exception):
    """Base of every error a client may see; ``status`` and ``code`` decide the answer."""

    status = 400
    code = "bad_request"
    message = N_("The request is not valid.")

    def __init__(self, message: str | None = None, details: list | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details or []
        self.headers = headers or {}

    def to_dict(self) -> dict:
        """The one error body (README, "API")."""
        return {"error": {"code": self.code, "message": i18n.gettext(self.message),
                          "details": self.details}}


class BadRequest(InletError):
    status, code = 400, "bad_request"


class MalformedJSON(InletError):
    status, code, message = 400, "malformed_json", N_("The body is not valid JSON.")


class Unauthorized(InletError):
    status, code, message = 401, "unauthorized", N_("Authentication is required.")

    def __init__(self, message: str | None = None, details: list | None = None):
        super().__init__(message, details, {"WWW-Authenticate": 'Basic realm="inlet", Bearer'})


class Forbidden(InletError):
    status, code, message = 403, "forbidden", N_("This token may not do that.")


class NotFound(InletError):
    status, code, message = 404, "not_found", N_("Not found.")


class MethodNotAllowed(InletError):
    status, code, message = 405, "method_not_allowed", N_("Method not allowed.")


class Conflict(InletError):
    status, code, message = 409, "conflict", N_("It exists already.")


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    message = N_("A request with this Idempotency-Key is still running; retry in a moment.")


class IdempotencyKeyReused(InletError):
    status, code = 422, "idempotency_key_reused"
    message = N_("This Idempotency-Key was used for a different request.")


class PayloadTooLarge(InletError):
    status, code, message = 413, "payload_too_large", N_("The body is too large.")


class UnsupportedMediaType(InletError):
    status, code, message = 415, "unsupported_media_type", N_("Unsupported content type.")


class ValidationFailed(InletError):
    status, code, message = 422, "validation_failed", N_("Some fields are not valid.")


class RateLimited(InletError):
    status, code, message = 429, "rate_limited", N_("Too many requests; try again later.")

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})


class ServiceUnavailable(InletError):
    status, code = 503, "unavailable"
    message = N_("A backing service is unavailable; retry later.")

    def __init__(self, message: str | None = None, retry_after: int = 5):
        super().__init__(message, headers={"Retry-After": str(retry_after)})


_HTTP_CODES = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound,
               405: MethodNotAllowed, 413: PayloadTooLarge, 415: UnsupportedMediaType}


def error_response(exc: InletError) -> JSONResponse:
    """Render an ``InletError`` as JSON."""
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=exc.headers)


async def handle_inlet_error(request: Request, exc: InletError) -> JSONResponse:
    """Handler for the exception tree."""
    return error_response(exc)


async def handle_http_exception(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own 404/405 in our shape."""
    cls = _HTTP_CODES.get(exc.status_code, BadRequest)
    error = cls()
    error.headers.update(exc.headers or {})  # e.g. the Allow header of a 405 (RFC 9110)
    return error_response(error)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Log the traceback; never show internals to the client."""
    import peewee
    # This handler runs outside the middleware that set the answer's language.
    i18n.activate(i18n.from_accept_language(request.headers.get("accept-language")))
    if isinstance(exc, peewee.OperationalError | peewee.InterfaceError):
        # The database is down or restarting (or SQLite is locked): a retryable 503.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                    exc.__class__.__name__)
        return error_response(ServiceUnavailable(N_("The database is unavailable; retry later.")))
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = {"error": {"code": "internal_error",
                      "message": i18n.gettext("Something went wrong on our side."),
                      "details": []}}
    return JSONResponse(body, status_code=500)


EXCEPTION_HANDLERS = {
    InletError: handle_inlet_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
