"""Connector pages in chromium: a hook, its secret once, a dead letter fixed and replayed;
the hook's page at desktop and phone widths with its examples and a test delivery."""

from gateway.models import Contact
from tests.gateway.admin.conftest import assert_accessible, snap


def test_hook_dead_letter_fix_and_replay(admin_page, client, run_jobs, request):
    page = admin_page
    page.get_by_role("link", name="Connectors").click()
    page.get_by_role("heading", name="Connectors").wait_for()
    assert_accessible(page)
    page.get_by_role("link", name="New webhook").click()
    page.get_by_role("heading", name="New webhook").wait_for()
    assert_accessible(page)
    page.get_by_label("Name of the hook").fill("Zapier")
    page.get_by_label("How requests prove").select_option("bearer")
    page.get_by_label("Source of new contacts").select_option("Website")
    page.get_by_label("Language: path or value").fill("lang")  # the rest: the flat default
    page.get_by_role("button", name="Create hook").click()
    page.get_by_role("status").filter(has_text="was created").wait_for()
    assert_accessible(page)
    secret = page.locator("#hook-secret").inner_text()
    path = page.locator("#hook-url").inner_text().removeprefix("http://testserver")

    # The sending tool posts a record the hook cannot map: it lands in the dead letters.
    sent = client.post(path, json={"email": "ann@example.com", "lang": "Dutch"},
                       headers={"authorization": f"Bearer {secret}"})
    assert sent.status_code == 202
    run_jobs()
    page.reload()
    assert page.locator("#hook-secret").count() == 0  # the secret was shown once
    assert page.get_by_role("button", name="Replay all 1").is_visible()

    # The test preview shows why, the fix, and what the record would become.
    page.get_by_label("Test payload (JSON)").fill('{"email": "ann@example.com", "lang": "Dutch"}')
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_role("table", name="Preview of the test payload")
    assert "failed" in preview.inner_text() and "language" in preview.inner_text()
    page.get_by_role("link", name="Edit hook").click()
    page.get_by_label("Language values to codes").fill('{"Dutch": "nl"}')
    page.get_by_role("button", name="Save hook").click()
    page.get_by_role("status").filter(has_text="was saved").wait_for()
    page.get_by_label("Test payload (JSON)").fill('{"email": "ann@example.com", "lang": "Dutch"}')
    page.get_by_role("button", name="Preview").click()
    assert "created" in preview.inner_text()
    assert not Contact.select().where(Contact.email == "ann@example.com").exists()
    snap(page, request, "preview")

    page.get_by_role("button", name="Replay the delivery").click()
    page.get_by_role("status").filter(has_text="queued again").wait_for()
    run_jobs()
    page.reload()
    assert "None: every delivery was processed" in page.locator("main").inner_text()
    recent = page.get_by_role("region", name="Recent deliveries").inner_text()
    assert "processed" in recent and "replayed 1×" in recent
    assert Contact.get(email="ann@example.com").language == "nl"


def test_connect_efficy(admin_page, request):
    page = admin_page
    page.goto(f"{page.base}/admin/connectors")
    page.get_by_role("link", name="Connect Efficy CRM").click()
    page.get_by_role("heading", name="Connect Efficy CRM").wait_for()
    assert_accessible(page)
    assert page.get_by_label("Mapping as JSON").count() == 0  # Efficy needs none
    page.get_by_label("Name of the hook").fill("Efficy")
    # a sensible default: the account's first source
    assert page.get_by_label("Source of new contacts").input_value() == "Website"
    page.get_by_label("Source of new contacts").select_option("Fair")
    page.get_by_label("When a contact is deleted in Efficy").select_option("blacklist")
    page.get_by_role("button", name="Create hook").click()
    page.get_by_role("status").filter(has_text="was created").wait_for()
    assert "/hooks/efficy/" in page.locator("#hook-url").inner_text()
    assert page.locator("#hook-secret").inner_text()


NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def test_a_hook_page_at_both_widths_with_examples_and_a_test_delivery(admin_page, request):
    page = admin_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{page.base}/admin/connectors/new?kind=generic")
    assert page.get_by_label("E-mail address: path or value").input_value() == "email"
    assert page.evaluate(NO_SIDEWAYS_SCROLL), "the new-hook form scrolls sideways at 390 px"
    snap(page, request, "new-phone")
    page.get_by_label("Name of the hook").fill("Make")
    page.get_by_role("button", name="Create hook").click()
    page.get_by_role("status").filter(has_text="was created").wait_for()
    assert_accessible(page)
    curl = page.locator("#example-curl").inner_text()
    assert page.locator("#hook-secret").inner_text() in curl and "openssl" in curl
    assert page.evaluate(NO_SIDEWAYS_SCROLL), "the hook page scrolls sideways at 390 px"
    snap(page, request, "hook-phone")
    page.get_by_role("button", name="Send a test delivery").click()
    outcome = page.locator("#test-outcome")
    outcome.wait_for()
    assert "Accepted (202)" in outcome.inner_text()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.get_by_text("Python", exact=True).click()
    assert "hmac.new" in page.locator("#example-python").inner_text()
    snap(page, request, "hook-desktop")
    page.get_by_role("link", name="Edit hook").click()
    page.get_by_label("First name: path or value").wait_for()
    snap(page, request, "edit-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(NO_SIDEWAYS_SCROLL), "the mapping editor scrolls sideways at 390 px"
    snap(page, request, "edit-phone")
