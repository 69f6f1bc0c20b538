"""Fast, durable intake: accept a JSON item in one Redis round trip, process it in batches.

Built for endpoints that must answer ``202`` quickly at high request rates (connector
webhooks, form submissions). A blocking ``rq.Queue.enqueue`` per request costs several
Redis round trips plus pickling on the event loop; here a request costs one ``EVALSHA``
(rate limits + dedupe + push + "is a drain scheduled?", atomically) on an asyncio Redis
connection — requests arriving while a write is in flight share the next round trip (one
pipeline), each still answered only after Redis acknowledged its own item — and the
workers take items in batches.

API
---
``item_id = new_id("dlv_")``
    A unique, time-ordered id to give the item (and to show the client).

``accepted = await submit(settings, "hooks", handler, item, item_id=..., dedupe_key=...)``
    Queue ``item`` (a JSON-able dict) for ``handler`` (see the batch contract). Returns
    ``Accepted(id, duplicate)`` only once the item is durably stored (acknowledged by
    Redis, or committed to the database on embedded defaults); raises
    ``ServiceUnavailable`` (503 + Retry-After) when it cannot be.
    ``dedupe_key``: a repeat within ``DEDUPE_SECONDS`` (24 h) stores nothing and returns
    the FIRST item's id with ``duplicate=True``. ``limits`` (``ratelimit.Limit``s): the hit
    is counted in the same round trip, and an item over any of them is not stored:
    ``RateLimited`` (429 + Retry-After) instead.

``await aclose()``
    Close this event loop's Redis connections (the app's lifespan calls it).

``drain(stream, handler_path)`` (an RQ job, scheduled for you)
    Moves up to ``BATCH`` items at a time with ``LMOVE`` to a per-run processing list
    (leased; a crashed run's items go back to the queue on the next run), hands them to the
    handler (see the batch contract below), then drops the batch. The first ``submit`` that
    finds no drain scheduled enqueues one (``SET NX``), so most requests enqueue no job at
    all; while a backlog remains a drain adds a helper drain job every ``HELPER_SECONDS``.

The batch contract
------------------
A handler is a MODULE-LEVEL function ``handler(item_id, item)`` that handles ONE item,
idempotently per ``item_id`` (an item is handled at least once). It may carry two attributes:

``handler.many = handle_many`` — ``handle_many(entries: list[tuple[str, dict]]) -> None``
    handles ``(item_id, item)`` entries, in arrival order, in ONE transaction: all or nothing
    (raise). Entries of one order key may share a call: it applies them in list order (in
    rounds). It skips item ids already done (a batch may be re-run after a crash) and does
    what must follow the commit (scheduling mail delivery) only after it.
``handler.order_key = key`` — ``key(item) -> str | None``, cheap and pure: items with the
    same key are applied in arrival order; None: no ordering for that item.

A drain hands a batch to ``many``; if it raises, the batch is ISOLATED: each entry runs alone
through ``handler``, in arrival order; an entry that raises there is re-queued alone as
``run_item`` with the queue's retry backoff (``INLET_JOB_RETRY_INTERVALS``), then stays a
failed job as before. No ``many``: each entry goes through ``handler`` the same way.

Order per key (guarantee): an item is never applied before an earlier item of its stream with
the same order key has succeeded or used up its retries — within a batch, across concurrent
drains on several workers, and across retries. How: a drain CLAIMS the keys of its batch in
Redis (atomically with parking); an item whose key another drain or a waiting retry holds is
PARKED behind that key instead of being handled. The owner releases the key after its batch
and handles what was parked meanwhile, in order; a failed item's retry job takes the key over
and releases it after its last attempt (success or failure). A drain's claims lapse with its
lease (a worker ``kill -9``'d), and ``recover`` puts its items and those parked behind its
keys back at the head of the queue: nothing is lost, and order holds except around such a
crash (best effort there).

Without Redis (``settings.embedded_queue``) each item is an ``EmbeddedJob`` row running
``run_item`` and duplicates are remembered as long as the row is kept; the in-process runner
takes up to ``BATCH`` due ``run_item`` rows of one stream and handler and calls ``run_items``:
the same ``many``/isolation as a drain, and a row whose key an earlier row waiting for its
retry holds is held back until that row is done or failed.

Durability: a ``202`` means Redis acknowledged the write — as durable as the Redis
persistence you configure (``appendonly yes`` in production), the same as any RQ job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis
from rq import get_current_job
from starlette.concurrency import run_in_threadpool

from gateway import intake_order as order
from gateway import ratelimit, runtime
from gateway.dotted import job_path, resolve
from gateway.errors import RateLimited, ServiceUnavailable
from gateway.i18n import _
from gateway.queue import release, schedule_once
from gateway.scripts import ScriptCaller
from gateway.settings import Settings

log = logging.getLogger("inlet.intake")

PREFIX = "inlet:intake"
DEDUPE_SECONDS = 24 * 3600
BATCH = 500
SCHEDULE_SECONDS = 60  # a scheduled drain older than this is assumed lost: schedule again
# A processing list whose lease expired belongs to a crashed drain (and its order claims lapse
# with it). Short, and renewed every batch and every few items handled one by one, so a crash
# holds its batch back seconds, not minutes, while a slow live batch keeps its lease.
LEASE_SECONDS = 30
LEASE_EVERY = 10  # items handled one by one between two renewals
DRAIN_BUDGET_SECONDS = 30  # a drain hands over to a fresh job after this long
HELPER_SECONDS = 5  # with a backlog, at most one extra drain job is added this often

# One round trip for a batch of items of one stream, atomically: for each item count its
# rate-limit hits (``ratelimit.LUA_HIT``), then — unless over a limit — dedupe and push; then
# "is a drain scheduled?". ARGV: dedupe TTL, schedule TTL, then per item the entry, its id,
# its dedupe key or '', and its limits' group. Answers per item '' (stored), the first item's
# id (a duplicate) or the counts of the limits it exceeded; then '1' when the caller must
# schedule a drain.
_SUBMIT = ratelimit.LUA_HIT + """
local out, pushed, at = {}, 0, 3
while at <= #ARGV do
  local entry, id, key, over, counts, first = ARGV[at], ARGV[at + 1], ARGV[at + 2], false
  over, counts, at = hit(at + 3)
  if over then
    out[#out + 1] = counts
  else
    if key ~= '' then first = redis.call('GET', key) end
    if first then
      out[#out + 1] = first
    else
      if key ~= '' then redis.call('SET', key, id, 'EX', ARGV[1]) end
      redis.call('RPUSH', KEYS[1], entry)
      pushed = pushed + 1
      out[#out + 1] = ''
    end
  end
end
local schedule = '0'
if pushed > 0 and redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then schedule = '1' end
out[#out + 1] = schedule
return out
"""
_TAKE = """
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not v then break end
  out[#out + 1] = v
end
return out
"""
_GIVE_BACK = """
local n = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') do n = n + 1 end
return n
"""


@dataclass(frozen=True)
class Accepted:
    """What ``submit`` stored: the item id (the first one's, for a duplicate)."""

    id: str
    duplicate: bool = False


def new_id(prefix: str = "") -> str:
    """A unique id that sorts by creation time (milliseconds, then 48 random bits)."""
    return f"{prefix}{int(time.time() * 1000):011x}{secrets.token_hex(6)}"


def keys(stream: str) -> dict[str, str]:
    """The Redis keys of a stream."""
    base = f"{PREFIX}:{stream}"
    return {"queue": base, "scheduled": f"{base}:scheduled", "helper": f"{base}:helper",
            "dedupe": f"{base}:seen:",
            "processing": f"{base}:processing:", "lease": f"{base}:lease:",
            "handler": f"{base}:handler", "claim": f"{base}:claim:",
            "park": f"{base}:park:"}


# ---- accepting (async, in the web process) ------------------------------------------------

_callers: dict[str, ScriptCaller] = {}


def _submitter(url: str) -> ScriptCaller:
    """The submit script's caller for ``url`` (concurrent submits share round trips)."""
    caller = _callers.get(url)
    if caller is None:
        caller = _callers[url] = ScriptCaller(url, _SUBMIT)
    return caller


async def aclose() -> None:
    """Close the Redis connections of the running loop."""
    for caller in list(_callers.values()):
        await caller.aclose()


async def _store(url: str, stream: str, args: list) -> tuple[str, object]:
    """("stored", "1" if this item must schedule the drain else "0"), ("duplicate", the
    first item's id) or ("limited", its limits' counts); ``args``: the item's ARGV group."""
    k = keys(stream)
    replies, index = await _submitter(url).call(
        (2, k["queue"], k["scheduled"], DEDUPE_SECONDS, SCHEDULE_SECONDS), args)
    reply = replies[index]
    if isinstance(reply, list):
        return "limited", reply
    if reply:
        return "duplicate", reply.decode()
    # The script set the drain's mark for the group: the group's first stored item schedules.
    first = b"" not in replies[:index]
    return "stored", replies[-1].decode() if first else "0"


async def submit(settings: Settings, stream: str, handler: Callable, item: dict, *,
                 item_id: str | None = None, dedupe_key: str | None = None,
                 limits: list[ratelimit.Limit] | None = None) -> Accepted:
    """Store ``item`` durably for ``handler`` or raise 503; see the module docstring."""
    item_id = item_id or new_id()
    limits = limits or []
    now = time.time()
    if settings.embedded_queue:
        if limits:
            await ratelimit.check(ratelimit.limiter_for(None), limits, now)
        return await run_in_threadpool(_submit_embedded, stream, handler, item, item_id,
                                       dedupe_key)
    entry = json.dumps({"id": item_id, "item": item}, separators=(",", ":"))
    dedupe = keys(stream)["dedupe"] + _digest(dedupe_key) if dedupe_key else ""
    try:
        outcome, value = await _store(settings.redis_url, stream,
                                      [entry, item_id, dedupe, *ratelimit.script_args(limits, now)])
    except (redis.exceptions.RedisError, OSError):
        log.warning("Redis unreachable: refusing an item for %s", stream)
        raise ServiceUnavailable(_("The queue is unavailable; nothing was accepted.")) from None
    if outcome == "limited":
        raise RateLimited(max(1, ratelimit.retry_after(limits, value, now)))
    if outcome == "duplicate":
        return Accepted(value, duplicate=True)
    if value == "1":
        # The submit script has set the mark already (one round trip).
        await run_in_threadpool(schedule_drain, stream, job_path(handler), held=True)
    return Accepted(item_id)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _submit_embedded(stream: str, handler: Callable, item: dict, item_id: str,
                     dedupe_key: str | None) -> Accepted:
    from gateway.db import db
    from gateway.models import EmbeddedJob
    job_key = f"intake:{_digest(f'{stream}:{dedupe_key}')}" if dedupe_key else None
    runtime.queue().enqueue(run_item, stream, job_path(handler), item_id, item, job_id=job_key)
    if job_key is None:
        return Accepted(item_id)
    with db.connection_context():
        first = EmbeddedJob.get(EmbeddedJob.job_key == job_key).args[2]
    return Accepted(first, duplicate=first != item_id)


def schedule_drain(stream: str, handler_path: str, *, helper: bool = False,
                   held: bool = False, force: bool = False) -> bool:
    """Queue a drain job for ``stream`` unless its mark is set; True if one was queued."""
    # Blocking: the web process runs it off the loop. ``helper``: the extra drain for a
    # backlog, at most one per ``HELPER_SECONDS``; ``held``/``force``: see ``schedule_once``.
    k = keys(stream)
    mark, ttl = (k["helper"], HELPER_SECONDS) if helper else (k["scheduled"], SCHEDULE_SECONDS)
    try:
        # Remembered so a sweep can restart a stream that lost its drain (see reschedule).
        _sync_redis().set(k["handler"], handler_path)
        return schedule_once(runtime.queue(), mark, drain, stream, handler_path, ttl=ttl,
                             held=held, force=force)
    except Exception:  # the items are safe in Redis; the next submit or the sweep schedules
        log.exception("could not schedule a drain of %s", stream)
        return False


# ---- processing (sync, in workers) ---------------------------------------------------------

def _sync_redis() -> redis.Redis:
    return runtime.queue().redis


def run_item(stream: str, handler_path: str, item_id: str, item: dict) -> None:
    """Job: handle one item (embedded mode, and items whose handler failed in a drain)."""
    handler = resolve(handler_path)
    key = _order_key(handler, item)
    if key is None or runtime.settings().embedded_queue:
        handler(item_id, item)
        return
    # A retry owns its key (see the module docstring): release it after the last attempt.
    owner = order.retry_owner(item_id)
    try:
        handler(item_id, item)
    except Exception:
        job = get_current_job()
        if job is not None and (job.retries_left or 0) > 0:
            raise  # RQ retries it later; the key stays held
        _finish_owned(stream, handler, handler_path, owner, {_digest(key)})
        raise
    _finish_owned(stream, handler, handler_path, owner, {_digest(key)})


def _finish_owned(stream: str, handler: Callable, handler_path: str, owner: str,
                  digests: set[str]) -> None:
    """Release keys a retry job held, handling what was parked behind them (leased)."""
    r, k = _sync_redis(), keys(stream)
    token = uuid.uuid4().hex
    processing, lease = k["processing"] + token, k["lease"] + token
    r.set(lease, "1", ex=LEASE_SECONDS)
    _release_loop(r, k, (stream, handler, handler_path), owner, digests, processing, lease)
    r.delete(processing, lease)


def run_items(jobs: list[list], waiting: list[tuple[list, object]]) -> list:
    """Embedded runner: ``run_item`` args of due jobs (one stream and handler, in order) as a
    batch; ``waiting``: (args, run_at) of earlier jobs waiting for a retry. Per job: None
    (done), an exception (failed) or ``("held", run_at)`` (wait behind an earlier item)."""
    handler = resolve(jobs[0][1])
    blocked: dict[str, object] = {}
    for args, run_at in waiting:
        key = _order_key(handler, args[3])
        if key is not None:
            blocked[key] = max(blocked.get(key, run_at), run_at)
    results: list = [None] * len(jobs)
    run = []
    for n, args in enumerate(jobs):
        key = _order_key(handler, args[3])
        if key in blocked:
            results[n] = ("held", blocked[key])
        else:
            run.append(n)
    if _try_many(handler, [(jobs[n][2], jobs[n][3]) for n in run]):
        return results
    failed: set[str] = set()
    for n in run:
        key = _order_key(handler, jobs[n][3])
        if key is not None and key in failed:
            results[n] = ("held", None)  # behind an item that failed just now
            continue
        try:
            handler(jobs[n][2], jobs[n][3])
        except Exception as exc:
            results[n] = exc
            if key is not None:
                failed.add(key)
    return results


run_item.batch = run_items  # the embedded runner's batch variant of the job


def drain(stream: str, handler_path: str) -> int:
    """Job: handle queued items of ``stream`` in batches; returns how many were handled."""
    from gateway.db import db
    with db.connection_context():  # one connection for every item of this run
        return _drain(stream, handler_path)


def _drain(stream: str, handler_path: str) -> int:
    r = _sync_redis()
    k = keys(stream)
    handler = resolve(handler_path)
    recover(stream)
    token = uuid.uuid4().hex
    processing, lease = k["processing"] + token, k["lease"] + token
    handled, started = 0, time.monotonic()
    while time.monotonic() - started < DRAIN_BUDGET_SECONDS:
        r.set(lease, "1", ex=LEASE_SECONDS)
        batch = r.eval(_TAKE, 2, k["queue"], processing, BATCH)
        if not batch:
            break
        if r.llen(k["queue"]) > BATCH:
            schedule_drain(stream, handler_path, helper=True)  # let another worker help
        handled += _run_batch(r, k, (stream, handler, handler_path), token, batch,
                              processing, lease)
        r.delete(processing)  # the batch is done: every item handled, parked or re-queued
    r.delete(lease)
    release(runtime.queue(), k["scheduled"])
    # An item pushed after our last take saw "scheduled" and relied on us: hand over.
    if r.llen(k["queue"]):
        schedule_drain(stream, handler_path)
    return handled


def _run_batch(r: redis.Redis, k: dict, target: tuple, owner: str, batch: list[bytes],
               processing: str, lease: str) -> int:
    """Claim the batch's keys, handle what is not parked, then release; returns how many
    items were handled (parked ones excluded)."""
    handler = target[1]
    digests = [_digest(key) if (key := _order_key(handler, json.loads(raw)["item"])) else ""
               for raw in batch] if hasattr(handler, "order_key") else [""] * len(batch)
    parked = order.claim(r, k, owner, list(zip(digests, batch, strict=True)))
    run = [(d, raw) for d, raw, p in zip(digests, batch, parked, strict=True) if not p]
    held = _handle_batch(r, k, target, run, lease)
    mine = {d for d, _ in run if d} - held
    return len(run) + _release_loop(r, k, target, owner, mine, processing, lease)


def _release_loop(r: redis.Redis, k: dict, target: tuple, owner: str, mine: set[str],
                  processing: str, lease: str) -> int:
    """Release ``owner``'s keys; handle what was parked behind them, until none is left."""
    handled = 0
    while mine:
        r.set(lease, "1", ex=LEASE_SECONDS)
        popped = order.release(r, k, owner, mine, processing)
        held = _handle_batch(r, k, target, popped, lease)
        handled += len(popped)
        mine = {d for d, _ in popped} - held
    return handled


def _handle_batch(r: redis.Redis, k: dict, target: tuple, run: list[tuple[str, bytes]],
                  lease: str) -> set[str]:
    """Hand ``run`` ((digest, raw entry) pairs, in order) to the handler: ``many`` first,
    else alone (renewing ``lease``); returns the keys now held by a failed item's retry."""
    stream, handler, handler_path = target
    entries = [json.loads(raw) for _, raw in run]
    if _try_many(handler, [(e["id"], e["item"]) for e in entries]):
        return set()
    held: dict[str, list[bytes]] = {}
    for n, ((digest, raw), entry) in enumerate(zip(run, entries, strict=True)):
        if n and n % LEASE_EVERY == 0:  # one by one can be slow: stay alive for recover()
            r.set(lease, "1", ex=LEASE_SECONDS)
        if digest in held:  # behind this batch's failed item of the key: keep the order
            held[digest].append(raw)
            continue
        try:
            handler(entry["id"], entry["item"])
        except Exception:
            log.exception("intake handler %s failed for %s; retrying it as its own job",
                          handler_path, entry["id"])
            if digest:
                order.hand_over(r, k, digest, order.retry_owner(entry["id"]),
                                _retry_hold_seconds())
                held[digest] = []
            runtime.queue().enqueue(run_item, stream, handler_path, entry["id"], entry["item"])
    for digest, raws in held.items():
        if raws:
            order.park_first(r, k, digest, raws)
    return set(held)


def _try_many(handler: Callable, entries: list[tuple[str, dict]]) -> bool:
    """Run ``handler.many`` on ``entries``; False when there is none or it failed (the
    caller then isolates each entry)."""
    many = getattr(handler, "many", None)
    if many is None or not entries:
        return not entries
    try:
        many(entries)
    except Exception:
        log.exception("intake batch of %d failed; running each item alone", len(entries))
        return False
    return True


def _order_key(handler: Callable, item: dict) -> str | None:
    key_of = getattr(handler, "order_key", None)
    return key_of(item) if key_of is not None else None


def _retry_hold_seconds() -> int:
    """How long a retry may hold its key: its whole retry schedule, and some slack."""
    return sum(runtime.settings().job_retry_intervals) + 600


def recover(stream: str) -> int:
    """Put items of crashed drains (expired lease) back at the head of the queue."""
    r = _sync_redis()
    k = keys(stream)
    # Parked items first: the crashed batches' items are older, so they go in front of them.
    moved = order.recover_parked(r, k)
    for name in r.scan_iter(match=k["processing"] + "*", count=100):
        token = name.decode().rpartition(":")[2]
        if not r.exists(k["lease"] + token):
            moved += int(r.eval(_GIVE_BACK, 2, name, k["queue"]))
    return moved


def reschedule() -> int:
    """Sweep: start a drain for every stream holding items that no drain is working on.

    After Redis or the workers were down, accepted items may sit with their drain job lost
    and a stale "scheduled" mark that blocks new ones; the sweeper calls this regularly. A
    spare drain is harmless: items are taken atomically.
    """
    if runtime.settings().embedded_queue:
        return 0
    r = _sync_redis()
    started = 0
    for name in r.scan_iter(match=f"{PREFIX}:*:handler", count=100):
        stream = name.decode()[len(PREFIX) + 1:-len(":handler")]
        k = keys(stream)
        waiting = r.llen(k["queue"]) or next(
            r.scan_iter(match=k["processing"] + "*", count=100), None) or order.parked_waiting(
            r, k)
        running = next(r.scan_iter(match=k["lease"] + "*", count=100), None)
        handler_path = r.get(name)
        if waiting and not running and handler_path:
            schedule_drain(stream, handler_path.decode(), force=True)
            started += 1
    return started


def pending(stream: str) -> int:
    """Items of ``stream`` waiting in Redis (0 on embedded defaults)."""
    if runtime.settings().embedded_queue:
        return 0
    return int(_sync_redis().llen(keys(stream)["queue"]))
