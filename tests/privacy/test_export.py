"""Export: the list's filters, CSV and JSON Lines, formula-safe cells, and a round trip
through the real import."""

from __future__ import annotations

import csv
import io
import json

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
