"""The contacts overview walked in Chromium at a laptop and a phone (#16, items 5–8)."""

import re

from gateway import contacts
from gateway.contacts import Provenance
from tests.gateway.admin.conftest import assert_accessible, snap

PROV = Provenance(channel="api", reference="token:1", actor="test")
SIZES = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
NO_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_search_filters_and_pager_at_both_sizes(admin_page, tenant, request):
    page = admin_page
    for i in range(60):
        contacts.create(tenant.id, {"email": f"c{i:02d}@x.example.com", "language": "nl",
                                    "source": "Website", "interests": ["Music"] if i % 2 else []},
                        PROV)
    contacts.create(tenant.id, {"email": "nele@x.example.com", "first_name": "Nele",
                                "language": "nl", "source": "Website"}, PROV)
    for name, size in SIZES.items():
        page.set_viewport_size(size)
        page.goto(f"{page.base}/admin/contacts")
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        page.get_by_text("1–50 of 61").wait_for()
        page.get_by_role("link", name="Next →").click()
        page.get_by_text("51–61 of 61").wait_for()
        page.get_by_role("link", name="← Previous").click()
        page.get_by_text("1–50 of 61").wait_for()
        snap(page, request, f"{name}-pager")
        page.get_by_label("Search by e-mail or name").fill("NELE")
        page.get_by_role("button", name="Search").click()
        page.get_by_role("link", name="nele@x.example.com").wait_for()
        page.locator("summary", has_text="Filters").click()
        page.get_by_label("Interest").select_option("Music")
        page.get_by_role("button", name="Apply filters").click()
        page.get_by_text("No confirmed contact matches these filters").wait_for()
        page.get_by_role("link", name="Blacklisted").click()
        assert page.get_by_label("Search by e-mail or name").input_value() == "NELE"
        assert page.get_by_label("Interest").input_value() == "Music"
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        assert_accessible(page)
        snap(page, request, f"{name}-filters-kept")


def test_filters_and_search_update_the_list_in_place(admin_page, tenant, request):
    """With htmx, choosing a filter or pausing in the search box updates the tabs and the list
    without loading the page again (the address follows, so a reload shows the same)."""
    page = admin_page
    contacts.create(tenant.id, {"email": "nele@x.example.com", "first_name": "Nele",
                                "language": "fr", "source": "Website"}, PROV)
    contacts.create(tenant.id, {"email": "jan@x.example.com", "first_name": "Jan",
                                "language": "nl", "source": "Website"}, PROV)
    for name, size in SIZES.items():
        page.set_viewport_size(size)
        page.goto(f"{page.base}/admin/contacts")
        page.evaluate("window.notReloaded = true")
        page.get_by_label("Search by e-mail or name").fill("nele")  # no button pressed
        page.get_by_text("1 confirmed contact matches “nele”").wait_for()
        assert page.get_by_role("link", name="jan@x.example.com").count() == 0
        assert "q=nele" in page.url and page.evaluate("window.notReloaded === true")
        tab = page.get_by_role("link", name="Unconfirmed")
        assert "q=nele" in tab.get_attribute("href")  # the tabs were updated too
        page.get_by_label("Search by e-mail or name").fill("")
        page.locator("summary", has_text="Filters").click()
        page.get_by_label("Language").select_option("nl")
        page.get_by_role("link", name="jan@x.example.com").wait_for()
        # the cleared search's answer may land first (both listed): wait for the filter's
        page.get_by_role("link", name="nele@x.example.com").wait_for(state="detached")
        assert page.evaluate("window.notReloaded === true")
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        snap(page, request, f"{name}-in-place")
        page.reload()
        page.get_by_role("link", name="jan@x.example.com").wait_for()
        assert page.get_by_label("Language").input_value() == "nl"


def test_edit_blacklist_with_a_reason_and_re_add_at_both_sizes(admin_page, tenant, request):
    """#16 items 7 and 8: edit a contact, blacklist it with a reason; the Blacklisted tab
    shows when and why, and adding the address again says it is blacklisted, since when and
    why (not merely "exists already")."""
    page = admin_page
    for name, size in SIZES.items():
        email = f"nele.{name}@x.example.com"
        reason = f"Asked by phone ({name})"
        nele = contacts.create(tenant.id, {"email": email, "first_name": "Nele",
                                           "language": "nl", "source": "Website"}, PROV)
        page.set_viewport_size(size)
        page.goto(f"{page.base}/admin/contacts/{nele.id}")
        page.get_by_role("link", name="Edit contact").click()
        page.get_by_label("Name", exact=True).fill("Peeters")
        page.get_by_label("Language").select_option("fr")
        assert page.evaluate(NO_SCROLL), name
        assert_accessible(page)
        snap(page, request, f"{name}-edit")
        page.get_by_role("button", name="Save changes").click()
        page.get_by_role("status").filter(has_text=f"{email} was saved").wait_for()
        fields = page.locator("dl.fields").inner_text()
        assert "Peeters" in fields and "fr" in fields

        page.get_by_label("Reason for blacklisting").fill(reason)
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name="Blacklist").click()
        page.get_by_role("status").filter(has_text=f"{email} is blacklisted").wait_for()
        assert reason in page.locator(".blacklisted-note").inner_text()
        assert page.get_by_role("link", name="Edit contact").count() == 0

        page.goto(f"{page.base}/admin/contacts?tab=blacklisted")
        row = page.get_by_role("row").filter(has_text=email)
        assert row.locator("td[data-label=Reason]").inner_text() == reason
        when = row.locator("td[data-label=Blacklisted] time")
        assert when.inner_text() == "Just now"  # the exact date and time in its tooltip
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d \S+", when.get_attribute("title"))
        assert page.evaluate(NO_SCROLL), name
        assert_accessible(page)
        snap(page, request, f"{name}-blacklisted-tab")

        page.goto(f"{page.base}/admin/contacts/new")
        page.get_by_label("E-mail address").fill(email)
        page.locator("#language").select_option("nl")
        page.locator("#source").select_option("Website")
        page.get_by_label("I confirm").check()
        page.get_by_role("button", name="Add contact").click()
        page.wait_for_function("document.activeElement.id === 'error-summary'")
        said = page.locator("#email-errors").inner_text()
        assert re.fullmatch(rf"{re.escape(email)} is blacklisted \(since \d{{4}}-\d\d-\d\d: "
                            rf"{re.escape(reason)}\) and cannot be added again\.", said), said
        assert "exists already" not in page.locator("main").inner_text()
        assert page.evaluate(NO_SCROLL), name
        snap(page, request, f"{name}-re-add-blacklisted")
