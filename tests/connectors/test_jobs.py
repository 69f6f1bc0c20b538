"""Processing with a real RQ worker on the real test Redis: retries, dead letters, replay."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.jobs import requeue_stuck
from connectors.models import Delivery
from gateway.db import db, utcnow
from gateway.models import Contact
from tests.outage import redis_down


def _get(client, tenant, path):
    r = client.get(path, headers=tenant.headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_failures_retry_then_dead_letter_then_replay(client, tenant, hooks, work,
                                                     refusing_store):
    hook, secret = hooks.create()
    r = hooks.post(hook, secret, {"email": "boom@example.com"})
    delivery_id = r.json()["delivery_id"]
    work()
    dead = _get(client, tenant, f"/api/hooks/{hook['id']}/dead-letters")
    assert [d["id"] for d in dead] == [delivery_id]
    # INLET_JOB_RETRY_INTERVALS=0,0: the first try and two retries
    assert dead[0]["attempts"] == 3 and dead[0]["status"] == "dead"
    # the log names no exception text (it may quote values or database internals)
    assert "store refused" not in dead[0]["error"] and "Error" not in dead[0]["error"]
    assert dead[0]["error"].startswith("An internal error stopped this attempt")
    assert dead[0]["payload"] == {"email": "boom@example.com"}
    assert Contact.select().count() == 0
    refusing_store()
    r = client.post(f"/api/hooks/{hook['id']}/dead-letters/{delivery_id}/replay",
                    headers=tenant.headers)
    assert r.status_code == 202 and r.json()["status"] == "queued"
    work()
    assert _get(client, tenant, f"/api/hooks/{hook['id']}/dead-letters") == []
    done = _get(client, tenant, f"/api/hooks/{hook['id']}/deliveries")[0]
    assert (done["status"], done["attempts"], done["replays"]) == ("done", 1, 1)
    assert Contact.get(Contact.email == "boom@example.com").status == "confirmed"
    r = client.post(f"/api/hooks/{hook['id']}/dead-letters/{delivery_id}/replay",
                    headers=tenant.headers)
    assert r.status_code == 409  # only dead letters replay


def test_a_failure_that_recovers_before_the_last_retry_is_done(client, tenant, hooks, work,
                                                               refusing_store, store):
    from connectors import jobs
    hook, secret = hooks.create()
    delivery_id = hooks.post(hook, secret, {"email": "boom@example.com"}).json()["delivery_id"]
    # run only the intake drain: the first attempt fails and schedules a retry
    from gateway import intake
    with db.connection_context():
        intake.drain(jobs.STREAM, "connectors.jobs.accept_delivery")
    retrying = _get(client, tenant, f"/api/hooks/{hook['id']}/deliveries")[0]
    assert (retrying["status"], retrying["attempts"]) == ("retrying", 1)
    refusing_store()
    work()
    done = _get(client, tenant, f"/api/hooks/{hook['id']}/deliveries")[0]
    assert (done["id"], done["status"], done["attempts"]) == (delivery_id, "done", 2)


def test_invalid_records_go_to_dead_letters_and_replay_after_a_fix(client, tenant, hooks,
                                                                   work):
    hook, secret = hooks.create(mapping={"email": "email", "language": "lang"})
    hooks.post(hook, secret, [{"email": "ann@example.com", "lang": "Dutch"},
                              {"email": "bob@example.com", "lang": "nl"},
                              {"email": "not-an-address", "lang": "nl"}])
    work()
    dead = _get(client, tenant, f"/api/hooks/{hook['id']}/dead-letters")
    assert len(dead) == 1 and dead[0]["attempts"] == 1  # no retry: it cannot succeed
    counts = dead[0]["result"]["counts"]
    assert (counts["created"], counts["failed"]) == (1, 2)
    errors = {r["index"]: r["errors"][0]["code"] for r in dead[0]["result"]["records"]
              if "errors" in r}
    assert errors == {0: "unknown_language", 2: "invalid_email"}
    client.patch(f"/api/hooks/{hook['id']}", json={"language_map": {"Dutch": "nl"}},
                 headers=tenant.headers)
    r = client.post(f"/api/hooks/{hook['id']}/dead-letters/replay", headers=tenant.headers)
    assert r.status_code == 202 and len(r.json()["items"]) == 1
    work()
    assert Contact.get(Contact.email == "ann@example.com").language == "nl"
    again = _get(client, tenant, f"/api/hooks/{hook['id']}/deliveries")[0]["result"]["counts"]
    assert (again["created"], again["unchanged"], again["failed"]) == (1, 1, 1)


def _dead_letter(client, tenant, hooks, work) -> tuple[dict, str]:
    """A hook whose mapping misses the e-mail, and one dead letter of it."""
    hook, secret = hooks.create(mapping={"email": "mail"})
    delivery_id = hooks.post(hook, secret, {"email": "ann@example.com"}).json()["delivery_id"]
    work()
    assert _get(client, tenant, f"/api/hooks/{hook['id']}/dead-letters")[0]["id"] == delivery_id
    r = client.patch(f"/api/hooks/{hook['id']}", json={"mapping": {"email": "email"}},
                     headers=tenant.headers)
    assert r.status_code == 200, r.text
    return hook, delivery_id


@pytest.mark.parametrize("which", ["one", "all"])
def test_a_replay_refused_by_the_queue_leaves_the_dead_letter_replayable(
        env, client, tenant, hooks, work, which):
    hook, delivery_id = _dead_letter(client, tenant, hooks, work)
    base = f"/api/hooks/{hook['id']}/dead-letters"
    path = f"{base}/{delivery_id}/replay" if which == "one" else f"{base}/replay"
    with redis_down(env) as down:
        r = down.post(path, headers=tenant.headers)
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
    with db.connection_context():
        row = Delivery.get_by_id(delivery_id)
    assert (row.status, row.replays) == ("dead", 0)  # as it was: nothing was accepted
    r = client.post(path, headers=tenant.headers)
    assert r.status_code == 202, r.text
    work()
    assert _get(client, tenant, f"{base}") == []
    assert Contact.get(Contact.email == "ann@example.com").status == "confirmed"


@pytest.mark.parametrize("status", ["queued", "retrying"])
def test_the_sweep_requeues_deliveries_whose_job_was_lost(client, tenant, hooks, work, status):
    hook, delivery_id = _dead_letter(client, tenant, hooks, work)
    # A job lost with Redis: the row says queued (or retrying) and nothing runs it.
    long_ago = utcnow() - timedelta(hours=1)
    Delivery.update(status=status, updated_at=long_ago).where(
        Delivery.id == delivery_id).execute()
    assert requeue_stuck(older_than=timedelta(minutes=90)) == 0  # not stuck long enough yet
    assert requeue_stuck() == 1
    assert requeue_stuck() == 0  # touched: the next sweep waits for this job
    work()
    assert Delivery.get_by_id(delivery_id).status == "done"
    assert Contact.get(Contact.email == "ann@example.com").status == "confirmed"
