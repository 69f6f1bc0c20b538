"""The admin UI, mounted at /admin with its own session middleware."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.admin import (
    account_settings,
    add_contact,
    api_access,
    contact_edit,
    contacts,
    login,
    logo,
    time_zone,
    user_language,
)
from gateway.admin.pages import not_found, page
from gateway.admin.session import AdminSession

STATIC_DIR = Path(__file__).resolve().parent / "static"


@page(login=False)
async def unknown(request: Request) -> Response:
    """Any other /admin path: a page, not the API's JSON 404."""
    raise not_found()


async def home(request: Request) -> RedirectResponse:
    """/admin/ → the contacts overview."""
    return RedirectResponse(str(request.url_for("admin:contacts").path), status_code=303)


def _area_routes() -> list:
    """Pages over the other areas' services (imports, forms, connectors, events, privacy)."""
    from gateway.admin import connectors, event_endpoints, forms, imports, privacy
    return [*imports.routes, *forms.routes, *connectors.routes, *event_endpoints.routes,
            *privacy.routes]


_routes = [
    Route("/", home, name="home"),
    Route("/login", login.login, methods=["GET", "POST"], name="login"),
    Route("/logout", login.logout, methods=["POST"], name="logout"),
    Route("/logout/everywhere", login.logout_everywhere, methods=["POST"],
          name="logout_everywhere"),
    Route("/contacts", contacts.overview, name="contacts"),
    Route("/contacts/add", add_contact.chooser, name="add_contacts"),
    Route("/contacts/new", add_contact.add_one, methods=["GET", "POST"], name="add_one"),
    Route("/contacts/{contact_id:int}", contacts.detail, name="contact"),
    Route("/contacts/{contact_id:int}/edit", contact_edit.edit, methods=["GET", "POST"],
          name="contact_edit"),
    Route("/contacts/{contact_id:int}/blacklist", contacts.blacklist, methods=["POST"],
          name="contact_blacklist"),
    Route("/contacts/{contact_id:int}/delete", contacts.delete, methods=["POST"],
          name="contact_delete"),
    Route("/api", api_access.api_access, methods=["GET", "POST"], name="api"),
    Route("/api/tokens/{token_id:int}/revoke", api_access.revoke, methods=["POST"],
          name="token_revoke"),
    Route("/settings", account_settings.settings_page, name="settings"),
    Route("/settings/custom-fields", account_settings.add_field, methods=["POST"],
          name="field_add"),
    Route("/settings/custom-fields/{entry_id:int}/delete", account_settings.delete_field,
          methods=["GET", "POST"], name="field_delete"),
    Route("/settings/custom-fields/{entry_id:int}/label", account_settings.rename_field,
          methods=["POST"], name="field_rename"),
    Route("/settings/time-zone", time_zone.save, methods=["POST"], name="time_zone"),
    Route("/settings/language", user_language.save, methods=["POST"], name="language_save"),
    Route("/settings/sender", account_settings.save_sender, methods=["POST"],
          name="sender_save"),
    Route("/settings/logo", logo.save, methods=["POST"], name="logo_save"),
    Route("/settings/{kind}", account_settings.add_entry, methods=["POST"], name="entry_add"),
    Route("/settings/{kind}/{entry_id:int}/delete", account_settings.delete_entry,
          methods=["GET", "POST"], name="entry_delete"),
    Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    *_area_routes(),
    Route("/{rest:path}", unknown, methods=["GET", "POST"], name="unknown"),
]

routes = [Mount("/admin", routes=_routes, name="admin", middleware=[Middleware(AdminSession)])]
