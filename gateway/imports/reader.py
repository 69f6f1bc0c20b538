"""The file rules (README, "Importing contacts"): storing an upload, detecting encoding and
separator, reading rows.

The stored file is kept byte for byte; every reader streams it, so a 25 MB file never sits in
memory whole.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from gateway import i18n
from gateway.errors import InletError, PayloadTooLarge, UnsupportedMediaType
from gateway.i18n import N_, _

MAX_BYTES = 25 * 1024 * 1024  # "under 25 MB"
MAX_ROWS = 100_000  # data rows must be fewer than this
MAX_COLUMNS = 500  # far above any real contact file; bounds the work on a header
MAX_FILENAME = 255  # Import.filename
SPLIT_HINT = N_("Split the file into several imports.")
# A cell that a spreadsheet would run as a formula; errors.csv escapes it with a quote.
# Spreadsheets read the full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20) as the ASCII ones.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
SNIFF_BYTES = 1024  # the start of the file checked for a binary format
SAVE_AS_CSV = N_("Open it in your spreadsheet program, save it as CSV (UTF-8) and upload "
                 "that.")
# Formats often renamed .csv by mistake, by their first bytes (a text file never starts so).
_SIGNATURES = ((b"PK\x03\x04", N_("a ZIP archive")), (b"PK\x05\x06", N_("a ZIP archive")),
               (b"%PDF-", N_("a PDF document")), (b"\x1f\x8b", N_("a gzip archive")),
               (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", N_("an Excel 97-2003 workbook (.xls)")),
               (b"7z\xbc\xaf\x27\x1c", N_("a 7-Zip archive")),
               (b"Rar!\x1a\x07", N_("a RAR archive")),
               (b"\x89PNG\r\n\x1a\n", N_("a PNG image")), (b"\xff\xd8\xff", N_("a JPEG image")),
               (b"GIF87a", N_("a GIF image")), (b"GIF89a", N_("a GIF image")))
# What a ZIP holds in its first entries' names: an Excel or OpenDocument spreadsheet.
_ZIPPED_SHEETS = ((b"xl/", N_("an Excel workbook (.xlsx)")),
                  (b"[Content_Types].xml", N_("an Excel workbook (.xlsx)")),
                  (b"opendocument.spreadsheet", N_("an OpenDocument spreadsheet (.ods)")))
_LOOKS_LIKE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
csv.field_size_limit(MAX_BYTES)


class FileRuleBroken(InletError):
    """A file rule is broken; ``code`` names the rule."""

    status = 422

    def __init__(self, code: str, message: str, details: list | None = None):
        super().__init__(message, details)
        self.code = code


class NotCsv(UnsupportedMediaType):
    code = "not_csv"
    message = N_("Only .csv files can be imported.")


class NotCsvText(UnsupportedMediaType):
    code = "not_csv_text"
    message = N_("This is not a CSV text file. Open it in your spreadsheet program, save it as "
                 "CSV (UTF-8) and upload that.")


class FileTooLarge(PayloadTooLarge):
    code = "file_too_large"
    message = N_("The file must be under 25 MB. Split the file into several imports.")


class TooManyRows(PayloadTooLarge):
    code = "too_many_rows"
    message = f"The file must have fewer than {MAX_ROWS:,} rows. {SPLIT_HINT}"

    def __init__(self, message: str | None = None, details: list | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message or _("The file must have fewer than %(max)s rows.")
                         % {"max": i18n.number(MAX_ROWS)} + " " + _(SPLIT_HINT),
                         details, headers)


def check_filename(filename: str | None) -> str:
    """The file name to keep (control characters dropped, shortened to its column's limit
    keeping ``.csv``), refused with 415 unless it ends in ``.csv``."""
    name = _CONTROL.sub("", Path(filename or "").name).strip()
    if not name.lower().endswith(".csv"):
        raise NotCsv(_("Only .csv files can be imported; '%(name)s' is not one.")
                     % {"name": name[:80]} if name[:80] else
                     _("Only .csv files can be imported; 'the upload' is not one."))
    if len(name) > MAX_FILENAME:  # metadata: shortened, never a reason to refuse the file
        name = name[:MAX_FILENAME - 4].rstrip() + name[-4:]
    return name


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_text(head: bytes) -> None:
    """Refuse (415) a file whose first bytes show a binary format: a known signature, or NUL
    bytes, which no CSV text holds (UTF-16, as some tools export, has one in every pair)."""
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            if signature.startswith(b"PK"):
                what = next((sheet for mark, sheet in _ZIPPED_SHEETS if mark in head), what)
            raise NotCsvText(_("This is not a CSV text file: it is %(what)s.") % {"what": _(what)}
                             + " " + _(SAVE_AS_CSV))
    if b"\x00" in head:
        raise NotCsvText(_("This is not a CSV text file: it holds NUL bytes, as a binary file "
                           "or UTF-16 text does.") + " " + _(SAVE_AS_CSV))


def store(chunks: Iterable[bytes], dest: Path, max_bytes: int | None = None) -> tuple[int, str]:
    """Write ``chunks`` to ``dest`` (refusing past the size limit); returns (size, encoding)."""
    limit = MAX_BYTES if max_bytes is None else max_bytes
    dest.parent.mkdir(parents=True, exist_ok=True)
    utf8 = codecs.getincrementaldecoder("utf-8")()
    cp1252 = codecs.getincrementaldecoder("cp1252")()
    is_utf8 = is_cp1252 = True
    size = 0
    head = b""
    try:
        with open(dest, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size >= limit:
                    raise FileTooLarge()
                if len(head) < SNIFF_BYTES:
                    head += chunk[:SNIFF_BYTES - len(head)]
                    if len(head) == SNIFF_BYTES:
                        check_text(head)
                is_utf8 = is_utf8 and _decodes(utf8, chunk)
                is_cp1252 = is_cp1252 and _decodes(cp1252, chunk)
                out.write(chunk)
        if len(head) < SNIFF_BYTES:
            check_text(head)
        is_utf8 = is_utf8 and _decodes(utf8, b"", final=True)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    if is_utf8:
        return size, "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    # Excel on Windows writes cp1252; latin-1 reads the five bytes cp1252 leaves undefined.
    return size, "cp1252" if is_cp1252 else "latin-1"


def _decodes(decoder, chunk: bytes, final: bool = False) -> bool:
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError:
        return False
    return True


def open_text(path: Path, encoding: str):
    """The stored file as text, newlines left to the csv module."""
    return open(path, encoding=encoding, newline="")


def detect_delimiter(first_line: str) -> str:
    """``,`` or ``;``: whichever the header line uses more (outside quotes)."""
    outside = re.sub(r'"[^"]*"', "", first_line)
    commas, semicolons = outside.count(","), outside.count(";")
    if semicolons > commas:
        return ";"
    if commas == 0 and ("\t" in outside or "|" in outside):
        raise FileRuleBroken("unsupported_separator",
                             _("Use a comma (,) or a semicolon (;) as separator."))
    return ","


def inspect(path: Path, encoding: str, max_rows: int | None = None
            ) -> tuple[str, list[str], int]:
    """Check the header and count the rows; returns (delimiter, columns, data rows)."""
    limit = MAX_ROWS if max_rows is None else max_rows
    with open_text(path, encoding) as fh:
        first_line = fh.readline()
        if not first_line.strip():
            raise FileRuleBroken("missing_header", _(
                "The file is empty or its first row is empty: it must start with a header row "
                "naming the columns."))
        delimiter = detect_delimiter(first_line)
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
            if len(header) > MAX_COLUMNS:
                raise FileRuleBroken("too_many_columns", _(
                    "A file may have at most %(max)s columns; this one has %(count)s. Remove "
                    "the columns you do not need.") % {"max": MAX_COLUMNS,
                                                       "count": i18n.number(len(header))})
            _check_header(header)
            rows = 0
            for record in reader:
                if record and any(record):
                    rows += 1
                    if rows >= limit:
                        raise TooManyRows()
        except csv.Error as exc:
            raise FileRuleBroken("malformed_csv", _(
                "The file is not valid CSV near line %(line)s: %(why)s.")
                % {"line": reader.line_num, "why": exc}) from None
    if not rows:
        raise FileRuleBroken("no_rows", _("The file has a header but no contacts below it."))
    return delimiter, unique_columns(header), rows


def _check_header(header: list[str]) -> None:
    for cell in header:
        if _LOOKS_LIKE_EMAIL.search(cell):
            raise FileRuleBroken(
                "missing_header", _("The first row must be a header naming the columns, not a "
                                    "contact: it holds the e-mail address '%(email)s'. Add a "
                                    "header row.") % {"email": cell.strip()})


def unique_columns(header: list[str]) -> list[str]:
    """Column names, stripped, blank ones named, repeated ones numbered (in linear time)."""
    columns: list[str] = []
    taken: set[str] = set()
    next_number: dict[str, int] = {}  # per repeated name: where its numbering goes on
    for index, raw in enumerate(header, start=1):
        name = base = raw.strip() or f"Column {index}"
        if name in taken:
            n = next_number.get(base, 2)
            while (name := f"{base} ({n})") in taken:
                n += 1
            next_number[base] = n + 1
        taken.add(name)
        columns.append(name)
    return columns


def iter_records(path: Path, encoding: str, delimiter: str, start: int = 0
                 ) -> Iterator[tuple[int, list[str]]]:
    """(record index, cells) for every non-blank data row from ``start`` on."""
    with open_text(path, encoding) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        next(reader, None)
        for index, record in enumerate(reader):
            if index >= start and record and any(record):
                yield index, record


def unescape(cell: str) -> str:
    """Undo errors.csv's formula guard (``'=x`` → ``=x``) so a corrected file re-imports."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in _FORMULA_CHARACTERS:
        return cell[1:]
    return cell


_FORMULA_CHARACTERS = frozenset(FORMULA_STARTS)


def escape(cell: str) -> str:
    """Make a cell inert in a spreadsheet: a leading quote before a formula character."""
    return "'" + cell if cell and cell.startswith(FORMULA_STARTS) else cell


def write_csv(rows: Iterable[list[str]], delimiter: str) -> bytes:
    """Rows as CSV bytes (UTF-8 with BOM, so Excel reads accents right), cells escaped.

    A cell holding either separator is quoted: a spreadsheet set to the other one (a
    comma-locale Excel opening a ``;`` file) then still keeps it in one cell."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write(delimiter.join(_quoted(escape(str(cell))) for cell in row))
        buffer.write("\r\n")
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")


_NEEDS_QUOTES = re.compile(r'[,;"\r\n]')


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if _NEEDS_QUOTES.search(cell) else cell
