"""Admin UI fixtures: a user of the ``tenant`` account, and logged-in clients and pages."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urljoin

import pytest

from gateway.auth import create_user

PASSWORD = "correct horse battery"


@dataclass
class Admin:
    """A login for the admin UI."""

    email: str
    password: str
    account_id: int


@pytest.fixture
def admin(tenant) -> Admin:
    user = create_user(tenant.id, "boss@acme.example.com", PASSWORD)
    return Admin(user.email, PASSWORD, tenant.id)


def csrf_of(html: str) -> str:
    """The CSRF token a rendered page carries."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login_client(client, email: str, password: str):
    """Log the TestClient in through the login form; returns the response."""
    page = client.get("/admin/login")
    return client.post("/admin/login", data={"email": email, "password": password,
                                             "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)


@pytest.fixture
def admin_client(client, admin):
    """A TestClient logged in as ``admin``, its "browser" asking for English (without it the
    admin speaks the account's first language, Dutch: issue #21)."""
    client.headers.setdefault("accept-language", "en")
    r = login_client(client, admin.email, admin.password)
    assert r.status_code == 303, r.text
    return client


@pytest.fixture
def admin_page(page, live_server, admin):
    """A browser page logged in as ``admin`` on the live server."""
    page.set_default_timeout(10_000)
    page.goto(f"{live_server}/admin/")
    page.get_by_label("E-mail address").fill(admin.email)
    page.get_by_label("Password").fill(admin.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/contacts")
    page.base = live_server
    return page


# Every input has a label (or an aria name) and every button a name: run on each page visited.
A11Y_SCRIPT = """
() => {
  const problems = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labelled = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby') || el.getAttribute('title');
    if (!labelled) problems.push('unlabelled ' + el.tagName + ' ' + (el.name || el.id));
  }
  for (const el of document.querySelectorAll('button, [role=button], input[type=submit]')) {
    const name = (el.textContent || '').trim() || el.getAttribute('aria-label') || el.value;
    if (!name) problems.push('nameless button ' + el.outerHTML.slice(0, 80));
  }
  if (!document.documentElement.lang) problems.push('no lang on <html>');
  if (!document.title.trim()) problems.push('no <title>');
  return problems;
}
"""


def snap(page, request, step: str) -> None:
    """Keep a screenshot of one step of a flow in the test artifacts."""
    from tests.conftest import ARTIFACTS
    os.makedirs(ARTIFACTS, exist_ok=True)
    name = request.node.name.replace("[", "-").replace("]", "")
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}--{step}.png"), full_page=True)


def assert_accessible(page) -> None:
    """Fail with the list of inputs without labels and buttons without names."""
    page.wait_for_load_state()
    assert page.evaluate(A11Y_SCRIPT) == [], page.url


def follow(link) -> None:
    """Click a link and wait until the page it leads to has loaded.

    A click does not wait for the navigation it starts: reading the page straight after it can
    read the old page, or none while the new one commits."""
    page = link.page
    target = urljoin(page.url, link.get_attribute("href"))
    link.click()
    page.wait_for_url(target)


def account_day(account_id: int, stored):
    """The day a stored (naive UTC) instant falls on in the account's time zone: the day its
    pages show and filter by (near midnight UTC it is not the UTC day)."""
    from gateway.admin.dates import as_utc, zone
    from gateway.models import Account
    return as_utc(stored).astimezone(zone(Account.get_by_id(account_id).time_zone)).date()


def shown_day(day) -> str:
    """A date as an English page shows it: 'Nov 24, 2026'."""
    return f"{day:%b} {day.day}, {day.year}"


def shows(response, texts: list[str]) -> None:
    """Fail with the ``texts`` a rendered page does not show (its words, markup removed)."""
    words = re.sub(r"<[^>]+>", "", response.text)
    words = re.sub(r"\s+", " ", words.replace("&#39;", "'").replace("&#34;", '"')
                   .replace("&amp;", "&"))
    missing = [t for t in texts if t not in words]
    assert not missing, missing


def log_in(page, live_server: str, admin: Admin) -> None:
    """Log ``admin`` in through the login form, whatever language the page speaks."""
    page.goto(f"{live_server}/admin/login")
    page.locator("input[name=email]").fill(admin.email)
    page.locator("input[name=password]").fill(admin.password)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url("**/admin/contacts")
