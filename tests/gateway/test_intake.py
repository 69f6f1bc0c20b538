"""gateway.intake: one-round-trip durable accept, batched drains, crash recovery, fallback."""

from __future__ import annotations

import asyncio

import pytest

from gateway import intake
from gateway.errors import RateLimited, ServiceUnavailable
from gateway.ratelimit import Limit
from tests.conftest import run_async

HANDLED: list[tuple[str, dict]] = []
FAILURES: dict[str, int] = {}


def record(item_id: str, item: dict) -> None:
    """A handler: remembers what it was given."""
    HANDLED.append((item_id, item))


def flaky(item_id: str, item: dict) -> None:
    """A handler failing the first ``item["fail"]`` times for an item."""
    FAILURES[item_id] = FAILURES.get(item_id, 0) + 1
    if FAILURES[item_id] <= item.get("fail", 0):
        raise RuntimeError("not yet")
    HANDLED.append((item_id, item))


@pytest.fixture(autouse=True)
def _reset():
    HANDLED.clear()
    FAILURES.clear()


def submit(settings, item, handler=record, **kw) -> intake.Accepted:
    async def go():
        try:
            return await intake.submit(settings, "test", handler, item, **kw)
        finally:
            await intake.aclose()
    return run_async(go())


def test_accept_then_drain_in_order(settings, store, run_jobs):
    ids = [submit(settings, {"n": n}).id for n in range(5)]
    assert len(set(ids)) == 5 and ids == sorted(ids)  # time-ordered
    assert intake.pending("test") == 5
    assert store.rq.count == 1  # one drain job scheduled, not one job per item
    assert HANDLED == []
    run_jobs()
    assert HANDLED == [(i, {"n": n}) for n, i in enumerate(ids)]
    assert intake.pending("test") == 0
    assert not store.redis.exists(intake.keys("test")["scheduled"])
    submit(settings, {"n": 5})  # the next item schedules a new drain
    assert store.rq.count == 1
    run_jobs()
    assert len(HANDLED) == 6


def test_a_repeated_key_returns_the_first_id_and_stores_nothing(settings, store, run_jobs):
    first = submit(settings, {"n": 1}, dedupe_key="k1")
    again = submit(settings, {"n": 2}, dedupe_key="k1")
    other = submit(settings, {"n": 3}, dedupe_key="k2")
    assert (again.id, again.duplicate, first.duplicate) == (first.id, True, False)
    assert other.id != first.id
    assert 0 < store.redis.ttl(intake.keys("test")["dedupe"] + intake._digest("k1")) <= 86400
    run_jobs()
    assert [item for _, item in HANDLED] == [{"n": 1}, {"n": 3}]


def test_an_item_over_its_limits_is_refused_and_not_stored(settings, store, run_jobs):
    async def go():
        try:
            # one batch: three callers of one address share a limit of 2, others pass
            return await asyncio.gather(*(
                intake.submit(settings, "test", record, {"n": n},
                              limits=[Limit(f"t:{'same' if n < 3 else n}", 2, 60)])
                for n in range(6)), return_exceptions=True)
        finally:
            await intake.aclose()
    answers = run_async(go())
    assert [type(a).__name__ for a in answers] == ["Accepted"] * 2 + ["RateLimited"] + [
        "Accepted"] * 3
    assert answers[2].status == 429 and 1 <= int(answers[2].headers["Retry-After"]) <= 60
    with pytest.raises(RateLimited):  # still over the limit later, alone in its round trip
        submit(settings, {"n": 9}, limits=[Limit("t:same", 2, 60), Limit("t:free", 9, 60)])
    assert intake.pending("test") == 5
    run_jobs()
    assert sorted(item["n"] for _, item in HANDLED) == [0, 1, 3, 4, 5]


def test_503_when_redis_is_unreachable(env, store):
    from gateway.settings import Settings
    down = Settings.from_env(env | {"INLET_REDIS_URL": "redis://127.0.0.1:1/0"})
    with pytest.raises(ServiceUnavailable) as exc:
        submit(down, {"n": 1})
    assert exc.value.status == 503 and exc.value.headers["Retry-After"]


def test_items_of_a_crashed_drain_go_back_to_the_queue(settings, store, run_jobs):
    ids = [submit(settings, {"n": n}).id for n in range(3)]
    k = intake.keys("test")
    crashed = k["processing"] + "deadbeef"  # a drain that died after taking two items
    store.redis.lmove(k["queue"], crashed, "LEFT", "RIGHT")
    store.redis.lmove(k["queue"], crashed, "LEFT", "RIGHT")
    alive = k["processing"] + "alive"  # a running drain (lease held) is left alone
    store.redis.set(k["lease"] + "alive", "1", ex=60)
    store.redis.rpush(alive, "x")
    assert intake.recover("test") == 2
    assert store.redis.lrange(k["queue"], 0, -1)[0].decode().count(ids[0]) == 1
    store.redis.delete(alive)
    run_jobs()
    assert [i for i, _ in HANDLED] == ids


LEASES: list[int] = []  # the drain's lease time-to-live (ms) as each slow item starts


def slow(item_id: str, item: dict) -> None:
    """A handler taking "long" over each item: its first one lets the drain's lease run down
    to a second (as if 29 s had passed); each one notes what the lease has left."""
    from gateway import runtime
    redis = runtime.queue().redis
    [lease] = redis.keys(intake.keys("test")["lease"] + "*")
    if not LEASES:
        redis.pexpire(lease, 1000)
    LEASES.append(redis.pttl(lease))
    HANDLED.append((item_id, item))


def test_a_slow_batch_handled_one_by_one_keeps_its_lease(settings, store, run_jobs):
    """Otherwise ``recover`` would hand a live drain's batch to another drain (and its order
    claims would lapse with the lease)."""
    LEASES.clear()
    for n in range(intake.LEASE_EVERY + 2):
        submit(settings, {"n": n}, handler=slow)
    run_jobs()
    assert len(HANDLED) == intake.LEASE_EVERY + 2
    assert all(ttl <= 1000 for ttl in LEASES[:intake.LEASE_EVERY])
    assert LEASES[intake.LEASE_EVERY] > (intake.LEASE_SECONDS - 5) * 1000  # renewed


def test_the_sweep_restarts_a_stream_whose_drain_was_lost(settings, store, run_jobs):
    ids = [submit(settings, {"n": n}).id for n in range(3)]
    store.rq.empty()  # the scheduled drain job is lost (say, Redis restarted without it)
    store.redis.delete(intake.keys("test")["scheduled"])
    run_jobs()
    assert HANDLED == [] and intake.pending("test") == 3
    assert intake.reschedule() == 1
    run_jobs()
    assert [i for i, _ in HANDLED] == ids and intake.pending("test") == 0
    assert intake.reschedule() == 0  # nothing waits: nothing to start


def test_a_failing_handler_is_retried_as_its_own_job(settings, store, run_jobs):
    from rq.registry import FailedJobRegistry
    ok = submit(settings, {"fail": 1}, handler=flaky).id
    hopeless = submit(settings, {"fail": 99}, handler=flaky).id
    for _ in range(5):
        run_jobs()
    assert [i for i, _ in HANDLED] == [ok]
    assert FAILURES[ok] == 2
    # once in the drain, then as a job: a first run and INLET_JOB_RETRY_INTERVALS=0,0 retries
    assert FAILURES[hopeless] == 4
    assert FailedJobRegistry(queue=store.rq).count == 1


def test_embedded_defaults_store_items_as_jobs(env, tmp_path):
    from gateway import runtime
    from gateway.db import db
    from gateway.settings import Settings
    env = {k: v for k, v in env.items() if k != "INLET_REDIS_URL"}
    settings = Settings.from_env(env)
    queue = runtime.configure(settings)
    try:
        first = submit(settings, {"n": 1}, dedupe_key="k")
        again = submit(settings, {"n": 2}, dedupe_key="k")
        once = [Limit(f"t:{tmp_path.name}", 1, 60)]  # the memory limiter outlives a test
        plain = submit(settings, {"n": 3}, limits=once)
        with pytest.raises(RateLimited):  # limits count in this process's memory
            submit(settings, {"n": 4}, limits=once)
        assert (again.id, again.duplicate) == (first.id, True)
        assert HANDLED == []
        assert queue.run_pending() == 2
        assert HANDLED == [(first.id, {"n": 1}), (plain.id, {"n": 3})]
        assert intake.pending("test") == 0
    finally:
        db.close()
        runtime.reset()


def test_concurrent_submits_share_round_trips_and_keep_their_answers(settings, store,
                                                                     run_jobs):
    async def go():
        try:
            return await asyncio.gather(*(
                intake.submit(settings, "test", record, {"n": n},
                              dedupe_key="same" if n in (3, 7) else None)
                for n in range(40)))
        finally:
            await intake.aclose()
    answers = run_async(go())
    assert answers[7] == intake.Accepted(answers[3].id, duplicate=True)
    assert len({a.id for a in answers}) == 39 and not answers[3].duplicate
    assert intake.pending("test") == 39 and store.rq.count == 1  # one drain scheduled
    run_jobs()
    assert sorted(item["n"] for _, item in HANDLED) == [n for n in range(40) if n != 7]


# ---- the batch contract: many, isolation, order per key ----------------------------------------

BATCHES: list[list[str]] = []


def keyed(item_id: str, item: dict) -> None:
    """A handler with a batch variant and an order key (see the intake's batch contract)."""
    flaky(item_id, item)


def _keyed_many(entries: list[tuple[str, dict]]) -> None:
    if any(item.get("fail", 0) > FAILURES.get(item_id, 0) for item_id, item in entries):
        raise RuntimeError("a bad item fails its whole batch")
    BATCHES.append([item_id for item_id, _ in entries])
    HANDLED.extend(entries)


keyed.many = _keyed_many
keyed.order_key = lambda item: item.get("key")


@pytest.fixture(autouse=True)
def _reset_batches():
    BATCHES.clear()


def test_a_batch_goes_to_many_in_one_call_in_arrival_order(settings, store, run_jobs):
    ids = [submit(settings, {"n": n, "key": "same" if n % 2 else None}, handler=keyed).id
           for n in range(6)]
    run_jobs()
    assert BATCHES == [ids] and [i for i, _ in HANDLED] == ids


def test_a_failing_batch_is_isolated_and_its_bad_item_retried(settings, store, run_jobs):
    good = [submit(settings, {"n": n}, handler=keyed).id for n in range(3)]
    bad = submit(settings, {"n": 9, "fail": 1}, handler=keyed).id
    last = submit(settings, {"n": 10}, handler=keyed).id
    run_jobs()
    # each item alone, in order; the bad one failed once, then passed as its own job
    assert [i for i, _ in HANDLED] == [*good, last, bad] and FAILURES[bad] == 2
    assert BATCHES == [] and intake.pending("test") == 0


def test_a_retried_item_is_not_overtaken_by_a_later_one_of_its_key(settings, store,
                                                                    run_jobs):
    first = submit(settings, {"key": "k", "fail": 2}, handler=keyed).id  # drain + 1st retry
    second = submit(settings, {"key": "k", "v": 2}, handler=keyed).id
    other = submit(settings, {"key": "j"}, handler=keyed).id
    run_jobs()
    assert [i for i, _ in HANDLED] == [other, first, second]
    assert FAILURES[first] == 3
    k = intake.keys("test")
    assert not list(store.redis.scan_iter(match=k["claim"] + "*"))  # every key released
    assert not list(store.redis.scan_iter(match=k["park"] + "*"))


def test_items_behind_a_hopeless_item_run_after_its_last_attempt(settings, store, run_jobs):
    from rq.registry import FailedJobRegistry
    hopeless = submit(settings, {"key": "k", "fail": 99}, handler=keyed).id
    after = submit(settings, {"key": "k", "v": 2}, handler=keyed).id
    run_jobs()
    assert [i for i, _ in HANDLED] == [after] and FAILURES[hopeless] == 4
    assert FailedJobRegistry(queue=store.rq).count == 1


def test_a_key_held_elsewhere_parks_its_items_until_the_claim_lapses(settings, store,
                                                                     run_jobs):
    k = intake.keys("test")
    store.redis.set(k["claim"] + intake._digest("k"), "another-drain", ex=60)
    store.redis.set(k["lease"] + "another-drain", "1", ex=60)  # that drain is alive
    held = submit(settings, {"key": "k"}, handler=keyed).id
    free = submit(settings, {"key": "j"}, handler=keyed).id
    run_jobs()
    assert [i for i, _ in HANDLED] == [free]  # parked behind the other drain's claim
    assert intake.pending("test") == 0 and store.redis.llen(
        k["park"] + intake._digest("k")) == 1
    # That drain was kill -9'd: its lease lapses, and its claim with it (not 60 s later).
    store.redis.delete(k["lease"] + "another-drain")
    assert intake.reschedule() == 1
    run_jobs()
    assert [i for i, _ in HANDLED] == [free, held]


def test_embedded_runner_batches_items_and_keeps_order_across_retries(env, tmp_path):
    import time

    from gateway import runtime
    from gateway.db import db
    from gateway.models import EmbeddedJob
    from gateway.settings import Settings
    env = {k: v for k, v in env.items() if k != "INLET_REDIS_URL"}
    settings = Settings.from_env(env | {"INLET_JOB_RETRY_INTERVALS": "1"})
    queue = runtime.configure(settings)
    try:
        first = submit(settings, {"key": "k", "fail": 1}, handler=keyed).id
        second = submit(settings, {"key": "k", "v": 2}, handler=keyed).id
        others = [submit(settings, {"key": f"o{n}"}, handler=keyed).id for n in range(3)]
        queue.run_pending()
        assert [i for i, _ in HANDLED] == others  # isolated; second waits behind first
        time.sleep(1.1)
        queue.run_pending()
        assert [i for i, _ in HANDLED] == [*others, first, second]
        assert BATCHES[-1] == [first, second]  # the retry and the one behind it: one batch
        with db.connection_context():
            assert {j.status for j in EmbeddedJob.select()} == {"done"}
    finally:
        db.close()
        runtime.reset()
