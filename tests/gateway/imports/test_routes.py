"""The import API end to end (SPEC §4, §7): real store, real Redis queue and worker."""

from tests.gateway.imports.conftest import csv_bytes

HEADER = ["E-mail", "Voornaam", "Naam", "Taal", "Bron", "Interests"]


def test_csv_import_walks_every_step_and_writes_the_contacts(importer, tenant, client):
    data = csv_bytes([HEADER, ["ann@example.com", "Ann", "Peeters", "nl", "Website",
                               "Sports,Music"],
                      ["BOB@example.com", "Bob", "", "fr", "Fair", ""]])
    r = importer.upload(data)
    assert r.status_code == 202, r.text
    imp = r.json()
    assert imp["step"] == "mapping"
    assert imp["columns"] == HEADER
    assert imp["suggested_mapping"] == {"E-mail": "email", "Voornaam": "first_name",
                                        "Naam": "name", "Taal": "language", "Bron": "source",
                                        "Interests": "interests"}
    assert imp["progress"] == {"done": 0, "total": 2}
    assert imp["delimiter"] == ","
    r = importer.put(imp["id"], "consent", {"obtained_rightfully": True})
    assert r.json()["step"] == "validating"
    importer.run_jobs()
    imp = importer.get(imp["id"])
    assert imp["step"] == "ready"
    assert imp["counts"]["valid"] == 2 and imp["counts"]["new"] == 2
    imp = importer.finalise(imp["id"])
    assert imp["step"] == "done"
    assert imp["progress"] == {"done": 2, "total": 2}
    assert imp["counts"]["created"] == 2
    assert imp["report"]["headline"] == "2 new contacts added"
    ann = importer.contact("ann@example.com")
    assert ann["status"] == "confirmed"
    assert ann["interests"] == ["Sports", "Music"]
    assert ann["first_name"] == "Ann" and ann["language"] == "nl"
    assert importer.contact("bob@example.com")["source"] == "Fair"


def test_file_rules_give_4xx_naming_the_rule(importer, client, tenant, monkeypatch):
    r = importer.upload(b"email\nann@example.com\n", name="contacts.xlsx")
    assert r.status_code == 415 and r.json()["error"]["code"] == "not_csv"
    r = importer.upload(b"ann@example.com;Ann\n")
    assert r.status_code == 422 and r.json()["error"]["code"] == "missing_header"
    assert "header" in r.json()["error"]["message"]
    monkeypatch.setattr("gateway.imports.reader.MAX_BYTES", 2000)
    big = csv_bytes([["email"]] + [[f"user{i}@example.com"] for i in range(200)])
    r = importer.upload(big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
    assert "split the file into several imports" in r.json()["error"]["message"].lower()
    monkeypatch.setattr("gateway.imports.reader.MAX_BYTES", 25 * 1024 * 1024)
    monkeypatch.setattr("gateway.imports.reader.MAX_ROWS", 100)
    r = importer.upload(big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_rows"
    assert "split the file" in r.json()["error"]["message"].lower()
    r = client.post("/api/imports", content=b"email\n", headers=tenant.headers | {
        "content-type": "text/csv"})
    assert r.status_code == 415
    r = client.post("/api/imports", data={"x": "1"}, files={"other": ("a.csv", b"email\n")},
                    headers=tenant.headers)
    assert r.status_code == 400 and "'file'" in r.json()["error"]["message"]
    assert client.get("/api/imports", headers=tenant.headers).json()["items"] == []


def test_size_limit_holds_without_a_content_length(importer, client, tenant, monkeypatch):
    monkeypatch.setattr("gateway.imports.reader.MAX_BYTES", 1000)
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"c.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode() \
        + b"email\r\n" + b"someone@example.com\r\n" * 5000 + f"--{boundary}--\r\n".encode()

    def chunks():
        for i in range(0, len(body), 4096):
            yield body[i:i + 4096]
    r = client.post("/api/imports", content=chunks(), headers=tenant.headers | {
        "content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"


def test_another_accounts_import_is_not_found(importer, client, other_tenant):
    imp = importer.upload(csv_bytes([["email"], ["a@example.com"]])).json()
    for method, path in (("get", ""), ("get", "/errors.csv"), ("post", "/finalise")):
        r = getattr(client, method)(f"/api/imports/{imp['id']}{path}",
                                    headers=other_tenant.headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.put(f"/api/imports/{imp['id']}/consent", json={"obtained_rightfully": True},
                   headers=other_tenant.headers)
    assert r.status_code == 404
    assert importer.get(imp["id"])["consent"] is False


def test_scopes(client, store):
    from tests.conftest import make_tenant
    reader_only = make_tenant("Reader", scopes=("contacts:read",))
    r = client.post("/api/imports", files={"file": ("a.csv", b"email\na@example.com\n")},
                    headers=reader_only.headers)
    assert r.status_code == 403
    assert client.get("/api/imports/1", headers=reader_only.headers).status_code == 404
    assert client.get("/api/imports/1").status_code == 401


def test_consent_is_required_and_choices_are_checked(importer, client, tenant):
    imp = importer.upload(csv_bytes([["Mail", "Notes"], ["a@example.com", "x"]])).json()
    assert imp["suggested_mapping"] == {"Mail": "email", "Notes": None}
    r = client.post(f"/api/imports/{imp['id']}/finalise", headers=tenant.headers)
    assert r.status_code == 409 and "consent" in r.json()["error"]["message"]
    r = importer.put(imp["id"], "consent", {"obtained_rightfully": False})
    assert r.status_code == 422 and "consent" in r.json()["error"]["message"]
    r = importer.put(imp["id"], "mapping", {"mapping": {"Mail": "name", "Notes": "zip"}})
    assert r.status_code == 422
    assert {d["code"] for d in r.json()["error"]["details"]} == {"unknown_field"}
    r = importer.put(imp["id"], "mapping", {"mapping": {"Mail": "name"}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "email"
    r = importer.put(imp["id"], "mapping", {"wrong": 1})
    assert r.status_code == 400
    r = importer.put(imp["id"], "mapping", {"mapping": {"Mail": "email", "Notes": None}})
    assert r.status_code == 200 and r.json()["step"] == "consent"
    assert importer.get(imp["id"])["step"] == "consent"
    r = importer.put(imp["id"], "consent", {"obtained_rightfully": True})
    assert r.json()["step"] == "validating" and r.json()["consent"] is True
    r = importer.put(imp["id"], "mapping", {"mapping": {"Mail": "email"}})
    assert r.status_code == 409


def test_the_remembered_mapping_is_offered_next_time(importer):
    data = csv_bytes([["Adres", "Wie"], ["a@example.com", "Ann"]])
    imp = importer.upload(data).json()
    assert imp["suggested_mapping"] == {"Adres": None, "Wie": None}
    importer.put(imp["id"], "mapping", {"mapping": {"Adres": "email", "Wie": "first_name"}})
    again = importer.upload(data).json()
    assert again["suggested_mapping"] == {"Adres": "email", "Wie": "first_name"}
    assert again["mapping"] == again["suggested_mapping"]


def test_changing_the_mapping_after_validation_validates_again(importer):
    data = csv_bytes([["email", "bron", "other"], ["a@example.com", "Nope", "Website"]])
    imp = importer.validate(data)
    assert imp["counts"]["failed_by_reason"] == {"unknown_source": 1}
    r = importer.put(imp["id"], "mapping", {"mapping": {"email": "email", "bron": None,
                                                        "other": "source"}})
    assert r.json()["step"] == "validating"
    importer.run_jobs()
    imp = importer.get(imp["id"])
    assert imp["counts"]["failed"] == 0 and imp["errors"] == []
    assert imp["step"] == "fallbacks" and imp["needs_fallbacks"] == ["language"]


def test_progress_is_visible_while_validating(importer, client, tenant):
    imp = importer.upload(csv_bytes([["email"]] + [[f"u{i}@example.com"]
                                                   for i in range(5)])).json()
    importer.put(imp["id"], "consent", {"obtained_rightfully": True})
    seen = importer.get(imp["id"])
    assert seen["step"] == "validating" and seen["progress"] == {"done": 0, "total": 5}


def test_json_import_runs_the_same_validation_merge_and_report(client, tenant, run_jobs,
                                                               importer):
    body = {"contacts": [
        {"email": "ann@example.com", "first_name": "Ann", "language": "nl",
         "source": "Website", "interests": ["Sports", "Music"]},
        {"email": "bob@example.com", "source": "website"},
        {"email": "ann@example.com", "first_name": "Again"},
        {"email": "cid@example.com", "status": "blacklisted"}],
        "obtained_rightfully": True, "fallbacks": {"language": "fr", "source": "Fair"}}
    r = client.post("/api/imports", json=body, headers=tenant.headers)
    assert r.status_code == 202, r.text
    imp = r.json()
    assert imp["kind"] == "json" and imp["step"] == "validating"
    assert any("status" in w for w in imp["warnings"])
    run_jobs()
    imp = importer.get(imp["id"])
    assert imp["step"] == "ready"
    errors = {e["row"]: e for e in imp["errors"]}
    assert errors[2]["code"] == "unknown_source" and errors[2]["suggestion"] == "Website"
    assert errors[3]["code"] == "duplicate"
    imp = importer.finalise(imp["id"])
    assert imp["counts"]["created"] == 2 and imp["counts"]["failed"] == 2
    assert importer.contact("ann@example.com")["interests"] == ["Sports", "Music"]
    cid = importer.contact("cid@example.com")
    assert (cid["status"], cid["language"], cid["source"]) == ("confirmed", "fr", "Fair")
    assert "errors.csv" in imp["errors_url"]
    assert "bob@example.com" in importer.errors_csv(imp["id"])


def test_json_import_refusals(client, tenant):
    r = client.post("/api/imports", json={"contacts": []}, headers=tenant.headers)
    assert r.status_code == 422
    r = client.post("/api/imports", json={"contacts": ["x"]}, headers=tenant.headers)
    assert r.status_code == 422
    r = client.post("/api/imports", json=[1], headers=tenant.headers)
    assert r.status_code == 400
    r = client.post("/api/imports", json={"contacts": [{}] * 100_001}, headers=tenant.headers)
    assert r.status_code == 413 and "split" in r.json()["error"]["message"].lower()


def test_openapi_describes_the_import_routes(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in ("/api/imports", "/api/imports/{import_id}", "/api/imports/{import_id}/mapping",
                 "/api/imports/{import_id}/consent", "/api/imports/{import_id}/fallbacks",
                 "/api/imports/{import_id}/finalise", "/api/imports/{import_id}/errors.csv"):
        assert path in paths


def test_excel_files_in_windows_1252_or_utf8_with_bom_import_their_accents(importer):
    rows = [["E-mail", "Prénom", "Taal", "Bron"], ["zoe@example.com", "Zoë", "fr", "Fair"],
            ["rene@example.com", "René", "nl", "Fair"]]
    imp = importer.run(csv_bytes(rows, delimiter=";", encoding="cp1252"))
    assert (imp["encoding"], imp["delimiter"]) == ("cp1252", ";")
    assert imp["mapping"]["Prénom"] == "first_name"
    assert importer.contact("zoe@example.com")["first_name"] == "Zoë"
    rows[1][1] = "Zoë-Ève"
    imp = importer.run(csv_bytes(rows, bom=True))
    assert (imp["encoding"], imp["columns"][0]) == ("utf-8-sig", "E-mail")
    assert imp["counts"]["updated"] == 1 and imp["counts"]["unchanged"] == 1
    assert importer.contact("zoe@example.com")["first_name"] == "Zoë-Ève"
