import re

from gateway.admin.imports import mapping_from_form, samples
from gateway.imports.models import Import
from gateway.models import Contact
from tests.gateway.admin.conftest import csrf_of

CSV = ("E-mail;Voornaam;Taal;Bron;Interesses\r\n"
       'ann@example.com;Ann;nl;Website;"Sports,Music"\r\n'
       "bob@example.com;Bob;;Website;\r\n"
       "not-an-email;Carl;en;Website;\r\n"
       "dan@example.com;Dan;fr;website;\r\n"
       "eve@example.com;Eve;en;;Sports\r\n")


def test_samples_skip_empty_cells_and_stop_early():
    records = iter([(0, ["a", ""]), (1, ["b", "x"]), (2, ["c"]), (3, ["d", "y"]),
                    (4, ["e", "z"]), (5, ["never", "read"])])
    assert samples(records, ["one", "two"], per_column=3) == {
        "one": ["a", "b", "c"], "two": ["x", "y", "z"]}


def test_mapping_from_form_by_position():
    form = {"map-0": "email", "map-1": "", "map-2": "first_name"}
    assert mapping_from_form(form, ["E-mail", "junk", "Voornaam"]) == {
        "E-mail": "email", "junk": None, "Voornaam": "first_name"}


def upload(client, text=CSV, name="people.csv", consent=True, **fields):
    token = csrf_of(client.get("/admin/imports/new").text)
    data = {"csrf_token": token, **({"consent": "yes"} if consent else {}), **fields}
    return client.post("/admin/imports/new", data=data,
                       files={"file": (name, text.encode(), "text/csv")},
                       follow_redirects=False)


def test_consent_is_asked_with_the_file_before_anything_is_stored(admin_client, tenant):
    r = upload(admin_client, consent=False, welcome="yes")
    assert r.status_code == 422 and Import.select().count() == 0
    assert "the import cannot start without it" in r.text
    # what was chosen stays chosen
    assert re.search(r'name="welcome" value="yes" checked', r.text)
    assert not re.search(r'name="consent" value="yes" required checked', r.text)


def test_the_wizard_end_to_end(admin_client, tenant, run_jobs):
    r = upload(admin_client)
    assert r.status_code == 303
    imp = Import.get()
    assert imp.consent and imp.consent_by == "boss@acme.example.com"
    page = admin_client.get(r.headers["location"]).text
    assert "5 rows, separated by <code>;</code>" in page
    assert "Sports,Music" in page  # a sample value
    assert '<option value="email" selected>E-mail address (suggested)</option>' in page
    assert "no finished import of yours had these columns" in page
    assert 'name="obtained_rightfully"' not in page  # asked with the file already
    token = csrf_of(page)
    mapping = {"map-0": "email", "map-1": "first_name", "map-2": "language", "map-3": "source",
               "map-4": "interests"}
    r = admin_client.post(f"/admin/imports/{imp.id}/mapping",
                          data={"csrf_token": token, **mapping})
    assert "Checking every row" in r.text and "progress?waiting=validating" in r.text
    state = admin_client.get(f"/admin/imports/{imp.id}/progress").json()
    assert state == {"step": "validating", "progress": {"done": 0, "total": 5},
                     "next_url": None}
    # What htmx asks for every half second: the box's inside, then a redirect once done.
    htmx = {"HX-Request": "true"}
    box = admin_client.get(f"/admin/imports/{imp.id}/progress?waiting=validating",
                           headers=htmx)
    assert "0 of 5 rows" in box.text and "<html" not in box.text
    run_jobs()
    moved = admin_client.get(f"/admin/imports/{imp.id}/progress?waiting=validating",
                             headers=htmx)
    assert moved.headers["hx-redirect"] == f"/admin/imports/{imp.id}"
    page = admin_client.get(f"/admin/imports/{imp.id}").text
    assert "people.csv: 3 of 5 rows can be imported</h1>" in page
    assert "ready to import" not in page
    assert "Invalid e-mail address</strong>: 1 row" in page
    assert "Unknown source</strong>: 1 row" in page
    assert "Did you mean" in page and "Website" in page
    errors = admin_client.get(f"/admin/imports/{imp.id}/errors.csv")
    assert errors.headers["content-disposition"] == 'attachment; filename="people-errors.csv"'
    lines = errors.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "E-mail;Voornaam;Taal;Bron;Interesses;row;reason;suggested fix"
    assert len(lines) == 3 and lines[1].startswith("not-an-email;Carl")
    assert lines[2] == "dan@example.com;Dan;fr;website;;5;Bron: Unknown source 'website'. " \
        "Did you mean 'Website'?;Bron: Use 'Website'"
    # Finalising without the fallbacks it needs is refused inline.
    r = admin_client.post(f"/admin/imports/{imp.id}/finalise", data={"csrf_token": token})
    assert r.status_code == 422 and "Choose a fallback language and source" in r.text
    r = admin_client.post(f"/admin/imports/{imp.id}/finalise",
                          data={"csrf_token": token, "language": "en", "source": "Fair"})
    assert "Adding the contacts" in r.text  # through /finished, which waits for the job
    run_jobs()
    assert admin_client.get(f"/admin/imports/{imp.id}/progress").json()["next_url"] == \
        f"/admin/imports/{imp.id}/finished"
    r = admin_client.get(f"/admin/imports/{imp.id}/finished")
    assert "3 new contacts added." in r.text and "See the import report" in r.text
    got = {c.email: (c.language, c.source, c.status) for c in Contact.select()}
    assert got == {"ann@example.com": ("nl", "Website", "confirmed"),
                   "bob@example.com": ("en", "Website", "confirmed"),
                   "eve@example.com": ("en", "Fair", "confirmed")}
    report = admin_client.get(f"/admin/imports/{imp.id}").text
    assert "3 new contacts added" in report and "Invalid e-mail address: 1 row" in report


def test_the_live_progress_reads_with_thousands_separators(admin_client, tenant):
    upload(admin_client)
    imp = Import.get()
    Import.update(step="finalising", total_rows=40_000, progress_done=12_345).execute()
    page = admin_client.get(f"/admin/imports/{imp.id}").text
    assert "12,345 of 40,000 rows" in page and 'hx-trigger="every 500ms"' in page
    box = admin_client.get(f"/admin/imports/{imp.id}/progress?waiting=finalising",
                           headers={"HX-Request": "true"})
    assert box.status_code == 200 and "12,345 of 40,000 rows" in box.text
    assert 'max="40000" value="12345"' in box.text


def test_file_rules_are_shown_on_the_upload_page(admin_client, tenant):
    r = upload(admin_client, name="people.xlsx")
    assert r.status_code == 415 and "Only .csv files can be imported" in r.text
    r = upload(admin_client, text="ann@example.com;nl\r\n")
    assert r.status_code == 422 and 'role="alert"' in r.text and 'href="#file"' in r.text
    assert Import.select().count() == 0


def test_a_file_over_the_limit_is_refused_before_it_is_read(admin_client, tenant):
    token = csrf_of(admin_client.get("/admin/imports/new").text)
    r = admin_client.post("/admin/imports/new", content=b"x" * 10, headers={
        "content-type": "multipart/form-data; boundary=x", "x-csrf-token": token,
        "content-length": str(26 * 1024 * 1024)})
    assert r.status_code == 413 and "under 25 MB" in r.text and "Split the file" in r.text
    assert Import.select().count() == 0


def test_another_accounts_import_is_not_found(admin_client, tenant, other_tenant):
    from gateway.imports import service
    theirs = service.create_from_upload(other_tenant.id, "x.csv", [CSV.encode()])
    for path in ("", "/progress", "/errors.csv", "/finished"):
        assert admin_client.get(f"/admin/imports/{theirs.id}{path}").status_code == 404
    token = csrf_of(admin_client.get("/admin/imports").text)
    r = admin_client.post(f"/admin/imports/{theirs.id}/mapping",
                          data={"csrf_token": token, "map-0": "email",
                                "obtained_rightfully": "yes"})
    assert r.status_code == 404
    assert Import.get_by_id(theirs.id).consent is False
    assert not re.search(r"x\.csv", admin_client.get("/admin/imports").text)


def wait_for_step(client, import_id, leaving: str, timeout: float = 30) -> str:
    """Poll the progress endpoint (as the page does) until the import leaves ``leaving``."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step = client.get(f"/admin/imports/{import_id}/progress").json()["step"]
        if step != leaving:
            return step
        time.sleep(0.05)
    raise AssertionError(f"still {leaving} after {timeout}s")


def test_the_wizard_on_embedded_defaults_without_redis(env, request):
    """`inlet serve` with no INLET_REDIS_URL runs the import jobs in-process."""
    from starlette.testclient import TestClient

    from gateway.app import create_app
    from gateway.auth import create_user
    from tests.conftest import make_tenant
    from tests.gateway.admin.conftest import login_client
    env.pop("INLET_REDIS_URL")
    settings = request.getfixturevalue("settings")
    request.getfixturevalue("store")
    tenant = make_tenant("Solo")
    create_user(tenant.id, "solo@example.com", "password123")
    # run_jobs: on by default here; the browser asks for English (else: the account's Dutch)
    with TestClient(create_app(settings), headers={"accept-language": "en"}) as client:
        assert login_client(client, "solo@example.com", "password123").status_code == 303
        upload(client)
        imp = Import.get()
        token = csrf_of(client.get(f"/admin/imports/{imp.id}").text)
        client.post(f"/admin/imports/{imp.id}/mapping", data={
            "csrf_token": token, "map-0": "email", "map-1": "first_name", "map-2": "language",
            "map-3": "source", "map-4": "interests"})
        assert wait_for_step(client, imp.id, "validating") == "fallbacks"
        # The job may finish before the redirect is followed: the green bar shows anyway.
        r = client.post(f"/admin/imports/{imp.id}/finalise", follow_redirects=False,
                        data={"csrf_token": token, "language": "nl", "source": "Website"})
        assert r.headers["location"] == f"/admin/imports/{imp.id}/finished"
        assert wait_for_step(client, imp.id, "finalising") == "done"
        page = client.get(r.headers["location"])
        assert page.url.path == "/admin/contacts"
        assert "3 new contacts added." in page.text


def test_mapping_errors_and_changing_the_mapping_after_validation(admin_client, tenant,
                                                                   run_jobs):
    upload(admin_client)
    imp = Import.get()
    token = csrf_of(admin_client.get(f"/admin/imports/{imp.id}").text)
    r = admin_client.post(f"/admin/imports/{imp.id}/mapping", data={
        "csrf_token": token, "map-0": "email", "map-1": "email"})
    assert r.status_code == 422 and "Both &#39;E-mail&#39; and &#39;Voornaam&#39;" in r.text
    assert Import.get_by_id(imp.id).step == "mapping"  # nothing went further
    mapping = {"map-0": "email", "map-2": "language", "map-3": "source"}
    admin_client.post(f"/admin/imports/{imp.id}/mapping",
                      data={"csrf_token": token, **mapping, "obtained_rightfully": "yes"})
    run_jobs()
    page = admin_client.get(f"/admin/imports/{imp.id}?edit=mapping").text
    assert "Map the columns of people.csv" in page
    assert '<option value="" selected>Skip this column</option>' in page  # Voornaam skipped
    r = admin_client.post(f"/admin/imports/{imp.id}/mapping", data={
        "csrf_token": token, **mapping, "map-1": "first_name", "obtained_rightfully": "yes"})
    assert "Checking every row" in r.text  # validated again with the new mapping
    run_jobs()
    assert Import.get_by_id(imp.id).mapping["Voornaam"] == "first_name"
    assert "3 of 5 rows can be imported" in admin_client.get(f"/admin/imports/{imp.id}").text


def test_memory_comes_from_finished_imports_and_says_so(admin_client, tenant, run_jobs):
    upload(admin_client)
    first = Import.get()
    token = csrf_of(admin_client.get(f"/admin/imports/{first.id}").text)
    mapping = {"map-0": "email", "map-1": "first_name", "map-2": "language", "map-3": "source"}
    admin_client.post(f"/admin/imports/{first.id}/mapping", data={"csrf_token": token, **mapping})
    run_jobs()
    # an unfinished import teaches nothing: Voornaam is not remembered as first name yet...
    r = upload(admin_client, name="again.csv")
    page = admin_client.get(r.headers["location"]).text
    assert "no finished import of yours had these columns" in page
    # ...and it can be cancelled from the list, file and all
    listing = admin_client.get("/admin/imports").text
    assert "people.csv" in listing and "Review: fallbacks needed" in listing
    second = Import.select().order_by(Import.id.desc()).first()
    r = admin_client.post(f"/admin/imports/{second.id}/cancel", data={"csrf_token": token})
    assert r.status_code == 200 and "was cancelled and its file removed" in r.text
    assert Import.get_or_none(Import.id == second.id) is None
    admin_client.post(f"/admin/imports/{first.id}/finalise",
                      data={"csrf_token": token, "language": "en", "source": "Fair"})
    run_jobs()
    r = upload(admin_client, text=CSV.replace("@example.com", "@example.org"), name="third.csv")
    page = admin_client.get(r.headers["location"]).text
    assert re.search(r"from your last finished import,\s*<a href=\"/admin/imports/"
                     rf"{first.id}\">people.csv</a>", page)
    third = Import.select().order_by(Import.id.desc()).first()
    admin_client.post(f"/admin/imports/{third.id}/mapping", data={"csrf_token": token,
                                                                  **mapping})
    run_jobs()
    review = admin_client.get(f"/admin/imports/{third.id}").text
    assert "<option selected>en</option>" in review  # the fallbacks chosen last time
    assert "Preselected from your last finished import, people.csv" in review
    r = admin_client.post(f"/admin/imports/{first.id}/cancel", data={"csrf_token": token})
    assert r.status_code == 409  # a finished import is the record of what came in


def test_one_click_case_fix_and_create_from_the_review(admin_client, tenant, run_jobs):
    text = ("email;language;source;interests\r\n"
            "a@example.com;nl;website;Yoga\r\nb@example.com;nl;Website;Yoga\r\n")
    upload(admin_client, text=text)
    imp = Import.get()
    token = csrf_of(admin_client.get(f"/admin/imports/{imp.id}").text)
    admin_client.post(f"/admin/imports/{imp.id}/mapping", data={
        "csrf_token": token, "map-0": "email", "map-1": "language", "map-2": "source",
        "map-3": "interests"})
    run_jobs()
    page = admin_client.get(f"/admin/imports/{imp.id}").text
    assert "0 of 2 rows can be imported" in page
    assert "Use ‘Website’" in page
    # the first unknown is Yoga (2 rows), then website (1 row)
    r = admin_client.post(f"/admin/imports/{imp.id}/fixes", data={
        "csrf_token": token, "quick": "1", "fix-0-kind": "interest", "fix-0-value": "Yoga",
        "fix-1-kind": "source", "fix-1-value": "website", "fix-1-suggestion": "Website"})
    assert "Checking every row" in r.text
    run_jobs()
    assert Import.get_by_id(imp.id).fixes == [{"kind": "source", "value": "website",
                                               "action": "map", "to": "Website"}]
    page = admin_client.get(f"/admin/imports/{imp.id}").text
    assert "Source <code>website</code>: uses ‘Website’" in page
    r = admin_client.post(f"/admin/imports/{imp.id}/fixes", data={
        "csrf_token": token, "fix-0-kind": "interest", "fix-0-value": "Yoga",
        "fix-0-action": "create"})
    run_jobs()
    assert "people.csv: ready to import" in admin_client.get(f"/admin/imports/{imp.id}").text


def test_review_report_and_mail_count_rows_and_values_alike(admin_client, tenant, run_jobs):
    """A row holding two unknown interests is one failed row and two wrong values: the review,
    the report page and the report mail say the same numbers, and the failed total adds up."""
    import html as htmllib

    from gateway.models import Account, OutgoingMail
    from tests.gateway.imports.conftest import Importer, csv_bytes
    importer = Importer(admin_client, tenant, run_jobs)
    # the report mail in English (else the account's first language, Dutch)
    Account.update(report_language="en").where(Account.id == tenant.id).execute()
    rows = [["email", "language", "source", "interests"],
            ["a@example.com", "nl", "Website", "Sports,Yoga,Chess"],  # 2 unknown: 1 row
            ["b@example.com", "nl", "Website", "Yoga"],
            ["nope", "nl", "Website", "Sports"],                   # a bad address
            ["c@example.com", "nl", "Website", "Music"]]           # fine
    imp = importer.validate(csv_bytes(rows), notify="boss@acme.example.com")
    said = "Unknown interest</strong>: 2 rows (3 values)"
    review = htmllib.unescape(admin_client.get(f"/admin/imports/{imp['id']}").text)
    assert said in review and "1 of 4 rows" in review
    done = importer.finalise(imp["id"])
    assert done["counts"]["failed"] == 3 and done["counts"]["created"] == 1
    report = htmllib.unescape(admin_client.get(f"/admin/imports/{imp['id']}").text)
    assert "Unknown interest: 2 rows (3 values)" in report
    mail = OutgoingMail.get(OutgoingMail.purpose == "import-report").text.lower()
    assert "failed:           3 rows" in mail
    assert "unknown interest: 2 rows (3 values)" in mail, mail


def test_errors_csv_speaks_the_accounts_language_once_set(admin_client, tenant, run_jobs):
    """Settings → "Language of errors.csv": reasons and fixes in it, whatever the browser
    says; unset, the browser's; the API's ?lang= still wins."""
    import csv as csvlib
    import io

    from tests.gateway.imports.conftest import Importer, csv_bytes
    imp = Importer(admin_client, tenant, run_jobs).validate(csv_bytes([
        ["email", "language", "source"], ["nope", "nl", "Website"]]))
    url = f"/admin/imports/{imp['id']}/errors.csv"

    def header_and_reason(path: str, **headers) -> tuple[list, str]:
        rows = list(csvlib.reader(io.StringIO(admin_client.get(path, headers=headers).text)))
        return rows[0], rows[1][-2]
    english = {"accept-language": "en-GB,en;q=0.9"}
    assert header_and_reason(url, **english)[1] == "email: This is not a valid e-mail address."
    page = admin_client.get("/admin/settings").text
    r = admin_client.post("/admin/settings/sender", data={
        "csrf_token": csrf_of(page), "report_language": "fr"}, follow_redirects=False)
    assert r.status_code == 303
    header, reason = header_and_reason(url, **english)
    assert header[-3:] == ["ligne", "reason", "correction suggérée"]
    assert reason == "email: Adresse e-mail non valide"
    api = f"/api/imports/{imp['id']}/errors.csv?lang=nl"
    assert header_and_reason(api, **tenant.headers)[1] == "email: Geen geldig e-mailadres"
    bad = admin_client.post("/admin/settings/sender", data={
        "csrf_token": csrf_of(page), "report_language": "de"})
    assert bad.status_code == 422 and "One of en, nl, fr." in bad.text
