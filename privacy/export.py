"""Export: every contact matching the list's filters, as CSV or JSON Lines, in constant memory.

The filters are the list's own (``gateway.contact_listing.Filters``); rows are read in keyset
pages of ``PAGE`` straight from the cursor (no model objects) by one producer thread holding
one connection, and handed to the response through a small bounded queue.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import queue
import threading
from collections.abc import Iterator
from datetime import datetime

from peewee import Tuple

from gateway.accounts import list_custom_fields
from gateway.contact_listing import SORTS, Filters
from gateway.db import db, loads_stored
from gateway.errors import BadRequest
from gateway.models import Contact
from privacy.csv_sql import Line

PAGE = 5000
FORMATS = ("csv", "jsonl")
DELIMITERS = {",": ",", ";": ";", "comma": ",", "semicolon": ";"}
BOM = "\ufeff"
CORE_COLUMNS = ("email", "first_name", "name", "language", "source", "preferences",
                "interests")
# After the custom fields; an import skips them (status: imports confirm; dates: set once).
TRAILING_COLUMNS = ("status", "created_at", "updated_at")
_SELECT = (Contact.id, Contact.email, Contact.first_name, Contact.name, Contact.language,
           Contact.source, Contact.status, Contact.preferences, Contact.interests,
           Contact.custom_fields, Contact.updated_at, Contact.created_at)


class Options:
    """What to export and how: the listing filters, the format, separator and BOM."""

    def __init__(self, filters: Filters, *, fmt: str = "csv", delimiter: str = ",",
                 bom: bool = False, sort: str = "created_at"):
        if fmt not in FORMATS:
            raise BadRequest("format must be csv or jsonl.")
        if delimiter not in DELIMITERS:
            raise BadRequest("delimiter must be , or ; (comma or semicolon).")
        if sort not in SORTS:
            raise BadRequest("sort must be -created_at or created_at.")
        self.filters, self.fmt, self.bom, self.sort = filters, fmt, bom, sort
        self.delimiter = DELIMITERS[delimiter]

    @property
    def media_type(self) -> str:
        """The answer's content type."""
        return ("text/csv; charset=utf-8" if self.fmt == "csv"
                else "application/x-ndjson; charset=utf-8")

    def filename(self, account_id: int) -> str:
        """The download's file name."""
        return f"contacts-{account_id}.{self.fmt}"


def rows(account_id: int, options: Options, line: Line | None = None) -> Iterator[tuple]:
    """The matching contacts, page by page, as raw tuples of ``_SELECT``'s columns (then
    created_at and id), or with ``line`` as (CSV line, created_at, id); call inside a
    connection."""
    where = options.filters.where(account_id)
    desc = options.sort.startswith("-")
    order = ((Contact.created_at.desc(), Contact.id.desc()) if desc
             else (Contact.created_at.asc(), Contact.id.asc()))
    columns = (*Contact._meta.sorted_fields,) if line else (*_SELECT[1:], Contact.id)
    mark = None
    while True:
        page_where = where
        if mark is not None:
            key = Tuple(Contact.created_at, Contact.id)
            page_where = where & ((key < Tuple(*mark)) if desc else (key > Tuple(*mark)))
        sql, params = Contact.select(*columns).where(page_where).order_by(*order) \
            .limit(PAGE).sql()
        if line:
            sql = line.wrap(sql, "created_at DESC, id DESC" if desc else "created_at, id")
        page = db.execute_sql(sql, params).fetchall()
        yield from page
        if len(page) < PAGE:
            return
        mark = (page[-1][-2], page[-1][-1])


def header(custom_fields: list[str]) -> list[str]:
    """The CSV header: core fields, custom fields by name, then status and dates."""
    return [*CORE_COLUMNS, *custom_fields, *TRAILING_COLUMNS]


@functools.lru_cache(maxsize=4096)
def _labels(raw: str | None) -> tuple:
    return tuple(loads_stored(raw)) if raw and raw != "[]" else ()


def _custom(raw: str | None) -> dict:
    return loads_stored(raw) if raw and raw != "{}" else {}


def _iso(value) -> str:
    """A stored instant (a datetime, or SQLite's text) as the API writes it."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.isoformat(timespec="microseconds") + "Z"


def json_line(row: tuple) -> str:
    """One contact as a JSON Lines record (the API's contact shape)."""
    (email, first, name, language, source, status, prefs, interests, custom, updated,
     created, cid) = row
    return json.dumps({"id": cid, "email": email, "first_name": first, "name": name,
                       "language": language, "source": source, "status": status,
                       "preferences": list(_labels(prefs)),
                       "interests": list(_labels(interests)), "custom_fields": _custom(custom),
                       "created_at": _iso(created), "updated_at": _iso(updated)},
                      ensure_ascii=False) + "\n"


def chunks(account_id: int, options: Options, on_rows=None) -> Iterator[bytes]:
    """The whole export as byte chunks of about ``PAGE`` rows; call inside a connection.

    ``on_rows(n)`` is told how many rows each chunk held (the CLI's progress bar)."""
    fields = [(f.name, f.type) for f in list_custom_fields(account_id)]
    buffer = io.StringIO()
    if options.bom:
        buffer.write(BOM)
    line = None
    if options.fmt == "csv":
        csv.writer(buffer, delimiter=options.delimiter, quoting=csv.QUOTE_ALL,
                   lineterminator="\r\n").writerow(header([name for name, _ in fields]))
        line = Line(options.delimiter, fields)
    count = 0
    for row in rows(account_id, options, line):
        if options.fmt == "csv":
            buffer.write(row[0])
            buffer.write("\r\n")
        else:
            buffer.write(json_line(row))
        count += 1
        if count == PAGE:
            yield _drain(buffer)
            if on_rows:
                on_rows(count)
            count = 0
    yield _drain(buffer)
    if on_rows and count:
        on_rows(count)


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data


_DONE = object()


def produce(account_id: int, options: Options, depth: int = 8) -> Iterator[bytes]:
    """``chunks`` made by one thread on one connection, at most ``depth`` chunks ahead; the
    consumer may run each step on any thread (a streaming response does). Closing the
    iterator stops the producer."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            with db.connection_context():
                for chunk in chunks(account_id, options):
                    if not put(chunk):
                        return
        except BaseException as exc:  # handed over: the consumer re-raises it
            put(exc)
            return
        put(_DONE)

    thread = threading.Thread(target=work, name="inlet-export", daemon=True)
    thread.start()
    try:
        while (item := handoff.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
