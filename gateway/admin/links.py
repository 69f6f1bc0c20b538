"""Which other areas' admin pages exist, so pages link only to what is there."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import NoMatchFound


def url(request: Request, name: str, **params) -> str | None:
    """The path of a named route, or None when that area is not installed."""
    try:
        return str(request.url_for(name, **params).path)
    except NoMatchFound:
        return None


def available(request: Request) -> dict[str, str | None]:
    """The optional pages: the import wizard, forms and connectors."""
    return {"imports": url(request, "admin:import_new"),
            "imports_list": url(request, "admin:imports"), "forms": url(request, "admin:forms"),
            "connectors": url(request, "admin:hooks")}
