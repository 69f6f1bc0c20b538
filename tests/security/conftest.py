"""Security-test fixtures: a double opt-in form, a hook, and the admin UI's logins."""

from __future__ import annotations

import re
import time

import pytest

from tests.gateway.admin.conftest import admin, admin_client, admin_page  # noqa: F401

# Most of these checks do not depend on the store: SQLite keeps them quick. The ones that do
# (tenancy, NUL and integer bounds) run on both backends in tests/fuzz and tests/gateway.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def optin_form(client, tenant):
    """A double opt-in form without minimum fill time; returns its API shape."""
    r = client.post("/api/forms", headers=tenant.headers, json={
        "name": "Newsletter", "source": "Website", "double_opt_in": True,
        "min_fill_seconds": 0, "languages": ["en"],
        "redirect_urls": ["https://shop.example.com/thanks"],
        "after_submit_url": "https://shop.example.com/thanks",
        "allowed_origins": ["https://shop.example.com"]})
    assert r.status_code == 201, r.text
    return r.json()


def subscribe(client, settings, form: dict, email: str, **extra):
    """Post the form as a browser would (render stamp included), asking for JSON."""
    from forms import tokens
    ts = tokens.render_token(settings.secret_key, form["id"], now=time.time() - 5)
    return client.post(f"/f/{form['slug']}", data={"email": email, "_ts": ts, **extra},
                       headers={"Accept": "application/json"})


def confirm_link(mailbox, email: str) -> str:
    """The /confirm/<token> path of the last confirmation mail to ``email``."""
    body = mailbox.to(email)[-1].get_body(("plain",)).get_content()
    return re.search(r"(/confirm/[A-Za-z0-9._-]+)", body).group(1)
