"""Erasure: after it the address is in no table, no file under INLET_DATA_DIR and no SQLite
page (db and WAL read as raw bytes), and a blacklisted-then-erased address is refused as
suppressed by every inbound path."""

from __future__ import annotations

from pathlib import Path

from gateway.db import db
from gateway.schema import all_models
from tests.gateway.imports.conftest import csv_bytes

EMAIL = "zoe.erase@example.com"
KEEP = "kim.keep@example.com"
HEADER = ["email", "first_name", "language", "source"]


def _tables_holding(needle: str) -> list[str]:
    """Every table with a row whose text (all columns) holds ``needle``, any case."""
    found = []
    for model in all_models():
        table = model._meta.table_name
        for row in db.execute_sql(f'SELECT * FROM "{table}"').fetchall():
            if needle in " ".join(str(value) for value in row).lower():
                found.append(table)
                break
    return found


def _files_holding(needle: str, *roots: Path) -> list[str]:
    """Every file under ``roots`` whose raw bytes hold ``needle`` (any case)."""
    return sorted(str(path) for root in roots for path in root.rglob("*")
                  if path.is_file() and needle.encode() in path.read_bytes().lower())


def _roots(settings) -> list[Path]:
    roots = [Path(settings.data_dir)]
    if settings.database_url.startswith("sqlite:///"):
        roots.append(Path(settings.database_url.removeprefix("sqlite:///")).parent)
    return roots


def _bring_in(client, tenant, importer, hooks, make_form, visitor, run_jobs) -> dict:
    """The address arrives by a form, a hook and an import (with a welcome mail)."""
    form = make_form()
    assert visitor(form, {"email": EMAIL, "first_name": "Zoe"}).status_code < 400
    run_jobs()
    hook, secret = hooks.create(auth="bearer")
    path = hook["url"].removeprefix("http://testserver")
    for email in (EMAIL.upper(), KEEP):
        r = client.post(path, json={"email": email, "first_name": "Zed"},
                        headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 202
    for _ in range(3):
        run_jobs()
    imp = importer.run(csv_bytes([HEADER, [EMAIL, "Zoe", "nl", "Website"],
                                  [KEEP, "Kim", "nl", "Website"],
                                  [EMAIL, "Twice", "nl", "Website"]]), welcome="true")
    assert imp["step"] == "done", imp
    return {"form": form, "hook": (path, secret), "import": imp}


def test_access_document_then_erasure_leaves_nothing(client, tenant, importer, hooks,
                                                     make_form, visitor, run_jobs, settings):
    came = _bring_in(client, tenant, importer, hooks, make_form, visitor, run_jobs)
    contact = importer.contact(EMAIL)
    doc = client.get(f"/api/contacts/{contact['id']}/data", headers=tenant.headers).json()
    assert doc["contact"]["email"] == EMAIL
    assert {c["channel"] for c in doc["consents"]} == {"form"}
    assert {h["channel"] for h in doc["history"]} >= {"form", "connector", "import"}
    assert doc["confirmation_links"] and doc["mails"]
    assert [d["payload"]["email"] for d in doc["hook_deliveries"]] == [EMAIL.upper()]
    assert [(r["row"], r["cells"]["first_name"]) for r in doc["import_rows"]] == [
        (2, "Zoe"), (4, "Twice")]
    r = client.post(f"/api/contacts/{contact['id']}/blacklist", headers=tenant.headers,
                    json={"reason": f"{EMAIL} asked us to stop"})
    assert r.status_code == 200
    assert _tables_holding(EMAIL) and _files_holding(EMAIL, *_roots(settings))

    r = client.post(f"/api/contacts/{contact['id']}/erase", headers=tenant.headers)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    run_jobs()
    again = client.post(f"/api/contacts/{contact['id']}/erase", headers=tenant.headers)
    assert again.status_code == 200
    assert again.json() | {"requested_at": None, "done_at": None} == {
        "id": r.json()["id"], "contact_id": contact["id"], "status": "done",
        "suppressed": True, "requested_at": None, "done_at": None}

    assert _tables_holding(EMAIL) == []
    assert _files_holding(EMAIL, *_roots(settings)) == []
    assert client.get(f"/api/contacts/{contact['id']}",
                      headers=tenant.headers).status_code == 404
    # the others stay: their contact, their import row and its error file
    assert importer.contact(KEEP)["first_name"] == "Kim"
    assert EMAIL not in importer.errors_csv(came["import"]["id"]).lower()
    assert _files_holding(KEEP, Path(settings.data_dir) / "imports")


def test_a_suppressed_address_is_refused_everywhere(client, tenant, importer, hooks,
                                                    make_form, visitor, run_jobs):
    came = _bring_in(client, tenant, importer, hooks, make_form, visitor, run_jobs)
    contact = importer.contact(EMAIL)
    client.post(f"/api/contacts/{contact['id']}/blacklist", headers=tenant.headers)
    client.post(f"/api/contacts/{contact['id']}/erase", headers=tenant.headers)
    run_jobs()

    r = client.post("/api/contacts", headers=tenant.headers,
                    json={"email": EMAIL.upper(), "language": "nl", "source": "Website"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "suppressed"
    assert EMAIL not in r.text.lower()
    imp = importer.validate(csv_bytes([HEADER, [EMAIL, "Zoe", "nl", "Website"],
                                       ["new@example.com", "New", "nl", "Website"]]))
    assert imp["counts"]["failed"] == 1 and imp["counts"]["valid"] == 1, imp["counts"]
    assert "suppressed" in importer.errors_csv(imp["id"])
    done = importer.finalise(imp["id"])
    assert done["counts"]["created"] == 1
    path, secret = came["hook"]
    assert client.post(path, json={"email": EMAIL}, headers={
        "Authorization": f"Bearer {secret}"}).status_code == 202
    visitor(came["form"], {"email": EMAIL, "first_name": "Zoe"})
    for _ in range(3):
        run_jobs()
    assert importer.contact(EMAIL) is None
    dead = client.get(f"/api/hooks/{path.rsplit('/', 1)[-1]}/dead-letters",
                      headers=tenant.headers)
    assert dead.status_code == 200 and "suppressed" in dead.text, dead.text
    # an address erased without a blacklisting may come back
    kim = importer.contact(KEEP)
    client.post(f"/api/contacts/{kim['id']}/erase", headers=tenant.headers)
    run_jobs()
    r = client.post("/api/contacts", headers=tenant.headers,
                    json={"email": KEEP, "language": "nl", "source": "Website"})
    assert r.status_code == 201, r.text
