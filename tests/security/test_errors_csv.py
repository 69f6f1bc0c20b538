"""errors.csv is safe to open in a spreadsheet: no cell starts a formula (CSV injection)."""

import csv
import io

import pytest

from tests.security.conftest import sqlite_only

pytestmark = sqlite_only

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+cmd|' /C calc'!A0",
            "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1", "=cmd|' /C notepad'!'A1'",
            # the full-width forms, which spreadsheets read as the ASCII ones
            "\uff1dHYPERLINK(\"http://evil.example\")", "\uff0b1+1", "\uff0d2+3",
            "\uff20SUM(A1:A2)"]


def _dangerous(cell: str) -> bool:
    # OWASP's CSV-injection triggers and their full-width forms
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_error_rows_are_formula_safe(client, tenant, run_jobs, delimiter):
    lines = [delimiter.join(["email", "first_name", "language", "source"])]
    for i, payload in enumerate(FORMULAS):
        quoted = '"' + payload.replace('"', '""') + '"'
        # an invalid e-mail (the payload itself) and an unknown source (the payload again)
        lines.append(delimiter.join([quoted, quoted, "nl", quoted]))
        lines.append(delimiter.join([f"ok{i}@example.com", quoted, "nl", quoted]))
    body = ("\n".join(lines) + "\n").encode()
    r = client.post("/api/imports", headers=tenant.headers,
                    files={"file": ("evil.csv", body, "text/csv")})
    assert r.status_code == 202, r.text
    import_id = r.json()["id"]
    client.put(f"/api/imports/{import_id}/mapping", headers=tenant.headers, json={"mapping": {
        "email": "email", "first_name": "first_name", "language": "language",
        "source": "source"}}).raise_for_status()
    client.put(f"/api/imports/{import_id}/consent", headers=tenant.headers,
               json={"obtained_rightfully": True}).raise_for_status()
    run_jobs()
    r = client.get(f"/api/imports/{import_id}/errors.csv", headers=tenant.headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers.get("content-disposition", "")
    text = r.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    assert rows[0][-3:] == ["row", "reason", "suggested fix"]
    assert len(rows) == 1 + 2 * len(FORMULAS)  # every failing row is there
    for row in rows[1:]:
        for cell in row:
            assert not _dangerous(cell), (cell, row)
    # the payloads are still recognisable (escaped, not dropped), so the user can fix them
    assert any(cell.startswith("'=HYPERLINK") for row in rows for cell in row)


@pytest.mark.parametrize("delimiter,other", [(",", ";"), (";", ",")])
def test_a_cell_holding_the_other_separator_stays_one_cell(client, tenant, run_jobs, delimiter,
                                                           other):
    """A cell holding the other separator is quoted, so a spreadsheet guessing the separator
    from the first lines (or set to the other one) sees it as text, not as a cell boundary."""
    value = f"Sports{other}=cmd|' /C calc'!A0"
    body = (delimiter.join(["email", "first_name", "language", "source"]) + "\n"
            + delimiter.join(["not-an-address", f'"{value}"', "nl", "Website"]) + "\n").encode()
    r = client.post("/api/imports", headers=tenant.headers,
                    files={"file": ("evil.csv", body, "text/csv")})
    assert r.status_code == 202, r.text
    import_id = r.json()["id"]
    client.put(f"/api/imports/{import_id}/consent", headers=tenant.headers,
               json={"obtained_rightfully": True}).raise_for_status()
    run_jobs()
    text = client.get(f"/api/imports/{import_id}/errors.csv",
                      headers=tenant.headers).content.decode("utf-8-sig")
    assert text.splitlines()[1].split(delimiter)[1] == f'"{value}"'
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    assert rows[1][1] == value and len(rows[1]) == 7
