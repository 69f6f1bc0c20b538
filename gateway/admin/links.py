"""Links between admin pages: which other areas exist, and whether INLET_BASE_URL is ours."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.routing import NoMatchFound


def url(request: Request, name: str, **params) -> str | None:
    """The path of a named route, or None when that area is not installed."""
    try:
        return str(request.url_for(name, **params).path)
    except NoMatchFound:
        return None


def available(request: Request) -> dict[str, str | None]:
    """The optional pages: the import wizard, forms, connectors and event endpoints."""
    return {"imports": url(request, "admin:import_new"),
            "imports_list": url(request, "admin:imports"), "forms": url(request, "admin:forms"),
            "connectors": url(request, "admin:hooks"),
            "events": url(request, "admin:event_endpoints")}


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _host_port(hostname: str | None, port: int | None) -> tuple[str, int | None]:
    """A comparable (host, port); loopback names are one host."""
    host = (hostname or "").lower().strip("[]")
    return ("localhost" if host in LOOPBACK else host), port


def base_url_mismatch(request: Request) -> str | None:
    """INLET_BASE_URL when it names another host or port than the one this page came from.

    Links in mails, form snippets and hook URLs are built from it; if the admin reaches Inlet
    elsewhere, those links are likely dead. A request without an explicit port matches the
    base URL's default port (a TLS proxy may present https as plain http here).
    """
    base = urlsplit(request.app.state.settings.base_url)
    ours = _host_port(base.hostname, base.port)
    theirs = _host_port(request.url.hostname, request.url.port)
    if ours[0] != theirs[0] or (theirs[1] is not None and ours[1] != theirs[1]):
        return request.app.state.settings.base_url
    return None
