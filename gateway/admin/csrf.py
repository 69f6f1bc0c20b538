"""CSRF protection for every admin POST: a per-session token plus an Origin check."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request

from gateway.errors import Forbidden
from gateway.i18n import _

FIELD = "csrf_token"
HEADER = "x-csrf-token"


def token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    value = request.session.get("csrf")
    if not value:
        value = request.session["csrf"] = secrets.token_urlsafe(32)
    return value


def check_origin(request: Request) -> None:
    """Refuse a cross-site POST outright when the browser tells us where it came from.

    Our own origin is the Host the request reached, or INLET_BASE_URL's (behind a proxy that
    rewrites Host, the browser still sends the public origin).
    """
    origin = request.headers.get("origin")
    if origin and origin != "null":
        ours = {request.headers.get("host", ""),
                urlsplit(request.app.state.settings.base_url).netloc}
        if urlsplit(origin).netloc not in ours:
            raise Forbidden(_("This form was sent from another site."))


def verify(request: Request, supplied: str | None) -> None:
    """403 unless ``supplied`` matches the session's token."""
    check_origin(request)
    expected = request.session.get("csrf")
    if not expected or not supplied or not hmac.compare_digest(expected, str(supplied)):
        raise Forbidden(_("The form expired or was not sent from Inlet; reload the page and "
                          "try again."))


async def checked_form(request: Request, **limits) -> FormData:
    """The POSTed form, after the CSRF check (header or hidden field)."""
    form = await request.form(**limits)
    verify(request, request.headers.get(HEADER) or form.get(FIELD))
    return form
