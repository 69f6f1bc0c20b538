"""Jobs: turn accepted webhook deliveries into contacts, with retries and dead letters.

``accept_delivery`` is the intake handler (``gateway.intake``): it stores the delivery row
and processes it. ``process_delivery`` writes every record through
``gateway.contacts.upsert``; on an error it schedules a retry after
``INLET_JOB_RETRY_INTERVALS[attempt - 1]`` seconds, and after the last one the delivery is
``dead`` (a dead letter, replayable). Records that fail validation cannot succeed on a
retry: the delivery goes straight to the dead letters so the mapping can be fixed and the
delivery replayed. All of it is idempotent: the merge rules make a repeat a no-op.
"""

from __future__ import annotations

import importlib
import json
import logging
from datetime import datetime, timedelta

import peewee

from connectors import records
from connectors.models import Delivery, Hook
from gateway import intake, runtime
from gateway.contacts import Provenance
from gateway.db import db, is_postgres, utcnow
from gateway.dotted import job_path
from gateway.errors import InletError
from gateway.models import EmbeddedJob
from gateway.queue import RedisQueue

log = logging.getLogger("inlet.connectors")
STREAM = "hooks"


def accept_delivery(delivery_id: str, item: dict) -> str:
    """Intake handler: store one accepted request as a delivery and process it."""
    return process_delivery(delivery_id, item)


def process_delivery(delivery_id: str, item: dict | None = None) -> str:
    """Job: write a delivery's records once; schedules its retry or marks it dead.

    One transaction per delivery (the records in a savepoint), so a delivery costs one
    commit; mails and retries are queued only after it committed.
    """
    after: list = []
    with db.connection_context():
        with db.atomic():
            query = Delivery.select().where(Delivery.id == delivery_id)
            # PostgreSQL: a retry and a recovered intake item never process it side by side
            delivery = (query.for_update() if is_postgres() else query).first()
            hook = None
            if delivery is None and item is not None:
                hook = Hook.get_or_none(Hook.id == item["hook"])
                delivery = _store(hook, delivery_id, item) if hook else None
            if delivery is None or delivery.status in ("done", "dead"):
                return delivery.status if delivery else "missing"
            status = _attempt(hook or Hook.get_by_id(delivery.hook_id), delivery, after)
        for action in after:
            action()
    return status


def _store(hook: Hook, delivery_id: str, item: dict) -> Delivery:
    """The delivery row for an accepted intake item."""
    return Delivery.create(id=delivery_id, hook=hook.id, account=hook.account_id,
                           webhook_id=item.get("webhook_id"),
                           payload=json.loads(item["body"]),
                           received_at=datetime.fromisoformat(item["received_at"]))


def _attempt(hook: Hook, delivery: Delivery, after: list) -> str:
    attempt = delivery.attempts + 1
    try:
        with db.atomic():  # a savepoint: a failure undoes this attempt's writes only
            result, confirm = _process(hook, delivery)
    except Exception as exc:
        log.exception("delivery %s failed (attempt %d)", delivery.id, attempt)
        return _failed(delivery.id, attempt, failure_reason(exc, delivery.id), after)
    failed = result["counts"]["failed"]
    status = "dead" if failed else "done"
    error = (f"{failed} of {sum(result['counts'].values())} records were not valid; fix the "
             "mapping or the sender, then replay." if failed else None)
    Delivery.update(status=status, result=result, error=error, attempts=attempt,
                    processed_at=utcnow(), updated_at=utcnow()).where(
        Delivery.id == delivery.id).execute()
    for contact_id in confirm:
        after.append(lambda c=contact_id: send_confirmation(hook.form_id, c))
    return status


def _process(hook: Hook, delivery: Delivery) -> tuple[dict, list[int]]:
    """Write every record; returns the delivery result and contacts owed an opt-in mail."""
    provenance = Provenance(channel="connector",
                            reference=f"hook:{hook.id}/delivery:{delivery.id}",
                            actor=hook.name, text=hook.consent_text)
    ctx = records.Context.load(hook, provenance)
    steps, skipped = records.plan(ctx, delivery.payload)
    views, confirm = [], []
    for step in steps:
        outcome, contact = records.execute(ctx, step)
        if (outcome == "created" and step.status == "unconfirmed" and contact is not None
                and hook.form_id):
            confirm.append(contact.id)
        view = records.describe(step, outcome)
        if contact is not None:
            view["contact_id"] = contact.id  # the delivery log links to what it wrote
        views.append(view)
    counts = dict.fromkeys(("created", "updated", "unchanged", "blacklisted", "ignored",
                            "failed"), 0)
    for view in views:
        counts[view["outcome"]] += 1
    counts["skipped"] = skipped
    # the log keeps the first 100 records' details; the counts cover them all
    return {"counts": counts, "records": views[:100],
            "confirmation_mails": len(confirm)}, confirm


def failure_reason(exc: Exception, delivery_id: str) -> str:
    """What the delivery log shows for a failed attempt: never an exception's own text.

    An ``InletError``'s message is written for clients; anything else may quote stored
    values or the database's internals, so the log gets the traceback and the API a pointer.
    """
    if isinstance(exc, InletError):
        return exc.message
    if isinstance(exc, peewee.OperationalError | peewee.InterfaceError):
        return "The database was unavailable during this attempt."
    return (f"An internal error stopped this attempt; the server log has the details "
            f"(delivery {delivery_id}).")


def send_confirmation(form_id: int, contact_id: int) -> int:
    """Send a form's double opt-in mail to a new unconfirmed contact (1 when asked for)."""
    try:
        mails = importlib.import_module("forms.mails")
    except ModuleNotFoundError:
        mails = None
    send = getattr(mails, "send_confirmation", None)
    if send is None:
        log.warning("forms.mails.send_confirmation is not available: contact %s gets no "
                    "opt-in mail", contact_id)
        return 0
    send(form_id, contact_id)
    return 1


def _failed(delivery_id: str, attempt: int, error: str, after: list) -> str:
    """Schedule the next attempt (after commit), or bury the delivery after the last one."""
    intervals = runtime.settings().job_retry_intervals
    status = "dead" if attempt > len(intervals) else "retrying"
    Delivery.update(status=status, error=error, attempts=attempt, updated_at=utcnow()).where(
        Delivery.id == delivery_id).execute()
    if status == "retrying":
        after.append(lambda: schedule(process_delivery, delivery_id,
                                      delay=intervals[attempt - 1],
                                      job_id=f"delivery-{delivery_id}-{attempt}"))
    return status


def schedule(func, *args, delay: int, job_id: str) -> None:
    """Run ``func(*args)`` after ``delay`` seconds on whichever queue is configured."""
    queue = runtime.queue()
    if delay <= 0:
        queue.enqueue(func, *args, job_id=job_id)
    elif isinstance(queue, RedisQueue):
        queue.rq.enqueue_in(timedelta(seconds=delay), func, *args, job_id=job_id,
                            result_ttl=3600, failure_ttl=30 * 24 * 3600)
    else:  # the embedded queue has no delay parameter: write the due time ourselves
        EmbeddedJob.create(func=job_path(func), args=list(args), job_key=job_id,
                           run_at=utcnow() + timedelta(seconds=delay))


STUCK_AFTER = timedelta(minutes=10)
MAX_REQUEUED = 500  # per sweep: a huge backlog drains over several sweeps


def requeue_stuck(older_than: timedelta = STUCK_AFTER) -> int:
    """Sweep: queue again deliveries left ``queued`` or ``retrying`` with no job behind them.

    A replay whose job was lost with Redis, or a retry whose scheduling failed, would
    otherwise wait forever (a replay answers 409 for anything not dead). Processing is
    idempotent, so a spare job for a delivery that was only slow costs a skipped check.
    """
    now = utcnow()
    # A retry is due after its interval: count the longest one before calling it lost.
    longest = timedelta(seconds=max(runtime.settings().job_retry_intervals, default=0))
    stuck_where = (((Delivery.status == "queued") & (Delivery.updated_at < now - older_than))
                   | ((Delivery.status == "retrying")
                      & (Delivery.updated_at < now - older_than - longest)))
    with db.connection_context():
        stuck = list(Delivery.select(Delivery.id, Delivery.status).where(stuck_where)
                     .order_by(Delivery.updated_at).limit(MAX_REQUEUED))
        for delivery in stuck:
            # Touch it first, so the next sweep waits another interval for this job.
            Delivery.update(updated_at=utcnow()).where(
                (Delivery.id == delivery.id) & (Delivery.status == delivery.status)).execute()
            runtime.queue().enqueue(process_delivery, delivery.id)
    return len(stuck)


WAITING_SCAN = 500  # intake entries read for the admin's "waiting for a worker" list


def waiting(hook_id: int) -> list[dict]:
    """Accepted requests of a hook still in the intake queue (no delivery row yet).

    Only the oldest ``WAITING_SCAN`` entries are read: a page view never walks a backlog.
    On embedded defaults the web process runs them at once, so there is nothing to show.
    """
    if runtime.settings().embedded_queue:
        return []
    try:
        raw = runtime.queue().redis.lrange(intake.keys(STREAM)["queue"], 0, WAITING_SCAN - 1)
    except Exception:  # the page still shows what the database holds
        log.warning("could not read the hooks intake queue")
        return []
    found = []
    for entry in raw:
        try:
            data = json.loads(entry)
            item = data["item"]
        except (ValueError, KeyError, TypeError):
            continue
        if item.get("hook") == hook_id:
            found.append({"id": data["id"], "status": "queued",
                          "received_at": item.get("received_at")})
    return found
