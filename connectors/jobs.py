"""Jobs: turn accepted webhook deliveries into contacts — in batches, in order, with retries.

``accept_delivery`` is the intake handler (see ``gateway.intake``'s batch contract):

* ``accept_delivery.many(entries)`` handles a drain's batch in ONE transaction: it stores the
  batch's ``Delivery`` rows and writes their records in arrival order, each through
  ``connectors.records`` → ``gateway.contacts.upsert`` (the one merge path), so an Efficy
  Create and an Update of one key in a batch apply in that order. When any delivery of the
  batch raises or must wait, it raises and nothing is written: the drain then runs each
  delivery alone, so one bad delivery never fails the others.
* ``accept_delivery.order_key(item)`` names the Efficy key a delivery touches: the drain never
  lets a later delivery of that key overtake one that waits for its retry.
* Alone (``accept_delivery``; ``process_delivery`` is the job of replays and the sweep), a
  failed attempt is undone, recorded on the delivery, and ``RetryLater`` is raised: the queue
  retries the job after ``INLET_JOB_RETRY_INTERVALS`` (holding the order key); after the
  last attempt the delivery is ``dead`` (a dead letter, replayable).

An Efficy Update without an e-mail address (or a blacklisting Delete) whose key is not linked
to a contact yet waits the same way for the Create of its key — retried while its attempts
last and for at most ``WAIT_FOR_CREATE`` — then it is a dead letter saying the key is not
linked (a Delete is then ignored, as before). Records that fail validation cannot succeed on a
retry: the delivery goes straight to the dead letters so the mapping can be fixed and the
delivery replayed. All of it is idempotent: the merge rules make a repeat a no-op, and a
delivery already done or dead is skipped.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee

from connectors import batch, efficy, records
from connectors.models import Delivery, Hook
from gateway import intake, runtime
from gateway.db import db, is_postgres, loads_stored, run_many, utcnow
from gateway.errors import InletError

log = logging.getLogger("inlet.connectors")
STREAM = "hooks"
WAIT_FOR_CREATE = timedelta(minutes=batch.WAIT_MINUTES)  # an unlinked key's wait for its Create
# Delivery rows are written by hand: Peewee's per-value nodes cost more than the statement.
_COLUMNS = ("INSERT INTO delivery (id, hook_id, account_id, webhook_id, status, attempts, "
            "replays, payload, result, error, received_at, updated_at, processed_at) ")
_UPSERT = (" ON CONFLICT (id) DO UPDATE SET status = excluded.status, attempts = "
           "excluded.attempts, result = excluded.result, error = excluded.error, "
           "updated_at = excluded.updated_at, processed_at = excluded.processed_at")
_SAVE = (_COLUMNS + "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
         + _UPSERT)
_SAVE_PG = _COLUMNS + "VALUES %s" + _UPSERT
_LOCK_PG = "SELECT pg_advisory_xact_lock(hashtext('delivery:' || id)) FROM unnest(%s) AS id"


class RetryLater(Exception):
    """A delivery's failed attempt is recorded: the queue runs the job again later."""


def accept_delivery(delivery_id: str, item: dict) -> str:
    """Intake handler: store one accepted request as a delivery and process it alone."""
    return process_delivery(delivery_id, item)


def accept_many(entries: list[tuple[str, dict]]) -> None:
    """Intake batch handler: every delivery of ``entries`` in one transaction, in order;
    raises (nothing written) when one of them fails or must wait."""
    _run(entries, alone=False)


def order_key(item: dict) -> str | None:
    """``{hook}:{Efficy key}`` of a delivery whose contact records share one key, else None.

    A delivery of several keys gets none: it keeps its order within a batch, and its
    unlinked Updates wait for their Creates like any other.
    """
    body = item.get("body") or ""
    if '"records"' not in body:  # a generic hook's body: no Efficy key to order by
        return None
    try:
        found, _ = efficy.split(json.loads(body))
    except (ValueError, InletError):
        return None
    keys = {record.key for record in found}
    return f"{item['hook']}:{keys.pop()}" if len(keys) == 1 else None


accept_delivery.many = accept_many
accept_delivery.order_key = order_key


def process_delivery(delivery_id: str, item: dict | None = None) -> str:
    """Job: write a delivery's records once; raises ``RetryLater`` after a failed attempt
    that has attempts left, else returns the delivery's status."""
    status = _run([(delivery_id, item)], alone=True).get(delivery_id, "missing")
    if status == "retrying":
        raise RetryLater(f"delivery {delivery_id} is retried later")
    return status


def _run(entries: list[tuple[str, dict | None]], *, alone: bool) -> dict[str, str]:
    """Store and process ``entries`` in one transaction; returns each delivery's status.

    Mails are queued only after the commit.
    """
    batch = _Batch(alone)
    with db.connection_context():
        with db.atomic():
            todo = _claim(entries, batch.statuses)
            batch.prepare(todo)
            for delivery, hook in todo:
                batch.attempt(hook, delivery)
            batch.finish()
            batch.save()
        for action in batch.after:
            action()
    return batch.statuses


def _claim(entries: list[tuple[str, dict | None]], statuses: dict) -> list[tuple]:
    """The batch's deliveries still to process, in order, with their hooks (a new one as an
    unsaved row: ``_Batch.save`` writes each once, in its final state). On PostgreSQL their
    ids are locked first, so a retry and a recovered intake item never process one side by
    side. Fills ``statuses`` for the ones already settled."""
    ids = list(dict.fromkeys(delivery_id for delivery_id, _ in entries))
    if is_postgres():
        db.execute_sql(_LOCK_PG, [sorted(ids)])
    items = {delivery_id: item for delivery_id, item in entries if item is not None}
    hooks = {h.id: h for h in Hook.select().where(
        Hook.id.in_(list({item["hook"] for item in items.values()})))}
    found = {row.id: row for row in _known_rows(ids)}
    todo = []
    for delivery_id in ids:
        delivery = found.get(delivery_id)
        item = items.get(delivery_id)
        if delivery is None and item is not None and item["hook"] in hooks:
            delivery = _new(hooks[item["hook"]], delivery_id, item)
        if delivery is None or delivery.status in ("done", "dead"):
            statuses[delivery_id] = delivery.status if delivery else "missing"
            continue
        hook = hooks.get(delivery.hook_id) or Hook.get_by_id(delivery.hook_id)
        hooks[hook.id] = hook
        todo.append((delivery, hook))
    return todo


@dataclass
class _Row:
    """A delivery as this module reads and writes it (cheaper than a model instance)."""

    id: str
    hook_id: int
    account_id: int
    webhook_id: str | None
    status: str
    attempts: int
    replays: int
    payload: object
    result: dict
    error: str | None
    received_at: datetime
    updated_at: datetime
    processed_at: datetime | None


_SELECT_ROWS = ("SELECT id, hook_id, account_id, webhook_id, status, attempts, replays, "
                "payload, result, error, received_at, updated_at, processed_at FROM delivery "
                "WHERE id IN ({marks})")


def _known_rows(ids: list[str]) -> Iterator[_Row]:
    """The stored deliveries among ``ids`` (read by hand: one query per 500 ids)."""
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        query = _SELECT_ROWS.format(marks=", ".join([db.param] * len(chunk)))
        for values in db.execute_sql(query, chunk):
            row = _Row(*values)
            row.payload, row.result = loads_stored(row.payload), loads_stored(row.result or "{}")
            for name in ("received_at", "updated_at", "processed_at"):
                setattr(row, name, _datetime(getattr(row, name)))
            yield row


def _datetime(value) -> datetime | None:
    """A stored timestamp (SQLite returns text) as a datetime."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _new(hook: Hook, delivery_id: str, item: dict) -> _Row:
    """The (unsaved) delivery row of an accepted intake item."""
    return _Row(delivery_id, hook.id, hook.account_id, item.get("webhook_id"), "queued", 0, 0,
                json.loads(item["body"]), {}, None,
                datetime.fromisoformat(item["received_at"]), utcnow(), None)


def _json(value) -> str:
    return Delivery.payload.db_value(value)


class _Batch:
    """The deliveries of one transaction: their records, new states and after-commit mails."""

    def __init__(self, alone: bool):
        self.alone = alone
        self.statuses: dict[str, str] = {}
        self.after: list = []
        self.changed: list[_Row] = []
        self.contexts: dict[int, records.Context] = {}
        self.found: dict[str, tuple[list, int]] = {}
        self.planned: list[tuple] = []
        self.writer = batch.Writer()
        self.intervals = runtime.settings().job_retry_intervals

    def prepare(self, todo: list[tuple[_Row, Hook]]) -> None:
        """Each hook's vocabulary, and the contacts its deliveries touch, read once."""
        by_hook: dict[int, list] = {}
        for delivery, hook in todo:
            if hook.id not in self.contexts:
                self.contexts[hook.id] = records.Context.load(hook)
            try:
                self.found[delivery.id] = records.records_of(hook.kind, delivery.payload)
            except InletError:
                continue  # its attempt fails the same way, on its own
            by_hook.setdefault(hook.id, []).extend(self.found[delivery.id][0])
        for hook_id, found in by_hook.items():
            records.preload(self.contexts[hook_id], found)

    def attempt(self, hook: Hook, delivery: _Row) -> None:
        """Plan one delivery's records into the writer; alone, write them too, and record a
        failure for a retry instead of raising it (its writes undone by a savepoint)."""
        attempt = delivery.attempts + 1
        ctx = self.contexts[hook.id]
        # Batched, any wait raises (the drain then runs each delivery alone); alone, the
        # last attempt or an old delivery stops waiting and fails for good.
        ctx.wait = not self.alone or (attempt <= len(self.intervals) and utcnow()
                                      - delivery.received_at < WAIT_FOR_CREATE)
        try:
            with db.atomic() if self.alone else contextlib.nullcontext():
                steps = self._plan(ctx, delivery)
                if self.alone:
                    self.writer.flush()
        except Exception as exc:
            if not self.alone:
                raise
            self.writer = batch.Writer()  # what it planned was undone with the savepoint
            if not isinstance(exc, records.Waiting):
                log.exception("delivery %s failed (attempt %d)", delivery.id, attempt)
            self.failed(delivery, attempt, failure_reason(exc, delivery.id))
            return
        self.planned.append((hook, delivery, attempt, steps))

    def _plan(self, ctx: records.Context, delivery: _Row) -> list[records.Step]:
        found, _ = self.found.get(delivery.id) or records.records_of(ctx.hook.kind,
                                                                     delivery.payload)
        reference = batch.delivery_reference(ctx, delivery.id)
        return [self.writer.add(ctx, reference, index, record)
                for index, record in enumerate(found)]

    def finish(self) -> None:
        """Write what is planned, then settle each planned delivery: done, or dead when
        records failed validation."""
        self.writer.flush()
        for hook, delivery, attempt, steps in self.planned:
            result, confirm = _result(hook, steps, self.found[delivery.id][1])
            failed = result["counts"]["failed"]
            error = (f"{failed} of {sum(result['counts'].values())} records were not valid; "
                     "fix the mapping or the sender, then replay." if failed else None)
            self.settle(delivery, "dead" if failed else "done", attempt, error, result)
            for contact_id in confirm:
                self.after.append(lambda h=hook, c=contact_id: send_confirmation(h.form_id, c))
        self.planned = []

    def failed(self, delivery: _Row, attempt: int, error: str) -> None:
        """Record a failed attempt: retried while attempts remain, else a dead letter."""
        status = "dead" if attempt > len(self.intervals) else "retrying"
        self.settle(delivery, status, attempt, error, None)

    def settle(self, delivery: _Row, status: str, attempt: int, error: str | None,
               result: dict | None) -> None:
        """The delivery's new state, saved with the batch's others by ``save``."""
        now = utcnow()
        delivery.status, delivery.attempts, delivery.error = status, attempt, error
        delivery.updated_at = now
        if result is not None:
            delivery.result, delivery.processed_at = result, now
        self.statuses[delivery.id] = status
        self.changed.append(delivery)

    def save(self) -> None:
        """Write the deliveries, new or known, in their new states: one statement."""
        run_many(_SAVE, [
            (d.id, d.hook_id, d.account_id, d.webhook_id, d.status, d.attempts, d.replays,
             _json(d.payload), _json(d.result), d.error, d.received_at, d.updated_at,
             d.processed_at) for d in self.changed], _SAVE_PG)


def _result(hook: Hook, steps: list[records.Step], skipped: int) -> tuple[dict, list[int]]:
    """A delivery's result for its log, and the contacts owed an opt-in mail."""
    views, confirm = [], []
    for step in steps:
        if (step.outcome == "created" and step.status == "unconfirmed"
                and step.contact_id is not None and hook.form_id):
            confirm.append(step.contact_id)
        view = records.describe(step, step.outcome)
        if step.contact_id is not None:
            view["contact_id"] = step.contact_id  # the delivery log links to what it wrote
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
    if isinstance(exc, InletError | records.Waiting):
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
