"""Admin pages over the privacy area: export the overview's tab and filters, download all
data held about a contact, and erase a contact (after a confirmation page)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import contacts
from gateway.admin import csrf
from gateway.admin.contacts import Overview
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.contact_listing import Filters
from gateway.i18n import _
from gateway.web import in_db
from privacy import access, erasure
from privacy.export import Options
from privacy.routes import stream


@page()
async def export(request: Request, viewer: Viewer) -> Response:
    """GET /admin/contacts/export?<the overview's query>&delimiter=: a CSV of the tab."""
    view = Overview(request.query_params, viewer.tz)
    found = view.store_filters()
    options = Options(Filters(**found), delimiter=request.query_params.get("delimiter") or ",",
                      bom=True, sort=view.sort)
    await in_db(options.filters.where, viewer.account_id)
    return stream(viewer.account_id, options)


@page()
async def data(request: Request, viewer: Viewer) -> Response:
    """GET /admin/contacts/{id}/data: the access document as a JSON download."""
    contact_id = request.path_params["contact_id"]
    document = await in_db(access.document, viewer.account_id, contact_id)
    return Response(json.dumps(document, ensure_ascii=False, indent=2),
                    media_type="application/json; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename="
                             f'"contact-{contact_id}-data.json"', "Cache-Control": "no-store"})


@page()
async def erase(request: Request, viewer: Viewer) -> Response:
    """GET: what erasing removes and keeps, to confirm; POST: queue the erasure."""
    contact_id = request.path_params["contact_id"]
    if request.method == "GET":
        contact = await in_db(contacts.get, viewer.account_id, contact_id)
        return render(request, "erase.html", {"active": "contacts",
                                              "contact": contacts.to_dict(contact)})
    await csrf.checked_form(request)
    await in_db(erasure.request, viewer.account_id, contact_id, f"user:{viewer.user_id}")
    flash(request, _("The contact is being erased everywhere: it disappears from the lists "
                     "within a minute."))
    return redirect(request, "contacts")


routes = [
    Route("/contacts/export", export, name="contacts_export"),
    Route("/contacts/{contact_id:int}/data", data, name="contact_data"),
    Route("/contacts/{contact_id:int}/erase", erase, methods=["GET", "POST"],
          name="contact_erase"),
]
