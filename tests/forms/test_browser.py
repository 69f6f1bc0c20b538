"""A newcomer's path in a real browser: CLI form, script and iframe embeds on a plain host
page (another origin), subscribe, the mail from a real SMTP peer, the link, confirmed."""

import base64
import contextlib
import os
import socket
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from gateway.accounts import update_profile
from gateway.auth import create_user
from gateway.cli import main
from gateway.db import db
from gateway.models import Account
from gateway.settings import Settings
from tests.conftest import ARTIFACTS, serving
from tests.forms.conftest import confirm_link, contacts
from tests.gateway.admin.conftest import PASSWORD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def settings(env, mailbox):
    """The gateway's own URL is known before it starts, so mailed links point at it."""
    env["INLET_BASE_URL"] = f"http://127.0.0.1:{_free_port()}"
    return Settings.from_env(env)


@pytest.fixture
def gateway(app, settings):
    """The app under uvicorn at INLET_BASE_URL (lifespan on: it closes its connections)."""
    port = int(settings.base_url.rsplit(":", 1)[1])
    with serving(app, port=port, lifespan="auto") as url:
        yield url


class HostPage:
    """A plain static web site on its own port: a different origin than the gateway."""

    def __init__(self):
        self.html = b""
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(page.html)

            def log_message(self, *args):
                pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host_page():
    site = HostPage()
    yield site
    site.close()


def _snippet(output: str, label: str) -> str:
    block = output.split(f"{label}:\n", 1)[1]
    return block.split("\n\n", 1)[0]


def test_subscribe_by_script_and_iframe_then_confirm(gateway, host_page, tenant, env,
                                                     monkeypatch, page, client, run_jobs,
                                                     mailbox):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, [
        "form", "create", str(tenant.id), "--name", "Shop news", "--source", "Website",
        "--fields", "first_name,preferences", "--languages", "en,nl",
        "--origin", host_page.origin, "--min-fill-seconds", "0"])
    assert result.exit_code == 0, result.output
    host_page.html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title></head>"
        "<body><h1>Our shop</h1><section id=by-script>"
        + _snippet(result.output, "script embed")
        + "</section><section id=by-iframe>" + _snippet(result.output, "iframe embed")
        + "</section></body></html>").encode()
    page.set_default_timeout(10_000)
    page.goto(host_page.origin + "/")

    script_form = page.locator("#by-script form.inlet-form")
    script_form.get_by_label("E-mail address").fill("script@example.com")
    script_form.get_by_label("First name").fill("Scarlet")
    script_form.get_by_label("Weekly").check()
    frame = page.frame_locator("#by-iframe iframe")
    frame.get_by_label("E-mail address").fill("iframe@example.com")
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "forms-host-page-filled.png"), full_page=True)

    script_form.get_by_role("button", name="Subscribe").click()
    page.locator("#by-script .inlet-thanks").wait_for()
    assert "check your inbox" in page.locator("#by-script").inner_text()
    frame.get_by_role("button", name="Subscribe").click()
    frame.get_by_text("check your inbox").wait_for()
    page.screenshot(path=os.path.join(ARTIFACTS, "forms-host-page-submitted.png"),
                    full_page=True)

    run_jobs()
    pending = {c["email"]: c for c in contacts(client, tenant, status="unconfirmed")}
    assert set(pending) == {"script@example.com", "iframe@example.com"}
    assert pending["script@example.com"]["first_name"] == "Scarlet"
    assert pending["script@example.com"]["preferences"] == ["Weekly"]

    for email in ("script@example.com", "iframe@example.com"):
        [mail] = mailbox.to(email)
        link = confirm_link(mail)
        assert link.startswith(gateway + "/confirm/")
        page.goto(link)
        assert "Your subscription is confirmed" in page.content()
    run_jobs()
    confirmed = {c["email"] for c in contacts(client, tenant, status="confirmed")}
    assert confirmed == {"script@example.com", "iframe@example.com"}


NO_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG image of one colour (a stand-in logo)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    pixels = (b"\x00" + bytes(rgb) * width) * height
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b""))


SIZES = ((1366, 768), (390, 844))
LOGO_SHOWN = "img => img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().width > 0"


@contextlib.contextmanager
def _no_js_page(browser, width: int, height: int):
    """A page of a fresh browser context with JavaScript off, at ``width`` × ``height``."""
    context = browser.new_context(java_script_enabled=False,
                                  viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        yield page
    finally:
        context.close()


def _shows_the_account(page, width: int, shot: str, site: str) -> None:
    """The page names the account with its logo (loaded, not blocked), fits the width (kept
    as screenshot ``shot``) and leads back to ``site``."""
    assert page.get_by_text("Acme", exact=True).is_visible(), width  # whose form this was
    logo = page.locator(".inlet-account img.inlet-logo")
    assert logo.evaluate(LOGO_SHOWN), f"the logo does not show at {width}"
    assert page.evaluate(NO_SCROLL), width
    page.screenshot(path=os.path.join(ARTIFACTS, f"{shot}-{width}.png"), full_page=True)
    page.get_by_role("link", name="Terug naar de website").click()  # its one site
    assert page.url.rstrip("/") == site


def test_plain_html_form_works_with_javascript_off(gateway, host_page, tenant, browser, client,
                                                   run_jobs, mailbox):
    """JavaScript off, the default minimum fill time: one press gives the thank-you page; it
    and the confirmation page carry the account's name and logo and a way back to the site,
    on a laptop and on a phone; the mail comes from the account's sender; the admin's consent
    record and history name the form."""
    with db.connection_context():
        update_profile(tenant.id, {"sender_name": "Acme Shop",
                                   "sender_address": "news@acme.example"})
        logo = "data:image/png;base64," + base64.b64encode(_png(120, 40, (200, 40, 40))).decode()
        Account.update(logo=logo).where(Account.id == tenant.id).execute()
    form = client.post("/api/forms", headers=tenant.headers, json={
        "name": "No JS", "source": "Website", "fields": ["first_name", "name"],
        "allowed_origins": [host_page.origin]}).json()
    assert form["min_fill_seconds"] == 2
    snippet = client.get(f"/api/forms/{form['id']}/embed", headers=tenant.headers).json()["html"]
    host_page.html = ("<!doctype html><html lang=nl><head><meta charset=utf-8><meta "
                      "name=viewport content='width=device-width, initial-scale=1'><title>Shop"
                      "</title></head><body>" + snippet + "</body></html>").encode()
    os.makedirs(ARTIFACTS, exist_ok=True)
    visitors = {1366: "nojs@example.com", 390: "phone@example.com"}
    for width, height in SIZES:
        with _no_js_page(browser, width, height) as page:
            page.goto(host_page.origin + "/")
            assert page.get_by_label("Naam", exact=True).count() == 1  # not "Achternaam"
            page.get_by_label("E-mailadres").fill(visitors[width])
            page.get_by_role("button", name="Inschrijven").click()  # once
            page.get_by_text("Kijk in je mailbox").wait_for()
            assert page.url.startswith(gateway + "/f/")
            _shows_the_account(page, width, "forms-no-js-thanks", host_page.origin)
    run_jobs()
    pending = {c["email"]: c for c in contacts(client, tenant, status="unconfirmed")}
    assert set(pending) == set(visitors.values())
    assert pending["nojs@example.com"]["language"] == "nl"
    for width, height in SIZES:
        [mail] = mailbox.to(visitors[width])
        assert mail["From"] == "Acme Shop <news@acme.example>"
        text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = mail.get_body(("html",)).get_content()
        assert text.startswith("Hallo,\n") and "Acme" in text  # no "Hallo ," without a name
        assert "No JS" in text and "Acme" in html
        with _no_js_page(browser, width, height) as page:
            page.set_content(html)  # the mail as a mail client shows it: press its button
            with page.expect_navigation():
                page.get_by_role("link", name="Bevestig je inschrijving").click()
            page.get_by_text("Je inschrijving is bevestigd").wait_for()
            _shows_the_account(page, width, "forms-no-js-confirmed", host_page.origin)
    run_jobs()
    confirmed = {c["email"]: c for c in contacts(client, tenant, status="confirmed")}
    assert set(confirmed) == set(visitors.values())

    # The admin's consent record and history name the form, as it was called.
    with db.connection_context():
        create_user(tenant.id, "boss@acme.example.com", PASSWORD)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{gateway}/admin/")
        page.get_by_label("E-mail address").fill("boss@acme.example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/admin/contacts")
        page.goto(f"{gateway}/admin/contacts/{confirmed['nojs@example.com']['id']}")
        reference = f"No JS #{form['id']}"
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            consent = page.locator("table", has=page.get_by_role("columnheader", name="How"))
            [record] = consent.locator("tbody tr").all()  # given on the form
            assert reference in record.inner_text(), width
            assert "Ik wil e-mails ontvangen" in record.inner_text()  # what they agreed to
            history = page.locator("ol.history").inner_text()
            assert f"created via form ({reference})" in history, history
            assert f"confirmed via form ({reference})" in history, history
            assert "form (1)" not in page.locator("main").inner_text()
            assert page.evaluate(NO_SCROLL), width
            page.screenshot(path=os.path.join(ARTIFACTS, f"forms-consent-record-{width}.png"),
                            full_page=True)
    finally:
        context.close()
