"""Export: the list's filters, CSV and JSON Lines, formula-safe cells, and a round trip
through the real import."""

from __future__ import annotations

import csv
import io
import json
import threading
import time

from gateway.contact_listing import Filters
from gateway.db import db
from privacy import export
from tests.gateway.imports.conftest import csv_bytes


def _add(client, tenant, email, **fields):
    body = {"email": email, "language": "nl", "source": "Website", **fields}
    r = client.post("/api/contacts", json=body, headers=tenant.headers)
    assert r.status_code == 201, r.text
    return r.json()


def _field(client, tenant, name, type_, choices=()):
    r = client.post("/api/custom-fields", json={"name": name, "type": type_,
                                                "choices": list(choices)},
                    headers=tenant.headers)
    assert r.status_code == 201, r.text


def _export(client, tenant, **params) -> str:
    r = client.get("/api/contacts/export", params=params, headers=tenant.headers)
    assert r.status_code == 200, r.text
    return r.content.decode("utf-8")


def test_export_applies_the_list_filters_and_formats(client, tenant, other_tenant):
    _add(client, tenant, "ann@example.com", first_name="=HYPERLINK(1)",
         interests=["Sports", "Music"])
    _add(client, tenant, "bob@example.com", source="Fair", status="unconfirmed")
    _add(other_tenant and client, other_tenant, "eve@example.com")
    text = _export(client, tenant)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:7] == ["email", "first_name", "name", "language", "source",
                           "preferences", "interests"]
    assert {r[0] for r in rows[1:]} == {"ann@example.com", "bob@example.com"}
    ann = next(r for r in rows if r[0] == "ann@example.com")
    assert ann[1] == "'=HYPERLINK(1)"  # a spreadsheet shows it, does not run it
    assert ann[6] == "Sports,Music" and '"Sports,Music"' in text
    only = _export(client, tenant, source="Fair", delimiter=";", bom="1")
    assert only.startswith("\ufeff") and "bob@example.com" in only
    assert "ann@example.com" not in only and '"email";"first_name"' in only
    lines = _export(client, tenant, format="jsonl", status="confirmed").splitlines()
    assert [json.loads(line)["email"] for line in lines] == ["ann@example.com"]
    assert json.loads(lines[0])["interests"] == ["Sports", "Music"]
    bad = client.get("/api/contacts/export", params={"status": "gone"}, headers=tenant.headers)
    assert bad.status_code == 400
    assert client.get("/api/contacts/export").status_code == 401


def test_an_exported_file_imports_back_unchanged(client, tenant, importer):
    _field(client, tenant, "size", "number")
    _field(client, tenant, "since", "date")
    _field(client, tenant, "vip", "boolean")
    _field(client, tenant, "colours", "multiple_choice", ["red", "green", "blue"])
    _field(client, tenant, "note", "text")
    for label in ("+Plus", 'Say "hi"', "Back\\slash"):  # the slow paths of label lists
        assert client.post("/api/preferences", json={"name": label},
                           headers=tenant.headers).status_code == 201
    _add(client, tenant, "ann@example.com", first_name="Ann", name="Dé Smet; jr",
         preferences=["Weekly", "+Plus"], interests=["Sports", "Music"],
         custom_fields={"size": 42.5, "since": "2018-08-25", "vip": True,
                        "colours": ["red", "blue"], "note": "-minus, \"quoted\"\nline"})
    _add(client, tenant, "bob@example.com", first_name="+Bob", language="fr",
         preferences=['Say "hi"', "Back\\slash", "Monthly"],
         custom_fields={"vip": False, "size": -3})
    before = client.get("/api/contacts", headers=tenant.headers).json()["items"]
    for delimiter in (",", ";"):
        exported = client.get("/api/contacts/export", params={"delimiter": delimiter,
                                                              "bom": "1"},
                              headers=tenant.headers).content
        current = client.get("/api/contacts", headers=tenant.headers).json()["items"]
        for contact in current:  # start from an empty store: the import creates them again
            r = client.delete(f"/api/contacts/{contact['id']}", headers=tenant.headers)
            assert r.status_code == 204, r.text
        imp = importer.run(exported)
        assert imp["counts"]["created"] == 2, imp
        after = client.get("/api/contacts", headers=tenant.headers).json()["items"]
        keep = ("email", "first_name", "name", "language", "source", "status", "preferences",
                "interests", "custom_fields")
        assert ([{k: c[k] for k in keep} for c in after]
                == [{k: c[k] for k in keep} for c in before])
    assert csv_bytes  # the helper module is shared with the import tests


def test_the_csv_is_what_the_csv_module_writes_every_cell_quoted(client, tenant):
    _field(client, tenant, "note", "text")
    _add(client, tenant, "ann@example.com", first_name='Ann "A"', interests=["Sports"],
         custom_fields={"note": 'two\r\nlines, "quoted"'})
    _add(client, tenant, "bob@example.com")  # no first name, no note: empty cells, quoted
    _add(client, tenant, "cid@example.com", first_name="\uff20home", name="@x",
         custom_fields={"note": "-1"})
    for delimiter in (",", ";"):
        text = _export(client, tenant, delimiter=delimiter)
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        again = io.StringIO()
        csv.writer(again, delimiter=delimiter, quoting=csv.QUOTE_ALL,
                   lineterminator="\r\n").writerows(rows)
        assert text == again.getvalue()  # CRLF after each row (RFC 4180), byte for byte
        assert rows[1][1] == 'Ann "A"' and rows[1][7] == 'two\r\nlines, "quoted"'
        assert rows[2][1] == "" and f'{delimiter}""{delimiter}' in text
        assert rows[3][1:3] == ["'\uff20home", "'@x"] and rows[3][7] == "'-1"  # guarded


def test_the_export_follows_every_filter_of_the_list(client, tenant, importer):
    _add(client, tenant, "ann@example.com", interests=["Sports"], preferences=["Weekly"])
    _add(client, tenant, "bob@example.com", language="fr", source="Fair", status="unconfirmed")
    _add(client, tenant, "cid@example.com", first_name="Cid", interests=["Music"])
    imp = importer.run(csv_bytes([["email", "language", "source"],
                                  ["dee@example.com", "nl", "Website"]]))
    cid = client.get("/api/contacts", params={"email": "cid@example.com"},
                     headers=tenant.headers).json()["items"][0]
    for params in ({"status": "unconfirmed"}, {"source": "Fair"}, {"language": "fr"},
                   {"interest": "Sports"}, {"preference": "Weekly"}, {"q": "cid"},
                   {"added_after": cid["created_at"]}, {"added_before": cid["created_at"]},
                   {"import": imp["id"]}, {}, {"sort": "-created_at"}):
        listed = client.get("/api/contacts", params={"sort": "created_at", "limit": 100,
                                                      **params},
                            headers=tenant.headers).json()["items"]
        assert 0 < len(listed) < 4 or not params or "sort" in params, (params, listed)
        for fmt in ("csv", "jsonl"):
            text = _export(client, tenant, format=fmt, **params)
            emails = ([r[0] for r in list(csv.reader(io.StringIO(text)))[1:]] if fmt == "csv"
                      else [json.loads(line)["email"] for line in text.splitlines()])
            assert emails == [c["email"] for c in listed], (params, fmt)


def test_a_download_stopped_early_leaves_its_connection_usable(client, tenant, monkeypatch):
    for n in range(12):
        _add(client, tenant, f"c{n}@example.com")
    monkeypatch.setattr(export, "CHUNK", 1)  # PostgreSQL: a chunk a row
    monkeypatch.setattr(export, "PAGE", 2)  # SQLite: a chunk a page of two rows
    options = export.Options(Filters())
    made = export.chunks(tenant.id, options)  # on this thread's connection
    assert next(made).startswith(b'"email"') and next(made).startswith(b'"c0@')
    made.close()  # a COPY still going is cancelled, its thread waited for
    assert db.execute_sql("SELECT count(*) FROM contact").fetchone()[0] == 12
    streamed = export.produce(tenant.id, options, depth=1)  # on a connection of its own
    assert next(streamed).startswith(b'"email"')
    streamed.close()
    deadline = time.monotonic() + 10
    while any(t.name == "inlet-export" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the export thread did not stop"
        time.sleep(0.05)
