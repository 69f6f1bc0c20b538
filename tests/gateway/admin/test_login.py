from gateway.admin.login import ATTEMPTS_PER_EMAIL
from gateway.auth import hash_password
from gateway.models import User
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


def test_brute_force_is_rate_limited_per_address(client, admin):
    for _ in range(ATTEMPTS_PER_EMAIL):
        assert login_client(client, admin.email, "guess-guess").status_code == 400
    r = login_client(client, admin.email, admin.password)  # even the right one, for a while
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert "Too many login attempts" in r.text


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
