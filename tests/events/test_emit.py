"""The outbox write: a stale subscription cache never fails the change it rides on."""

from __future__ import annotations


def test_an_endpoint_deleted_by_another_process_does_not_fail_writes(
        client, tenant, receiver, subscribe, deliver, monkeypatch):
    from events import emit
    from events.models import EventDelivery, EventEndpoint
    from gateway.db import db
    monkeypatch.setattr(emit, "SUBSCRIPTIONS_TTL", 3600.0)
    endpoint, _ = subscribe(["contact.created"])
    client.post("/api/contacts", headers=tenant.headers, json={
        "email": "first@example.com", "language": "en", "source": "Website"})
    assert endpoint["id"] in emit.subscriptions(tenant.id)["contact.created"]  # cached
    with db.connection_context():  # as another process would: this one's cache stays
        EventEndpoint.delete().where(EventEndpoint.id == endpoint["id"]).execute()
    r = client.post("/api/contacts", headers=tenant.headers, json={
        "email": "second@example.com", "language": "en", "source": "Website"})
    assert r.status_code == 201, r.text
    assert client.get(f"/api/contacts/{r.json()['id']}", headers=tenant.headers).status_code == 200
    with db.connection_context():
        assert EventDelivery.select().count() == 0
    deliver()
    assert receiver.requests == []
