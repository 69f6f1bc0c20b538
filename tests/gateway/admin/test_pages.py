"""What every admin page shares: the base-URL warning, the account's time zone, numbers."""

import re
import time
from email import message_from_bytes, policy
from pathlib import Path

import httpx2 as httpx

from gateway.admin.wording import counted, num
from gateway.models import Account
from gateway.settings import Settings, served_url
from tests.gateway.admin.conftest import csrf_of
from tests.gateway.test_cli import embedded_server, inlet  # noqa: F401 (a fixture)


def test_numbers_for_people():
    assert num(40000) == "40,000" and num(None) == "0"
    assert counted(1, "new contact") == "1 new contact"
    assert counted(2, "new contact") == "2 new contacts"
    assert counted(40304, "row") == "40,304 rows"
    assert counted(0, "match", "matches") == "0 matches"


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
