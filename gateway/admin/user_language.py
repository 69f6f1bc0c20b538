"""Each user's own language for the admin (Settings, "Your language")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway import i18n
from gateway.admin import csrf
from gateway.admin.pages import Viewer, page, redirect
from gateway.admin.session import flash
from gateway.errors import BadRequest
from gateway.i18n import _
from gateway.models import User
from gateway.web import in_db


def set_language(user_id: int, language: str | None) -> None:
    """Store the user's language (None: follow the browser, then the account)."""
    User.update(language=language).where(User.id == user_id).execute()


@page()
async def save(request: Request, viewer: Viewer) -> Response:
    """POST /admin/settings/language (empty: the browser's language)."""
    form = await csrf.checked_form(request)
    chosen = str(form.get("language") or "").strip()
    if chosen and chosen not in i18n.LANGUAGES:
        raise BadRequest(_("Choose English, Nederlands or Français."))
    await in_db(set_language, viewer.user_id, chosen or None)
    # The notice is read on the next page, which speaks the new language already.
    i18n.activate(chosen or i18n.from_accept_language(request.headers.get("accept-language"))
                  or viewer.language)
    flash(request, _("The admin now speaks your language."))
    return redirect(request, "settings")
