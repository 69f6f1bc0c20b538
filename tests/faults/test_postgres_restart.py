"""PostgreSQL crashes (immediate stop) and restarts while an import finalises and webhooks flow.

Jobs that hit the dead database must retry and finish once it is back: the import ends with
every row written once, every accepted webhook delivery is processed exactly once. Requests
during the outage are answered 202 (durably queued in Redis) or 503 — never another 5xx.
"""

from __future__ import annotations

import threading
import time

import httpx2 as httpx
import pytest

from tests.faults.test_finalise_crash import (
    assert_store,
    plan,
    seed_existing,
    upload_until_ready,
    wait_step,
)

pytestmark = pytest.mark.timeout(180)  # every fault test is bounded

ROWS = 20000
OUTAGE_SECONDS = 2.0


def post_hooks(base_url: str, hook_id: int, secret: str, prefix: str, stop: threading.Event,
               results: list) -> None:
    """Post webhooks (one new address each) until ``stop``; record (email, status)."""
    with httpx.Client(base_url=base_url, timeout=15) as client:
        i = 0
        while not stop.is_set():
            i += 1
            email = f"{prefix}-{i}@example.com"
            try:
                r = client.post(f"/hooks/{hook_id}", json={"email": email},
                                headers={"Authorization": f"Bearer {secret}",
                                         "webhook-id": f"pg-{email}"})
                results.append((email, r.status_code))
            except httpx.HTTPError:
                results.append((email, -1))
            time.sleep(0.01)


def test_postgres_restarted_during_import_and_webhooks(stack):
    from connectors.service import create_hook
    from tests.conftest import make_tenant
    tenant = make_tenant("Restarts")
    hooks_account = make_tenant("Hooks")  # its own account: the import's counts stay exact
    hook, secret = create_hook(hooks_account.id, {
        "kind": "generic", "name": "CRM", "auth": "bearer", "source": "Fair", "language": "fr",
        "mapping": {"email": "email"}})
    kinds = plan(ROWS)
    seed_existing(tenant.id, kinds)
    stack.serve()
    stack.worker()
    stack.worker()
    results: list = []
    during: list = []
    stop = threading.Event()
    with httpx.Client(base_url=stack.base_url, headers=tenant.headers, timeout=60) as client:
        import_id = upload_until_ready(client, kinds)
        sender = threading.Thread(target=post_hooks, args=(stack.base_url, hook.id, secret,
                                                           "hook", stop, results))
        sender.start()
        client.post(f"/api/imports/{import_id}/finalise").raise_for_status()
        time.sleep(0.5)  # the finalise is under way
        from gateway.db import db
        db.close()  # this process's own connection would not survive the restart either
        stack.pg.stop("immediate")
        outage_started = time.monotonic()
        while time.monotonic() - outage_started < OUTAGE_SECONDS:
            try:
                during.append(client.get("/api/contacts?limit=1").status_code)
            except httpx.HTTPError:
                during.append(-1)
            time.sleep(0.2)
        stack.pg.start()
        time.sleep(1.0)
        stop.set()
        sender.join(timeout=30)
        final = wait_step(client, import_id, ("done",), timeout=120)

    statuses = {s for _, s in results}
    print(f"\nwebhooks: { {s: sum(1 for _, x in results if x == s) for s in statuses} } "
          f"api during outage: { {s: during.count(s) for s in set(during)} }")
    assert statuses <= {202, 503}, statuses
    assert_store(tenant.id, import_id, kinds, final["counts"])
    accepted = [e for e, s in results if s == 202]
    assert accepted
    _assert_deliveries(hook.id, accepted)
    assert set(during) <= {503}, f"API answers while PostgreSQL is down: {during}"


def _assert_deliveries(hook_id: int, accepted: list[str]) -> None:
    """Every accepted webhook processed exactly once (retries after the outage included)."""
    from connectors.models import Delivery
    from gateway.db import db
    from gateway.models import Contact

    def done():
        """True when every accepted delivery is stored and none is pending."""
        with db.connection_context():
            pending = Delivery.select().where((Delivery.hook == hook_id)
                                              & (Delivery.status != "done")).count()
            count = Delivery.select().where(Delivery.hook == hook_id).count()
        return pending == 0 and count >= len(accepted)
    deadline = time.monotonic() + 60
    while not done() and time.monotonic() < deadline:
        time.sleep(0.5)
    with db.connection_context():
        rows = list(Delivery.select(Delivery.webhook_id, Delivery.status)
                    .where(Delivery.hook == hook_id).tuples())
        emails = {c.email for c in Contact.select(Contact.email).where(
            Contact.email.in_(accepted))}
    by_id: dict = {}
    for webhook_id, status in rows:
        by_id.setdefault(webhook_id, []).append(status)
    assert all(len(v) == 1 for v in by_id.values()), "a delivery stored twice"
    statuses = [s for v in by_id.values() for s in v]
    assert statuses.count("done") == len(statuses), {s: statuses.count(s) for s in statuses}
    missing = set(accepted) - emails
    assert not missing, (f"{len(missing)} accepted webhooks not stored", sorted(missing)[:3],
                         _where_are(missing))


def _where_are(missing: set) -> dict:
    """Where the missing deliveries sit: still in Redis, or failed jobs (to explain a failure)."""
    from gateway import runtime
    r = runtime.queue().redis
    found = {}
    for key in r.scan_iter(match="inlet:intake:*"):
        if r.type(key) == b"list":
            items = [i.decode() for i in r.lrange(key, 0, -1)]
            hits = sum(1 for e in missing for i in items if e in i)
            found[key.decode()] = (len(items), hits)
    found["rq:failed"] = r.zcard("rq:failed:inlet")
    found["rq:queue"] = r.llen("rq:queue:inlet")
    found["rq:scheduled"] = r.zcard("rq:scheduled:inlet")
    return found
