"""The import wizard in chromium at a desktop and a phone size: consent with the file, the
mapping, a one-click fix in the review, fallbacks, the green bar; then the report mail's link
followed from the .eml in the logged-in browser (at both sizes). Also at both sizes: a
refused upload's error summary, errors.csv from the review, and the imports list with its
step names and Cancel. Jobs run by a real RQ worker."""

import email
import io
import re
from email import policy
from pathlib import Path

from gateway.imports import service, spool
from gateway.imports.models import Import
from tests.gateway.admin.conftest import assert_accessible, follow, snap
from tests.gateway.admin.test_imports import CSV

VIEWPORTS = [("desktop", 1366, 768), ("phone", 390, 844)]


def fits(page, width: int) -> None:
    """No horizontal scroll at this width."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def open_menu_link(page, name: str) -> None:
    """Follow a main-menu link (the menu is collapsed on phones)."""
    menu = page.locator("details.menu")
    if menu.locator("summary").is_visible() and not menu.evaluate("el => el.open"):
        menu.locator("summary").click()
    follow(page.get_by_role("link", name=name, exact=True))


def walk(page, run_jobs, tmp_path, request, size: str, width: int) -> None:
    """One import through the wizard, checking each page at ``width``."""
    open_menu_link(page, "Imports")
    follow(page.get_by_role("link", name="Upload a file"))
    assert_accessible(page)
    fits(page, width)
    source = tmp_path / f"people-{size}.csv"
    source.write_text(CSV.replace("@example.com", f"@{size}.example.com"), encoding="cp1252")
    page.get_by_label("CSV file").set_input_files(str(source))
    page.get_by_role("button", name="Upload").click()
    # consent sits with the file picker: nothing is stored without it
    assert page.get_by_label("I confirm the data in this file").evaluate(
        "el => el.validity.valueMissing")
    page.get_by_label("I confirm the data in this file").check()
    snap(page, request, f"{size}-1-upload")
    page.get_by_role("button", name="Upload").click()

    page.get_by_role("heading", name=f"Map the columns of people-{size}.csv").wait_for()
    assert_accessible(page)
    fits(page, width)
    assert page.get_by_label("Field for column Voornaam").input_value() == "first_name"
    snap(page, request, f"{size}-2-mapping")
    page.get_by_role("button", name="Check the file").click()
    page.get_by_label("Progress").wait_for()
    run_jobs()
    heading = page.get_by_role("heading", level=1)
    heading.filter(has_text="3 of 5 rows can be imported").wait_for()
    assert_accessible(page)
    fits(page, width)
    snap(page, request, f"{size}-3-review")
    assert "ready to import" not in heading.inner_text()

    # "website" differs from "Website" only by case: one click, checked again in place
    page.get_by_role("button", name="Use ‘Website’").click()
    page.get_by_label("Progress").wait_for()
    run_jobs()
    heading.filter(has_text="4 of 5 rows can be imported").wait_for()
    assert "uses ‘Website’" in page.locator("#h-fixed + ul").inner_text()
    page.get_by_label("Language for rows without one (1)").select_option("en")
    page.get_by_label("Source for rows without one (1)").select_option("Fair")
    snap(page, request, f"{size}-4-fixed")
    page.get_by_role("button", name="Finalise import").click()
    page.get_by_label("Progress").wait_for()
    run_jobs()
    page.wait_for_url("**/admin/contacts")
    assert page.get_by_role("status").inner_text().startswith("4 new contacts added.")
    fits(page, width)
    snap(page, request, f"{size}-5-added")


def test_import_wizard_at_both_sizes_and_the_report_link(admin_page, run_jobs, tmp_path,
                                                          request, settings):
    page = admin_page
    for size, width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        walk(page, run_jobs, tmp_path, request, size, width)

    open_menu_link(page, "Imports")
    assert page.locator("tbody tr th").all_inner_texts() == [
        "people-phone.csv", "people-desktop.csv"]
    assert page.locator("tbody tr td[data-label=Step]").all_inner_texts() == ["Finished"] * 2
    fits(page, 390)
    snap(page, request, "phone-6-imports")

    # The report mail, as the outbox received it: its link opens for the logged-in admin.
    run_jobs()  # the mail drain
    reports = [email.message_from_bytes(p.read_bytes(), policy=policy.default)
               for p in Path(settings.outbox_dir).glob("*.eml")]
    [mail] = [m for m in reports if m["Subject"] == "Import people-desktop.csv: "
              "4 new contacts added"]
    html = mail.get_body(("html",)).get_content()
    assert "http://testserver/admin/imports/" in html
    # INLET_BASE_URL of the test gateway is http://testserver: the browser reaches it here
    for size, width, height in VIEWPORTS:  # the mail read on a laptop, then on a phone
        page.set_viewport_size({"width": width, "height": height})
        page.set_content(html.replace("http://testserver", page.base))
        fits(page, width)
        snap(page, request, f"{size}-7-report-mail")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the failing rows").click()
        rows = Path(download.value.path()).read_bytes().decode("utf-8-sig").splitlines()
        assert rows[0] == "E-mail;Voornaam;Taal;Bron;Interesses;row;reason;suggested fix"
        assert rows[1].startswith("not-an-email;Carl;en;Website;;4;"), size


def uploaded(account_id: int, filename: str, *, checked: bool = False,
             domain: str = "example.com") -> Import:
    """CSV uploaded with consent (as the wizard's first step stores it); ``checked``: its
    suggested mapping chosen too, so the rows are checked by the next ``run_jobs``."""
    body = CSV.replace("@example.com", f"@{domain}").encode("cp1252")
    imp = service.create_from_upload(account_id, filename, io.BytesIO(body), consent=True,
                                     notify_email=False)
    if checked:
        service.set_mapping(account_id, imp.id, imp.mapping)
    return imp


def test_a_refused_upload_leads_from_its_error_summary_to_the_consent(admin_page, tmp_path,
                                                                       request):
    """#16 item 2 on the wizard's first step: the server refuses a file sent without the
    consent; focus lands on the summary, whose entry leads to the checkbox."""
    page = admin_page
    source = tmp_path / "people.csv"
    source.write_text(CSV, encoding="cp1252")
    for size, width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{page.base}/admin/imports/new")
        page.get_by_label("CSV file").set_input_files(str(source))
        # A browser that does not check `required` (old, or a script-built post) sends it.
        page.locator("form[enctype='multipart/form-data']").evaluate("f => f.noValidate = true")
        page.get_by_role("button", name="Upload", exact=True).click()
        page.wait_for_function("document.activeElement.id === 'error-summary'")
        summary = page.locator("#error-summary")
        assert summary.get_by_role("heading").inner_text() == "The file was not uploaded."
        summary.get_by_role("link", name="Confirm the data was obtained rightfully").click()
        assert page.evaluate("document.activeElement.id") == "consent"
        consent = page.get_by_label("I confirm the data in this file")
        assert consent.get_attribute("aria-invalid") == "true" and not consent.is_checked()
        assert page.get_by_label("E-mail me the report").is_checked()  # the choices are kept
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), size
        assert_accessible(page)
        snap(page, request, f"{size}-consent-error")
    assert Import.select().count() == 0  # nothing was stored without the consent


def test_errors_csv_from_the_review_at_both_sizes(admin_page, tenant, run_jobs, request):
    """#16 item 13: the review's errors.csv, downloaded in the browser, holds the failing rows
    with their original row number, the reason and the fix in its own column; a one-click
    fix chosen on the review is applied to it (that row is no longer listed)."""
    page = admin_page
    imp = uploaded(tenant.id, "people.csv", checked=True)
    run_jobs()
    downloads = {}
    for size, width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{page.base}/admin/imports/{imp.id}")
        heading = page.get_by_role("heading", level=1)
        heading.filter(has_text="of 5 rows can be imported").wait_for()
        fits(page, width)
        snap(page, request, f"{size}-review")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download the rows with errors (errors.csv)").click()
        assert download.value.suggested_filename == "people-errors.csv"
        downloads[size] = Path(download.value.path()).read_bytes().decode("utf-8-sig")
        if size == "desktop":  # then fix the case of "website" in one click
            page.get_by_role("button", name="Use ‘Website’").click()
            page.get_by_label("Progress").wait_for()
            run_jobs()
            heading.filter(has_text="4 of 5 rows can be imported").wait_for()

    header, *rows = downloads["desktop"].splitlines()
    assert header.split(";")[-3:] == ["row", "reason", "suggested fix"]
    by_row = {row.split(";")[5]: row.split(";") for row in rows}
    assert sorted(by_row) == ["4", "5"]  # the lines of the file (the header is line 1)
    carl, dan = by_row["4"], by_row["5"]
    assert carl[:2] == ["not-an-email", "Carl"] and "E-mail" in carl[6]
    assert dan[:4] == ["dan@example.com", "Dan", "fr", "website"]
    assert "website" in dan[6] and "Website" in dan[7]  # the reason; the fix on its own
    header, *rows = downloads["phone"].splitlines()
    assert [row.split(";")[5] for row in rows] == ["4"]  # Dan's source was fixed on the review


def test_imports_list_names_steps_and_cancels_abandoned_imports_at_both_sizes(
        admin_page, tenant, run_jobs, request):
    """#16 item 14: the list says each import's step in words, tells two uploads of one file
    name apart, and cancels an abandoned import (its stored file removed); a finished one is
    the record of what came in and has no Cancel."""
    page = admin_page
    done = uploaded(tenant.id, "done.csv", checked=True, domain="done.example.com")
    run_jobs()
    service.set_fallbacks(tenant.id, done.id, {"language": "en", "source": "Fair"})
    service.finalise(tenant.id, done.id)
    at_mapping = uploaded(tenant.id, "people.csv")
    at_review = uploaded(tenant.id, "people.csv", checked=True)
    run_jobs()
    checking = uploaded(tenant.id, "late.csv", checked=True)  # its check not run yet
    files = {imp.id: spool.file_path(imp) for imp in (at_mapping, at_review)}
    assert all(path.exists() for path in files.values())

    listed = [  # (file name as listed, step) before each cancel, newest first
        {"late.csv": "Checking the rows", "people.csv (2)": "Review: fallbacks needed",
         "people.csv": "Choose the columns", "done.csv": "Finished"},
        # the one left of the two people.csv needs no "(2)" any more
        {"late.csv": "Checking the rows", "people.csv": "Review: fallbacks needed",
         "done.csv": "Finished"}]
    cancelled = ((at_mapping, "Choose the columns"), (at_review, "Review: fallbacks needed"))
    for (size, width, height), steps, (imp, step) in zip(VIEWPORTS, listed, cancelled,
                                                          strict=True):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{page.base}/admin/contacts")
        open_menu_link(page, "Imports")
        names = page.locator("tbody tr th").all_inner_texts()
        assert dict(zip(names, page.locator("tbody tr td[data-label=Step]").all_inner_texts(),
                        strict=True)) == steps
        started = page.locator("tbody tr td[data-label=Started]").all_inner_texts()
        assert all(re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4} \d{2}:\d{2}", text)
                   for text in started), started
        done_row = page.get_by_role("row").filter(has_text="done.csv")
        assert done_row.get_by_role("button", name="Cancel").count() == 0
        fits(page, width)
        assert_accessible(page)
        snap(page, request, f"{size}-imports")
        page.get_by_role("row").filter(has_text=step).get_by_role("button").click()
        page.get_by_role("status").filter(
            has_text="The import of people.csv was cancelled and its file removed.").wait_for()
        assert page.get_by_role("row").filter(has_text=step).count() == 0
        assert not files[imp.id].exists() and Import.get_or_none(id=imp.id) is None
        fits(page, width)
        snap(page, request, f"{size}-cancelled")
    assert [i.id for i in Import.select().order_by(Import.id)] == [done.id, checking.id]
