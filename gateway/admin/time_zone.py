"""The account's time zone: chosen in Settings, or taken from the browser on first login."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.admin import csrf
from gateway.admin.dates import is_zone
from gateway.admin.pages import Viewer, page, redirect
from gateway.admin.session import flash
from gateway.errors import BadRequest
from gateway.i18n import _
from gateway.models import Account
from gateway.web import in_db


def set_zone(account_id: int, name: str, only_if_unset: bool = False) -> bool:
    """Store the account's zone; ``only_if_unset`` never overrides a choice made before."""
    query = Account.update(time_zone=name).where(Account.id == account_id)
    if only_if_unset:
        query = query.where(Account.time_zone.is_null())
    return query.execute() > 0


@page()
async def save(request: Request, viewer: Viewer) -> Response:
    """POST /admin/settings/time-zone (``auto=1``: the browser's zone, sent once by script)."""
    form = await csrf.checked_form(request)
    name = str(form.get("time_zone") or "").strip()
    if not is_zone(name):
        raise BadRequest(_("'%(name)s' is not a time zone this server knows.") % {"name": name})
    if form.get("auto"):
        await in_db(set_zone, viewer.account_id, name, True)
        return Response(status_code=204)
    await in_db(set_zone, viewer.account_id, name)
    flash(request, _("Dates and times now show in %(zone)s.") % {"zone": name})
    return redirect(request, "settings")
