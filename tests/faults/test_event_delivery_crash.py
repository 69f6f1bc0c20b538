"""kill -9 the worker while it sends outbound events, then let a new one finish (issue #19).

Production shape: ``inlet worker`` processes on PostgreSQL and Redis, POSTing to a receiver
that answers each request after a short pause (so a kill lands mid-delivery: POSTs in flight,
a wave half recorded). Every committed change must still arrive, at least once, correctly
signed; a delivery may arrive twice only if the worker died after the receiver got it.
"""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta

import pytest
from standardwebhooks import Webhook

from tests.events.conftest import Receiver
from tests.faults.services import wait_until

pytestmark = pytest.mark.timeout(180)  # every fault test is bounded

CHANGES = 600
PAUSE = 0.03  # seconds the receiver takes per POST


def ids(receiver: Receiver) -> set[str]:
    """The distinct event ids received (each POST's ``webhook-id``)."""
    return {request["headers"]["webhook-id"] for request in receiver.requests}


def commit_changes(account_id: int, count: int) -> None:
    """``count`` new contacts through the one merge path, 50 per transaction (each writes
    its events and a fan-out row; its kick queues a delivery run)."""
    from gateway.contacts import Provenance, upsert_many
    from gateway.db import db
    for start in range(0, count, 50):
        with db.atomic():
            upsert_many(account_id, [{"email": f"k{i}@example.com", "language": "nl",
                                      "source": "Website"}
                                     for i in range(start, min(start + 50, count))],
                        status="confirmed", provenance=Provenance("api"), field_types={})


def time_passes() -> None:
    """As if the killed worker's lease (and its running mark) had run out: its claimed
    deliveries fall due again, as they would ``LEASE`` later."""
    from events import jobs
    from events.models import EventDelivery
    from gateway import runtime
    from gateway.db import db
    with db.connection_context():
        EventDelivery.update(next_at=EventDelivery.next_at - jobs.LEASE - timedelta(seconds=1)
                             ).where(EventDelivery.status == "pending").execute()
    redis = runtime.queue().redis
    for key in redis.scan_iter("inlet:events:*:running"):
        redis.delete(key)


def test_a_worker_killed_mid_delivery_loses_no_event(stack):
    from events.endpoints import create_endpoint
    from events.models import Event
    from gateway.db import db
    from tests.conftest import make_tenant
    rng = random.Random(int(os.environ.get("INLET_FAULT_SEED", time.time())))
    receiver = Receiver(pause=PAUSE)
    try:
        stack.env["INLET_ALLOW_PRIVATE_TARGETS"] = "127.0.0.1"
        stack.configure()
        tenant = make_tenant("Events crash")
        with db.connection_context():
            _, secret = create_endpoint(tenant.id, {"url": receiver.url,
                                                    "events": ["contact.created"]})
        commit_changes(tenant.id, CHANGES)  # nothing sends yet: no worker runs
        worker = stack.worker()
        wait_until(lambda: len(receiver.requests) >= rng.randint(40, 120) or None, 60,
                   f"the worker to send\n{worker.output()}", 0.005)
        worker.kill()
        at_kill = len(ids(receiver))
        assert at_kill < CHANGES, "the worker finished before it was killed"
        time.sleep(PAUSE * 2)  # the POSTs in flight are answered (to nobody)
        time_passes()
        worker = stack.worker()  # its sweeper finds the due deliveries and schedules a run
        with db.connection_context():
            expected = {f"evt_{e.id}" for e in Event.select(Event.id)  # the webhook-id
                        .where(Event.account == tenant.id)}
        assert len(expected) == CHANGES
        try:
            wait_until(lambda: ids(receiver) >= expected or None, 60, "every event", 0.1)
        finally:
            print(f"received {at_kill} before the kill, {len(receiver.requests)} POSTs in all")
            print(worker.output())
        assert ids(receiver) == expected
        verifier = Webhook(secret)
        for request in receiver.requests:
            verifier.verify(request["body"], {k.lower(): v for k, v in request["headers"].items()})
        # twice only if the killed worker's wave was in flight: at most one claim's worth
        assert len(receiver.requests) - len(expected) <= 100
    finally:
        receiver.close()
