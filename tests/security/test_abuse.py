"""Brute force and flooding are rate-limited: admin login, API tokens, forms, opt-in mails."""


from gateway.admin.login import ADDRESS_IP_LIMITS
from tests.gateway.admin.conftest import csrf_of
from tests.security.conftest import sqlite_only, subscribe

pytestmark = sqlite_only


def _login(client, email, password):
    page = client.get("/admin/login")
    return client.post("/admin/login", data={"email": email, "password": password,
                                             "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)


ATTEMPTS_PER_EMAIL = ADDRESS_IP_LIMITS[0][0]  # failures before the first wait (same IP)


def test_password_guessing_is_locked_out_even_for_the_right_password(client, admin):
    statuses = [_login(client, admin.email, f"guess {i}").status_code
                for i in range(ATTEMPTS_PER_EMAIL + 3)]
    assert statuses[:ATTEMPTS_PER_EMAIL] == [400] * ATTEMPTS_PER_EMAIL
    assert set(statuses[ATTEMPTS_PER_EMAIL:]) == {429}
    r = _login(client, admin.email, admin.password)  # right, but during the lock-out
    assert r.status_code == 429
    assert "Retry-After" in r.headers
    assert "/admin/contacts" not in r.headers.get("location", "")


def test_password_spraying_over_many_addresses_is_limited_per_ip(client, admin):
    statuses = [_login(client, f"user{i}@example.com", "Summer2026!").status_code
                for i in range(60)]
    assert 429 in statuses
    assert statuses.index(429) <= 50


def test_token_guessing_is_rate_limited(client, tenant):
    statuses = [client.get("/api/contacts", headers={
        "Authorization": f"Bearer inl_guess{i:040d}"}).status_code for i in range(40)]
    first_429 = statuses.index(429)
    assert 10 <= first_429 <= 21 and set(statuses[first_429:]) == {429}
    # A valid token from that address still works: locking it out would let anyone who
    # shares the address (an office NAT) deny the API to its real users.
    assert client.get("/api/contacts", headers=tenant.headers).status_code == 200


def test_form_submissions_are_limited_per_ip(client, settings, optin_form):
    statuses = [subscribe(client, settings, optin_form, f"v{i}@example.com").status_code
                for i in range(40)]
    assert statuses[0] == 202
    assert 429 in statuses


def test_one_address_cannot_be_mail_bombed(client, settings, optin_form, mailbox, run_jobs):
    for _ in range(12):  # under the per-IP limit: the per-address limits must hold alone
        subscribe(client, settings, optin_form, "target@example.com")
        run_jobs()
    assert 1 <= len(mailbox.to("target@example.com")) <= 5
