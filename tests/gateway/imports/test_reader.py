"""File rules of an import: encodings, separators, header, size and row limits, cell escaping."""

import pytest

from gateway.imports import reader
from tests.gateway.imports.conftest import csv_bytes


def stored(tmp_path, data: bytes, **limits):
    dest = tmp_path / "f.csv"
    size, encoding = reader.store([data[i:i + 7] for i in range(0, len(data), 7)], dest,
                                  limits.get("max_bytes"))
    return dest, size, encoding


def read_all(tmp_path, data: bytes):
    dest, _, encoding = stored(tmp_path, data)
    delimiter, columns, rows = reader.inspect(dest, encoding)
    return delimiter, columns, rows, [cells for _, cells in
                                      reader.iter_records(dest, encoding, delimiter)]


@pytest.mark.parametrize("encoding,bom,expected", [("utf-8", False, "utf-8"),
                                                   ("utf-8", True, "utf-8-sig"),
                                                   ("cp1252", False, "cp1252")])
def test_utf8_with_or_without_bom_and_windows_1252_read_right(tmp_path, encoding, bom,
                                                              expected):
    data = csv_bytes([["E-mail", "Prénom"], ["zoë@example.com", "Zoë – Anaïs €"]],
                     encoding=encoding, bom=bom)
    _, _, encoding_found = stored(tmp_path, data)
    assert encoding_found == expected
    _, columns, rows, records = read_all(tmp_path, data)
    assert columns == ["E-mail", "Prénom"]
    assert rows == 1
    assert records == [["zoë@example.com", "Zoë – Anaïs €"]]


def test_semicolon_detected_and_quoted_multi_value_cells_kept_whole(tmp_path):
    data = b'email;interests;note\r\nann@example.com;"Sports,Music";"a; b, c"\r\n'
    delimiter, columns, rows, records = read_all(tmp_path, data)
    assert delimiter == ";"
    assert columns == ["email", "interests", "note"]
    assert records == [["ann@example.com", "Sports,Music", "a; b, c"]]


def test_comma_wins_when_semicolons_only_sit_inside_quotes(tmp_path):
    data = b'email,"a;b;c"\nann@example.com,x\n'
    assert read_all(tmp_path, data)[0] == ","


def test_a_single_column_file_and_blank_lines_are_fine(tmp_path):
    data = b"email\n\nann@example.com\n\n\nbob@example.com\n"
    _, columns, rows, records = read_all(tmp_path, data)
    assert columns == ["email"] and rows == 2
    assert records == [["ann@example.com"], ["bob@example.com"]]


def test_a_first_row_holding_an_address_is_refused(tmp_path):
    with pytest.raises(reader.FileRuleBroken) as exc:
        read_all(tmp_path, b"ann@example.com,Ann\nbob@example.com,Bob\n")
    assert exc.value.code == "missing_header"
    assert "header" in exc.value.message and "ann@example.com" in exc.value.message


def test_an_empty_file_has_no_header(tmp_path):
    with pytest.raises(reader.FileRuleBroken) as exc:
        read_all(tmp_path, b"")
    assert exc.value.code == "missing_header"


def test_a_header_without_rows_is_refused(tmp_path):
    with pytest.raises(reader.FileRuleBroken) as exc:
        read_all(tmp_path, b"email;name\r\n\r\n")
    assert exc.value.code == "no_rows" and "no contacts" in exc.value.message


def test_tabs_are_not_a_separator(tmp_path):
    with pytest.raises(reader.FileRuleBroken) as exc:
        read_all(tmp_path, b"email\tname\nann@example.com\tAnn\n")
    assert exc.value.code == "unsupported_separator"


def test_size_limit_is_enforced_while_storing_and_leaves_no_file(tmp_path):
    data = csv_bytes([["email"]] + [[f"u{i}@example.com"] for i in range(100)])
    with pytest.raises(reader.FileTooLarge) as exc:
        stored(tmp_path, data, max_bytes=500)
    assert exc.value.status == 413
    assert "split the file into several imports" in exc.value.message.lower()
    assert not (tmp_path / "f.csv").exists()


def test_row_limit_says_to_split(tmp_path):
    data = csv_bytes([["email"]] + [[f"u{i}@example.com"] for i in range(10)])
    dest, _, encoding = stored(tmp_path, data)
    assert reader.inspect(dest, encoding, max_rows=11)[2] == 10
    with pytest.raises(reader.TooManyRows) as exc:
        reader.inspect(dest, encoding, max_rows=10)
    assert exc.value.status == 413 and "split the file" in exc.value.message.lower()


def test_only_csv_names(tmp_path):
    assert reader.check_filename("C:\\x/Contacts.CSV") == "Contacts.CSV"
    with pytest.raises(reader.NotCsv) as exc:
        reader.check_filename("contacts.xlsx")
    assert exc.value.status == 415 and ".csv" in exc.value.message


def test_blank_and_repeated_header_names_are_made_unique():
    assert reader.unique_columns([" email ", "", "Name", "Name"]) == [
        "email", "Column 2", "Name", "Name (2)"]


@pytest.mark.parametrize("cell", ["=1+2", "+31 470", "-5", "@SUM(A1)", "\tx", "\rx", "-"])
def test_formula_cells_are_escaped_and_unescaped_on_reimport(cell):
    escaped = reader.escape(cell)
    assert escaped == "'" + cell
    assert reader.unescape(escaped) == cell


def test_plain_cells_are_left_alone():
    for cell in ("Ann", "ann@example.com", "'quoted", ""):
        assert reader.escape(cell) == cell
        assert reader.unescape(cell) == cell


def test_write_csv_uses_the_separator_and_a_bom(tmp_path):
    data = reader.write_csv([["email", "reason"], ["=cmd", "a; b"]], ";")
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig") == "email;reason\r\n'=cmd;\"a; b\"\r\n"


# ---- hardening (issue 14): columns, binary files, file names, spreadsheet-safe cells --------

def test_a_header_of_40000_columns_is_refused_fast_naming_the_limit(tmp_path):
    import time
    data = (",".join(f"c{i}" for i in range(40_000)) + "\r\n" + "a@example.com\r\n").encode()
    dest, _, encoding = stored(tmp_path, data)
    started = time.monotonic()
    with pytest.raises(reader.FileRuleBroken) as exc:
        reader.inspect(dest, encoding)
    assert time.monotonic() - started < 2
    assert exc.value.status == 422 and exc.value.code == "too_many_columns"
    assert "at most 500 columns" in exc.value.message and "40,000" in exc.value.message


def test_500_columns_are_fine():
    header = [f"c{i}" for i in range(reader.MAX_COLUMNS)]
    assert reader.unique_columns(header) == header


def test_header_names_are_made_unique_in_linear_time():
    import time
    started = time.monotonic()
    columns = reader.unique_columns(["Name"] * 40_000)
    assert time.monotonic() - started < 1  # the quadratic version took ~17 s
    assert columns[:3] == ["Name", "Name (2)", "Name (3)"] and len(set(columns)) == 40_000


@pytest.mark.parametrize("header,expected", [
    (["a", "a", "a (2)"], ["a", "a (2)", "a (2) (2)"]),
    (["a (2)", "a", "a"], ["a (2)", "a", "a (3)"]),
    (["a", "a (3)", "a", "a", "a"], ["a", "a (3)", "a (2)", "a (4)", "a (5)"]),
    (["", "Column 1", ""], ["Column 1", "Column 1 (2)", "Column 3"]),
])
def test_repeated_names_never_collide_with_given_ones(header, expected):
    assert reader.unique_columns(header) == expected


def _zip(name: str) -> bytes:
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        # a fixed date: pytest-xdist workers must collect byte-identical parameters
        z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)),
                   "email\r\na@example.com\r\n")
    return buffer.getvalue()


@pytest.mark.parametrize("data,what", [
    (_zip("contacts.csv"), "ZIP archive"),
    (_zip("[Content_Types].xml"), "Excel workbook (.xlsx)"),
    (_zip("xl/workbook.xml"), "Excel workbook (.xlsx)"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF document"),
    (b"\x1f\x8b\x08\x00" + b"x" * 40, "gzip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "Excel 97-2003 workbook"),
    (b"email\r\na@example.com\x00\r\n", "NUL bytes"),
    ("email\r\na@example.com\r\n".encode("utf-16"), "NUL bytes"),
    (b"email\r\n" + b"a@example.com\r\n" * 60 + b"\x00", "NUL bytes"),  # still in the first KB
])
def test_binary_files_renamed_csv_are_refused_and_leave_no_file(tmp_path, data, what):
    with pytest.raises(reader.NotCsvText) as exc:
        stored(tmp_path, data)
    assert exc.value.status == 415 and exc.value.code == "not_csv_text"
    assert exc.value.message.startswith("This is not a CSV text file")
    assert what in exc.value.message and "save it as CSV" in exc.value.message
    assert not list(tmp_path.iterdir())


def test_a_nul_after_the_first_kilobyte_is_a_cell_for_validation(tmp_path):
    data = b"email,note\r\n" + b"a@example.com," + b"x" * 1100 + b"\r\nb@example.com,\x00\r\n"
    _, _, rows, records = read_all(tmp_path, data)
    assert rows == 2 and records[1] == ["b@example.com", "\x00"]


def test_long_file_names_are_shortened_keeping_csv_and_control_characters_dropped():
    name = reader.check_filename("a" * 300 + ".CSV")
    assert len(name) == reader.MAX_FILENAME and name.endswith("a.CSV")
    assert reader.check_filename("Eve\r\nBcc: x\x00.csv") == "EveBcc: x.csv"
    with pytest.raises(reader.NotCsv):
        reader.check_filename("x.csv\x00.exe")


@pytest.mark.parametrize("cell", ["\uff1dcmd|' /C calc'!A0", "\uff0b1", "\uff0d1",
                                  "\uff20SUM(A1)"])
def test_full_width_formula_starts_are_escaped_and_unescaped_on_reimport(cell):
    assert reader.escape(cell) == "'" + cell
    assert reader.unescape(reader.escape(cell)) == cell


@pytest.mark.parametrize("delimiter,other", [(",", ";"), (";", ",")])
def test_a_cell_holding_the_other_separator_is_quoted(delimiter, other):
    text = reader.write_csv([["a", f"x{other}y", 'say "hi"', "two\nlines"]],
                            delimiter).decode("utf-8-sig")
    assert text == delimiter.join(["a", f'"x{other}y"', '"say ""hi"""', '"two\nlines"']) \
        + "\r\n"
