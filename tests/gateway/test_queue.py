"""Both queues run the same module-level jobs; retries; a down Redis means 503, not 202."""

import threading

import pytest
import redis

from gateway.db import db
from gateway.errors import ServiceUnavailable
from gateway.models import Account, EmbeddedJob
from gateway.queue import EmbeddedQueue, RedisQueue, job_path, release, resolve, schedule_once
from gateway.settings import Settings


def make_account_job(name: str) -> None:
    """A job with a visible effect; idempotent by name."""
    with db.connection_context():
        Account.get_or_create(name=name)


def flaky_job(name: str) -> None:
    """Fails until an account called ``name + '-ready'`` exists."""
    with db.connection_context():
        if not Account.get_or_none(name=name + "-ready"):
            Account.get_or_create(name=name + "-ready")
            raise RuntimeError("first attempt fails")
        Account.get_or_create(name=name)


def test_job_paths_round_trip():
    assert resolve(job_path(make_account_job)) is make_account_job


def test_redis_queue_runs_jobs_with_a_real_worker(store, run_jobs):
    assert isinstance(store, RedisQueue)
    store.enqueue(make_account_job, "queued-co")
    assert not Account.get_or_none(name="queued-co")
    run_jobs()
    assert Account.get_or_none(name="queued-co")


def test_redis_queue_retries_a_failing_job(store, run_jobs):
    store.enqueue(flaky_job, "retry-co")
    run_jobs()
    run_jobs()
    assert Account.get_or_none(name="retry-co")


def test_unreachable_redis_gives_503(settings):
    down = Settings(**{**settings.__dict__, "redis_url": "redis://127.0.0.1:1/0"})
    with pytest.raises(ServiceUnavailable) as info:
        RedisQueue(down).enqueue(make_account_job, "never")
    assert info.value.status == 503 and "Retry-After" in info.value.headers
    assert not RedisQueue(down).ping()


def test_embedded_queue_is_durable_and_retries(store, settings):
    embedded = EmbeddedQueue(settings)
    embedded.enqueue(flaky_job, "embedded-co")
    assert EmbeddedJob.select().where(EmbeddedJob.status == "queued").count() == 1
    embedded.run_pending()  # first attempt fails, is re-queued (interval 0)
    embedded.run_pending()
    assert Account.get_or_none(name="embedded-co")
    assert [j.status for j in EmbeddedJob.select()] == ["done"]


def test_embedded_job_key_is_idempotent(store, settings):
    embedded = EmbeddedQueue(settings)
    assert embedded.enqueue(make_account_job, "k", job_id="once") == "once"
    assert embedded.enqueue(make_account_job, "k", job_id="once") == "once"
    assert EmbeddedJob.select().count() == 1


def test_embedded_job_gives_up_after_the_last_retry(store, settings):
    embedded = EmbeddedQueue(settings)
    embedded.enqueue(resolve, "no.such.module.fn")
    for _ in range(4):
        embedded.run_pending()
    job = EmbeddedJob.get()
    assert job.status == "failed" and job.attempts == 3 and "ModuleNotFoundError" in job.last_error


MARK = "inlet:test:scheduled"


def test_schedule_once_queues_one_job_until_the_mark_is_released(store, run_jobs):
    assert schedule_once(store, MARK, make_account_job, "once-co", ttl=60)
    assert not schedule_once(store, MARK, make_account_job, "once-co", ttl=60)
    assert store.rq.count == 1 and 0 < store.redis.ttl(MARK) <= 60
    # The sweep's ``force``: a mark whose job was lost must not block for its whole TTL.
    assert schedule_once(store, MARK, make_account_job, "once-co", ttl=60, force=True)
    assert store.rq.count == 2
    release(store, MARK)  # a drain ends: the next caller schedules again
    assert schedule_once(store, MARK, make_account_job, "once-co", ttl=60)
    run_jobs()
    assert Account.get_or_none(name="once-co")


def test_schedule_once_clears_the_mark_when_queueing_fails(store):
    with pytest.raises(TypeError):  # the job cannot be stored (its argument does not pickle)
        schedule_once(store, MARK, make_account_job, threading.Lock(), ttl=60)
    assert not store.redis.exists(MARK) and store.rq.count == 0
    store.redis.set(MARK, "1")  # ``held``: the caller set the mark itself
    with pytest.raises(TypeError):
        schedule_once(store, MARK, make_account_job, threading.Lock(), ttl=60, held=True)
    assert not store.redis.exists(MARK)


def test_schedule_once_raises_when_redis_is_down(settings):
    down = Settings(**{**settings.__dict__, "redis_url": "redis://127.0.0.1:1/0"})
    with pytest.raises(redis.exceptions.ConnectionError):
        schedule_once(RedisQueue(down), MARK, make_account_job, "never", ttl=60)


def test_embedded_schedule_once_always_queues_and_keeps_no_mark(store, settings, redis_server):
    embedded = EmbeddedQueue(settings)
    assert schedule_once(embedded, MARK, make_account_job, "e-co", ttl=60)
    assert schedule_once(embedded, MARK, make_account_job, "e-co", ttl=60)
    release(embedded, MARK)  # nothing to clear
    assert EmbeddedJob.select().count() == 2 and not redis_server.exists(MARK)
