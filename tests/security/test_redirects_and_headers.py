"""No open redirects; security headers on every kind of answer (framing only where embedded)."""

import pytest

from tests.gateway.admin.conftest import csrf_of
from tests.security.conftest import sqlite_only, subscribe

pytestmark = sqlite_only

EVIL = ["https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil.example",
        "https:evil.example", "/admin/\\..\\//evil.example", "javascript:alert(1)",
        "/%2F%2Fevil.example", "http://testserver@evil.example/admin/", "\t//evil.example"]


def _offsite(location: str) -> bool:
    from urllib.parse import urlsplit
    loc = location.strip()
    parts = urlsplit(loc.replace("\\", "/"))
    return bool(parts.scheme and parts.scheme not in ("http", "https")) or bool(
        parts.netloc and parts.netloc not in ("testserver", "")) or loc.startswith("//")


@pytest.mark.parametrize("target", EVIL)
def test_admin_login_never_redirects_off_site(client, admin, target):
    page = client.get("/admin/login", params={"next": target})
    assert target not in page.text or page.text.count(target) == 0
    r = client.post("/admin/login", data={"email": admin.email, "password": admin.password,
                                          "csrf_token": csrf_of(page.text), "next": target},
                    follow_redirects=False)
    assert r.status_code == 303
    assert not _offsite(r.headers["location"]), r.headers["location"]
    assert r.headers["location"].startswith("/admin/")


@pytest.mark.parametrize("target", EVIL)
def test_forms_redirect_only_to_the_allow_list(client, settings, optin_form, target):
    r = subscribe(client, settings, optin_form, "r@example.com", _redirect=target)
    assert r.status_code == 202
    assert r.json()["redirect"] in (None, "https://shop.example.com/thanks")
    page = client.get(f"/f/{optin_form['slug']}", params={"redirect": target})
    assert page.status_code == 200
    assert "evil.example" not in page.text


def test_forms_refuse_dangerous_redirect_urls(client, tenant):
    for url in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
                "//evil.example", "ftp://evil.example", "https://"):
        for key, value in (("redirect_urls", [url]), ("after_submit_url", url),
                           ("after_confirm_url", url)):
            r = client.post("/api/forms", headers=tenant.headers, json={
                "name": "Bad", "source": "Website", "languages": ["en"], key: value})
            assert r.status_code == 422, (key, url, r.text)


def _csp(response) -> dict:
    policy = response.headers.get("content-security-policy", "")
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


def test_api_and_admin_answers_carry_the_security_headers(admin_client, tenant):
    for path, headers in (("/api/contacts", tenant.headers), ("/api/openapi.json", {}),
                          ("/healthz", {}), ("/admin/contacts", {}), ("/admin/login", {}),
                          ("/api/nope", {}), ("/admin/settings", {})):
        r = admin_client.get(path, headers=headers)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY", path
        csp = _csp(r)
        assert csp["frame-ancestors"] == ["'none'"], path
        assert "'unsafe-inline'" not in csp.get("script-src", csp.get("default-src", [])), path
        assert r.headers.get("referrer-policy"), path


def test_the_session_cookie_is_http_only_and_same_site(client, admin):
    page = client.get("/admin/login")
    r = client.post("/admin/login", data={"email": admin.email, "password": admin.password,
                                          "csrf_token": csrf_of(page.text)},
                    follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie or "samesite=strict" in cookie


def test_form_pages_are_framable_only_by_their_allowed_origins(client, optin_form):
    r = client.get(f"/f/{optin_form['slug']}", params={"embed": "iframe"})
    assert r.status_code == 200
    csp = _csp(r)
    assert set(csp["frame-ancestors"]) == {"'self'", "https://shop.example.com"}
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "'unsafe-inline'" not in csp.get("script-src", csp.get("default-src", []))
    script = client.get(f"/f/{optin_form['slug']}/embed.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["x-content-type-options"] == "nosniff"
    confirm = client.get("/confirm/not-a-token")
    assert _csp(confirm)["frame-ancestors"] == ["'none'"]
