"""Contacts: the overview with its three tabs, one contact's page, blacklist and delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway import contacts
from gateway.accounts import list_custom_fields
from gateway.admin import csrf
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.contacts import Provenance
from gateway.errors import BadRequest
from gateway.models import STATUSES, Consent, Contact, ContactEvent
from gateway.web import in_db

TABS = ("confirmed", "unconfirmed", "blacklisted")
PAGE_SIZE = 50


def status_counts(account_id: int, known: dict[str, int] | None = None) -> dict[str, int]:
    """Contacts per status, one count per status over the (account, status, …) index.

    ``known`` holds counts already made (the listed tab's total): at a million contacts each
    count costs a scan of its part of the index, so none is made twice.
    """
    counts = dict(known or {})
    for status in STATUSES:
        if status not in counts:
            counts[status] = Contact.select().where((Contact.account == account_id)
                                                    & (Contact.status == status)).count()
    return counts


def _overview(account_id: int, tab: str, q: str, sort: str, cursor: str | None) -> dict:
    listing = contacts.list_contacts(account_id, status=tab, q=q or None, sort=sort,
                                     cursor=cursor, limit=PAGE_SIZE)
    known = {tab: listing["total"]} if not q else {}
    return {"listing": listing, "counts": status_counts(account_id, known)}


@page()
async def overview(request: Request, viewer: Viewer) -> Response:
    """GET /admin/contacts?tab=&q=&sort=&cursor="""
    params = request.query_params
    tab = params.get("tab") or "confirmed"
    if tab not in TABS:
        raise BadRequest("Unknown tab.")
    sort = "created_at" if params.get("sort") == "created_at" else "-created_at"
    q = (params.get("q") or "").strip()
    data = await in_db(_overview, viewer.account_id, tab, q, sort, params.get("cursor") or None)
    return render(request, "contacts.html", {"active": "contacts", "tab": tab, "tabs": TABS,
                                             "q": q, "sort": sort, "cursor": params.get("cursor"),
                                             **data})


def _detail(account_id: int, contact_id: int) -> dict:
    contact = contacts.get(account_id, contact_id)
    consents = list(Consent.select().where((Consent.contact == contact.id)
                                           & (Consent.account == account_id))
                    .order_by(Consent.at.desc()))
    events = list(ContactEvent.select().where(ContactEvent.contact == contact.id)
                  .order_by(ContactEvent.at.desc(), ContactEvent.id.desc()))
    fields = list_custom_fields(account_id)
    return {"contact": contacts.to_dict(contact), "consents": consents, "events": events,
            "custom_fields": fields}


@page()
async def detail(request: Request, viewer: Viewer) -> Response:
    """GET /admin/contacts/{id}"""
    data = await in_db(_detail, viewer.account_id, request.path_params["contact_id"])
    return render(request, "contact.html", {"active": "contacts", **data})


def provenance(request: Request, viewer: Viewer, text: str | None = None) -> Provenance:
    """Who did it, for the consent record and history."""
    return Provenance(channel="admin", reference=f"user:{viewer.user_id}", actor=viewer.email,
                      ip=request.client.host if request.client else None,
                      user_agent=request.headers.get("user-agent"), text=text)


@page()
async def blacklist(request: Request, viewer: Viewer) -> Response:
    """POST /admin/contacts/{id}/blacklist"""
    await csrf.checked_form(request)
    contact_id = request.path_params["contact_id"]
    contact = await in_db(contacts.blacklist, viewer.account_id, contact_id,
                          provenance(request, viewer))
    flash(request, f"{contact.email} is blacklisted: no inbound path will change it again.")
    return redirect(request, "contact", contact_id=contact_id)


@page()
async def delete(request: Request, viewer: Viewer) -> Response:
    """POST /admin/contacts/{id}/delete"""
    await csrf.checked_form(request)
    contact_id = request.path_params["contact_id"]

    def work():
        email = contacts.get(viewer.account_id, contact_id).email
        contacts.delete(viewer.account_id, contact_id)
        return email
    email = await in_db(work)
    flash(request, f"{email} was deleted.")
    return redirect(request, "contacts")
