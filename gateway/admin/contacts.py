"""Contacts: the overview with its three tabs, one contact's page, blacklist and delete."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from gateway import contacts
from gateway.accounts import list_custom_fields, list_vocabulary
from gateway.admin import csrf
from gateway.admin.pages import Viewer, page, redirect, render
from gateway.admin.session import flash
from gateway.contact_listing import import_id, instant
from gateway.contacts import Provenance
from gateway.errors import BadRequest
from gateway.i18n import _
from gateway.imports.models import Import
from gateway.models import STATUSES, Consent, Contact, ContactEvent
from gateway.web import in_db

TABS = ("confirmed", "unconfirmed", "blacklisted")
PAGE_SIZE = 50
PAGE_SIZES = (50, 100, 250)
# What narrows the list; kept in every link (tabs, sort, pages) so nothing is lost on a switch.
FILTERS = ("q", "source", "language", "interest", "preference", "from", "to", "import")
REASON_LIMIT = 1000


def status_counts(account_id: int, known: dict[str, tuple[int, bool]] | None = None
                  ) -> tuple[dict[str, int], set[str]]:
    """Contacts per status, one count per status over the (account, status, …) index, and
    the statuses whose count is an estimate.

    ``known`` holds counts already made (the listed tab's total and whether it is estimated):
    at a million contacts each count costs a scan of its part of the index, so none is made
    twice.
    """
    found = dict(known or {})
    for status in STATUSES:
        if status not in found:
            # Exact up to 10,000, estimated above (``contacts.count_contacts``).
            found[status] = contacts.count_contacts((Contact.account == account_id)
                                                    & (Contact.status == status))
    return ({status: count for status, (count, _) in found.items()},
            {status for status, (_, estimated) in found.items() if estimated})


class Overview:
    """The overview's query string, read and checked once; builds every link of the page."""

    def __init__(self, params, tz):
        self.tab = params.get("tab") or "confirmed"
        if self.tab not in TABS:
            raise BadRequest(_("Unknown tab."))
        self.sort = "created_at" if params.get("sort") == "created_at" else "-created_at"
        self.size = int(params.get("size")) if params.get("size") in map(str, PAGE_SIZES) \
            else PAGE_SIZE
        self.values = {name: (params.get(name) or "").strip() for name in FILTERS}
        self.cursor, self.before = params.get("cursor") or None, params.get("before") or None
        at = params.get("at") or ""
        self.at = int(at) if at.isdigit() and (self.cursor or self.before) else 1
        self.tz = tz

    @property
    def filtered(self) -> bool:
        """Anything narrows the list besides the tab."""
        return any(self.values.values())

    @property
    def narrowed(self) -> bool:
        """A filter besides the search is set (the filter panel opens)."""
        return any(value for name, value in self.values.items() if name != "q")

    def store_filters(self) -> dict:
        """The ``list_contacts`` arguments (dates are whole days in the account's zone)."""
        v = self.values
        return {"status": self.tab, "q": v["q"] or None, "source": v["source"] or None,
                "language": v["language"] or None, "interest": v["interest"] or None,
                "preference": v["preference"] or None, "import_id": import_id(v["import"]),
                "added_after": self._day_start(v["from"]),
                "added_before": self._day_start(v["to"], next_day=True)}

    def _day_start(self, text: str, next_day: bool = False) -> datetime | None:
        if not text:
            return None
        try:
            day = date.fromisoformat(text) + timedelta(days=1 if next_day else 0)
        except ValueError:
            raise BadRequest(_("Dates are written YYYY-MM-DD.")) from None
        return instant("date", datetime.combine(day, time(), tzinfo=self.tz))

    def link(self, **changes) -> str:
        """The query string of this view with ``changes`` (paging is dropped unless given)."""
        state = {"tab": self.tab, **self.values, "sort": self.sort,
                 "size": self.size if self.size != PAGE_SIZE else None, **changes}
        return "?" + urlencode({k: v for k, v in state.items() if v not in (None, "")})


def _choices(account_id: int) -> dict:
    """The values the filters offer: the account's labels and its finished imports."""
    imports = list(Import.select(Import.id, Import.filename, Import.finished_at)
                   .where((Import.account == account_id) & (Import.step == "done"))
                   .order_by(Import.id.desc()).limit(100))
    return {kind: [v.name for v in list_vocabulary(account_id, kind)]
            for kind in ("source", "language", "interest", "preference")} | {"imports": imports}


def _overview(account_id: int, view: Overview) -> dict:
    listing = contacts.list_contacts(account_id, sort=view.sort, cursor=view.cursor,
                                     before=view.before, limit=view.size,
                                     **view.store_filters())
    known = {view.tab: (listing["total"], listing["total_is_estimate"])} \
        if not view.filtered else {}
    ids = [c["id"] for c in listing["items"]]
    counts, estimated = status_counts(account_id, known)
    return {"listing": listing, "counts": counts, "estimated": estimated,
            "blacklistings": contacts.blacklistings(ids) if view.tab == "blacklisted" else {},
            "choices": _choices(account_id)}


@page()
async def overview(request: Request, viewer: Viewer) -> Response:
    """GET /admin/contacts?tab=&q=&source=&language=&interest=&preference=&from=&to=&import=
    &sort=&size=&cursor=|before=&at="""
    view = Overview(request.query_params, viewer.tz)
    data = await in_db(_overview, viewer.account_id, view)
    listing = data["listing"]
    if view.before and not listing["prev_cursor"]:
        view.at = 1  # walked back to the start, whatever ``at`` said
    return render(request, "contacts.html", {"active": "contacts", "tabs": TABS, "view": view,
                                             "page_sizes": PAGE_SIZES, **data})


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
    """POST /admin/contacts/{id}/blacklist (``reason``: why, optional)"""
    form = await csrf.checked_form(request)
    contact_id = request.path_params["contact_id"]
    reason = str(form.get("reason") or "").strip()[:REASON_LIMIT] or None
    contact = await in_db(contacts.blacklist, viewer.account_id, contact_id,
                          provenance(request, viewer), reason)
    flash(request, _("%(email)s is blacklisted: no inbound path will change it again.")
          % {"email": contact.email})
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
    flash(request, _("%(email)s was deleted.") % {"email": email})
    return redirect(request, "contacts")
