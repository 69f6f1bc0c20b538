"""POST /hooks/{id}: verify → durably queue → 202; the worker writes the contacts."""

from __future__ import annotations

import json

from gateway.db import db
from gateway.models import Consent, Contact


def _contacts(client, tenant) -> dict:
    items = client.get("/api/contacts", headers=tenant.headers).json()["items"]
    return {c["email"]: c for c in items}


def test_signed_delivery_creates_a_confirmed_contact_with_consent(client, tenant, hooks, work):
    hook, secret = hooks.create(consent_text="I agree to the newsletter.")
    r = hooks.post(hook, secret, {"email": "Ann@Example.com", "first_name": "Ann"})
    assert r.status_code == 202, r.text
    delivery_id = r.json()["delivery_id"]
    assert r.json() == {"delivery_id": delivery_id, "duplicate": False, "records": 1,
                        "skipped": 0}
    assert _contacts(client, tenant) == {}  # nothing written before the worker runs
    work()
    ann = _contacts(client, tenant)["ann@example.com"]
    assert (ann["first_name"], ann["source"], ann["language"], ann["status"]) == (
        "Ann", "Website", "nl", "confirmed")
    consent = Consent.get(Consent.contact == ann["id"])
    assert consent.channel == "connector"
    assert consent.reference == f"hook:{hook['id']}/delivery:{delivery_id}"
    assert consent.text == "I agree to the newsletter."
    log = client.get(f"/api/hooks/{hook['id']}/deliveries", headers=tenant.headers).json()
    assert [(d["id"], d["status"], d["attempts"]) for d in log["items"]] == [
        (delivery_id, "done", 1)]
    assert log["items"][0]["result"]["counts"]["created"] == 1


def _deliveries(client, tenant, hook) -> list:
    r = client.get(f"/api/hooks/{hook['id']}/deliveries", headers=tenant.headers)
    assert r.status_code == 200
    return r.json()["items"]


def test_a_resent_webhook_id_gets_the_first_delivery_id_and_creates_nothing(
        client, tenant, hooks, work):
    hook, secret = hooks.create()
    first = hooks.post(hook, secret, {"email": "ann@example.com"}, msg_id="msg_same")
    again = hooks.post(hook, secret, {"email": "ann@example.com"}, msg_id="msg_same")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["delivery_id"] == first.json()["delivery_id"]
    assert again.json()["duplicate"] is True
    work()
    assert len(_deliveries(client, tenant, hook)) == 1
    assert Contact.select().count() == 1
    later = hooks.post(hook, secret, {"email": "ann@example.com"}, msg_id="msg_same")
    assert later.json()["delivery_id"] == first.json()["delivery_id"]  # also once processed


def test_the_same_webhook_id_on_two_hooks_is_two_deliveries(client, tenant, hooks, work):
    one, secret_one = hooks.create(name="one")
    two, secret_two = hooks.create(name="two")
    a = hooks.post(one, secret_one, {"email": "ann@example.com"}, msg_id="msg_x")
    b = hooks.post(two, secret_two, {"email": "bob@example.com"}, msg_id="msg_x")
    assert a.json()["delivery_id"] != b.json()["delivery_id"]
    assert not b.json()["duplicate"]


def test_a_configured_body_path_deduplicates_like_webhook_id(client, tenant, hooks, work):
    hook, secret = hooks.create(auth="bearer", id_path="event_id")
    path = hook["url"].removeprefix("http://testserver")
    auth = {"Authorization": f"Bearer {secret}"}
    first = client.post(path, json={"event_id": "evt_1", "email": "a@example.com"},
                        headers=auth)
    again = client.post(path, json={"event_id": "evt_1", "email": "a@example.com"},
                        headers=auth)
    other = client.post(path, json={"event_id": "evt_2", "email": "a@example.com"},
                        headers=auth)
    assert first.json()["delivery_id"] == again.json()["delivery_id"]
    assert other.json()["delivery_id"] != first.json()["delivery_id"]
    work()
    assert len(_deliveries(client, tenant, hook)) == 2


def test_an_array_creates_every_record(client, tenant, hooks, work):
    hook, secret = hooks.create()
    records = [{"email": f"user{i}@example.com", "first_name": f"User {i}"} for i in range(3)]
    r = hooks.post(hook, secret, records)
    assert r.status_code == 202 and r.json()["records"] == 3
    work()
    assert sorted(_contacts(client, tenant)) == [f"user{i}@example.com" for i in range(3)]


def test_bearer_hook(client, tenant, hooks, work):
    hook, secret = hooks.create(auth="bearer")
    path = hook["url"].removeprefix("http://testserver")
    ok = client.post(path, json={"email": "ann@example.com"},
                     headers={"Authorization": f"Bearer {secret}"})
    assert ok.status_code == 202
    for headers in ({}, {"Authorization": "Bearer whsec_wrong"}):
        r = client.post(path, json={"email": "bob@example.com"}, headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
    work()
    assert list(_contacts(client, tenant)) == ["ann@example.com"]


def test_refused_signatures_queue_nothing(client, tenant, hooks, work):
    hook, secret = hooks.create()
    other, other_secret = hooks.create(name="other")
    body = json.dumps({"email": "ann@example.com"}).encode()
    wrong = hooks.post(hook, other_secret, None, body=body)
    old = hooks.post(hook, secret, None, body=body, timestamp=1_000_000_000)
    future = hooks.post(hook, secret, None, body=body, timestamp=4_000_000_000)
    assert wrong.status_code == old.status_code == future.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_signature"
    assert "5 minutes" in old.json()["error"]["message"]
    assert hooks.post(hook, secret, None, body=body).status_code == 202
    # tamper after signing: same headers, another body
    import uuid

    from connectors import signatures
    headers = signatures.headers(secret, f"msg_{uuid.uuid4().hex}", body)
    path = hook["url"].removeprefix("http://testserver")
    r = client.post(path, content=body.replace(b"ann", b"eve"),
                    headers={"content-type": "application/json", **headers})
    assert r.status_code == 401
    work()
    assert list(_contacts(client, tenant)) == ["ann@example.com"]


def test_a_rotated_secret_accepts_old_and_new(client, tenant, hooks):
    hook, old_secret = hooks.create()
    r = client.post(f"/api/hooks/{hook['id']}/rotate-secret", headers=tenant.headers)
    assert r.status_code == 200
    new_secret = r.json()["secret"]
    assert new_secret != old_secret and r.json()["previous_secret_valid_until"]
    for secret in (old_secret, new_secret):
        assert hooks.post(hook, secret, {"email": "ann@example.com"}).status_code == 202
    r = client.post(f"/api/hooks/{hook['id']}/rotate-secret", headers=tenant.headers)
    assert hooks.post(hook, old_secret, {"email": "a@example.com"}).status_code == 401


def test_body_limits_and_malformed_bodies(client, tenant, hooks):
    hook, secret = hooks.create()
    path = hook["url"].removeprefix("http://testserver")
    big = b'{"email": "a@example.com", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    r = hooks.post(hook, secret, None, body=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    many = [{"email": f"u{i}@example.com"} for i in range(1001)]
    r = hooks.post(hook, secret, many)
    assert r.status_code == 413 and "1000 records" in r.json()["error"]["message"]
    assert hooks.post(hook, secret, many[:1000]).status_code == 202
    r = hooks.post(hook, secret, None, body=b'{"email": ')
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
    r = hooks.post(hook, secret, None, body=b'{"email": "a@example.com", "name": "\\u0000"}')
    assert r.status_code == 400 and "u0000" in r.json()["error"]["message"]
    r = hooks.post(hook, secret, None, body=b'"just a string"')
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    r = client.post(path, content=b"email=a@example.com",
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"


def test_an_oversized_body_is_refused_before_it_is_read_whole(client, tenant, hooks):
    hook, secret = hooks.create()
    path = hook["url"].removeprefix("http://testserver")
    sent = []

    def chunks():  # no Content-Length: the limit must stop the streaming
        for _ in range(64):
            sent.append(1)
            yield b"x" * 65536
    r = client.post(path, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = client.post(path, content=b"{}", headers={"content-type": "application/json",
                                                  "content-length": str(2 * 1024 * 1024)})
    assert r.status_code == 413


def test_unknown_hooks_and_wrong_kinds_are_404(client, tenant, hooks):
    hook, secret = hooks.create()
    assert client.post("/hooks/999999", json={}).status_code == 404
    r = client.post(f"/hooks/efficy/{hook['id']}", json={"records": []})
    assert r.status_code == 404 and "generic" in r.json()["error"]["message"]


def test_a_paused_hook_refuses_with_503(client, tenant, hooks, work):
    hook, secret = hooks.create()
    r = client.patch(f"/api/hooks/{hook['id']}", json={"enabled": False},
                     headers=tenant.headers)
    assert r.status_code == 200 and r.json()["enabled"] is False
    r = hooks.post(hook, secret, {"email": "ann@example.com"})
    assert r.status_code == 503 and r.headers["retry-after"] == "300"
    client.patch(f"/api/hooks/{hook['id']}", json={"enabled": True}, headers=tenant.headers)
    assert hooks.post(hook, secret, {"email": "ann@example.com"}).status_code == 202


def test_blacklisted_contacts_are_left_alone(client, tenant, hooks, work):
    r = client.post("/api/contacts", json={"email": "ann@example.com", "language": "fr",
                                           "source": "Fair", "first_name": "Ann"},
                    headers=tenant.headers)
    client.post(f"/api/contacts/{r.json()['id']}/blacklist", headers=tenant.headers)
    hook, secret = hooks.create()
    hooks.post(hook, secret, {"email": "ann@example.com", "first_name": "Changed"})
    work()
    ann = _contacts(client, tenant)["ann@example.com"]
    assert (ann["status"], ann["first_name"]) == ("blacklisted", "Ann")
    delivery = _deliveries(client, tenant, hook)[0]
    assert delivery["status"] == "done" and delivery["result"]["counts"]["ignored"] == 1


def test_existing_contacts_merge_and_defaults_never_overwrite(client, tenant, hooks, work):
    client.post("/api/contacts", json={"email": "ann@example.com", "language": "fr",
                                       "source": "Fair", "preferences": ["Weekly"]},
                headers=tenant.headers)
    hook, secret = hooks.create(mapping={"email": "email", "first_name": "first",
                                         "preferences": "prefs"})
    hooks.post(hook, secret, {"email": "ann@example.com", "first": "Ann",
                              "prefs": ["Monthly"]})
    work()
    ann = _contacts(client, tenant)["ann@example.com"]
    assert (ann["language"], ann["source"], ann["first_name"]) == ("fr", "Fair", "Ann")
    assert ann["preferences"] == ["Weekly", "Monthly"]


def test_an_unsubscribe_event_blacklists(client, tenant, hooks, work):
    client.post("/api/contacts", json={"email": "ann@example.com", "language": "fr",
                                       "source": "Fair"}, headers=tenant.headers)
    hook, secret = hooks.create(mapping={
        "email": "data.email",
        "status": {"path": "type", "map": {"contact.unsubscribed": "blacklisted"}}})
    hooks.post(hook, secret, {"type": "contact.unsubscribed",
                              "data": {"email": "ann@example.com"}})
    work()
    assert _contacts(client, tenant)["ann@example.com"]["status"] == "blacklisted"
    assert _deliveries(client, tenant, hook)[0]["result"]["counts"]["blacklisted"] == 1


def test_unconfirmed_hooks_send_the_forms_opt_in_mail(mailbox, client, tenant, hooks, work):
    from forms.models import Form
    form = Form.create(account=tenant.id, name="Newsletter", slug="newsletter-h5",
                       source="Website", languages=["nl"])
    hook, secret = hooks.create(contact_status="unconfirmed", form_id=form.id)
    hooks.post(hook, secret, {"email": "ann@example.com"})
    work()
    assert _contacts(client, tenant)["ann@example.com"]["status"] == "unconfirmed"
    [mail] = mailbox.to("ann@example.com")
    assert "http://testserver/confirm/" in mail.get_body(("plain",)).get_content()
    assert _deliveries(client, tenant, hook)[0]["result"]["confirmation_mails"] == 1
    hooks.post(hook, secret, {"email": "ann@example.com", "first_name": "Ann"})
    work()
    assert len(mailbox.to("ann@example.com")) == 1  # only a new contact gets the mail


def test_an_unconfirmed_hook_needs_a_form_of_the_account(client, tenant, other_tenant, hooks):
    from forms.models import Form
    theirs = Form.create(account=other_tenant.id, name="Theirs", slug="theirs-h5",
                         source="Website", languages=["nl"])
    for form_id in (None, theirs.id):
        r = client.post("/api/hooks", json={"name": "x", "source": "Website",
                                            "mapping": {"email": "email"},
                                            "contact_status": "unconfirmed",
                                            "form_id": form_id}, headers=tenant.headers)
        assert r.status_code == 422
        assert r.json()["error"]["details"][0]["field"] == "form_id"


def test_503_with_retry_after_when_redis_is_unreachable(env, tenant, hooks):
    from starlette.testclient import TestClient

    from gateway.app import create_app
    from gateway.settings import Settings
    hook, secret = hooks.create()
    settings = Settings.from_env(env | {"INLET_REDIS_URL": "redis://127.0.0.1:1/0"})
    from gateway import runtime
    runtime.reset()
    app = create_app(settings, run_jobs=False)
    with TestClient(app, raise_server_exceptions=False) as down:
        hooks.client = down
        r = hooks.post(hook, secret, {"email": "ann@example.com"})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert r.json()["error"]["code"] == "unavailable"
    db.close()


def test_embedded_defaults_without_redis(env, tenant, hooks):
    """`inlet serve` with no INLET_REDIS_URL: deliveries are durable rows, run in-process."""
    from starlette.testclient import TestClient

    from gateway import runtime
    from gateway.app import create_app
    from gateway.settings import Settings
    hook, secret = hooks.create()
    runtime.reset()
    settings = Settings.from_env({k: v for k, v in env.items() if k != "INLET_REDIS_URL"})
    app = create_app(settings, run_jobs=False)
    with TestClient(app, raise_server_exceptions=False) as embedded:
        hooks.client = embedded
        first = hooks.post(hook, secret, {"email": "ann@example.com"}, msg_id="msg_e")
        again = hooks.post(hook, secret, {"email": "ann@example.com"}, msg_id="msg_e")
        assert (first.status_code, again.status_code) == (202, 202)
        assert again.json()["delivery_id"] == first.json()["delivery_id"]
        assert app.state.queue.run_pending() == 1
        assert list(_contacts(embedded, tenant)) == ["ann@example.com"]
        assert _deliveries(embedded, tenant, hook)[0]["status"] == "done"
    db.close()


def test_the_previous_secret_stops_when_the_rotation_overlap_ends(client, tenant, hooks):
    from datetime import timedelta

    from connectors import service
    from gateway.db import utcnow
    hook, old_secret = hooks.create()
    # rotated 25 hours ago: the 24-hour overlap is over
    _, new_secret = service.rotate_secret(tenant.id, hook["id"],
                                          now=utcnow() - timedelta(hours=25))
    assert hooks.post(hook, old_secret, {"email": "a@example.com"}).status_code == 401
    assert hooks.post(hook, new_secret, {"email": "a@example.com"}).status_code == 202
    got = client.get(f"/api/hooks/{hook['id']}", headers=tenant.headers).json()
    assert got["previous_secret_valid_until"] is None
