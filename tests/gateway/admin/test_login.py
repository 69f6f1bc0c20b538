from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from gateway.admin.login import ADDRESS_IP_LIMITS, login_limits
from gateway.auth import hash_password
from gateway.db import utcnow
from gateway.models import AdminSession, User
from gateway.ratelimit import MemoryLimiter
from tests.conftest import run_async
from tests.gateway.admin.conftest import csrf_of, login_client


def test_pages_need_a_login(client, admin):
    r = client.get("/admin/contacts?tab=blacklisted", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/login?next=%2Fadmin%2Fcontacts%3Ftab%3Dblacklisted"


def test_login_with_the_right_password_opens_the_contacts(client, admin):
    r = login_client(client, admin.email.upper(), admin.password)
    assert r.status_code == 303 and r.headers["location"] == "/admin/contacts"
    cookie = r.headers["set-cookie"]
    assert "inlet_admin=" in cookie and "httponly" in cookie.lower() and "path=/admin" in cookie
    page = client.get("/admin/contacts")
    assert page.status_code == 200 and "boss@acme.example.com" in page.text


def test_wrong_password_says_so_without_saying_which_part(client, admin):
    r = login_client(client, admin.email, "wrong password")
    assert r.status_code == 400
    assert "Wrong e-mail address or password." in r.text
    assert login_client(client, "nobody@acme.test", "whatever1").text.count(
        "Wrong e-mail address or password.") == 1
    assert client.get("/admin/contacts", follow_redirects=False).status_code == 303


def test_login_goes_back_to_next_but_never_off_site(client, admin):
    page = client.get("/admin/login?next=/admin/settings")
    data = {"email": admin.email, "password": admin.password, "csrf_token": csrf_of(page.text),
            "next": "/admin/settings"}
    r = client.post("/admin/login", data=data, follow_redirects=False)
    assert r.headers["location"] == "/admin/settings"
    client.cookies.clear()
    page = client.get("/admin/login")
    data.update(csrf_token=csrf_of(page.text), next="//evil.test/admin/")
    r = client.post("/admin/login", data=data, follow_redirects=False)
    assert r.headers["location"] == "/admin/contacts"


def test_login_form_needs_its_csrf_token(client, admin):
    client.get("/admin/login")
    r = client.post("/admin/login", data={"email": admin.email, "password": admin.password},
                    follow_redirects=False)
    assert r.status_code == 403
    assert "reload the page" in r.text
    assert client.get("/admin/contacts", follow_redirects=False).status_code == 303


def _from(app, ip: str) -> TestClient:
    """A browser at another client address (the TestClient's peer is the address)."""
    return TestClient(app, raise_server_exceptions=False, client=(ip, 40000))


def test_guessing_from_one_ip_gets_429_with_retry_after(app, admin):
    browser = _from(app, "203.0.113.9")
    first_wait = ADDRESS_IP_LIMITS[0][0]
    for _ in range(first_wait):
        assert login_client(browser, admin.email, "guess-guess").status_code == 400
    r = login_client(browser, admin.email, admin.password)  # even the right one, for a while
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= 60
    assert "Too many failed logins" in r.text


def test_wrong_passwords_from_one_ip_do_not_lock_the_user_out_from_another(app, admin):
    attacker = _from(app, "203.0.113.9")
    statuses = [login_client(attacker, admin.email, f"guess {i}").status_code
                for i in range(10)]
    assert statuses[-1] == 429
    r = login_client(_from(app, "198.51.100.20"), admin.email, admin.password)
    assert r.status_code == 303 and r.headers["location"] == "/admin/contacts"


def test_good_logins_never_count(client, admin):
    for _ in range(11):
        client.cookies.clear()
        assert login_client(client, admin.email, admin.password).status_code == 303


def test_the_waits_grow_with_the_failures():
    limiter, t0 = MemoryLimiter(), 1_800_000_000.0
    limits = login_limits("boss@acme.example.com", "203.0.113.9")

    async def fail(times, now):
        for _ in range(times):
            await limiter.hit(limits, now)
        return await limiter.peek(limits, now)
    assert 0 < run_async(fail(5, t0)) <= 60  # five in a row: wait about a minute
    assert run_async(fail(0, t0 + 120)) == 0  # then guessing may go on, slowly
    assert run_async(fail(5, t0 + 120)) > 60  # ten within 15 minutes: a longer wait
    other = login_limits("boss@acme.example.com", "198.51.100.20")
    assert run_async(limiter.peek(other, t0 + 120)) == 0  # another IP is not held back


def test_logout_ends_the_session(admin_client):
    page = admin_client.get("/admin/contacts")
    r = admin_client.post("/admin/logout", data={"csrf_token": csrf_of(page.text)},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login"
    assert admin_client.get("/admin/contacts", follow_redirects=False).status_code == 303


def test_logout_is_post_only_with_csrf(admin_client):
    assert admin_client.get("/admin/logout").status_code == 404  # a link cannot log out
    assert admin_client.post("/admin/logout", data={}).status_code == 403
    assert admin_client.get("/admin/contacts", follow_redirects=False).status_code == 200


def test_changing_the_password_ends_existing_sessions(admin_client, admin):
    User.update(password_hash=hash_password("a new password")).where(
        User.email == admin.email).execute()
    assert admin_client.get("/admin/contacts", follow_redirects=False).status_code == 303
    assert AdminSession.select().where(AdminSession.revoked_at.is_null()).count() == 0
    # … even were the old password set again: the session is revoked on the server.
    User.update(password_hash=hash_password(admin.password)).where(
        User.email == admin.email).execute()
    assert admin_client.get("/admin/contacts", follow_redirects=False).status_code == 303


def _copy(app, client) -> TestClient:
    """Another browser holding a copy of ``client``'s admin cookie."""
    thief = TestClient(app, raise_server_exceptions=False)
    thief.cookies.set("inlet_admin", client.cookies["inlet_admin"], domain="testserver.local",
                      path="/admin")
    return thief


def test_a_copied_cookie_stops_working_after_logout(app, admin_client):
    thief = _copy(app, admin_client)
    assert thief.get("/admin/contacts", follow_redirects=False).status_code == 200
    page = admin_client.get("/admin/contacts")
    admin_client.post("/admin/logout", data={"csrf_token": csrf_of(page.text)})
    assert thief.get("/admin/contacts", follow_redirects=False).status_code == 303


def test_the_cookie_names_a_random_session_stored_only_hashed(admin_client):
    [row] = AdminSession.select()
    cookie = admin_client.cookies["inlet_admin"]
    assert row.id_hash not in cookie and len(row.id_hash) == 64
    assert row.revoked_at is None and row.created_at == row.last_seen_at


def test_logging_in_again_ends_the_browsers_previous_session(app, admin_client, admin):
    thief = _copy(app, admin_client)
    page = admin_client.get("/admin/contacts")
    admin_client.post("/admin/login", data={"email": admin.email, "password": admin.password,
                                            "csrf_token": csrf_of(page.text)})
    assert admin_client.get("/admin/contacts", follow_redirects=False).status_code == 200
    assert thief.get("/admin/contacts", follow_redirects=False).status_code == 303


def test_log_out_everywhere_ends_every_session_of_the_user(app, admin_client, admin):
    laptop = _from(app, "198.51.100.20")
    assert login_client(laptop, admin.email, admin.password).status_code == 303
    page = admin_client.get("/admin/settings")
    assert "Log out everywhere" in page.text
    assert admin_client.post("/admin/logout/everywhere", data={}).status_code == 403  # CSRF
    assert laptop.get("/admin/contacts", follow_redirects=False).status_code == 200
    r = admin_client.post("/admin/logout/everywhere", data={"csrf_token": csrf_of(page.text)},
                          follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login"
    assert "logged out everywhere" in admin_client.get("/admin/login").text
    for browser in (admin_client, laptop):
        assert browser.get("/admin/contacts", follow_redirects=False).status_code == 303


def _shift(field: str, seconds: int) -> None:
    for row in AdminSession.select():
        setattr(row, field, getattr(row, field) - timedelta(seconds=seconds))
        row.save()


def test_an_idle_session_ends(admin_client, settings):
    _shift("last_seen_at", settings.session_idle_seconds - 120)
    assert admin_client.get("/admin/contacts", follow_redirects=False).status_code == 200
    [row] = AdminSession.select()
    assert utcnow() - row.last_seen_at < timedelta(seconds=60)  # use keeps it alive
    _shift("last_seen_at", settings.session_idle_seconds + 1)
    assert admin_client.get("/admin/contacts", follow_redirects=False).status_code == 303


def test_a_session_in_use_still_ends_after_its_lifetime(admin_client, settings):
    assert settings.session_max_seconds == 12 * 3600
    _shift("created_at", settings.session_max_seconds - 60)
    assert admin_client.get("/admin/contacts", follow_redirects=False).status_code == 200
    _shift("created_at", 61)
    assert admin_client.get("/admin/contacts", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(("base_url", "secure"), [("https://inlet.example.com", True),
                                                  ("http://testserver", False)])
def test_the_cookie_is_secure_whenever_the_public_url_is_https(env, base_url, secure, request):
    env["INLET_BASE_URL"] = base_url
    app = request.getfixturevalue("app")
    admin = request.getfixturevalue("admin")
    with TestClient(app, base_url="https://testserver") as browser:
        r = login_client(browser, admin.email, admin.password)
    cookie = r.headers["set-cookie"].lower()
    assert r.status_code == 303
    assert ("; secure" in cookie) == secure
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/admin" in cookie


def test_a_forged_cookie_is_ignored(client, admin):
    client.cookies.set("inlet_admin", "eyJ1aWQiOiAxfQ==.forged.sig", path="/admin")
    assert client.get("/admin/contacts", follow_redirects=False).status_code == 303


def test_cross_site_post_is_refused_even_with_a_token(admin_client):
    page = admin_client.get("/admin/settings")
    r = admin_client.post("/admin/settings/sources", data={"name": "Evil",
                                                           "csrf_token": csrf_of(page.text)},
                          headers={"origin": "https://evil.test"})
    assert r.status_code == 403
    assert "Evil" not in admin_client.get("/admin/settings").text


def test_the_login_page_sends_a_logged_in_user_on(admin_client):
    r = admin_client.get("/admin/login?next=/admin/api", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/api"


def test_unknown_admin_pages_are_html_404s(admin_client, client):
    r = admin_client.get("/admin/nope/really")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Not found" in r.text


def test_a_post_without_a_session_goes_to_the_login_page(client, admin):
    r = client.post("/admin/settings/sources", data={"name": "X"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login"


def test_the_public_origin_of_inlet_base_url_is_ours_too(admin_client):
    # Behind a proxy rewriting Host, the browser's Origin is INLET_BASE_URL's (testserver).
    page = admin_client.get("/admin/settings")
    r = admin_client.post("/admin/settings/sources",
                          data={"name": "Proxy", "csrf_token": csrf_of(page.text)},
                          headers={"origin": "http://testserver", "host": "10.0.0.5:8000"})
    assert r.status_code == 200 and "Source &#39;Proxy&#39; added." in r.text
