"""What every admin page shares: the base-URL warning, the account's time zone, numbers."""

import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest

from forms.definitions import create_form
from gateway import contacts, i18n
from gateway.admin.wording import about
from gateway.contacts import Provenance
from gateway.models import Account, Contact, ContactEvent
from gateway.settings import Settings, served_url
from tests.gateway.admin.conftest import assert_accessible, csrf_of, shown_day, snap
from tests.gateway.test_cli import embedded_server, inlet  # noqa: F401 (a fixture)


def test_numbers_for_people():
    assert i18n.number(40000) == "40,000" and i18n.number(None) == "0"
    assert about(1_234_567, estimated=True) == "about 1.2 million"
    with i18n.use("nl"):
        assert i18n.number(40000) == "40.000"
        assert about(56_123, estimated=True) == "ongeveer 56.000"
    with i18n.use("fr"):
        assert i18n.number(40000) == "40\u202f000"


def test_the_base_url_defaults_to_the_address_served(tmp_path):
    environ = {"INLET_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(environ).base_url == "http://127.0.0.1:8000"
    assert Settings.from_env(environ, served_url("127.0.0.1", 8123)).base_url == \
        "http://127.0.0.1:8123"
    assert served_url("0.0.0.0", 80) == "http://127.0.0.1:80"  # noqa: S104
    assert served_url("::1", 81) == "http://[::1]:81"
    configured = {**environ, "INLET_BASE_URL": "https://inlet.example.com/"}
    assert Settings.from_env(configured, "http://127.0.0.1:8123").base_url == \
        "https://inlet.example.com"


def test_a_banner_warns_when_the_base_url_is_another_host(admin_client):
    here = admin_client.get("/admin/contacts")  # INLET_BASE_URL is http://testserver
    assert "base-url-warning" not in here.text
    elsewhere = admin_client.get("/admin/contacts", headers={"host": "10.0.0.5:8080"})
    assert elsewhere.status_code == 200
    banner = re.search(r'id="base-url-warning">(.*?)</div>', elsewhere.text, re.S).group(1)
    assert "http://testserver" in banner and "10.0.0.5:8080" in banner
    assert "INLET_BASE_URL" in banner


def test_the_time_zone_comes_from_the_browser_once_then_from_settings(admin_client, admin):
    page = admin_client.get("/admin/contacts").text
    assert 'data-time-zone-url="/admin/settings/time-zone"' in page  # unset: offered once
    token = csrf_of(page)

    def post(**data):
        return admin_client.post("/admin/settings/time-zone", data={"csrf_token": token, **data},
                                 follow_redirects=False)
    assert post(time_zone="America/New_York", auto="1").status_code == 204
    assert post(time_zone="Asia/Tokyo", auto="1").status_code == 204  # never overrides
    assert Account.get_by_id(admin.account_id).time_zone == "America/New_York"
    assert "data-time-zone-url" not in admin_client.get("/admin/contacts").text
    assert post(time_zone="Europe/Paris").status_code == 303
    assert Account.get_by_id(admin.account_id).time_zone == "Europe/Paris"
    settings = admin_client.get("/admin/settings").text
    assert "<option selected>Europe/Paris</option>" in settings
    refused = post(time_zone="Mars/Olympus_Mons")
    assert refused.status_code == 400 and "not a time zone" in refused.text
    assert Account.get_by_id(admin.account_id).time_zone == "Europe/Paris"


def _hidden_inputs(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def test_inlet_serve_on_any_port_mails_links_to_that_port(embedded_server):  # noqa: F811
    base, env = embedded_server
    account = inlet(env, "account", "create", "Acme").stdout.strip()
    token = inlet(env, "token", "create", account, "--scopes",
                  "contacts:read,contacts:write,admin").stdout.strip()
    api = {"authorization": f"Bearer {token}"}
    assert httpx.post(f"{base}/api/sources", json={"name": "Website"},
                      headers=api).status_code == 201
    made = httpx.post(f"{base}/api/forms", headers=api, json={
        "name": "Letter", "source": "Website", "languages": ["en"], "min_fill_seconds": 0})
    assert made.status_code == 201, made.text
    hosted = made.json()["urls"]["hosted"]
    assert hosted.startswith(f"{base}/f/")  # the snippet's URL too
    fields = _hidden_inputs(httpx.get(hosted).text) | {"email": "ann@example.com"}
    sent = httpx.post(hosted, data=fields)
    assert sent.status_code == 200, sent.text
    outbox = Path(env["INLET_DATA_DIR"]) / "outbox"
    for _ in range(100):  # the embedded queue sends from the server process
        mails = list(outbox.glob("*.eml"))
        if mails:
            break
        time.sleep(0.1)
    text = message_from_bytes(mails[0].read_bytes(), policy=policy.default).get_body(
        ("plain",)).get_content()
    link = re.search(r"https?://\S+/confirm/\S+", text).group(0)
    assert link.startswith(f"{base}/confirm/")  # the port actually served, not 8000
    assert httpx.get(link).status_code == 200


# ---- walked in chromium at a laptop and a phone (#16 items 2–4) -----------------------------

SIZES = ((1366, 768), (390, 844))
NO_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
PROV = Provenance(channel="api", reference="token:1", actor="test")


def test_the_form_editor_leads_from_its_error_summary_to_each_field(admin_page, tenant,
                                                                     request):
    """#16 item 2: a form refused by the server (fields in two folded sections) puts focus on
    the error summary, and each of its links puts focus on its field."""
    page = admin_page
    form = create_form(tenant.id, {"name": "Letter", "source": "Website"})
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{page.base}/admin/forms/{form.id}/edit")
        page.get_by_role("heading", name="Behaviour").click()
        page.get_by_label("Minimum seconds to fill in").fill("soon")
        page.get_by_role("heading", name="Embedding").click()
        page.get_by_label("Sites allowed to embed the form").fill("https://www.example.com/x")
        page.get_by_role("button", name="Save form").first.click()
        page.wait_for_function("document.activeElement.id === 'error-summary'")
        summary = page.locator("#error-summary")
        assert page.evaluate(NO_SCROLL), width
        assert_accessible(page)
        snap(page, request, f"summary-{width}")
        for link, field in ((re.compile("not an origin"), "allowed_origins"),
                            (re.compile("seconds|number", re.I), "min_fill_seconds")):
            summary.get_by_role("link", name=link).click()
            assert page.evaluate("document.activeElement.id") == field, (width, field)
            assert page.locator(f"#{field}").is_visible()  # its section unfolded
        snap(page, request, f"field-{width}")


def test_dates_and_counts_in_the_accounts_time_zone_at_both_sizes(admin_page, tenant,
                                                                   request):
    """#16 item 3: for an account in New York, "Today", dates, times and the date filter are
    New York's (a contact added at 22:00 yesterday there is already today in UTC), and counts
    read "1,001", "1 … contact", "2 … contacts"."""
    page = admin_page
    ny = ZoneInfo("America/New_York")
    Account.update(time_zone="America/New_York").where(Account.id == tenant.id).execute()
    now = datetime.now(UTC)
    today = now.astimezone(ny).date()
    yesterday = today - timedelta(days=1)
    late = datetime.combine(yesterday, dt_time(22, 0), tzinfo=ny)  # today (or later) in UTC
    hour_ago = now - timedelta(minutes=61)
    stored = {"late": late, "recent": hour_ago}
    for name, at in stored.items():
        c = contacts.create(tenant.id, {"email": f"{name}@ny.example.com", "language": "en",
                                        "source": "Website", "status": "unconfirmed"}, PROV)
        naive = at.astimezone(UTC).replace(tzinfo=None)
        Contact.update(created_at=naive).where(Contact.id == c.id).execute()
        stored[name] = c.id
    old = (now - timedelta(days=3)).replace(tzinfo=None)
    Contact.insert_many([{"account": tenant.id, "email": f"c{i:04d}@x.example.com",
                          "language": "nl", "source": "Website", "status": "confirmed",
                          "created_at": old, "updated_at": old} for i in range(1001)]).execute()
    gone = contacts.create(tenant.id, {"email": "gone@ny.example.com", "language": "en",
                                       "source": "Website"}, PROV)
    contacts.blacklist(tenant.id, gone.id, PROV, reason="Moved away")
    ContactEvent.update(at=late.astimezone(UTC).replace(tzinfo=None)).where(
        (ContactEvent.contact == gone.id) & (ContactEvent.kind == "blacklisted")).execute()
    recent_day = hour_ago.astimezone(ny).date()
    recent_label = "Today" if recent_day == today else shown_day(recent_day)

    base = f"{page.base}/admin/contacts"
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(base)
        tabs = page.get_by_role("navigation", name="Contact status")
        assert tabs.get_by_role("link").all_inner_texts() == [
            "Confirmed 1,001", "Unconfirmed 2", "Blacklisted 1"]
        assert page.locator(".pager .position").inner_text() == "1–50 of 1,001"
        assert page.evaluate(NO_SCROLL), width

        page.goto(f"{base}?tab=unconfirmed")
        rows = page.locator("tbody tr").evaluate_all(
            "rows => rows.map(r => [r.cells[0].innerText, r.cells[4].innerText,"
            " r.cells[4].querySelector('time').title])")
        assert [row[:2] for row in rows] == [["recent@ny.example.com", recent_label],
                                             ["late@ny.example.com", shown_day(yesterday)]]
        assert re.fullmatch(rf"{yesterday} 22:00 E[SD]T", rows[1][2]), rows[1][2]
        assert page.evaluate(NO_SCROLL), width
        snap(page, request, f"unconfirmed-{width}")
        page.goto(f"{base}?tab=unconfirmed&q=late")
        page.get_by_text("1 unconfirmed contact matches “late”.").wait_for()
        page.goto(f"{base}?tab=unconfirmed&q=ny.example")
        page.get_by_text("2 unconfirmed contacts match “ny.example”.").wait_for()
        # "Added until yesterday" is New York's yesterday: 22:00 there is in, UTC's is not
        page.goto(f"{base}?tab=unconfirmed&to={yesterday}")
        expected = ["late@ny.example.com"] + (
            ["recent@ny.example.com"] if recent_day <= yesterday else [])
        assert sorted(page.locator("tbody tr td:first-child").all_inner_texts()) == \
            sorted(expected)

        page.goto(f"{base}/{stored['late']}")
        added = page.locator("dl.fields dt:text-is('Added') + dd").inner_text()
        assert added == f"{shown_day(yesterday)} ({shown_day(yesterday)} 22:00)", added
        assert page.evaluate(NO_SCROLL), width
        snap(page, request, f"contact-{width}")

        page.goto(f"{base}?tab=blacklisted")
        row = page.get_by_role("row").filter(has_text="gone@ny.example.com")
        assert row.locator("td[data-label=Blacklisted]").inner_text() == shown_day(yesterday)
        assert row.locator("td[data-label=Reason]").inner_text() == "Moved away"
        page.goto(f"{base}/new")  # adding it again gives the same day as the tab
        page.get_by_label("E-mail address").fill("gone@ny.example.com")
        page.locator("#language").select_option("en")
        page.locator("#source").select_option("Website")
        page.get_by_label("I confirm").check()
        page.get_by_role("button", name="Add contact").click()
        said = page.locator("#email-errors").inner_text()
        assert f"is blacklisted (since {yesterday}: Moved away)" in said, said
        assert page.evaluate(NO_SCROLL), width
        snap(page, request, f"re-add-{width}")


LONG_BASE_URL = "http://newsletter-signups.a-rather-long-company-name.example.com:8443"


@pytest.fixture
def public_base_url(env) -> str:
    """INLET_BASE_URL names a public host, not the address the browser uses."""
    env["INLET_BASE_URL"] = LONG_BASE_URL
    return LONG_BASE_URL


def test_the_base_url_banner_at_both_sizes(public_base_url, admin_page, app, monkeypatch,
                                           request):
    """#16 item 4: logged in at another address than INLET_BASE_URL, every admin page warns,
    naming both, and still fits a phone; at the configured address it says nothing."""
    page = admin_page
    here = page.base.removeprefix("http://")
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        for path in ("/admin/contacts", "/admin/settings", "/admin/imports"):
            page.goto(page.base + path)
            banner = page.locator("#base-url-warning")
            assert banner.is_visible(), path
            text = banner.inner_text()
            assert LONG_BASE_URL in text and here in text and "INLET_BASE_URL" in text
            box = banner.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (path, box)
            assert page.evaluate(NO_SCROLL), (width, path)
        snap(page, request, f"banner-{width}")
    # Configured as the address in use (as `inlet serve` now defaults to): no banner.
    monkeypatch.setattr(app.state, "settings",
                        replace(app.state.settings, base_url=page.base))
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{page.base}/admin/contacts")
        page.get_by_role("heading", name="All contacts").wait_for()
        assert page.locator("#base-url-warning").count() == 0
        snap(page, request, f"no-banner-{width}")
