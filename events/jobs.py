"""Jobs: deliver due events, retry with backoff, bury, and the sweeps that keep it honest.

``deliver_due`` first writes the delivery rows of newly written events (``fan_out``: the
writers leave that to us), then claims due deliveries (a lease: their ``next_at`` moves
``LEASE`` ahead, so a worker killed mid-POST loses nothing — they fall due again), POSTs
them per endpoint (one event per POST, or up to 100 as a JSON array for a batched endpoint;
``PARALLEL`` POSTs at a time, each wave recorded in one transaction), logs every attempt
and schedules the failed ones after ``RETRY_SCHEDULE`` (more than a day in all), after
which a delivery is dead (replayable). ``kick`` makes sure a ``deliver_due`` runs.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from events import delivery
from events.models import Event, EventAttempt, EventDelivery, EventEndpoint, EventFanout
from gateway import runtime
from gateway.accounts import notification_address
from gateway.db import db, is_postgres, run_many, utcnow
from gateway.dotted import job_path
from gateway.models import EmbeddedJob
from gateway.queue import EmbeddedQueue, release, schedule_once

log = logging.getLogger("inlet.events")

# Seconds before attempt n + 1 after n failures: 5 s … 8 h, about 40 hours in all.
RETRY_SCHEDULE = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800, 28800)
LEASE = timedelta(minutes=2)
CLAIM = 100  # deliveries claimed at once (a batched endpoint's POST holds at most 100)
FANOUT_SPAN = 20_000  # event ids fanned out per transaction (an import's come in one row)
PARALLEL = 16  # POSTs in flight per worker: receivers answer them side by side
IDLE_SECONDS = 2.0  # a kicked run waits this long for the kicking transaction to commit
BUDGET_SECONDS = 60.0  # then hands over to a new job (other jobs get their turn)
DISABLE_AFTER = timedelta(days=3)
KEEP_EVENTS = timedelta(days=30)
MARK_TTL = 300
RUNNING_TTL = 45  # seconds: longer than one claim-and-send round (a wave waits 10 s at most)
_running: dict[bool, tuple[str, str]] = {}  # this process's running marks: kind -> (key, token)


def _mark(helper: bool) -> str:
    name = "helper" if helper else "scheduled"
    return f"inlet:events:{runtime.settings().queue_name}:{name}"


def kick(*, helper: bool = False, force: bool = False) -> None:
    """Make sure a ``deliver_due`` will run (called inside the writing transaction too)."""
    queue = runtime.queue()
    if isinstance(queue, EmbeddedQueue):
        # No Redis: the job row commits (or rolls back) with the events it is for.
        path = job_path(deliver_due)
        if not EmbeddedJob.select().where((EmbeddedJob.func == path)
                                          & (EmbeddedJob.status == "queued")).exists():
            EmbeddedJob.create(func=path, args=[False])
        return
    try:
        schedule_once(queue, _mark(helper), deliver_due, helper,
                      ttl=30 if helper else MARK_TTL, force=force)
    except Exception:  # the rows are safe in the database: the sweep schedules
        log.warning("could not schedule event delivery; the sweep will", exc_info=True)


def deliver_due(helper: bool = False) -> int:
    """Job: send every due delivery; returns how many deliveries were attempted. A run that
    finds another (or another helper) running returns at once: the kicks and sweeps may queue
    several, and each would otherwise hold a worker for ``BUDGET_SECONDS``."""
    with db.connection_context(), alone(helper) as first:
        return _deliver_due(helper) if first else 0


@contextlib.contextmanager
def alone(helper: bool):
    """True when no other run of the same kind holds the running mark (refreshed by
    ``_still_running``; a killed worker's mark expires after ``RUNNING_TTL``)."""
    queue = runtime.queue()
    if isinstance(queue, EmbeddedQueue):
        yield True
        return
    mark = _mark(helper) + ":running"
    token = f"{os.getpid()}:{time.monotonic()}"
    if not queue.redis.set(mark, token, nx=True, ex=RUNNING_TTL):
        yield False
        return
    _running[helper] = (mark, token)
    try:
        yield True
    finally:
        _running.pop(helper, None)
        if queue.redis.get(mark) == token.encode():
            queue.redis.delete(mark)


def _still_running(helper: bool) -> None:
    """Refresh this run's running mark."""
    held = _running.get(helper)
    if held:
        runtime.queue().redis.set(held[0], held[1], ex=RUNNING_TTL)


def _deliver_due(helper: bool) -> int:
    embedded = isinstance(runtime.queue(), EmbeddedQueue)
    idle = 0.0 if helper or embedded else IDLE_SECONDS
    started = last_work = time.monotonic()
    done = 0
    while time.monotonic() - started < BUDGET_SECONDS:
        if not embedded:
            _still_running(helper)
        fanned = fan_out()
        claimed = claim(CLAIM)
        if fanned and not claimed:
            last_work = time.monotonic()
        if claimed:
            if len(claimed) == CLAIM and not helper and not embedded:
                kick(helper=True)  # a backlog: let a second worker help
            done += send(claimed)
            last_work = time.monotonic()
        elif time.monotonic() - last_work >= idle:
            break
        else:
            time.sleep(0.05)
    if not embedded:
        release(runtime.queue(), _mark(helper))
        if due_count(1) or fanout_waiting():  # came due after our last look, or out of time
            kick()
    return done


def fan_out() -> int:
    """Write the delivery rows of events written since (``EventFanout``), oldest first, in
    one transaction of up to ``FANOUT_SPAN`` event ids; returns how many rows were done."""
    with db.atomic():
        rows = EventFanout.select().order_by(EventFanout.id).limit(100)
        if is_postgres():
            rows = rows.for_update(skip_locked=True)  # another worker's: take the next
        taken, span = [], 0
        for row in rows:
            span += row.last_event - row.first_event + 1
            if taken and span > FANOUT_SPAN:
                break
            taken.append(row)
        now = utcnow()
        for row in taken:
            _deliveries_of(row, now)
        if taken:
            EventFanout.delete().where(EventFanout.id.in_([row.id for row in taken])).execute()
    return len(taken)


def _deliveries_of(fanout: EventFanout, now) -> None:
    """The deliveries of one fan-out row's events, to those of its endpoints still enabled
    (in event order: a contact's events are claimed, so sent, in the order they happened)."""
    p = db.param
    endpoints = ", ".join([p] * len(fanout.endpoints)) or "NULL"
    db.execute_sql(
        f"INSERT INTO event_delivery (event_id, endpoint_id, status, attempts, next_at, "  # noqa: S608
        f"updated_at) SELECT e.id, ep.id, 'pending', 0, {p}, {p} FROM event e "
        f"JOIN event_endpoint ep ON ep.id IN ({endpoints}) AND ep.enabled "
        f"WHERE e.account_id = {p} AND e.type = {p} AND e.id BETWEEN {p} AND {p} "
        f"ORDER BY e.id, ep.id ON CONFLICT (event_id, endpoint_id) DO NOTHING",
        [now, now, *fanout.endpoints, fanout.account_id, fanout.type, fanout.first_event,
         fanout.last_event])


def fanout_waiting() -> bool:
    """Whether events wait for their delivery rows."""
    return EventFanout.select().exists()


def _due_where(now):
    held = EventEndpoint.select(EventEndpoint.id).where(EventEndpoint.held_until > now)
    return ((EventDelivery.status == "pending") & (EventDelivery.next_at <= now)
            & EventDelivery.endpoint.not_in(held))


def due_count(limit: int = 1000) -> int:
    """How many deliveries are due now (up to ``limit``)."""
    return (EventDelivery.select(EventDelivery.id).where(_due_where(utcnow()))
            .limit(limit).count())


def claim(limit: int, ids: list[int] | None = None) -> list[tuple]:
    """Lease up to ``limit`` due deliveries (or the given ``ids``): (id, event id, endpoint
    id, attempts) each."""
    p, now = db.param, utcnow()
    due = EventDelivery.select(EventDelivery.id)
    due = (due.where(EventDelivery.id.in_(ids)) if ids else
           due.where(_due_where(now)).order_by(EventDelivery.next_at, EventDelivery.id)
           .limit(limit))
    materialized = ""
    if is_postgres():
        due = due.for_update(skip_locked=True)  # another worker's claim: take the next rows
        # PostgreSQL may run a plain ``IN (subquery)`` again per row, and so lease far more
        # than ``limit`` (one worker took a whole 600-delivery backlog after a crash).
        materialized = "MATERIALIZED "
    due_sql, due_params = due.sql()
    with db.atomic():
        rows = db.execute_sql(
            f"WITH due AS {materialized}({due_sql}) UPDATE event_delivery "  # noqa: S608
            f"SET next_at = {p}, updated_at = {p} WHERE id IN (SELECT id FROM due) "
            f"AND status = 'pending' RETURNING id, event_id, endpoint_id, attempts",
            [*due_params, now + LEASE, now]).fetchall()
    return rows


def send(claimed: list[tuple]) -> int:
    """POST claimed deliveries, endpoint by endpoint; record the outcome of each."""
    events = {row[0]: row for row in Event.select(Event.id, Event.type, Event.data,
                                                  Event.created_at)
              .where(Event.id.in_({c[1] for c in claimed})).tuples()}
    endpoints = {e.id: e for e in EventEndpoint.select().where(
        EventEndpoint.id.in_({c[2] for c in claimed}))}
    by_endpoint: dict[int, list[tuple]] = defaultdict(list)
    for row in claimed:
        by_endpoint[row[2]].append(row)
    for endpoint_id, rows in by_endpoint.items():
        endpoint = endpoints.get(endpoint_id)
        if endpoint is None or not endpoint.enabled:
            _bury(rows, "the endpoint is disabled; replay once it is enabled again")
            continue
        deliver_to(endpoint, rows, events)
    return len(claimed)


def deliver_to(endpoint: EventEndpoint, rows: list[tuple], events: dict) -> None:
    """POST claimed ``rows`` to ``endpoint``, up to ``PARALLEL`` requests at a time (never two
    about one contact: its events arrive in order), each wave recorded in one transaction;
    after a wave with an unanswered request the rest waits."""
    secrets = current_secrets(endpoint)
    size = 100 if endpoint.batch else 1
    chunks = [rows[start:start + size] for start in range(0, len(rows), size)]
    requests = [_request(chunk, events, endpoint.batch) for chunk in chunks]
    send_one = functools.partial(_post, endpoint.url, secrets)
    for wave in _waves(list(zip(chunks, requests, strict=True))):
        # one POST alone needs no thread (a test event, a batched endpoint's single POST)
        outcomes = ([send_one(wave[0][1])] if len(wave) == 1
                    else list(_senders().map(send_one, [request for _, request in wave])))
        record(endpoint, [(chunk, outcome) for (chunk, _), outcome in zip(wave, outcomes,
                                                                         strict=True)])
        if any(outcome.status_code is None for outcome in outcomes):
            # unreachable: the rest waits with the same backoff, without an attempt each
            _postpone(rows[rows.index(wave[-1][0][-1]) + 1:])
            _hold(endpoint)
            return


def _request(chunk: list[tuple], events: dict, batch: bool) -> tuple[bytes, str, set]:
    """(body, webhook-id, the contacts it is about) of one POST."""
    shapes = [delivery.envelope(*events[row[1]]) for row in chunk]
    body, msg_id = delivery.body_and_id(shapes, batch)
    subjects = {shape["data"]["contact"].get("id") for shape in shapes
                if isinstance(shape["data"], dict) and isinstance(shape["data"].get("contact"),
                                                                  dict)}
    return body, msg_id, subjects


def _waves(items: list[tuple]):
    """``items`` (chunk, request) in order, cut into waves of at most ``PARALLEL`` whose
    requests are about different contacts."""
    wave: list[tuple] = []
    seen: set = set()
    for item in items:
        subjects = item[1][2]
        if len(wave) == PARALLEL or subjects & seen:
            yield wave
            wave, seen = [], set()
        wave.append(item)
        seen |= subjects
    if wave:
        yield wave


@functools.cache
def _senders() -> ThreadPoolExecutor:
    """The threads a worker POSTs with (the pool's keep-alive connections are shared)."""
    return ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="inlet-events")


def _post(url: str, secrets: list[str], request: tuple) -> delivery.Outcome:
    body, msg_id, _ = request
    return delivery.post(url, secrets, body, msg_id)


def current_secrets(endpoint: EventEndpoint) -> list[str]:
    """The endpoint's secret, and during a rotation the previous one too."""
    secrets = [delivery.secret_for(endpoint.secret_salt)]
    if endpoint.previous_salt and endpoint.previous_expires_at and \
            endpoint.previous_expires_at > utcnow():
        secrets.append(delivery.secret_for(endpoint.previous_salt))
    return secrets


# Attempt rows are written by hand: Peewee's per-value nodes cost more CPU than the POSTs.
_ATTEMPT = ("INSERT INTO event_attempt (endpoint_id, delivery_id, events, status_code, "
            "latency_ms, response, error, at) ")
_ATTEMPT_ROW = _ATTEMPT + "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})"
_ATTEMPT_PG = _ATTEMPT + "VALUES %s"
_DELIVERED = ("UPDATE event_delivery SET status = 'delivered', attempts = attempts + 1, "
              "delivered_at = {p}, updated_at = {p}, last_error = NULL")
_RETRY = ("UPDATE event_delivery SET attempts = {p}, status = {p}, last_error = {p}, "
          "updated_at = {p}, next_at = {p}")


def record(endpoint: EventEndpoint, results: list[tuple[list[tuple], delivery.Outcome]]
           ) -> None:
    """Log the attempt of each delivery (chunks of claimed rows, each with the outcome of its
    POST) and move it on (delivered/retry/dead), in one transaction of a few statements."""
    now = utcnow()
    with db.atomic():
        run_many(_ATTEMPT_ROW, [
            (endpoint.id, row[0], len(rows), outcome.status_code, outcome.latency_ms,
             outcome.response, outcome.error, now)
            for rows, outcome in results for row in rows], _ATTEMPT_PG)
        delivered = [row[0] for rows, outcome in results if outcome.ok for row in rows]
        if delivered:
            _where_ids(_DELIVERED, [now, now], delivered)
        failed = [(row, outcome.error) for rows, outcome in results if not outcome.ok
                  for row in rows]
        _retry_or_bury(failed, now)
        if delivered and endpoint.failing_since is not None:  # it answers again
            EventEndpoint.update(failing_since=None, held_until=None).where(
                EventEndpoint.id == endpoint.id).execute()
        elif failed and not delivered and endpoint.failing_since is None:
            EventEndpoint.update(failing_since=now).where(
                (EventEndpoint.id == endpoint.id) & EventEndpoint.failing_since.is_null()
            ).execute()


def _where_ids(update: str, params: list, ids: list[int]) -> None:
    """Run ``update`` (fixed text, ``{p}`` a placeholder) on the deliveries ``ids`` (at most
    ``CLAIM``: one claim's)."""
    marks = ", ".join([db.param] * len(ids))
    db.execute_sql(update.replace("{p}", db.param) + f" WHERE id IN ({marks})",  # noqa: S608
                   [*params, *ids])


def _retry_or_bury(failed: list[tuple[tuple, str | None]], now) -> None:
    """Failed deliveries (claimed row, error): due again after their backoff step, or dead;
    one statement per (attempt number, error) — a wave's failures mostly share both."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for row, error in failed:
        groups[(row[3] + 1, error)].append(row[0])
    for (attempts, error), ids in groups.items():
        dead = attempts > len(RETRY_SCHEDULE)
        next_at = now if dead else now + timedelta(seconds=RETRY_SCHEDULE[attempts - 1])
        _where_ids(_RETRY, [attempts, "dead" if dead else "pending", error, now, next_at], ids)


def _postpone(rows: list[tuple]) -> None:
    """Move unsent rows to their next attempt's time (one statement per backoff step)."""
    now = utcnow()
    by_wait: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_wait[RETRY_SCHEDULE[min(row[3], len(RETRY_SCHEDULE) - 1)]].append(row[0])
    for wait, ids in by_wait.items():
        EventDelivery.update(next_at=now + timedelta(seconds=wait), updated_at=now).where(
            EventDelivery.id.in_(ids)).execute()


def _hold(endpoint: EventEndpoint) -> None:
    """An unreachable endpoint's other due deliveries wait too (no attempt charged), longer
    the longer it has been failing (5 s up to 10 min): a dead receiver with a backlog must
    not keep the workers claiming and postponing it. One row: the endpoint is held."""
    now = utcnow()
    failing = (now - endpoint.failing_since).total_seconds() if endpoint.failing_since else 0
    until = now + timedelta(seconds=min(max(RETRY_SCHEDULE[0], failing), 600))
    EventEndpoint.update(held_until=until).where(EventEndpoint.id == endpoint.id).execute()


def _bury(rows: list[tuple], reason: str) -> None:
    EventDelivery.update(status="dead", last_error=reason, updated_at=utcnow()).where(
        EventDelivery.id.in_([row[0] for row in rows])).execute()


# ---- sweeps -----------------------------------------------------------------------------------

def requeue_stuck() -> int:
    """Sweep: schedule a delivery run when deliveries are due or events wait for theirs
    (lost kicks, expired leases of a killed worker, retries come due); returns how many
    are due (plus one when events wait)."""
    with db.connection_context():
        due = due_count() + fanout_waiting()
    if due:
        kick(force=True)
    return due


def disable_failing() -> int:
    """Sweep: disable endpoints failing for ``DISABLE_AFTER`` and mail the account's users."""
    with db.connection_context():
        now = utcnow()
        failing = list(EventEndpoint.select().where(
            EventEndpoint.enabled & (EventEndpoint.failing_since < now - DISABLE_AFTER)))
        for endpoint in failing:
            with db.atomic():  # disabled and its mails queued together
                EventEndpoint.update(
                    enabled=False, updated_at=now,
                    disabled_reason=f"disabled on {now:%Y-%m-%d}: failing since "
                                    f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC").where(
                    EventEndpoint.id == endpoint.id).execute()
                _mail_disabled(endpoint)
    if failing:
        from gateway import mail
        mail.schedule_delivery()  # after the commit: a drain must see the mails
    return len(failing)


def _mail_disabled(endpoint: EventEndpoint) -> None:
    from gateway import mail
    text = (f"Inlet stopped sending events to {endpoint.url} (endpoint {endpoint.id}): every "
            f"delivery has failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC.\n\n"
            "Fix the receiver, enable the endpoint again and replay its dead deliveries "
            "(admin: API > Event endpoints).\n")
    to = notification_address(endpoint.account_id)
    if to:
        mail.queue_mail(to, "Inlet: an event endpoint was disabled", text,
                        account_id=endpoint.account_id, purpose="events", schedule=False)


def purge_old() -> int:
    """Sweep: drop events (and their deliveries and attempts) older than ``KEEP_EVENTS``."""
    with db.connection_context():
        cutoff = utcnow() - KEEP_EVENTS
        # The oldest events by id (no created_at index to keep up at every write): ids follow
        # the clock, so the old ones come first; the walk stops at the first recent one.
        oldest = Event.select(Event.id, Event.created_at).order_by(Event.id).limit(5000)
        old = [id_ for id_, _ in itertools.takewhile(lambda row: row[1] < cutoff,
                                                     oldest.tuples())]
        if old:
            with db.atomic():
                deliveries = EventDelivery.select(EventDelivery.id).where(
                    EventDelivery.event.in_(old))
                EventAttempt.delete().where(EventAttempt.delivery.in_(deliveries)).execute()
                EventDelivery.delete().where(EventDelivery.event.in_(old)).execute()
                Event.delete().where(Event.id.in_(old)).execute()
    return len(old)
