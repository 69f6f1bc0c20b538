"""Events from the API path, signed so an independent implementation accepts them."""

from __future__ import annotations

import json

import pytest
from standardwebhooks import Webhook, WebhookVerificationError


def test_api_writes_send_signed_events(client, tenant, receiver, subscribe, deliver):
    endpoint, secret = subscribe()
    assert secret.startswith("whsec_") and "secret" not in client.get(
        f"/api/event-endpoints/{endpoint['id']}", headers=tenant.headers).json()
    r = client.post("/api/contacts", headers=tenant.headers, json={
        "email": "ann@example.com", "language": "en", "source": "Website"})
    cid = r.json()["id"]
    client.patch(f"/api/contacts/{cid}", headers=tenant.headers, json={"first_name": "Ann"})
    client.patch(f"/api/contacts/{cid}", headers=tenant.headers, json={"first_name": "Ann"})
    client.post(f"/api/contacts/{cid}/blacklist", headers=tenant.headers, json={"reason": "x"})
    client.delete(f"/api/contacts/{cid}", headers=tenant.headers)
    deliver()
    assert receiver.types() == ["contact.created", "contact.updated", "contact.blacklisted",
                                "contact.deleted"]
    updated = receiver.events()[1]
    assert updated["data"]["changed"] == ["first_name"]
    assert updated["data"]["contact"]["first_name"] == "Ann"
    assert updated["data"]["channel"] == "api"
    assert receiver.events()[3]["data"]["contact"]["email"] == "ann@example.com"
    hook = Webhook(secret)
    for request in receiver.requests:
        verified = hook.verify(request["body"], request["headers"])
        assert verified["id"] == request["headers"]["webhook-id"]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(receiver.requests[0]["body"] + b" ", receiver.requests[0]["headers"])


def test_shapes_match_the_api(client, tenant, receiver, subscribe, deliver):
    subscribe(["contact.created"])
    created = client.post("/api/contacts", headers=tenant.headers, json={
        "email": "bob@example.com", "language": "nl", "source": "Fair",
        "preferences": ["Weekly"]}).json()
    deliver()
    event = receiver.events()[0]
    assert set(event) == {"id", "type", "timestamp", "data"}
    assert event["id"] == receiver.requests[0]["headers"]["webhook-id"]
    assert event["data"]["contact"] == created
    polled = client.get("/api/events?type=contact.created", headers=tenant.headers).json()
    assert polled["items"] == [event] and polled["next_cursor"] == event["id"]
    assert client.get(f"/api/events?after={event['id']}", headers=tenant.headers
                      ).json()["items"] == []


def test_nothing_is_written_without_a_subscriber(client, tenant, receiver, subscribe, deliver):
    subscribe(["contact.deleted"])
    client.post("/api/contacts", headers=tenant.headers, json={
        "email": "cy@example.com", "language": "nl", "source": "Fair"})
    deliver()
    assert receiver.requests == []
    assert client.get("/api/events", headers=tenant.headers).json()["items"] == []


def test_a_rolled_back_change_emits_nothing(client, tenant, receiver, subscribe, deliver):
    from gateway import contacts
    from gateway.db import db
    from gateway.validation import AccountVocabulary
    subscribe()
    vocab = AccountVocabulary.load(tenant.id)
    with pytest.raises(RuntimeError), db.atomic():
        contacts.upsert(tenant.id, {"email": "gone@example.com", "language": "en",
                                    "source": "Website"}, status="confirmed",
                        provenance=contacts.Provenance(channel="api"),
                        field_types=vocab.field_types)
        raise RuntimeError("the request failed after the write")
    client.post("/api/contacts", headers=tenant.headers, json={
        "email": "kept@example.com", "language": "en", "source": "Website"})
    deliver()
    emails = [e["data"]["contact"]["email"] for e in receiver.events()]
    assert emails == ["kept@example.com"]
    listed = client.get("/api/events", headers=tenant.headers).json()["items"]
    assert [json.dumps(e) for e in listed] == [json.dumps(e) for e in receiver.events()]
