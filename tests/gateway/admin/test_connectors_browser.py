"""Connector pages in chromium: a hook, its secret once, a dead letter fixed and replayed."""

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
    page.get_by_label("Name").fill("Zapier")
    page.get_by_label("How requests prove").select_option("bearer")
    page.get_by_label("Source of new contacts").select_option("Website")
    page.get_by_label("Field mapping").fill('{"email": "email", "language": "lang"}')
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
    assert "done" in page.get_by_role("region", name="Recent deliveries").inner_text()
    assert Contact.get(email="ann@example.com").language == "nl"


def test_connect_efficy(admin_page, request):
    page = admin_page
    page.goto(f"{page.base}/admin/connectors")
    page.get_by_role("link", name="Connect Efficy CRM").click()
    page.get_by_role("heading", name="Connect Efficy CRM").wait_for()
    assert_accessible(page)
    assert page.get_by_label("Field mapping").count() == 0  # Efficy needs none
    page.get_by_label("Name").fill("Efficy")
    page.get_by_role("button", name="Create hook").click()
    assert "source" in page.get_by_role("alert").inner_text()  # it must be chosen
    page.get_by_label("Source of new contacts").select_option("Fair")
    page.get_by_label("When a contact is deleted in Efficy").select_option("blacklist")
    page.get_by_role("button", name="Create hook").click()
    page.get_by_role("status").filter(has_text="was created").wait_for()
    assert "/hooks/efficy/" in page.locator("#hook-url").inner_text()
    assert page.locator("#hook-secret").inner_text()
