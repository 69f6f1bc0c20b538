"""Signed things can't be forged: opt-in links, admin sessions, webhook signatures."""

import base64
import json
import time

from itsdangerous import TimestampSigner

from gateway.models import Contact
from tests.security.conftest import confirm_link, sqlite_only, subscribe

pytestmark = sqlite_only


def _status(tenant, email):
    return Contact.get(Contact.account == tenant.id, Contact.email == email).status


def _flip(token: str, at: int) -> str:
    c = token[at]
    return token[:at] + ("A" if c != "A" else "B") + token[at + 1:]


def test_confirmation_links_cannot_be_forged(client, settings, tenant, optin_form, mailbox,
                                             run_jobs):
    from forms import tokens
    assert subscribe(client, settings, optin_form, "ann@example.com").status_code == 202
    run_jobs()
    assert _status(tenant, "ann@example.com") == "unconfirmed"
    link = confirm_link(mailbox, "ann@example.com")
    real = link.removeprefix("/confirm/")
    contact = Contact.get(Contact.email == "ann@example.com")
    payload = json.loads(base64.urlsafe_b64decode(real.split(".")[0] + "=="))
    forged = [
        _flip(real, len(real) - 3),  # signature changed
        _flip(real, 2),  # payload changed
        tokens.sign("another-secret-key-0123456789", "confirm", payload),  # another key
        tokens.sign(settings.secret_key, "unsubscribe", payload),  # other purpose
        tokens.render_token(settings.secret_key, optin_form["id"]),  # other purpose
        tokens.sign(settings.secret_key, "confirm", [payload[0] + 1, payload[1]]),  # guessed
        tokens.sign(settings.secret_key, "confirm", [payload[0], "0" * 32]),  # guessed nonce
        tokens.sign(settings.secret_key, "confirm", [payload[0], contact.id]),  # pre-nonce shape
        real + "x", "", "..", "%00",
    ]
    for token in forged:
        r = client.get(f"/confirm/{token}", follow_redirects=False)
        assert r.status_code in (400, 404, 410), (token, r.status_code)
        run_jobs()
        assert _status(tenant, "ann@example.com") == "unconfirmed", token
    r = client.get(link, follow_redirects=False)  # the real one still works
    assert r.status_code in (200, 303)
    run_jobs()
    assert _status(tenant, "ann@example.com") == "confirmed"


def _session_cookie(client) -> str:
    return client.cookies.get("session") or next(iter(client.cookies.values()))


def test_admin_session_cookies_cannot_be_forged(admin_client, settings, other_tenant):
    from gateway.auth import create_user
    assert admin_client.get("/admin/contacts").status_code == 200
    cookie_name = next(iter(admin_client.cookies.keys()))
    real = admin_client.cookies[cookie_name]
    data = json.loads(base64.b64decode(real.split(".")[0]))
    victim = create_user(other_tenant.id, "victim@rival.example.com", "victim password!")
    forged = [
        _flip(real, len(real) - 3),
        TimestampSigner("another-secret-key-0123456789").sign(
            base64.b64encode(json.dumps(data).encode())).decode(),
        # the right key but another user's id, or a made-up session id: only a session the
        # server opened logs in, and the cookie names no user
        TimestampSigner(settings.secret_key).sign(base64.b64encode(json.dumps(
            {"uid": victim.id}).encode())).decode(),
        TimestampSigner(settings.secret_key).sign(base64.b64encode(json.dumps(
            dict(data, sid="A" * 43)).encode())).decode(),
    ]
    for value in forged:
        admin_client.cookies.clear()
        admin_client.cookies.set(cookie_name, value)
        r = admin_client.get("/admin/contacts", follow_redirects=False)
        assert r.status_code in (302, 303, 307), (value, r.status_code)
        assert "/admin/login" in r.headers["location"]


def test_admin_forms_need_the_csrf_token(admin_client, tenant):
    r = admin_client.post("/admin/api", data={"name": "x", "scopes": "contacts:read"})
    assert r.status_code == 403
    r = admin_client.post("/admin/api", data={"name": "x", "scopes": "contacts:read",
                                              "csrf_token": "forged"})
    assert r.status_code == 403
    from tests.gateway.admin.conftest import csrf_of
    token = csrf_of(admin_client.get("/admin/api").text)
    # The right token, but posted from another site (the browser says so in Origin).
    r = admin_client.post("/admin/api", headers={"Origin": "https://evil.example"},
                          data={"name": "Evil", "scopes": "admin", "csrf_token": token})
    assert r.status_code == 403
    from gateway.models import ApiToken
    assert ApiToken.select().where(ApiToken.account == tenant.id).count() == 1


def _hook(client, tenant, auth="standard-webhooks"):
    r = client.post("/api/hooks", headers=tenant.headers, json={
        "kind": "generic", "name": "Signed", "auth": auth, "source": "Website",
        "language": "nl", "mapping": {"email": "email"}})
    assert r.status_code == 201, r.text
    return r.json()


def test_webhook_signatures_outside_the_tolerance_are_refused(client, tenant, run_jobs):
    from connectors import signatures
    hook = _hook(client, tenant)
    body = json.dumps({"email": "late@example.com"}).encode()
    now = int(time.time())
    # + 330, not + 301: a slow machine may take a second or more to answer
    for stamp in (now - 301, now + 330, now - 3600, 0):
        headers = signatures.headers(hook["secret"], f"msg-{stamp}", body, timestamp=stamp)
        r = client.post(f"/hooks/{hook['id']}", content=body,
                        headers={**headers, "content-type": "application/json"})
        assert r.status_code == 401, (stamp, r.text)
    # A captured request replayed later with a fresh timestamp: the signature no longer fits.
    old = signatures.headers(hook["secret"], "msg-old", body, timestamp=now - 400)
    r = client.post(f"/hooks/{hook['id']}", content=body, headers={
        **old, "webhook-timestamp": str(now), "content-type": "application/json"})
    assert r.status_code == 401
    # A changed body under a good signature.
    good = signatures.headers(hook["secret"], "msg-body", body, timestamp=now)
    r = client.post(f"/hooks/{hook['id']}", content=body.replace(b"late", b"evil"),
                    headers={**good, "content-type": "application/json"})
    assert r.status_code == 401
    run_jobs()
    assert not Contact.select().where(Contact.account == tenant.id).exists()


def test_a_replay_within_the_tolerance_is_accepted_once(client, tenant, run_jobs):
    from connectors import signatures
    from connectors.models import Delivery
    hook = _hook(client, tenant)
    body = json.dumps({"email": "once@example.com"}).encode()
    headers = {**signatures.headers(hook["secret"], "msg-1", body),
               "content-type": "application/json"}
    answers = [client.post(f"/hooks/{hook['id']}", content=body, headers=headers)
               for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert [a.json()["duplicate"] for a in answers] == [False, True, True]
    run_jobs()
    assert Delivery.select().where(Delivery.hook == hook["id"]).count() == 1
    assert Contact.select().where(Contact.email == "once@example.com").count() == 1


def test_unsubscribe_links_cannot_be_forged(client, settings, tenant, other_tenant, run_jobs):
    from forms import tokens
    from gateway.contacts import Provenance, upsert
    mine, _ = upsert(tenant.id, {"email": "keep@example.com", "language": "nl",
                                 "source": "Website"}, status="confirmed",
                     provenance=Provenance("api"), field_types={})
    # [contact id, account id]: the shape of links mailed before they carried a nonce
    real = tokens.sign(settings.secret_key, "unsubscribe", [mine.id, tenant.id])
    forged = [
        _flip(real, len(real) - 3), _flip(real, 2),
        tokens.sign("another-secret-key-0123456789", "unsubscribe", [mine.id, tenant.id]),
        tokens.sign(settings.secret_key, "confirm", [mine.id, tenant.id]),  # other purpose
        tokens.sign(settings.secret_key, "unsubscribe", [mine.id, other_tenant.id]),  # mismatch
    ]
    for token in forged:
        r = client.post(f"/unsubscribe/{token}")
        assert r.status_code in (200, 404), r.status_code
        run_jobs()
        assert Contact.get_by_id(mine.id).status == "confirmed", token
    assert client.post(f"/unsubscribe/{real}").status_code == 200  # control: the real one
    run_jobs()
    assert Contact.get_by_id(mine.id).status == "blacklisted"
