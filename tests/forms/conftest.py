"""Fixtures of the forms tests: a form, and a visitor that fills it like a person would."""

from __future__ import annotations

import re
import time

import pytest

from forms import tokens

HOST_ORIGIN = "https://shop.example"


@pytest.fixture
def make_form(client, tenant):
    """Create a form through the API; returns its JSON."""
    def make(**extra):
        body = {"name": "Newsletter", "source": "Website",
                "fields": ["first_name", "name", "preferences", "interests"],
                "allowed_origins": [HOST_ORIGIN], **extra}
        r = client.post("/api/forms", json=body, headers=tenant.headers)
        assert r.status_code == 201, r.text
        return r.json()
    return make


@pytest.fixture
def form(make_form):
    return make_form()


def aged_ts(settings, form_id: int, seconds: float = 30) -> str:
    """A render stamp as if the page had been shown ``seconds`` ago (frozen clock)."""
    return tokens.render_token(settings.secret_key, form_id, now=time.time() - seconds)


@pytest.fixture
def visitor(client, settings):
    """Posts the form like a person who took their time; returns the response."""
    def post(form: dict, data: dict, *, json: bool = False, ip: str | None = None, **kw):
        body = {"_ts": aged_ts(settings, form["id"]), "_lang": "en", "_embed": "hosted",
                **data}
        headers = kw.pop("headers", {})
        if json:
            headers["Accept"] = "application/json"
        return client.post(f"/f/{form['slug']}", data=body, headers=headers,
                           follow_redirects=False, **kw)
    return post


def page_text(response) -> str:
    """A page's HTML without its per-response CSP nonce (the only part that may differ)."""
    return re.sub(r'nonce="[^"]+"', "", response.text)


def confirm_link(message) -> str:
    """The confirmation URL in a received mail's text part."""
    text = message.get_body(("plain",)).get_content()
    match = re.search(r"https?://\S+/confirm/\S+", text)
    assert match, text
    return match.group(0)


def contacts(client, tenant, **params) -> list[dict]:
    """The account's contacts as the API lists them."""
    r = client.get("/api/contacts", params=params, headers=tenant.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def queued_item(form, email: str, language: str = "en") -> dict:
    """A queued submission as ``submissions.submission_item`` makes it."""
    return {"form_id": form.id, "account_id": form.account_id, "language": language,
            "contact": {"email": email, "language": language, "source": form.source},
            "ip": "192.0.2.1", "user_agent": "test", "at": time.time()}
