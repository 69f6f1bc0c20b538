"""Unknown sources, interests and preferences: created, mapped or ignored through the API,
checked again in place; counts in rows and cells; cancelling; the report for API imports."""

import csv
import io

from gateway.imports import report, service, spool
from gateway.imports.models import Import
from gateway.models import OutgoingMail, Vocabulary
from tests.gateway.imports.conftest import csv_bytes

ROWS = [["email", "language", "source", "interests"],
        ["a@example.com", "nl", "Website", "Sports,Yoga,Chess"],
        ["b@example.com", "nl", "website", "Yoga"],
        ["c@example.com", "nl", "Expo", "music"],
        ["nope", "nl", "Website", "music"]]


def test_unknown_labels_are_listed_then_fixed_in_place(importer, tenant):
    imp = importer.validate(csv_bytes(ROWS))
    counts = imp["counts"]
    assert counts["valid"] == 0 and counts["failed"] == 4
    unknown = {(u["kind"], u["value"]): (u["rows"], u["suggestion"])
               for u in imp["unknown_values"]}
    assert unknown == {("interest", "Yoga"): (2, None), ("interest", "Chess"): (1, None),
                       ("interest", "music"): (2, "Music"), ("source", "website"): (1, "Website"),
                       ("source", "Expo"): (1, None)}
    # rows and cells counted apart: row 2 holds two unknown interests
    reasons = {r["code"]: (r["rows"], r["cells"]) for r in report.reason_counts(imp["id"])}
    assert reasons["unknown_interest"] == (4, 5)
    assert imp["counts"]["failed_by_reason"]["unknown_interest"] == 4

    bad = importer.put(imp["id"], "fixes", {"fixes": [
        {"kind": "interest", "value": "Yoga", "action": "map", "to": "Pilates"}]})
    assert bad.status_code == 422 and "Pilates" in bad.text
    r = importer.put(imp["id"], "fixes", {"fixes": [
        {"kind": "interest", "value": "Yoga", "action": "create"},
        {"kind": "interest", "value": "Chess", "action": "ignore"},
        {"kind": "interest", "value": "music", "action": "map", "to": "Music"},
        {"kind": "source", "value": "website", "action": "map", "to": "Website"},
        {"kind": "source", "value": "Expo", "action": "ignore"}]})
    assert r.status_code == 200, r.text
    assert r.json()["step"] == "validating"  # checked again: no new upload
    importer.run_jobs()
    imp = importer.get(imp["id"])
    assert imp["counts"]["valid"] == 3 and imp["counts"]["failed"] == 1
    assert imp["unknown_values"] == [] and len(imp["fixes"]) == 5
    assert Vocabulary.get_or_none(Vocabulary.account == tenant.id,
                                  Vocabulary.name == "Yoga") is not None
    # the one failing row (a bad address) comes back with the chosen fix applied
    rows = list(csv.reader(io.StringIO(importer.errors_csv(imp["id"]))))
    assert rows[1][:4] == ["nope", "nl", "Website", "Music"] and rows[1][4] == "5"
    done = importer.finalise(imp["id"], {"source": "Fair"})
    assert done["counts"]["created"] == 3
    assert importer.contact("a@example.com")["interests"] == ["Sports", "Yoga"]
    assert importer.contact("b@example.com")["source"] == "Website"
    assert importer.contact("c@example.com")["source"] == "Fair"  # ignored: the fallback
    assert importer.contact("c@example.com")["interests"] == ["Music"]


def test_existing_contacts_that_would_not_change_are_counted_apart(importer):
    first = [["email", "language", "source"], ["a@example.com", "nl", "Website"],
             ["b@example.com", "nl", "Website"]]
    importer.run(csv_bytes(first))
    again = [["email", "language", "source"], ["a@example.com", "nl", "Website"],
             ["b@example.com", "fr", "Website"], ["c@example.com", "nl", "Website"]]
    counts = importer.validate(csv_bytes(again))["counts"]
    assert (counts["new"], counts["existing"], counts["existing_unchanged"]) == (1, 2, 1)


def test_an_abandoned_import_is_cancelled_with_its_file(importer, client, tenant):
    imp = importer.upload(csv_bytes(ROWS)).json()
    path = spool.file_path(Import.get_by_id(imp["id"]))
    assert path.exists()
    r = client.delete(f"/api/imports/{imp['id']}", headers=tenant.headers)
    assert r.status_code == 204 and not path.exists()
    assert client.get(f"/api/imports/{imp['id']}", headers=tenant.headers).status_code == 404
    done = importer.run(csv_bytes([["email", "language", "source"],
                                   ["x@example.com", "nl", "Website"]]))
    r = client.delete(f"/api/imports/{done['id']}", headers=tenant.headers)
    assert r.status_code == 409


def test_imports_of_the_same_file_name_get_distinct_names(importer, tenant):
    for _ in range(2):
        importer.upload(csv_bytes(ROWS), name="people.csv")
    names = [(i["name"], i["step_name"]) for i in service.list_imports(tenant.id)]
    assert names == [("people.csv (2)", "Choose the columns"),
                     ("people.csv", "Choose the columns")]


def test_api_imports_mail_their_report_to_the_first_user_unless_told_not_to(importer, tenant):
    from gateway.auth import create_user
    create_user(tenant.id, "owner@acme.example.com", "correct horse battery")
    rows = csv_bytes([["email", "language", "source"], ["a@example.com", "nl", "Website"]])
    imp = importer.run(rows)
    assert imp["notify"] == "owner@acme.example.com"
    quiet = importer.run(rows, notify="false")
    assert quiet["notify"] is None
    r = importer.client.post("/api/imports", headers=tenant.headers, json={
        "contacts": [{"email": "j@example.com", "language": "nl", "source": "Website"}],
        "notify": False})
    assert r.json()["notify"] is None
    reports = OutgoingMail.select().where(OutgoingMail.purpose == "import-report")
    assert [m.to for m in reports] == ["owner@acme.example.com"]
    # Settings → "Reports and alerts to": the next API import's report goes there
    from gateway.accounts import update_profile
    update_profile(tenant.id, {"notification_email": "team@acme.example.com"})
    assert importer.run(rows)["notify"] == "team@acme.example.com"
    assert [m.to for m in reports.order_by(OutgoingMail.id)] == [
        "owner@acme.example.com", "team@acme.example.com"]


def test_the_report_mail_text_is_not_html_escaped(importer, tenant):
    from gateway.models import Account
    # report_language: the report is in English (else the account's first language, Dutch)
    Account.update(name="O'Brien & Co", report_language="en").where(
        Account.id == tenant.id).execute()
    rows = csv_bytes([["email", "language"], ["a@example.com", ""], ["b@example.com", "nl"]])
    imp = importer.validate(rows, notify="boss@example.com", welcome="true")
    importer.finalise(imp["id"], {"language": "en", "source": "Website"})
    mail = OutgoingMail.get(OutgoingMail.purpose == "import-report")
    assert "into O'Brien & Co is finished" in mail.text
    assert "the fallback 'en'" in mail.text and "&#39;" not in mail.text
    assert "O&#39;Brien &amp; Co" in mail.html  # the HTML part stays escaped
    welcome = OutgoingMail.get(OutgoingMail.purpose == f"welcome:import:{imp['id']}")
    assert "mailing list of O'Brien & Co." in welcome.text


def test_the_fixes_are_in_the_openapi_document(client):
    doc = client.get("/api/openapi.json").json()
    assert "put" in doc["paths"]["/api/imports/{import_id}/fixes"]
    assert "delete" in doc["paths"]["/api/imports/{import_id}"]
    assert doc["components"]["schemas"]["ImportFix"]["properties"]["action"]["enum"] == [
        "create", "map", "ignore"]


def test_the_imports_list_says_ready_only_when_no_row_fails(importer, tenant):
    from gateway.imports.service import list_imports
    good = csv_bytes([["email", "language", "source"], ["a@example.com", "nl", "Website"]])
    mixed = csv_bytes([["email", "language", "source"], ["b@example.com", "nl", "Website"],
                       ["not-an-address", "nl", "Website"], ["c@example.com", "nl", "Website"]])
    clean, failing = importer.validate(good), importer.validate(mixed)
    names = {i["id"]: i["step_name"] for i in list_imports(tenant.id)}
    assert names[clean["id"]] == "Review: ready to import"
    assert names[failing["id"]] == "Review: 2 of 3 rows can be imported"
