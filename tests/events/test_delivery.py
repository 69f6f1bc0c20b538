"""Delivery: retries until the receiver is back, leases, rotation, dead letters and replay,
disabling an endpoint failing for days."""

from __future__ import annotations

from datetime import timedelta

from standardwebhooks import Webhook

from events import jobs
from events.models import Event, EventAttempt, EventDelivery, EventEndpoint
from gateway.db import db, utcnow


def _add(client, tenant, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        r = client.post("/api/contacts", headers=tenant.headers, json={
            "email": f"p{i}@example.com", "language": "en", "source": "Website"})
        assert r.status_code == 201


def _time_passes(seconds: int = 10**6) -> None:
    """Make every waiting retry (and lease) due, as if ``seconds`` had passed."""
    with db.connection_context():
        for row in EventDelivery.select().where(EventDelivery.status == "pending"):
            EventDelivery.update(next_at=row.next_at - timedelta(seconds=seconds)).where(
                EventDelivery.id == row.id).execute()


def test_receiver_down_then_up_gets_everything(client, tenant, receiver, subscribe, deliver):
    endpoint, _ = subscribe(["contact.created"])
    receiver.answer = (503, {})
    _add(client, tenant, 5)
    deliver()
    assert len(receiver.requests) == 5  # each tried once, none given up
    with db.connection_context():
        assert EventDelivery.select().where(EventDelivery.status == "pending").count() == 5
        attempt = EventAttempt.select().first()
        assert attempt.status_code == 503 and attempt.response == '{"ok": true}'
        assert EventEndpoint.get_by_id(endpoint["id"]).failing_since is not None
    _add(client, tenant, 3, start=5)  # still down: these fail too
    deliver()
    receiver.answer = (200, {})
    _time_passes()
    deliver()
    delivered = {e["data"]["contact"]["email"] for e in receiver.events()[8:]}
    assert delivered == {f"p{i}@example.com" for i in range(8)}
    shown = client.get(f"/api/event-endpoints/{endpoint['id']}", headers=tenant.headers).json()
    assert shown["deliveries"]["delivered"] == 8 and shown["failing_since"] is None


def test_a_worker_killed_mid_delivery_loses_nothing(client, tenant, receiver, subscribe,
                                                   deliver):
    subscribe(["contact.created"])
    _add(client, tenant, 3)
    with db.connection_context():
        assert jobs.fan_out() == 3  # the deliveries are written: one fan-out row per change
        leased = jobs.claim(100)  # taken by a worker that dies before it POSTs
    assert len(leased) == 3
    deliver()
    assert receiver.requests == []  # leased: nobody else sends them meanwhile
    _time_passes(int(jobs.LEASE.total_seconds()) + 1)
    assert jobs.requeue_stuck() == 3
    deliver()
    assert len(receiver.events()) == 3


def test_failures_end_dead_and_replay_sends_them(client, tenant, receiver, subscribe, deliver,
                                                monkeypatch):
    monkeypatch.setattr(jobs, "RETRY_SCHEDULE", (1, 1))
    endpoint, _ = subscribe(["contact.created"])
    receiver.answer = (500, {})
    _add(client, tenant, 2)
    for _ in range(3):
        deliver()
        _time_passes()
    dead = client.get(f"/api/event-endpoints/{endpoint['id']}/deliveries?status=dead",
                      headers=tenant.headers).json()["items"]
    assert len(dead) == 2 and dead[0]["attempts"] == 3
    assert dead[0]["event_id"] == client.get("/api/events", headers=tenant.headers).json()[
        "items"][-1]["id"]
    assert dead[0]["last_error"] == "answered 500"
    receiver.answer = (200, {})
    base = f"/api/event-endpoints/{endpoint['id']}"
    r = client.post(f"{base}/deliveries/{dead[0]['id']}/replay", headers=tenant.headers)
    assert r.status_code == 202
    assert client.post(f"{base}/deliveries/{dead[0]['id']}/replay",
                       headers=tenant.headers).status_code == 409
    deliver()
    assert client.post(f"{base}/replay", headers=tenant.headers).json() == {"replayed": 1}
    deliver()
    assert client.get(base, headers=tenant.headers).json()["deliveries"]["delivered"] == 2
    attempts = client.get(f"{base}/attempts", headers=tenant.headers).json()["items"]
    assert len(attempts) == 8 and attempts[0]["status_code"] == 200


def test_rotation_signs_with_both_secrets_for_a_day(client, tenant, receiver, subscribe,
                                                    deliver):
    endpoint, old = subscribe(["contact.created"])
    r = client.post(f"/api/event-endpoints/{endpoint['id']}/rotate-secret",
                    headers=tenant.headers)
    new = r.json()["secret"]
    assert new != old and r.json()["previous_secret_valid_until"]
    _add(client, tenant, 1)
    deliver()
    [request] = receiver.requests
    assert len(request["headers"]["webhook-signature"].split()) == 2
    for secret in (old, new):
        Webhook(secret).verify(request["body"], request["headers"])
    with db.connection_context():
        EventEndpoint.update(previous_expires_at=utcnow() - timedelta(seconds=1)).execute()
    _add(client, tenant, 1, start=1)
    deliver()
    assert len(receiver.requests[1]["headers"]["webhook-signature"].split()) == 1


def test_an_endpoint_failing_for_three_days_is_disabled_and_mailed(
        client, tenant, receiver, subscribe, deliver, run_jobs, mailbox):
    from gateway.accounts import update_profile
    from gateway.auth import create_user
    create_user(tenant.id, "owner@acme.example.com", "correct horse battery")
    endpoint, _ = subscribe(["contact.created"])
    with db.connection_context():
        EventEndpoint.update(failing_since=utcnow() - timedelta(days=2)).execute()
        assert jobs.disable_failing() == 0
        EventEndpoint.update(failing_since=utcnow() - timedelta(days=3, minutes=1)).execute()
        assert jobs.disable_failing() == 1
    run_jobs()
    [mail] = mailbox.to("owner@acme.example.com")  # no notification address: the owner
    assert receiver.url in mail.get_body(("plain",)).get_content()
    update_profile(tenant.id, {"notification_email": "ops@acme.example.com"})
    with db.connection_context():
        EventEndpoint.update(enabled=True, failing_since=utcnow() - timedelta(days=4)).execute()
        assert jobs.disable_failing() == 1
    run_jobs()
    assert len(mailbox.to("ops@acme.example.com")) == 1  # the address set in Settings
    assert len(mailbox.to("owner@acme.example.com")) == 1
    shown = client.get(f"/api/event-endpoints/{endpoint['id']}", headers=tenant.headers).json()
    assert not shown["enabled"] and "failing since" in shown["disabled_reason"]
    _add(client, tenant, 1)
    deliver()
    assert receiver.requests == []  # a disabled endpoint is sent nothing
    r = client.patch(f"/api/event-endpoints/{endpoint['id']}", headers=tenant.headers,
                     json={"enabled": True})
    assert r.json()["enabled"] and r.json()["disabled_reason"] is None


def test_test_event_is_sent_at_once(client, tenant, receiver, subscribe):
    endpoint, secret = subscribe(["contact.deleted"])
    r = client.post(f"/api/event-endpoints/{endpoint['id']}/test", headers=tenant.headers)
    assert r.json()["ok"] and r.json()["status_code"] == 200
    [event] = receiver.events()
    assert event["type"] == "endpoint.test"
    Webhook(secret).verify(receiver.requests[0]["body"], receiver.requests[0]["headers"])


def test_an_unreachable_receiver_holds_its_backlog_without_busy_work(client, tenant, receiver,
                                                                      subscribe, deliver):
    subscribe(["contact.created"])
    receiver.close()  # nothing listens on its port any more: connection refused
    _add(client, tenant, 40)
    jobs.deliver_due()
    with db.connection_context():
        attempts = EventAttempt.select().count()
        assert 1 <= attempts <= jobs.PARALLEL  # one wave was tried, not every delivery
        now = utcnow()
        waiting = EventDelivery.select().where(EventDelivery.status == "pending")
        assert waiting.count() == 40  # none given up, none charged an attempt beyond the wave
        assert EventDelivery.select().where(EventDelivery.attempts > 0).count() == attempts
        # the endpoint is held as a whole: one row, not every pending delivery rewritten
        [endpoint] = EventEndpoint.select()
        assert endpoint.held_until > now and jobs.due_count() == 0
    assert jobs.deliver_due() == 0  # nothing due: the backlog waits for the receiver
    _add(client, tenant, 10, start=100)  # changes made during the outage wait with it
    with db.connection_context():
        assert jobs.fanout_waiting()
        jobs.fan_out()
        assert jobs.due_count() == 0
        EventEndpoint.update(held_until=utcnow()).execute()  # the hold is over
        assert jobs.due_count() == 10


def test_a_second_run_leaves_the_work_to_the_running_one(client, tenant, receiver, subscribe,
                                                        store):
    subscribe(["contact.created"])
    _add(client, tenant, 3)
    with jobs.alone(False) as alone:  # a run in progress, as another worker's
        assert alone
        assert jobs.deliver_due() == 0  # it returns at once
        assert receiver.requests == []
    assert jobs.deliver_due() == 3
    assert len(receiver.events()) == 3


def test_every_post_of_a_wave_is_logged_as_its_own_attempt(client, tenant, receiver, subscribe,
                                                           deliver):
    endpoint, _ = subscribe(["contact.created"])
    receiver.answer = (202, {})
    _add(client, tenant, jobs.PARALLEL + 4)  # more than one wave, written set-based per wave
    deliver()
    with db.connection_context():
        attempts = list(EventAttempt.select().order_by(EventAttempt.id))
        deliveries = {d.id: d for d in EventDelivery.select()}
    assert len(attempts) == len(receiver.requests) == jobs.PARALLEL + 4
    assert {a.delivery_id for a in attempts} == set(deliveries)
    for attempt in attempts:
        assert (attempt.endpoint_id, attempt.events, attempt.status_code, attempt.response,
                attempt.error) == (endpoint["id"], 1, 202, '{"ok": true}', None)
        assert attempt.latency_ms >= 0 and attempt.at is not None
    assert {(d.status, d.attempts) for d in deliveries.values()} == {("delivered", 1)}
    receiver.answer = (500, {})
    _add(client, tenant, 3, start=100)
    deliver()
    with db.connection_context():
        failed = list(EventAttempt.select().where(EventAttempt.status_code == 500))
        waiting = EventDelivery.select().where(EventDelivery.status == "pending")
        assert len(failed) == 3 and {a.error for a in failed} == {"answered 500"}
        assert {(d.attempts, d.last_error) for d in waiting} == {(1, "answered 500")}
        assert all(d.next_at > utcnow() for d in waiting)  # after the first backoff step


def test_the_purge_drops_the_oldest_events_with_their_deliveries(client, tenant, receiver,
                                                                 subscribe, deliver):
    subscribe(["contact.created"])
    _add(client, tenant, 5)
    deliver()
    with db.connection_context():
        ids = [e.id for e in Event.select().order_by(Event.id)]
        Event.update(created_at=utcnow() - jobs.KEEP_EVENTS - timedelta(hours=1)).where(
            Event.id.in_(ids[:3])).execute()
        assert jobs.purge_old() == 3
        assert [e.id for e in Event.select().order_by(Event.id)] == ids[3:]
        assert EventDelivery.select().count() == EventAttempt.select().count() == 2
        assert jobs.purge_old() == 0  # the oldest left is recent: the walk stops there
