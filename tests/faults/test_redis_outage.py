"""Redis dies (SIGKILL) while forms and webhooks are under load, then comes back.

Every request must be answered ``202`` or ``503`` — never a 5xx of another kind — and every
``202`` must end up stored once Redis is back: an accepted submission is never lost. The
counts of both answers are reported (they go into the README's figures).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta

import httpx2 as httpx
import pytest

from tests.faults.conftest import SECRET

pytestmark = pytest.mark.timeout(180)  # every fault test is bounded

LOAD_SECONDS = 5.0
OUTAGE = (1.0, 3.0)  # Redis is down between these seconds of the load


def setup_account(stack):
    """An account with a bearer-auth webhook and a form without minimum fill time."""
    from connectors.service import create_hook
    from forms import tokens
    from forms.definitions import create_form
    from tests.conftest import make_tenant
    tenant = make_tenant("Faults")
    hook, secret = create_hook(tenant.id, {"kind": "generic", "name": "Shop", "auth": "bearer",
                                           "source": "Website", "language": "nl",
                                           "mapping": {"email": "email",
                                                       "first_name": "first_name"}})
    form = create_form(tenant.id, {"name": "Newsletter", "source": "Website",
                                   "double_opt_in": False, "min_fill_seconds": 0,
                                   "languages": ["nl"]})
    ts = tokens.render_token(SECRET, form.id, now=time.time() - 5)
    return tenant, hook, secret, form, ts


class Load:
    """Threads posting forms and webhooks with unique e-mails; every answer recorded."""

    def __init__(self, base_url: str, hook_id: int, secret: str, slug: str, ts: str):
        self.base_url, self.hook_id, self.secret, self.slug, self.ts = (
            base_url, hook_id, secret, slug, ts)
        self.results: list[tuple[str, str, int]] = []  # (kind, email, status)
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self, threads: int, seconds: float) -> None:
        """Run ``threads`` senders for ``seconds``."""
        workers = [threading.Thread(target=self._loop, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        time.sleep(seconds)
        self.stop.set()
        for w in workers:
            w.join(timeout=30)

    def _loop(self, n: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=15) as client:
            i = 0
            while not self.stop.is_set():
                i += 1
                kind = "form" if i % 2 else "hook"
                email = f"{kind}-{n}-{i}-{uuid.uuid4().hex[:6]}@example.com"
                try:
                    status = self._send(client, kind, email, n, i)
                except httpx.HTTPError:
                    status = -1  # no answer at all (connection refused, timeout)
                with self.lock:
                    self.results.append((kind, email, status))

    def _send(self, client, kind: str, email: str, n: int, i: int) -> int:
        if kind == "hook":
            r = client.post(f"/hooks/{self.hook_id}", json={"email": email, "first_name": "H"},
                            headers={"Authorization": f"Bearer {self.secret}",
                                     "webhook-id": f"msg-{email}"})
        else:
            # Distinct visitors behind the proxy: the per-IP form limit must not kick in.
            r = client.post(f"/f/{self.slug}", data={"email": email, "_ts": self.ts},
                            headers={"Accept": "application/json",
                                     "X-Forwarded-For": f"10.{n}.{i // 250 % 250}.{i % 250}"})
        return r.status_code

    def emails(self, status: int) -> list[str]:
        """The e-mails of the requests answered ``status``."""
        return [e for _, e, s in self.results if s == status]


def intake_state(r) -> dict:
    """What sits in Redis for the intake streams (to explain a failure)."""
    state = {}
    for key in r.scan_iter(match="inlet:intake:*"):
        kind = r.type(key).decode()
        state[key.decode()] = (r.llen(key) if kind == "list" else kind, r.ttl(key))
    state["rq:queue:inlet"] = r.llen("rq:queue:inlet")
    return state


def stored_emails(account_id: int) -> set[str]:
    """The e-mails of the account's stored contacts."""
    from gateway.db import db
    from gateway.models import Contact
    with db.connection_context():
        return {c.email for c in Contact.select(Contact.email).where(
            Contact.account == account_id)}


def test_redis_killed_under_form_and_webhook_load(stack):
    tenant, hook, secret, form, ts = setup_account(stack)
    stack.serve()
    workers = [stack.worker(), stack.worker()]
    load = Load(stack.base_url, hook.id, secret, form.slug, ts)

    def outage():
        """Kill Redis during the load and start it again."""
        time.sleep(OUTAGE[0])
        stack.redis.stop()  # SIGKILL
        time.sleep(OUTAGE[1] - OUTAGE[0])
        stack.redis.start()
    chaos = threading.Thread(target=outage)
    chaos.start()
    load.run(threads=6, seconds=LOAD_SECONDS)
    chaos.join()

    statuses = {s for _, _, s in load.results}
    accepted, refused = load.emails(202), load.emails(503)
    report = {s: sum(1 for *_, x in load.results if x == s) for s in statuses}
    print(f"\nredis outage: {report}")
    assert statuses <= {202, 503}, report  # nothing else: no 500, no dropped connection
    assert accepted and refused, report  # the outage really happened under load

    # Workers may have exited while Redis was gone; a supervisor restarts them.
    for i, w in enumerate(workers):
        if not w.alive():
            workers[i] = stack.worker()
    # The workers' sweep finds the items whose drain died with Redis and starts a new one.
    missing = wait_stored(tenant.id, accepted, 90)
    kinds = {k: sum(1 for kind, e, _ in load.results if kind == k and e in missing)
             for k in ("form", "hook")}
    assert not missing, (f"{len(missing)} accepted but not stored {kinds}; "
                         f"what sits in Redis: {intake_state(stack.redis.client())}")
    stored = stored_emails(tenant.id)
    late = len(set(refused) & stored)
    print(f"accepted={len(accepted)} refused={len(refused)} accepted_lost=0 "
          f"refused_but_stored={late}")
    _record_figures(len(load.results), len(accepted), len(refused), late)


def wait_stored(account_id: int, accepted: list[str], seconds: float) -> set[str]:
    """The accepted e-mails still not stored after waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while (missing := set(accepted) - stored_emails(account_id)) and \
            time.monotonic() < deadline:
        time.sleep(0.5)
    return missing


def _record_figures(total, accepted, refused, late) -> None:
    import os
    path = os.environ.get("INLET_FIGURES")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps({"test": "redis_outage", "requests": total,
                                 "accepted": accepted, "refused_503": refused,
                                 "accepted_lost": 0, "refused_but_stored": late}) + "\n")


def test_replay_import_and_consent_during_an_outage_change_nothing(stack):
    """A 503 "nothing was accepted" must be true: the delivery stays dead and replayable, no
    import is left validating for a sweep to move on, and the retry makes no duplicate."""
    from connectors.models import Delivery
    from connectors.service import create_hook, update_hook
    from gateway.db import db, utcnow
    from gateway.imports.models import Import
    from tests.conftest import make_tenant
    tenant = make_tenant("Outage")
    hook, secret = create_hook(tenant.id, {"kind": "generic", "name": "Shop", "auth": "bearer",
                                           "source": "Website", "language": "nl",
                                           "mapping": {"email": "mail"}})
    stack.serve()
    workers = [stack.worker()]
    api = httpx.Client(base_url=stack.base_url, timeout=15, headers=tenant.headers)
    r = api.post(f"/hooks/{hook.id}", json={"email": "late@example.com"},
                 headers={"Authorization": f"Bearer {secret}"})
    delivery_id = r.json()["delivery_id"]
    status = lambda: getattr(_delivery(delivery_id), "status", None)  # noqa: E731
    wait_until_equal(status, "dead", 30)
    update_hook(tenant.id, hook.id, {"mapping": {"email": "email"}})  # the mapping is fixed
    waiting = api.post("/api/imports", json={"contacts": [{"email": "c@example.com"}]})
    assert waiting.status_code == 202 and waiting.json()["step"] == "mapping"
    body = {"contacts": [{"email": "d@example.com"}], "obtained_rightfully": True}
    replay = f"/api/hooks/{hook.id}/dead-letters/{delivery_id}/replay"

    stack.redis.stop()  # SIGKILL
    assert api.post(replay).status_code == 503
    assert api.post("/api/imports", json=body,
                    headers={"Idempotency-Key": "imp-1"}).status_code == 503
    r = api.put(f"/api/imports/{waiting.json()['id']}/consent",
                json={"obtained_rightfully": True})
    assert r.status_code == 503
    time.sleep(5)  # the workers' sweeps run every 2 s: nothing may move on
    with db.connection_context():
        assert [(i.id, i.step, i.consent) for i in Import.select()] == [
            (waiting.json()["id"], "mapping", False)]
    assert (status(), _delivery(delivery_id).replays) == ("dead", 0)

    stack.redis.start()
    workers = [w if w.alive() else stack.worker() for w in workers]
    assert api.post(replay).status_code == 202
    first = api.post("/api/imports", json=body, headers={"Idempotency-Key": "imp-1"})
    again = api.post("/api/imports", json=body, headers={"Idempotency-Key": "imp-1"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert api.put(f"/api/imports/{waiting.json()['id']}/consent",
                   json={"obtained_rightfully": True}).status_code == 200
    wait_until_equal(status, "done", 60)
    assert "late@example.com" in stored_emails(tenant.id)
    validated = lambda: all(  # noqa: E731  (validation ran: a choice or finalise is next)
        api.get(f"/api/imports/{i}").json()["step"] in ("fallbacks", "ready")
        for i in (first.json()["id"], waiting.json()["id"]))
    wait_until_equal(validated, True, 60)
    with db.connection_context():
        assert Import.select().count() == 2

    # A replay whose job was lost (its row says queued, no job exists): the sweep recovers it.
    with db.connection_context():
        Delivery.update(status="queued", updated_at=utcnow() - timedelta(hours=1)).where(
            Delivery.id == delivery_id).execute()
    wait_until_equal(status, "done", 60)
    api.close()


def _delivery(delivery_id: str):
    from connectors.models import Delivery
    from gateway.db import db
    with db.connection_context():
        return Delivery.get_or_none(Delivery.id == delivery_id)  # None until the drain ran


def wait_until_equal(read, expected, seconds: float):
    """Poll ``read()`` until it returns ``expected``; fail with the last value."""
    deadline = time.monotonic() + seconds
    while (value := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.3)
    assert value == expected
