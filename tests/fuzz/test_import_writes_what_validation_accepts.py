"""What validation accepts, finalise writes (issue 14 #3), on SQLite and PostgreSQL.

Hypothesis builds CSV files of hostile cells (NUL and other control characters, CR/LF inside
quotes, any unicode but lone surrogates, strings past every length limit, NaN / 1e999 /
4,000-digit numbers in a number field) and runs each through the whole import. Every row
validation accepts must be written by finalise (the import ends ``done``, never failed or
stuck), every refused row is reported, and the account's contacts, the import and its
errors.csv all read back with 200.
"""

from __future__ import annotations

import csv
import io
import itertools

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.errors import InletError

HEADER = ["email", "first_name", "name", "language", "source", "interests", "score", "notes"]
# Past the first KB (where binary files are told apart): the NUL bytes below reach validation.
PAD_ROW = ["pad@example.com", "Pad", "", "nl", "Website", "", "", "p" * 1000]
NUMBERS = ["NaN", "nan", "inf", "-Infinity", "1e999", "-1e308", "1e400", "9" * 4000, "1,5",
           "-0", "2e15", "1e16", "²", "0x10"]
HOSTILE = ["\x00", "a\x00b", "\r\n", "x\ry", "two\nlines", "\x1b[31m", "\x7f", "\x85",
           "\u2028", "\u202e", "\ufeff", "\t", "=1+1", "\uff1dcmd", "'=x", ".", "-", " ",
           "x" * 201, "y" * 1001, "Sports,\x00Music", "Sports, Music", "Website", "NL", "fr"]
cells = st.one_of(
    st.sampled_from(HOSTILE + NUMBERS),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=12),  # NUL, C0, C1, anything
    st.builds(lambda c, n: c * n, st.characters(exclude_categories=["Cs"]),
              st.integers(195, 1010)),  # around the 200 and 1,000 character limits
)
_serial = itertools.count()


def mostly(*valid: str):
    """A column's cells: four times in five a value its field takes, else a hostile one (so
    that a good share of rows pass validation and reach finalise)."""
    return st.integers(0, 4).flatmap(lambda n: cells if n == 0 else st.sampled_from(valid))


COLUMNS = [mostly("Ann", "Zoë", ""), mostly("Peeters", ""), mostly("nl", "FR", " en ", ""),
           mostly("Website", "Fair", ""), mostly("", "Sports", "Sports,Music", "Music , Sports"),
           mostly("", "1", "-2.5", "3,25", "1e3"), mostly("", "a note")]  # HEADER[1:]


@st.composite
def csv_files(draw) -> bytes:
    """A file of HEADER, the padding row and a few rows of hostile cells."""
    delimiter = draw(st.sampled_from([",", ";"]))
    rows = [HEADER, PAD_ROW]
    for _ in range(draw(st.integers(1, 4))):
        email = draw(mostly(f"r{next(_serial)}@example.com"))
        rows.append([email, *(draw(column) for column in COLUMNS)])
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def run_import(account_id: int, data: bytes) -> dict:
    """Upload, consent, validate, fallbacks, finalise: in this process, as the CLI runs it."""
    from gateway.imports import service
    imp = service.create_from_upload(account_id, "hostile.csv", [data])
    service.set_consent(account_id, imp.id, True, actor="fuzz")
    state = service.run_now(account_id, imp.id)
    if state["step"] == "fallbacks":
        service.set_fallbacks(account_id, imp.id, {"language": "nl", "source": "Website"})
    service.finalise(account_id, imp.id)
    return service.run_now(account_id, imp.id)


def accepted_emails(import_id: int, data: bytes) -> set[str]:
    """The addresses of the rows validation accepted (no error row), as normalised."""
    from gateway.imports import jobs
    from gateway.imports.models import Import, ImportRowError
    from gateway.imports.reader import iter_records
    from gateway.validation import normalise_email
    imp = Import.get_by_id(import_id)
    refused = {e.record for e in ImportRowError.select().where(ImportRowError.imp == import_id)}
    return {normalise_email(cells[0])[0]
            for record, cells in iter_records(jobs.file_path(imp), imp.encoding, imp.delimiter)
            if record not in refused}


FUZZ = settings(max_examples=15, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.mark.timeout(120)
@FUZZ
@given(data=csv_files())
def test_every_row_validation_accepts_is_written_and_reads_back(store, client, data):
    from gateway.accounts import add_custom_field
    from tests.conftest import make_tenant
    tenant = make_tenant(f"Fuzz {next(_serial)}")
    add_custom_field(tenant.id, {"name": "score", "type": "number"})
    add_custom_field(tenant.id, {"name": "notes", "type": "text"})
    try:
        state = run_import(tenant.id, data)
    except InletError as exc:  # a file rule: a clear 4xx
        event("file refused")
        assert 400 <= exc.status < 500 and exc.message
        return
    assert state["step"] == "done", state  # not failed, not stuck finalising
    accepted = accepted_emails(state["id"], data)
    r = client.get("/api/contacts", params={"limit": 500}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    stored = {c["email"] for c in r.json()["items"]}
    assert stored == accepted, (stored ^ accepted, state["counts"])
    event(f"rows written: {len(stored)}")
    for contact in r.json()["items"]:
        assert client.get(f"/api/contacts/{contact['id']}",
                          headers=tenant.headers).status_code == 200
    assert client.get(f"/api/imports/{state['id']}", headers=tenant.headers).status_code == 200
    assert client.get(f"/api/imports/{state['id']}/errors.csv",
                      headers=tenant.headers).status_code == 200
