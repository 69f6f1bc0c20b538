"""The file rules of SPEC §4: storing an upload, detecting encoding and separator, reading rows.

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

from gateway.errors import InletError, PayloadTooLarge, UnsupportedMediaType

MAX_BYTES = 25 * 1024 * 1024  # "under 25 MB"
MAX_ROWS = 100_000  # data rows must be fewer than this
SPLIT_HINT = "Split the file into several imports."
# A cell that a spreadsheet would run as a formula; errors.csv escapes it with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_LOOKS_LIKE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
csv.field_size_limit(MAX_BYTES)


class FileRuleBroken(InletError):
    """A rule of SPEC §4 is broken; ``code`` names the rule."""

    status = 422

    def __init__(self, code: str, message: str, details: list | None = None):
        super().__init__(message, details)
        self.code = code


class NotCsv(UnsupportedMediaType):
    code = "not_csv"
    message = "Only .csv files can be imported."


class FileTooLarge(PayloadTooLarge):
    code = "file_too_large"
    message = f"The file must be under 25 MB. {SPLIT_HINT}"


class TooManyRows(PayloadTooLarge):
    code = "too_many_rows"
    message = f"The file must have fewer than {MAX_ROWS:,} rows. {SPLIT_HINT}"


def check_filename(filename: str | None) -> str:
    """The file name, refused with 415 unless it ends in ``.csv``."""
    name = Path(filename or "").name
    if not name.lower().endswith(".csv"):
        raise NotCsv(f"Only .csv files can be imported; {name or 'the upload'!r} is not one.")
    return name


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
                if len(head) < 3:
                    head += chunk[:3]
                is_utf8 = is_utf8 and _decodes(utf8, chunk)
                is_cp1252 = is_cp1252 and _decodes(cp1252, chunk)
                out.write(chunk)
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
                             "Use a comma (,) or a semicolon (;) as separator.")
    return ","


def inspect(path: Path, encoding: str, max_rows: int | None = None
            ) -> tuple[str, list[str], int]:
    """Check the header and count the rows; returns (delimiter, columns, data rows)."""
    limit = MAX_ROWS if max_rows is None else max_rows
    with open_text(path, encoding) as fh:
        first_line = fh.readline()
        if not first_line.strip():
            raise FileRuleBroken("missing_header", "The file is empty or its first row is "
                                 "empty: it must start with a header row naming the columns.")
        delimiter = detect_delimiter(first_line)
        fh.seek(0)
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
            _check_header(header)
            rows = 0
            for record in reader:
                if record and any(record):
                    rows += 1
                    if rows >= limit:
                        raise TooManyRows()
        except csv.Error as exc:
            raise FileRuleBroken("malformed_csv", f"The file is not valid CSV near line "
                                 f"{reader.line_num}: {exc}.") from None
    if not rows:
        raise FileRuleBroken("no_rows", "The file has a header but no contacts below it.")
    return delimiter, unique_columns(header), rows


def _check_header(header: list[str]) -> None:
    for cell in header:
        if _LOOKS_LIKE_EMAIL.search(cell):
            raise FileRuleBroken(
                "missing_header", "The first row must be a header naming the columns, not a "
                f"contact: it holds the e-mail address {cell.strip()!r}. Add a header row.")


def unique_columns(header: list[str]) -> list[str]:
    """Column names, stripped, blank ones named, repeated ones numbered."""
    columns: list[str] = []
    for index, raw in enumerate(header, start=1):
        name = raw.strip() or f"Column {index}"
        base, n = name, 2
        while name in columns:
            name, n = f"{base} ({n})", n + 1
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
    if len(cell) > 1 and cell[0] == "'" and cell[1] in "=+-@\t\r":
        return cell[1:]
    return cell


def escape(cell: str) -> str:
    """Make a cell inert in a spreadsheet: a leading quote before a formula character."""
    return "'" + cell if cell and cell.startswith(FORMULA_STARTS) else cell


def write_csv(rows: Iterable[list[str]], delimiter: str) -> bytes:
    """Rows as CSV bytes (UTF-8 with BOM, so Excel reads accents right), cells escaped."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow([escape(str(cell)) for cell in row])
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
