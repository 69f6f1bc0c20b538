"""Listing contacts: the filters (search, source, language, labels, date added, import) and
keyset pages in both directions (no OFFSET), shared by the API and the admin overview."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

from peewee import SQL, NodeList, Tuple, Value

from gateway.contact_search import search_condition
from gateway.db import is_postgres
from gateway.errors import BadRequest
from gateway.i18n import _
from gateway.models import STATUSES, Contact, ContactEvent

MAX_ID = 2**31 - 1  # ids are PostgreSQL ``integer``s
SORTS = ("-created_at", "created_at")


def encode_cursor(created_at: datetime, contact_id: int) -> str:
    """An opaque cursor: the (created_at, id) of a row seen."""
    raw = json.dumps([created_at.isoformat(), contact_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Inverse of ``encode_cursor``; 400 on garbage."""
    try:
        raw = base64.urlsafe_b64decode(cursor[:200] + "=" * (-len(cursor[:200]) % 4))
        stamp, contact_id = json.loads(raw)
        if type(contact_id) is not int or not 0 <= contact_id <= MAX_ID:
            raise ValueError(contact_id)  # 1e999, -1e308, 10**30: no row has such an id
        return datetime.fromisoformat(stamp), contact_id
    except (ValueError, TypeError, RecursionError):
        raise BadRequest(_("The cursor is not valid.")) from None


def instant(name: str, value: str | datetime | date | None) -> datetime | None:
    """A naive-UTC instant from an ISO date (midnight UTC) or date-time; 400 otherwise."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(_("%(name)s must be an ISO 8601 date or date-time.")
                             % {"name": name}) from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


@dataclass(frozen=True)
class Filters:
    """What narrows a listing; every part is optional and they all apply together."""

    status: str | None = None
    email: str | None = None
    q: str | None = None  # part of the e-mail, the first name or the name
    source: str | None = None
    language: str | None = None
    interest: str | None = None
    preference: str | None = None
    added_after: datetime | None = None  # created_at >= (naive UTC)
    added_before: datetime | None = None  # created_at <
    import_id: int | None = None  # created or changed by this import

    def where(self, account_id: int):
        """The condition on ``Contact`` (400 on an unknown status)."""
        if self.status not in (None, "", *STATUSES):
            raise BadRequest(_("status must be one of %(statuses)s.")
                             % {"statuses": ", ".join(STATUSES)})
        where = Contact.account == account_id
        for column, value in ((Contact.status, self.status), (Contact.source, self.source),
                              (Contact.language, self.language)):
            if value:
                where &= column == value
        if self.email:
            where &= Contact.email == self.email.strip().lower()
        if self.q and self.q.strip():
            where &= search_condition(self.q.strip())
        for column, label in ((Contact.interests, self.interest),
                              (Contact.preferences, self.preference)):
            if label:
                where &= _has_label(column, label)
        if self.added_after:
            where &= Contact.created_at >= self.added_after
        if self.added_before:
            where &= Contact.created_at < self.added_before
        if self.import_id is not None:
            # Every contact an import created or changed has a history row naming it.
            where &= Contact.id.in_(ContactEvent.select(ContactEvent.contact).where(
                ContactEvent.reference == f"import:{self.import_id}"))
        return where


def import_id(value) -> int | None:
    """An import id from a query parameter; 400 when it is not one."""
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise BadRequest(_("import must be an import id.")) from None
    if not 0 < number <= MAX_ID:
        raise BadRequest(_("import must be an import id."))
    return number


def _has_label(column, label: str):
    """The JSON list in ``column`` holds exactly ``label``."""
    if is_postgres():
        return NodeList((SQL("CAST("), column, SQL("AS jsonb) @> jsonb_build_array(CAST("),
                         Value(label), SQL("AS text))")))
    return NodeList((SQL("EXISTS (SELECT 1 FROM json_each("), column,
                     SQL(") WHERE json_each.value ="), Value(label), SQL(")")))


def keyset_page(where, *, sort: str, cursor: str | None, before: str | None,
                limit: int) -> tuple[list[Contact], str | None, str | None]:
    """One page after ``cursor`` (or before ``before``): (rows, next cursor, previous cursor).

    A previous page walks the index in the reverse order from its first row and turns the
    rows round, so Previous costs what Next costs."""
    if sort not in SORTS:
        raise BadRequest(_("sort must be -created_at or created_at."))
    desc = sort.startswith("-")
    backwards = bool(before)
    key = Tuple(Contact.created_at, Contact.id)
    if before or cursor:
        stamp, last_id = decode_cursor(before or cursor)
        mark = Tuple(stamp, last_id)
        # A row-value comparison lets both databases seek straight into the index.
        where &= (key < mark) if desc != backwards else (key > mark)
    ascending = desc == backwards
    order = ((Contact.created_at.asc(), Contact.id.asc()) if ascending
             else (Contact.created_at.desc(), Contact.id.desc()))
    rows = list(Contact.select().where(where).order_by(*order).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    first = encode_cursor(rows[0].created_at, rows[0].id) if rows else None
    last = encode_cursor(rows[-1].created_at, rows[-1].id) if rows else None
    if backwards:
        return rows, last, first if more else None
    return rows, last if more else None, first if cursor else None
