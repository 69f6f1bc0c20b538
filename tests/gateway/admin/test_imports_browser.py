"""The import wizard in chromium: the README's "done when" walk, jobs run by a real RQ worker."""

from pathlib import Path

from gateway.imports.models import Import
from tests.gateway.admin.conftest import assert_accessible, snap
from tests.gateway.admin.test_imports import CSV


def check_the_file(page, run_jobs, request):
    """Consent, validate, and follow the live progress bar to the review page."""
    page.get_by_label("I confirm the data in this file was obtained rightfully").check()
    page.get_by_role("button", name="Check the file").click()
    bar = page.get_by_label("Progress")
    bar.wait_for()
    assert_accessible(page)
    assert page.locator("[data-progress-text]").inner_text() in ("0 of 5 rows", "Starting…")
    snap(page, request, "3-validating")
    run_jobs()  # the validation job, on a real RQ worker; the page polls and moves on
    page.get_by_role("heading", name="ready to import").wait_for()


def finalise(page, run_jobs):
    """Finalise and follow the progress to the contacts overview."""
    page.get_by_role("button", name="Finalise import").click()
    page.get_by_label("Progress").wait_for()
    run_jobs()
    page.wait_for_url("**/admin/contacts")


def test_import_fix_errors_and_reimport(admin_page, run_jobs, tmp_path, request):
    page = admin_page
    page.get_by_role("link", name="Add contacts").click()
    page.get_by_role("link", name="Upload a file").click()
    assert_accessible(page)
    snap(page, request, "1-guidelines")
    assert page.get_by_role("heading", name="Before you start: the file guidelines").is_visible()
    source = tmp_path / "people.csv"
    source.write_text(CSV, encoding="cp1252")
    page.get_by_label("CSV file").set_input_files(str(source))
    page.get_by_role("button", name="Upload").click()

    # Mapping: suggested from the Dutch headers, each column with its samples.
    page.get_by_role("heading", name="Map the columns of people.csv").wait_for()
    assert_accessible(page)
    assert page.get_by_label("Field for column E-mail").input_value() == "email"
    assert page.get_by_label("Field for column Voornaam").input_value() == "first_name"
    assert page.get_by_label("Field for column Taal").input_value() == "language"
    assert "Sports,Music" in page.get_by_role("row", name="Interesses").inner_text()
    snap(page, request, "2-mapping")
    check_the_file(page, run_jobs, request)
    snap(page, request, "4-review")

    # Errors grouped by reason, with the rows' context and a suggestion.
    assert_accessible(page)
    assert "3 of 5 rows can be imported" in page.locator("main").inner_text()
    groups = page.locator("details summary").all_inner_texts()
    assert sorted(groups) == ["Invalid e-mail address: 1 row", "Unknown source: 1 row"]
    unknown = page.locator("details", has_text="Unknown source: 1 row")
    unknown.locator("summary").click()  # the first group is open, the others unfold
    assert unknown.get_by_role("row").nth(1).inner_text().split("\t")[:3] == [
        "5", "Bron", "website"]  # spreadsheet row 5 (the header is row 1)
    assert "Did you mean 'Website'?" in unknown.inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rows with errors (errors.csv)").click()
    errors = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert errors.splitlines()[0] == "E-mail;Voornaam;Taal;Bron;Interesses;reason"

    # Fallbacks are required before finalising.
    page.get_by_role("button", name="Finalise import").click()
    assert page.get_by_label("Language for rows without one (1)").evaluate(
        "el => el.validity.valueMissing")  # the browser asks first
    page.get_by_label("Language for rows without one (1)").select_option("en")
    page.get_by_label("Source for rows without one (1)").select_option("Fair")
    finalise(page, run_jobs)
    assert page.get_by_role("status").inner_text().startswith("3 new contacts added.")
    snap(page, request, "5-added")
    assert_accessible(page)

    # Fix the downloaded rows and import that file again.
    fixed = tmp_path / "people-errors.csv"
    fixed.write_text(errors.replace("not-an-email", "carl@example.com")
                     .replace(";website;", ";Website;"), encoding="utf-8-sig")
    page.get_by_role("link", name="Add contacts").click()
    page.get_by_role("link", name="Upload a file").click()
    page.get_by_label("CSV file").set_input_files(str(fixed))
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("heading", name="Map the columns of people-errors.csv").wait_for()
    assert page.get_by_label("Field for column reason").input_value() == ""  # skipped
    page.get_by_label("I confirm the data in this file was obtained rightfully").check()
    page.get_by_role("button", name="Check the file").click()
    page.get_by_label("Progress").wait_for()
    run_jobs()
    page.get_by_role("heading", name="ready to import").wait_for()
    assert "2 of 2 rows can be imported" in page.locator("main").inner_text()
    finalise(page, run_jobs)
    assert page.get_by_role("status").inner_text().startswith("2 new contacts added.")
    assert page.get_by_role("link", name="Confirmed 5").is_visible()
    added = page.locator("tbody tr td:last-child").all_inner_texts()
    assert added == ["Just now"] * 5
    page.get_by_role("link", name="See the import report").click()
    assert page.get_by_role("heading", level=1).inner_text() == \
        "people-errors.csv: 2 new contacts added"
    assert Import.select().where(Import.step == "done").count() == 2
    page.get_by_role("link", name="Imports", exact=True).click()
    page.get_by_role("heading", name="Imports").wait_for()
    assert_accessible(page)
    assert page.locator("tbody tr td:first-child").all_inner_texts() == [
        "people-errors.csv", "people.csv"]
