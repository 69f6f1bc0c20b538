"""Idempotency-Key on the POSTs that create things: a retry gets the first answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway import idempotency
from gateway.db import utcnow
from gateway.errors import IdempotencyInProgress, IdempotencyKeyReused
from gateway.models import Contact, IdempotencyKey
from tests.outage import redis_down

ANN = {"email": "ann@example.com", "language": "nl", "source": "Website"}


def _post(client, tenant, body, key, path="/api/contacts"):
    return client.post(path, json=body, headers=tenant.headers | {"Idempotency-Key": key})


def test_a_retry_gets_the_first_answer_and_creates_nothing(client, tenant):
    first = _post(client, tenant, ANN, "k-1")
    assert first.status_code == 201, first.text
    # the same body in another key order and spacing is the same request
    again = client.post("/api/contacts", headers=tenant.headers | {
        "Idempotency-Key": "k-1", "content-type": "application/json"},
        content=b'{ "source": "Website", "language": "nl", "email": "ann@example.com" }')
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert Contact.select().count() == 1
    # without a key the same request is a new one (here: the address exists)
    assert client.post("/api/contacts", json=ANN, headers=tenant.headers).status_code == 409


def test_a_key_reused_for_another_request_is_422(client, tenant):
    assert _post(client, tenant, ANN, "k-2").status_code == 201
    r = _post(client, tenant, ANN | {"email": "bob@example.com"}, "k-2")
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    r = _post(client, tenant, {"contacts": [ANN]}, "k-2", path="/api/imports")
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    assert Contact.select().count() == 1


def test_keys_are_per_account(client, tenant, other_tenant):
    assert _post(client, tenant, ANN, "shared").status_code == 201
    r = _post(client, other_tenant, ANN, "shared")
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert Contact.select().count() == 2


def test_error_answers_are_kept_too(client, tenant):
    bad = ANN | {"source": "Nowhere"}
    first = _post(client, tenant, bad, "k-3")
    assert first.status_code == 422
    again = _post(client, tenant, bad, "k-3")
    assert (again.status_code, again.json()) == (422, first.json())
    assert again.headers["idempotent-replayed"] == "true"


def test_a_duplicate_while_the_first_runs_is_409(client, tenant):
    label = "POST /api/contacts"
    digest = idempotency.fingerprint(label, ANN)
    claimed = idempotency.claim(tenant.id, "k-4", label, digest)  # the first, still running
    assert claimed.row_id and claimed.answer is None
    with pytest.raises(IdempotencyInProgress):
        idempotency.claim(tenant.id, "k-4", label, digest)
    r = _post(client, tenant, ANN, "k-4")
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_in_progress"
    assert Contact.select().count() == 0
    with pytest.raises(IdempotencyKeyReused):  # a different request is still "reused"
        idempotency.claim(tenant.id, "k-4", label, idempotency.fingerprint(label, {}))


def test_an_abandoned_or_expired_key_is_taken_over(store, tenant):
    label, digest = "POST /api/contacts", "0" * 64
    old = utcnow() - timedelta(minutes=11)
    idempotency.claim(tenant.id, "k-5", label, digest, now=old)  # its process died
    assert idempotency.claim(tenant.id, "k-5", label, digest).row_id
    done = idempotency.claim(tenant.id, "k-6", label, digest, now=utcnow() - timedelta(hours=25))
    idempotency.complete(done.row_id, 201, "{}", {})
    again = idempotency.claim(tenant.id, "k-6", label, "1" * 64)  # expired: free again
    assert again.row_id and again.answer is None


def test_the_sweep_forgets_keys_after_24_hours(client, tenant):
    assert _post(client, tenant, ANN, "k-7").status_code == 201
    assert idempotency.purge_expired(now=utcnow() + timedelta(hours=23)) == 0
    assert idempotency.purge_expired(now=utcnow() + timedelta(hours=25)) == 1
    assert IdempotencyKey.select().count() == 0


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "é"])
def test_malformed_keys_are_422(client, tenant, key):
    r = client.post("/api/contacts", json=ANN,
                    headers=tenant.headers | {"Idempotency-Key": key.encode("utf-8")})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"][0]["field"] == "Idempotency-Key"
    assert Contact.select().count() == 0


def test_a_255_character_key_is_fine(client, tenant):
    assert _post(client, tenant, ANN, "k" * 255).status_code == 201
    assert _post(client, tenant, ANN, "k" * 255).headers["idempotent-replayed"] == "true"


def test_a_503_is_not_kept_so_the_retry_runs(env, client, tenant, hooks_dead_letter):
    """Replay during a Redis outage: 503, and the same key works once Redis is back."""
    path = hooks_dead_letter
    with redis_down(env) as down:
        r = down.post(path, headers=tenant.headers | {"Idempotency-Key": "replay-1"})
    assert r.status_code == 503
    assert IdempotencyKey.select().count() == 0
    first = client.post(path, headers=tenant.headers | {"Idempotency-Key": "replay-1"})
    assert first.status_code == 202 and first.json()["status"] == "queued"
    again = client.post(path, headers=tenant.headers | {"Idempotency-Key": "replay-1"})
    assert (again.status_code, again.json()) == (202, first.json())  # not a 409
    assert client.post(path, headers=tenant.headers).status_code == 409  # no key: new request
    replay_all = path.rsplit("/", 2)[0] + "/replay"  # another route under the same key
    r = client.post(replay_all, headers=tenant.headers | {"Idempotency-Key": "replay-1"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"


@pytest.fixture
def hooks_dead_letter(client, tenant, run_jobs):
    """The replay path of one dead letter (a hook whose mapping misses the e-mail)."""
    from tests.connectors.conftest import Hooks
    hooks = Hooks(client, tenant)
    hook, secret = hooks.create(mapping={"email": "mail"})
    delivery_id = hooks.post(hook, secret, {"email": "ann@example.com"}).json()["delivery_id"]
    for _ in range(5):
        run_jobs()
    r = client.get(f"/api/hooks/{hook['id']}/dead-letters", headers=tenant.headers)
    assert r.json()["items"][0]["id"] == delivery_id
    return f"/api/hooks/{hook['id']}/dead-letters/{delivery_id}/replay"


def test_every_creating_post_documents_the_header(client):
    doc = client.get("/api/openapi.json").json()["paths"]
    for path in ("/api/contacts", "/api/imports", "/api/hooks/{hook_id}/dead-letters/replay",
                 "/api/hooks/{hook_id}/dead-letters/{delivery_id}/replay"):
        names = [p.get("name") for p in doc[path]["post"].get("parameters", [])]
        assert "Idempotency-Key" in names, path
        assert {"409", "422"} <= set(doc[path]["post"]["responses"]), path
