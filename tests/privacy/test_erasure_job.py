"""The erasure job survives a lost worker: the sweep queues it again; a rerun is harmless."""

from __future__ import annotations

from datetime import timedelta

from gateway.db import utcnow
from privacy import erasure
from privacy.models import Erasure


def test_a_lost_erasure_job_is_queued_again_and_runs_once(client, tenant, run_jobs,
                                                          redis_server):
    r = client.post("/api/contacts", headers=tenant.headers,
                    json={"email": "lost@example.com", "language": "nl", "source": "Website"})
    contact_id = r.json()["id"]
    r = client.post(f"/api/contacts/{contact_id}/erase", headers=tenant.headers)
    assert r.status_code == 202
    redis_server.flushdb()  # the worker died with the job: nothing is queued any more
    run_jobs()
    assert Erasure.get_by_id(r.json()["id"]).status == "queued"
    assert erasure.requeue_lost() == 0  # too recent to be called lost
    Erasure.update(requested_at=utcnow() - timedelta(minutes=10)).execute()
    assert erasure.requeue_lost() == 1
    run_jobs()
    assert Erasure.get_by_id(r.json()["id"]).status == "done"
    assert erasure.run(r.json()["id"]) == "done"  # again: nothing to do
    assert client.get(f"/api/contacts/{contact_id}", headers=tenant.headers).status_code == 404
    assert client.post(f"/api/contacts/{contact_id}/erase",
                       headers=tenant.headers).json()["status"] == "done"


def test_erasure_needs_the_admin_scope_and_an_own_contact(client, tenant, other_tenant):
    from tests.conftest import make_tenant
    reader = make_tenant("Reader", scopes=("contacts:read", "contacts:write"))
    r = client.post("/api/contacts", headers=tenant.headers,
                    json={"email": "mine@example.com", "language": "nl", "source": "Website"})
    path = f"/api/contacts/{r.json()['id']}/erase"
    assert client.post(path, headers=reader.headers).status_code == 403
    assert client.post(path, headers=other_tenant.headers).status_code == 404
    assert client.get(path.replace("erase", "data"),
                      headers=other_tenant.headers).status_code == 404
    assert client.post("/api/contacts/999999/erase", headers=tenant.headers).status_code == 404
