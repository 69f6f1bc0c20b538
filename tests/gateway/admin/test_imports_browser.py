"""The import wizard in chromium at a desktop and a phone size: consent with the file, the
mapping, a one-click fix in the review, fallbacks, the green bar; then the report mail's link
followed from the .eml in the logged-in browser. Jobs run by a real RQ worker."""

import email
from email import policy
from pathlib import Path

from tests.gateway.admin.conftest import assert_accessible, snap
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
    page.get_by_role("link", name=name, exact=True).click()


def walk(page, run_jobs, tmp_path, request, size: str, width: int) -> None:
    """One import through the wizard, checking each page at ``width``."""
    open_menu_link(page, "Imports")
    page.get_by_role("link", name="Upload a file").click()
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
    page.set_content(html.replace("http://testserver", page.base))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the failing rows").click()
    rows = Path(download.value.path()).read_bytes().decode("utf-8-sig").splitlines()
    assert rows[0] == "E-mail;Voornaam;Taal;Bron;Interesses;row;reason;suggested fix"
    assert rows[1].startswith("not-an-email;Carl;en;Website;;4;")
