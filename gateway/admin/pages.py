"""What every admin page shares: the logged-in user, rendering, redirects, HTML errors."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import i18n
from gateway.accounts import first_language
from gateway.admin import csrf, links, wording
from gateway.admin.dates import Clock, zone, zone_names
from gateway.admin.session import pop_flashes, session_user
from gateway.db import utcnow
from gateway.errors import InletError, NotFound
from gateway.i18n import _
from gateway.models import Account, User
from gateway.templating import templates
from gateway.web import in_db


@dataclass
class Viewer:
    """The logged-in user and their account: every query is scoped by ``account_id``."""

    user_id: int
    email: str
    account_id: int
    account_name: str
    time_zone: str | None = None  # None until set: the browser's is offered on first login
    language: str = i18n.SOURCE_LANGUAGE  # of the pages: the user's, the browser's, the account's
    chosen_language: str | None = None  # the user's own choice (None: follow the browser)

    @property
    def tz(self):
        """The account's zone (Europe/Brussels while unset)."""
        return zone(self.time_zone)


def _load_viewer(session: dict, accept_language: str | None) -> Viewer | None:
    user: User | None = session_user(session)
    if user is None:
        return None
    account = Account.get_by_id(user.account_id)
    language = i18n.pick(user.language or i18n.from_accept_language(accept_language)
                         or first_language(account.id))
    return Viewer(user.id, user.email, account.id, account.name, account.time_zone, language,
                  user.language)


def render(request: Request, name: str, context: dict | None = None, status: int = 200,
           headers: dict | None = None) -> Response:
    """A page from templates/admin/ with the shared context (user, CSRF token, notices)."""
    viewer = getattr(request.state, "viewer", None)
    ctx = {"viewer": viewer, "csrf_token": csrf.token(request),
           "flashes": pop_flashes(request), "active": "",
           "path": lambda route, **params: _path(request, route, **params),
           "nav": links.available(request),
           # for every page: dates in the account's zone, numbers for people
           "clock": Clock(viewer.tz if viewer else zone(None), utcnow()),
           "about": wording.about,
           "time_zones": zone_names, "code": _code,
           "base_url_warning": links.base_url_mismatch(request) if viewer else None}
    ctx.update(context or {})
    return templates.TemplateResponse(request, f"admin/{name}", ctx, status_code=status,
                                      headers={"cache-control": "no-store", **(headers or {})})


def _code(value) -> Markup:
    """``<code>value</code>`` (escaped), to place in a translated sentence."""
    return Markup("<code>{}</code>").format(value)


def _path(request: Request, route: str, **params) -> str:
    """The path (not the absolute URL: proxies) of a named admin route."""
    return str(request.url_for(f"admin:{route}", **params).path)


def redirect(request: Request, name: str, query: str = "", **params) -> RedirectResponse:
    """303 to a named admin route (a POST never ends on a page that re-POSTs on reload)."""
    url = str(request.url_for(f"admin:{name}", **params).path)
    return RedirectResponse(url + (f"?{query}" if query else ""), status_code=303)


def error_page(request: Request, exc: InletError) -> Response:
    """An ``InletError`` as a human page with its status."""
    headers = dict(exc.headers)
    headers.pop("WWW-Authenticate", None)
    # The message may name what the user typed: translated here, escaped by the template.
    return render(request, "error.html", {"error": exc, "message": i18n.gettext(exc.message)},
                  status=exc.status, headers=headers)


def page(login: bool = True):
    """Decorate an admin endpoint: load the viewer (or send to login), render errors as HTML."""
    def wrap(fn):
        @functools.wraps(fn)
        async def endpoint(request: Request) -> Response:
            request.state.viewer = None
            try:
                viewer = await in_db(_load_viewer, dict(request.session),
                                     request.headers.get("accept-language"))
                if login and viewer is None:
                    return _to_login(request)
                if viewer is not None:
                    i18n.activate(viewer.language)
                elif request.session.get("language") in i18n.LANGUAGES:
                    # logged out: the login page keeps the language the user just had
                    i18n.activate(request.session["language"])
                request.state.viewer = viewer  # also for pages open to everyone (login)
                return await fn(request, viewer) if login else await fn(request)
            except InletError as exc:
                return error_page(request, exc)
        return endpoint
    return wrap


def _to_login(request: Request) -> RedirectResponse:
    """To the login page, coming back here afterwards (for a GET: a POST cannot be resumed)."""
    login = str(request.url_for("admin:login").path)
    if request.method != "GET":
        return RedirectResponse(login, status_code=303)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{login}?{urlencode({'next': here})}", status_code=303)


def not_found() -> NotFound:
    """The admin 404."""
    return NotFound(_("That page does not exist, or belongs to another account."))
