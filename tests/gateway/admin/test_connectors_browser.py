"""Connector pages in chromium: a hook, its secret once, a dead letter fixed and replayed;
the hook's page at desktop and phone widths with its examples and a test delivery; its
deliveries in every state and its refused requests; the mapping preview in plain text."""

import json
import uuid

import httpx2 as httpx

from connectors import service, signatures
from connectors.models import Refusal
from connectors.routes import MAX_BODY_BYTES
from gateway.models import Contact
from tests.gateway.admin.conftest import assert_accessible, snap

SIZES = ((1366, 768), (390, 844))


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


def _new_hook(client, tenant, live_server, **data) -> tuple[dict, str, str]:
    """A hook with the default (flat) mapping: (hook, secret, its URL on the live server)."""
    made = client.post("/api/hooks", headers=tenant.headers,
                       json={"name": "Typeform", "source": "Website", **data})
    assert made.status_code == 201, made.text
    hook = made.json()
    return hook, hook.pop("secret"), hook["url"].replace("http://testserver", live_server)


def _send(url: str, secret: str, payload=None, *, body: bytes | None = None) -> httpx.Response:
    """A signed POST over the network, as a sending tool makes it."""
    raw = body if body is not None else json.dumps(payload).encode()
    return httpx.post(url, content=raw, timeout=10, headers={
        "content-type": "application/json",
        **signatures.headers(secret, f"msg_{uuid.uuid4().hex}", raw)})


def test_deliveries_in_every_state_and_refused_requests_at_both_widths(
        admin_page, client, tenant, live_server, run_jobs, request):
    """#17 item 9: processed, dead (the record and field that failed), replayed and queued
    deliveries, and requests the hook refused (when, status, reason, sender's address; never
    the body), readable on a laptop and on a phone."""
    hook, secret, url = _new_hook(client, tenant, live_server)
    assert _send(url, secret, {"email": "ok@example.com", "first_name": "Ok"}).status_code == 202
    assert _send(url, secret, {"first_name": "Nomail"}).status_code == 202  # no address
    run_jobs()
    service.replay_all(tenant.id, hook["id"])  # replayed unchanged: dead again, counted
    run_jobs()
    # Four mistakes of a sender, each carrying an address that must not be kept.
    kept_out = "refused-body@example.com"
    assert _send(url, "whsec_" + "A" * 32, {"email": kept_out}).status_code == 401
    assert httpx.post(url, content=f"email={kept_out}", headers={
        "content-type": "application/x-www-form-urlencoded"}).status_code == 415
    assert _send(url, secret, body=f'{{"email": "{kept_out}",'.encode()).status_code == 400
    big = json.dumps({"email": kept_out, "note": "x" * MAX_BODY_BYTES}).encode()
    assert _send(url, secret, body=big).status_code == 413
    assert _send(url, secret, {"email": "later@example.com"}).status_code == 202  # no worker
    assert Refusal.select().count() == 4

    page = admin_page
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{page.base}/admin/connectors/{hook['id']}")
        recent = page.get_by_role("region", name="Recent deliveries")
        items = recent.locator(":scope > ul > li")
        processed = items.filter(has_text="processed")
        assert "created 1" in processed.inner_text()
        processed.get_by_role("link", name="contact").wait_for()
        dead = items.filter(has_text="dead letter")
        assert "replayed 1×" in dead.inner_text()
        dead.get_by_role("listitem").filter(
            has_text="record 1: email: an e-mail address is required").wait_for()
        items.filter(has_text="queued").filter(has_text="waiting for a worker").wait_for()
        letters = page.get_by_role("region", name="Dead letters")
        assert "record 1: email: an e-mail address is required" in letters.inner_text()
        refused = page.get_by_role("region", name="Refused requests").get_by_role("listitem")
        assert refused.count() == 4
        for status, reason in (
                (413, f"The body is larger than {MAX_BODY_BYTES} bytes."),
                (400, "Not valid JSON (line 1, column"),
                (415, "Send the body as application/json."),
                (401, "No webhook-signature matches this hook's secret.")):
            row = refused.filter(has_text=f" {status} ")
            assert reason in row.inner_text() and "from 127.0.0.1" in row.inner_text(), status
        assert kept_out not in page.content()  # no refused body, anywhere on the page
        assert_accessible(page)
        assert page.evaluate(NO_SIDEWAYS_SCROLL), f"the hook page scrolls sideways at {width}"
        snap(page, request, f"deliveries-{width}")


def test_the_mapping_preview_shows_the_last_delivery_as_written_at_both_widths(
        admin_page, client, tenant, live_server, run_jobs, request):
    """#17 item 8: a sender that escapes non-ASCII (JSON's \\u00eb) still shows "Zoë" and
    "Ñandú" in the mapping editor's preview of the last delivery, field by field and in the
    body it reads, and in the hook page's test payload."""
    hook, secret, url = _new_hook(client, tenant, live_server, name="Make")
    body = {"email": "zoe@example.com", "first_name": "Zoë", "name": "Ñandú"}
    raw = json.dumps(body).encode()  # ensure_ascii: "Zo\\u00eb" on the wire, as many send it
    assert b"\\u00eb" in raw
    assert _send(url, secret, body=raw).status_code == 202
    run_jobs()

    page = admin_page
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{page.base}/admin/connectors/{hook['id']}/edit")
        rows = page.locator(".mapping-row")
        first = rows.filter(has=page.get_by_label("First name: path or value"))
        name = rows.filter(has=page.get_by_label("Name: path or value", exact=True))
        assert "reads “Zoë”" in first.inner_text(), width
        assert "reads “Ñandú”" in name.inner_text(), width
        page.get_by_text("The body the preview reads (the last delivery)").click()
        shown = page.locator("details", has_text="The body the preview reads").locator("pre")
        shown.wait_for()
        assert '"first_name": "Zoë"' in shown.inner_text()
        assert '"name": "Ñandú"' in shown.inner_text()
        assert "\\u00" not in page.locator("main").inner_text()
        assert_accessible(page)
        assert page.evaluate(NO_SIDEWAYS_SCROLL), f"the mapping editor scrolls sideways at {width}"
        snap(page, request, f"mapping-preview-{width}")
        # An unsaved change previews on the same delivery.
        page.get_by_label("First name: path or value").fill("name")
        page.get_by_role("button", name="Preview the mapping").click()
        first = page.locator(".mapping-row").filter(
            has=page.get_by_label("First name: path or value"))
        first.filter(has_text="reads “Ñandú”").wait_for()
        assert page.evaluate(NO_SIDEWAYS_SCROLL), width

    page.goto(f"{page.base}/admin/connectors/{hook['id']}")
    payload = page.get_by_label("Test payload (JSON)").input_value()
    assert '"first_name": "Zoë"' in payload and '"name": "Ñandú"' in payload
    assert "the last delivery" in page.get_by_role("region", name="Test the mapping").inner_text()
