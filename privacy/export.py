"""Export: every contact matching the list's filters, as CSV or JSON Lines, in constant memory.

The filters are the list's own (``gateway.contact_listing.Filters``). The CSV's cells are
formatted, formula-guarded and quoted by the database (``privacy.csv_sql``): on PostgreSQL one
``COPY (SELECT …) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)``, whose rows libpq hands over
one by one to a thread that gathers them into chunks; on SQLite one ``printf`` per row (its
``%w`` doubles quotes), read in keyset pages of ``PAGE``. JSON Lines are built in Python from
raw rows, in keyset pages too. Lines end in CRLF (RFC 4180), as the csv module writes them.
One producer thread holding one connection hands the chunks to the response through a small
bounded queue.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from peewee import SQL, NodeList, Tuple

from gateway.accounts import list_custom_fields
from gateway.contact_listing import SORTS, Filters
from gateway.db import db, is_postgres, loads_stored
from gateway.errors import BadRequest
from gateway.i18n import _
from gateway.models import Contact
from privacy.csv_sql import Line, literal

PAGE = 5000
CHUNK = 1 << 20  # bytes of COPY output per chunk handed on
FORMATS = ("csv", "jsonl")
DELIMITERS = {",": ",", ";": ";", "comma": ",", "semicolon": ";"}
BOM = "\ufeff"
CORE_COLUMNS = ("email", "first_name", "name", "language", "source", "preferences",
                "interests")
# After the custom fields; an import skips them (status: imports confirm; dates: set once).
TRAILING_COLUMNS = ("status", "created_at", "updated_at")
# A JSON Lines record's columns (``rows`` adds created_at and id).
_JSON_COLUMNS = (Contact.email, Contact.first_name, Contact.name, Contact.language,
                 Contact.source, Contact.status, Contact.preferences, Contact.interests,
                 Contact.custom_fields, Contact.updated_at)


class Options:
    """What to export and how: the listing filters, the format, separator and BOM."""

    def __init__(self, filters: Filters, *, fmt: str = "csv", delimiter: str = ",",
                 bom: bool = False, sort: str = "created_at"):
        if fmt not in FORMATS:
            raise BadRequest(_("format must be csv or jsonl."))
        if delimiter not in DELIMITERS:
            raise BadRequest(_("delimiter must be , or ; (comma or semicolon)."))
        if sort not in SORTS:
            raise BadRequest(_("sort must be -created_at or created_at."))
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

    @property
    def descending(self) -> bool:
        """Newest first."""
        return self.sort.startswith("-")

    def order(self) -> tuple:
        """The export's order: the list's, ``id`` breaking ties."""
        if self.descending:
            return Contact.created_at.desc(), Contact.id.desc()
        return Contact.created_at.asc(), Contact.id.asc()


def rows(account_id: int, options: Options, columns: tuple) -> Iterator[tuple]:
    """The matching contacts, page by page, as raw tuples of ``columns`` then created_at and
    id (each page its own statement: a slow download holds no snapshot open); call inside a
    connection."""
    where = options.filters.where(account_id)
    mark = None
    while True:
        page_where = where
        if mark is not None:
            key = Tuple(Contact.created_at, Contact.id)
            page_where &= (key < Tuple(*mark)) if options.descending else (key > Tuple(*mark))
        query = Contact.select(*columns, Contact.created_at, Contact.id).where(page_where) \
            .order_by(*options.order()).limit(PAGE)
        page = db.execute_sql(*query.sql()).fetchall()
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
    """The whole export as byte chunks; call inside a connection.

    ``on_rows(n)`` is told how many rows each chunk held (the CLI's progress bar)."""
    fields = [(f.name, f.type) for f in list_custom_fields(account_id)]
    start = io.StringIO()
    if options.bom:
        start.write(BOM)
    if options.fmt == "jsonl":
        body = _json_chunks(account_id, options)
    else:
        csv.writer(start, delimiter=options.delimiter, quoting=csv.QUOTE_ALL,
                   lineterminator="\r\n").writerow(header([name for name, _ in fields]))
        cells = Line(options.delimiter, fields)
        body = (_copied(account_id, options, cells) if is_postgres()
                else _printed(account_id, options, cells))
    yield start.getvalue().encode("utf-8")
    try:
        for data, count in body:
            yield data
            if on_rows:
                on_rows(count)
    finally:
        body.close()  # now, not when collected: a COPY stops before its connection is used


def _json_chunks(account_id: int, options: Options) -> Iterator[tuple[bytes, int]]:
    return _chunked(json_line(row) for row in rows(account_id, options, _JSON_COLUMNS))


def _chunked(lines: Iterator[str]) -> Iterator[tuple[bytes, int]]:
    """``lines`` (each with its line ending) as chunks of ``PAGE`` lines and their count."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == PAGE:
            yield "".join(batch).encode("utf-8"), len(batch)
            batch = []
    if batch:
        yield "".join(batch).encode("utf-8"), len(batch)


def _printed(account_id: int, options: Options, cells: Line) -> Iterator[tuple[bytes, int]]:
    """SQLite: a page of lines a chunk."""
    with _scanning():
        yield from _chunked(row[0] + "\r\n"
                            for row in rows(account_id, options, (SQL(cells.printf()),)))


@contextmanager
def _scanning() -> Iterator[None]:
    """SQLite reads the export page by page into a small cache, not through its memory map:
    mapped pages read through count in the process's RSS (page cache, not its own memory,
    but RSS is what gets watched) and a scan reads each page once, so the usual 32 MB cache
    would only hold memory. Costs nothing measurable."""
    saved = {name: db.execute_sql(f"PRAGMA {name}").fetchone()[0]
             for name in ("mmap_size", "cache_size")}
    db.execute_sql("PRAGMA mmap_size = 0")
    db.execute_sql("PRAGMA cache_size = -2048")
    try:
        yield
    finally:
        for name, value in saved.items():
            db.execute_sql(f"PRAGMA {name} = {int(value)}")


def copy_statement(account_id: int, options: Options, cells: Line) -> str:
    """PostgreSQL's COPY of the export's CSV lines; call inside a connection. One statement,
    so one snapshot (as pg_dump's), held until the download ends: the producer runs only a
    few chunks ahead of the client."""
    source = Contact
    if cells.fields:
        # Each row's custom fields parsed once (``cf``), not once per custom field column:
        # OFFSET 0 keeps the planner from copying the expression into each use.
        source = NodeList((Contact, SQL(
            "CROSS JOIN LATERAL (SELECT CASE WHEN custom_fields = '{}' THEN NULL "
            "ELSE custom_fields::jsonb END AS cf OFFSET 0) AS parsed")))
    query = Contact.select(SQL(", ".join(cells.cells()))).from_(source) \
        .where(options.filters.where(account_id)).order_by(*options.order())
    # COPY takes no parameters: psycopg2 inlines them (as it does for every query).
    select = db.cursor().mogrify(*query.sql()).decode("utf-8")
    return (f"COPY ({select}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *, "
            f"DELIMITER {literal(options.delimiter)}, ENCODING 'UTF8')")


class _Gather:
    """COPY's target: libpq hands over one whole row a call (ending in ``\\n``); rows are
    gathered into chunks of about ``CHUNK`` bytes, each row ending in ``\\r\\n`` like the
    header's (RFC 4180)."""

    def __init__(self, put: Callable[[tuple[bytes, int]], bool]):
        self.put, self.rows, self.size, self.stopped = put, [], 0, False

    def write(self, row: bytes) -> None:
        """One row of COPY output."""
        if self.stopped:  # the reader left: drop what is still in flight until cancelled
            return
        self.rows.append(row[:-1])
        self.size += len(row)
        if self.size >= CHUNK:
            self.flush()

    def flush(self) -> None:
        """Hand on what was gathered."""
        if self.rows and not self.stopped:
            self.stopped = not self.put((b"\r\n".join(self.rows) + b"\r\n", len(self.rows)))
        self.rows, self.size = [], 0


def _copied(account_id: int, options: Options, cells: Line) -> Iterator[tuple[bytes, int]]:
    """PostgreSQL: COPY pushes its rows into a callback, so it runs on a thread of its own
    over this thread's connection (psycopg2's connections may be shared; this thread only
    waits meanwhile); closing early cancels the statement."""
    connection = db.connection()
    statement = copy_statement(account_id, options, cells)
    copying = threading.Event()

    def fill(put) -> None:
        gather = _Gather(put)
        cursor = connection.cursor()
        # JIT compiling the cells' expressions costs more than it saves (a sixth of the COPY).
        cursor.execute("SET jit = off")
        copying.set()
        try:
            cursor.copy_expert(statement, gather)
        finally:
            copying.clear()
            if not connection.closed:
                cursor.execute("RESET jit")
        gather.flush()

    def cancel() -> None:
        if copying.is_set():  # only then: a late cancel would fail the next statement
            connection.cancel()

    return _handed_over(fill, cancel=cancel, wait=True)


_DONE = object()


def _handed_over(fill: Callable[[Callable[[object], bool]], None], depth: int = 8,
                 cancel: Callable[[], None] | None = None, wait: bool = False) -> Iterator:
    """What ``fill(put)`` puts, made on a thread of its own at most ``depth`` items ahead;
    the consumer may run each step on any thread (a streaming response does). Once the
    iterator is closed ``put`` answers False (the producer should stop), ``cancel`` is called
    to interrupt it and, with ``wait``, the close waits for the thread (when it shares the
    caller's connection)."""
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
            fill(put)
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
        if cancel and thread.is_alive():
            cancel()
        if wait:
            thread.join()


def produce(account_id: int, options: Options, depth: int = 8) -> Iterator[bytes]:
    """``chunks`` made by one thread on one connection, at most ``depth`` chunks ahead; the
    consumer may run each step on any thread (a streaming response does). Closing the
    iterator stops the producer."""

    def fill(put) -> None:
        with db.connection_context():
            made = chunks(account_id, options)
            try:
                for chunk in made:
                    if not put(chunk):
                        return
            finally:
                made.close()  # before the connection closes: a COPY is cancelled first

    return _handed_over(fill, depth)
