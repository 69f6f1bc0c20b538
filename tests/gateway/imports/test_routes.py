"""The import API end to end (README, "Importing contacts"): real store, real Redis queue
and worker."""

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
    # an import that is not finished yet is no model for the next one
    assert importer.upload(data).json()["suggested_mapping"] == {"Adres": None, "Wie": None}
    importer.put(imp["id"], "consent", {"obtained_rightfully": True})
    importer.run_jobs()
    importer.finalise(imp["id"], {"language": "nl", "source": "Website"})
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


# ---- hardening (issue 14) -------------------------------------------------------------------

def _files(settings) -> list:
    """Every file under the data dir's imports (nothing may be left by a refusal)."""
    root = settings.data_dir / "imports"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_300_character_file_name_is_shortened_not_a_500(importer, settings):
    name = "Contacten " + "x" * 290 + ".csv"
    r = importer.upload(csv_bytes([["email"], ["ann@example.com"]]), name=name)
    assert r.status_code == 202, r.text
    stored = r.json()["filename"]
    assert len(stored) == 255 and stored.startswith("Contacten xxx") and stored.endswith(".csv")
    assert len(_files(settings)) == 1  # the import's own file, nothing else


def test_a_refused_upload_leaves_no_file_whatever_refuses_it(importer, settings, monkeypatch):
    import peewee

    from gateway.imports.models import Import
    for data, status in ((b"PK\x03\x04" + b"\x00" * 100, 415),
                         (b"ann@example.com;Ann\n", 422),  # no header: a file rule
                         (b"\xff\xfee\x00m\x00", 415)):
        r = importer.upload(data)
        assert r.status_code == status, r.text
    assert _files(settings) == []

    def refused(*args, **kwargs):
        raise peewee.DataError("value too long for type character varying(255)")
    monkeypatch.setattr(Import, "create", refused)  # the store refuses the row itself
    r = importer.upload(csv_bytes([["email"], ["ann@example.com"]]))
    assert r.status_code >= 400
    assert _files(settings) == []


def test_a_40000_column_header_answers_422_fast(importer, settings):
    import time
    data = (",".join(f"col{i}" for i in range(40_000)) + "\r\n"
            + ",".join(["x"] * 40_000) + "\r\n").encode()
    started = time.monotonic()
    r = importer.upload(data)
    assert time.monotonic() - started < 2
    assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_columns"
    assert "at most 500 columns" in r.json()["error"]["message"]
    assert _files(settings) == []


def test_an_xlsx_renamed_csv_is_refused_with_save_as_csv(importer, settings):
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    r = importer.upload(buffer.getvalue(), name="contacts.csv")
    assert r.status_code == 415, r.text
    error = r.json()["error"]
    assert error["code"] == "not_csv_text"
    assert "not a CSV text file" in error["message"] and "Excel workbook" in error["message"]
    assert "save it as CSV" in error["message"]
    assert _files(settings) == []


# ---- a queue outage changes nothing; Idempotency-Key -------------------------------------

def _imports_on_disk(settings) -> list:
    root = settings.data_dir / "imports"
    return sorted(p.name for p in root.rglob("*.csv")) if root.exists() else []


def test_a_json_import_refused_by_the_queue_leaves_nothing(env, settings, client, tenant,
                                                           importer):
    """It left an import in `validating` that a sweep moved on: the retry made a duplicate."""
    from gateway.imports.models import Import
    from tests.outage import redis_down
    body = {"contacts": [{"email": "ann@example.com", "language": "nl", "source": "Website"}],
            "obtained_rightfully": True, "fallbacks": {"language": "nl"}}
    with redis_down(env) as down:
        r = down.post("/api/imports", json=body, headers=tenant.headers)
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
    assert Import.select().count() == 0 and _imports_on_disk(settings) == []
    r = client.post("/api/imports", json=body, headers=tenant.headers)  # the retry
    assert r.status_code == 202 and r.json()["step"] == "validating"
    importer.run_jobs()
    assert importer.finalise(r.json()["id"])["counts"]["created"] == 1
    assert Import.select().count() == 1


def test_consent_refused_by_the_queue_leaves_the_import_as_it_was(env, client, tenant,
                                                                  importer):
    from tests.outage import redis_down
    r = importer.upload(csv_bytes([["email"], ["ann@example.com"]]))
    imp = r.json()
    with redis_down(env) as down:
        r = down.put(f"/api/imports/{imp['id']}/consent", headers=tenant.headers,
                     json={"obtained_rightfully": True, "welcome": True})
    assert r.status_code == 503
    after = importer.get(imp["id"])
    assert (after["step"], after["consent"], after["welcome"]) == ("mapping", False, False)
    r = importer.put(imp["id"], "consent", {"obtained_rightfully": True})
    assert r.status_code == 200 and r.json()["step"] == "validating"
    importer.run_jobs()
    assert importer.get(imp["id"])["step"] in ("fallbacks", "ready")


def test_a_mapping_change_refused_by_the_queue_keeps_the_old_mapping(env, client, tenant,
                                                                     importer):
    from tests.outage import redis_down
    imp = importer.validate(csv_bytes([HEADER, ["ann@example.com", "Ann", "P", "nl",
                                                "Website", ""]]))
    assert imp["step"] == "ready"
    with redis_down(env) as down:
        r = down.put(f"/api/imports/{imp['id']}/mapping", headers=tenant.headers,
                     json={"mapping": imp["mapping"] | {"Naam": None}})
    assert r.status_code == 503
    after = importer.get(imp["id"])
    assert (after["step"], after["mapping"]) == ("ready", imp["mapping"])


def test_an_import_retried_with_its_idempotency_key_is_one_import(client, tenant):
    from gateway.imports.models import Import
    headers = tenant.headers | {"Idempotency-Key": "import-1"}
    body = {"contacts": [{"email": "ann@example.com"}]}
    first = client.post("/api/imports", json=body, headers=headers)
    again = client.post("/api/imports", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    data = csv_bytes([["email"], ["bob@example.com"]])
    upload = [client.post("/api/imports", headers=tenant.headers | {"Idempotency-Key": "up-1"},
                          files={"file": ("contacts.csv", data, "text/csv")})
              for _ in range(2)]  # every attempt has its own multipart boundary
    assert [r.status_code for r in upload] == [202, 202]
    assert upload[1].json()["id"] == upload[0].json()["id"]
    other = client.post("/api/imports", headers=tenant.headers | {"Idempotency-Key": "up-1"},
                        files={"file": ("contacts.csv", data + b"eve@example.com\r\n",
                                        "text/csv")})
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Import.select().count() == 2
