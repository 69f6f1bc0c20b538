"""Connect with the API: the account id and the account's personal access tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.admin import csrf
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.auth import create_token, revoke_token
from gateway.errors import NotFound, ValidationFailed
from gateway.i18n import _
from gateway.models import SCOPES, ApiToken
from gateway.web import in_db


def _tokens(account_id: int) -> list[ApiToken]:
    return list(ApiToken.select().where(ApiToken.account == account_id)
                .order_by(ApiToken.revoked_at.is_null(False), ApiToken.id.desc()))


def _context(viewer: Viewer, **extra) -> dict:
    return {"active": "api", "tokens": _tokens(viewer.account_id), "scopes": SCOPES,
            "new_token": None, "errors": [], **extra}


@page()
async def api_access(request: Request, viewer: Viewer) -> Response:
    """GET /admin/api; POST creates a token and shows it once."""
    if request.method == "GET":
        # Shown once: popped from the session by the GET that follows the creating POST, so
        # a reload neither shows it again nor (as re-POSTing would) makes a second token.
        new_token = request.session.pop("new_token", None)
        return render(request, "api.html", await in_db(_context, viewer, new_token=new_token))
    form = await csrf.checked_form(request)
    name = str(form.get("name") or "").strip()[:200]
    scopes = form.getlist("scopes")

    def work():
        if not scopes:
            return _context(viewer, errors=[{"field": "scopes",
                                             "message": _("Pick at least one scope.")}])
        try:
            _row, plain = create_token(viewer.account_id, scopes,
                                       name or _("by %(email)s") % {"email": viewer.email})
        except ValidationFailed as exc:
            return _context(viewer, errors=exc.details or [{"message": _(exc.message)}])
        return plain
    result = await in_db(work)
    if isinstance(result, dict):
        return render(request, "api.html", result, status=422)
    request.session["new_token"] = result
    return redirect(request, "api")


@page()
async def revoke(request: Request, viewer: Viewer) -> Response:
    """POST /admin/api/tokens/{token_id}/revoke"""
    await csrf.checked_form(request)
    if not await in_db(revoke_token, viewer.account_id, request.path_params["token_id"]):
        raise NotFound(_("No such live token in this account."))
    flash(request, _("The token was revoked: requests using it are refused from now on."))
    return redirect(request, "api")
