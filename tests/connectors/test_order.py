"""Order per contact (#18): an Efficy Update never overtakes the Create of its key, and a
batch of deliveries commits together while one bad delivery stays on its own."""

from __future__ import annotations

import time

import pytest

from connectors import jobs
from connectors.models import Delivery
from gateway import intake
from gateway.db import db
from gateway.models import Contact


def efficy(operation: str, key: int, fields: dict) -> dict:
    """An Efficy Enterprise payload with one contact record."""
    return {"database": "ACME_PROD", "version": "11.3.1420", "records": [
        {"table": 11000, "key": key, "operation": operation, "user": "JDOE",
         "fields": fields, "date": "2026-11-25T09:14:03+01:00"}]}


@pytest.fixture
def efficy_hook(hooks):
    return hooks.create(kind="efficy", name="Efficy CRM", mapping={}, source="Fair",
                        language=None)


def _deliveries(client, tenant, hook, which="deliveries") -> list[dict]:
    r = client.get(f"/api/hooks/{hook['id']}/{which}", headers=tenant.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _contact(client, tenant, email: str) -> dict:
    r = client.get(f"/api/contacts?email={email}", headers=tenant.headers)
    items = r.json()["items"]
    assert len(items) == 1, items
    return items[0]


def _drain_once() -> None:
    """What one worker's drain does with the queued deliveries (no retries run yet)."""
    with db.connection_context():
        intake.drain(jobs.STREAM, "connectors.jobs.accept_delivery")


def test_create_then_update_back_to_back_applies_the_update(client, tenant, hooks, work,
                                                             efficy_hook):
    hook, secret = efficy_hook
    create = efficy("Create", 4711, {"EMAIL1": "ann@example.be", "FIRSTNAME": "Ann",
                                     "NAME": "Peeters", "LANGUAGE": "N"})
    assert hooks.post(hook, secret, create).status_code == 202
    update = efficy("Update", 4711, {"NAME": "Peeters-Janssens"})  # changed fields only
    assert hooks.post(hook, secret, update).status_code == 202
    work()
    ann = _contact(client, tenant, "ann@example.be")
    assert (ann["first_name"], ann["name"]) == ("Ann", "Peeters-Janssens")
    assert _deliveries(client, tenant, hook, "dead-letters") == []
    log = _deliveries(client, tenant, hook)
    assert [(d["status"], d["attempts"]) for d in log] == [("done", 1), ("done", 1)]


def test_update_waits_for_a_create_that_failed_once(client, tenant, hooks, work, efficy_hook,
                                                    refusing_store):
    hook, secret = efficy_hook
    create = efficy("Create", 4711, {"EMAIL1": "boom@example.be", "FIRSTNAME": "Ann",
                                     "NAME": "Peeters", "LANGUAGE": "N"})
    first = hooks.post(hook, secret, create).json()["delivery_id"]
    second = hooks.post(hook, secret, efficy("Update", 4711, {"NAME": "Janssens"})).json()[
        "delivery_id"]
    _drain_once()  # the store refuses the Create's contact: its first attempt fails
    with db.connection_context():
        assert Delivery.get_by_id(first).status == "retrying"
        waiting = Delivery.get_or_none(Delivery.id == second)
        assert waiting is None or waiting.status != "dead"  # parked or waiting, never lost
        assert Contact.select().count() == 0
    refusing_store()  # the store recovers; the retries run
    work()
    boom = _contact(client, tenant, "boom@example.be")
    assert (boom["first_name"], boom["name"]) == ("Ann", "Janssens")
    assert _deliveries(client, tenant, hook, "dead-letters") == []
    log = {d["id"]: d for d in _deliveries(client, tenant, hook)}
    assert (log[first]["status"], log[first]["attempts"]) == ("done", 2)
    assert log[second]["status"] == "done"
    assert log[second]["result"]["counts"]["updated"] == 1


def test_an_update_of_a_key_never_created_is_a_dead_letter_saying_why(
        client, tenant, hooks, work, efficy_hook):
    hook, secret = efficy_hook
    hooks.post(hook, secret, efficy("Update", 999, {"NAME": "Nobody"}))
    _drain_once()
    waiting = _deliveries(client, tenant, hook)[0]
    assert waiting["status"] == "retrying"
    assert waiting["error"].startswith("Waiting for the Create of Efficy key 999")
    work()
    dead = _deliveries(client, tenant, hook, "dead-letters")
    assert len(dead) == 1 and dead[0]["attempts"] == 3  # the first try and two retries
    assert dead[0]["result"]["records"][0]["errors"][0]["code"] == "unknown_key"
    # a Create that comes later links the key: the replayed Update then applies
    hooks.post(hook, secret, efficy("Create", 999, {"EMAIL1": "nobody@example.be",
                                                    "LANGUAGE": "E"}))
    work()
    r = client.post(f"/api/hooks/{hook['id']}/dead-letters/replay", headers=tenant.headers)
    assert r.status_code == 202
    work()
    assert _contact(client, tenant, "nobody@example.be")["name"] == "Nobody"


def test_one_bad_delivery_does_not_hold_back_its_batch(client, tenant, hooks, work,
                                                       refusing_store):
    hook, secret = hooks.create()
    ids = [hooks.post(hook, secret, {"email": email, "first_name": name}).json()["delivery_id"]
           for email, name in (("ann@example.com", "Ann"), ("boom@example.com", "Boom"),
                               ("bob@example.com", "Bob"), ("not-an-address", "X"))]
    _drain_once()
    with db.connection_context():
        statuses = [Delivery.get_by_id(i).status for i in ids]
        names = sorted(c.first_name for c in Contact.select())
    assert statuses == ["done", "retrying", "done", "dead"]
    assert names == ["Ann", "Bob"]
    refusing_store()
    work()
    assert [d["status"] for d in _deliveries(client, tenant, hook)] == [
        "dead", "done", "done", "done"]  # newest first: the invalid address stays dead
    assert _contact(client, tenant, "boom@example.com")["first_name"] == "Boom"


def test_a_batch_commits_its_deliveries_together(client, tenant, hooks):
    """``many`` stores and processes a batch in one go; a re-run after a crash is a no-op."""
    hook, secret = hooks.create()
    entries = [(intake.new_id("dlv_"), {"hook": hook["id"], "webhook_id": f"w{n}",
                                        "received_at": "2026-12-01T10:00:00",
                                        "body": f'{{"email": "p{n}@example.com"}}'})
               for n in range(5)]
    jobs.accept_many(entries)
    jobs.accept_many(entries)  # the drain re-runs a batch whose end it did not record
    with db.connection_context():
        assert Contact.select().count() == 5
        assert sorted(d.status for d in Delivery.select()) == ["done"] * 5
        assert {d.attempts for d in Delivery.select()} == {1}


@pytest.fixture
def embedded_env(env):
    """Embedded defaults (no Redis: the queue is a table the server runs); retries due 1 s
    later, so a failed Create's retry is still ahead when the Update comes up."""
    del env["INLET_REDIS_URL"]
    env["INLET_JOB_RETRY_INTERVALS"] = "1,1"
    return env


def test_on_embedded_defaults_the_update_waits_for_the_retried_create(
        embedded_env, client, tenant, hooks, store, refusing_store):
    """Takes ~1 s: the Create's retry is due one second after its failure."""
    hook, secret = hooks.create(kind="efficy", name="Efficy CRM", mapping={}, source="Fair",
                                language=None)
    create = efficy("Create", 4711, {"EMAIL1": "boom@example.be", "NAME": "Peeters",
                                     "LANGUAGE": "N"})
    assert hooks.post(hook, secret, create).status_code == 202
    assert hooks.post(hook, secret, efficy("Update", 4711, {"NAME": "Janssens"})).status_code \
        == 202
    store.run_pending()  # the Create fails; the Update must not be applied before it
    assert _deliveries(client, tenant, hook, "dead-letters") == []
    refusing_store()
    for _ in range(50):
        store.run_pending()
        if [d["status"] for d in _deliveries(client, tenant, hook)] == ["done", "done"]:
            break
        time.sleep(0.1)
    assert _contact(client, tenant, "boom@example.be")["name"] == "Janssens"
    assert _deliveries(client, tenant, hook, "dead-letters") == []
