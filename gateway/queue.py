"""The job queue: RQ on Redis in production, a durable in-process queue on embedded defaults.

Both run the same module-level job functions; a job is named by its dotted path and takes
plain ids, so it can be retried or replayed without side effects.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from collections.abc import Callable
from datetime import timedelta

import peewee
import redis
from rq import Queue, Retry

from gateway.db import db, utcnow
from gateway.dotted import job_path, resolve
from gateway.errors import ServiceUnavailable
from gateway.models import EmbeddedJob
from gateway.settings import Settings
from gateway.sweeper import sweep_once

log = logging.getLogger("inlet.queue")

EMBEDDED_BATCH = 500  # due jobs of one batch function run together


class RedisQueue:
    """RQ on Redis: ``inlet worker`` processes run the jobs."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=5,
                                          socket_connect_timeout=2)
        self.rq = Queue(settings.queue_name, connection=self.redis)

    def enqueue(self, func: Callable, *args, job_id: str | None = None) -> str:
        """Queue ``func(*args)`` durably or raise 503; returns the job id."""
        intervals = list(self.settings.job_retry_intervals)
        retry = Retry(max=len(intervals), interval=intervals) if intervals else None
        try:
            job = self.rq.enqueue(func, *args, job_id=job_id, retry=retry,
                                  result_ttl=3600, failure_ttl=30 * 24 * 3600)
        except redis.exceptions.RedisError:
            log.warning("Redis unreachable while queueing %s", job_path(func))
            raise ServiceUnavailable("The queue is unavailable; nothing was accepted.") from None
        return job.id

    def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(self.redis.ping())
        except redis.exceptions.RedisError:
            return False

    def run_pending(self) -> int:
        """Run every queued job in this process (tests and the CLI's in-process import)."""
        from rq import SimpleWorker
        worker = SimpleWorker([self.rq], connection=self.redis)
        worker.work(burst=True, with_scheduler=False)
        return 0


class EmbeddedQueue:
    """A queue kept in the database and run by a thread of the web process (no Redis)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def enqueue(self, func: Callable, *args, job_id: str | None = None) -> str:
        """Store the job (durable once committed) and wake the runner."""
        with db.connection_context():
            try:
                with db.atomic():
                    row = EmbeddedJob.create(func=job_path(func), args=list(args),
                                             job_key=job_id)
            except peewee.IntegrityError:
                row = EmbeddedJob.get(EmbeddedJob.job_key == job_id)
        self._wake.set()
        return job_id or f"embedded-{row.id}"

    def ping(self) -> bool:
        return True

    def run_pending(self) -> int:
        """Run every due job once; returns how many ran."""
        ran = 0
        while True:
            with db.connection_context():
                row = (EmbeddedJob.select().where((EmbeddedJob.status == "queued")
                                                  & (EmbeddedJob.run_at <= utcnow()))
                       .order_by(EmbeddedJob.id).first())
            if row is None:
                return ran
            batch = getattr(resolve(row.func), "batch", None)
            if batch is None:
                self._run(row)
                ran += 1
            else:
                ran += self._run_batch(row, batch)

    def _run(self, row: EmbeddedJob) -> None:
        try:
            resolve(row.func)(*row.args)
        except Exception:
            self._failed(row, traceback.format_exc(limit=5))
            return
        with db.connection_context():
            EmbeddedJob.update(status="done", attempts=row.attempts + 1
                               ).where(EmbeddedJob.id == row.id).execute()

    def _failed(self, row: EmbeddedJob, error: str) -> None:
        """Count a failed attempt: queued again after its retry interval, or failed."""
        intervals = self.settings.job_retry_intervals
        attempt = row.attempts + 1
        failed = attempt > len(intervals)
        delay = 0 if failed else intervals[attempt - 1]
        log.error("embedded job %s failed (attempt %d)\n%s", row.func, attempt, error)
        with db.connection_context():
            EmbeddedJob.update(attempts=attempt, status="failed" if failed else "queued",
                               run_at=utcnow() + timedelta(seconds=delay), last_error=error
                               ).where(EmbeddedJob.id == row.id).execute()

    def _run_batch(self, first: EmbeddedJob, batch: Callable) -> int:
        """Run ``first`` with the next due jobs of its function and leading arguments as one
        batch (a job function's ``batch`` variant, see ``gateway.intake.run_items``)."""
        with db.connection_context():
            same = ((EmbeddedJob.status == "queued") & (EmbeddedJob.func == first.func))
            rows = [r for r in EmbeddedJob.select().where(same & (EmbeddedJob.run_at <= utcnow()))
                    .order_by(EmbeddedJob.id).limit(EMBEDDED_BATCH)
                    if r.args[:2] == first.args[:2]]
            waiting = [(r.args, r.run_at) for r in EmbeddedJob.select().where(
                same & (EmbeddedJob.run_at > utcnow()) & (EmbeddedJob.attempts > 0)
                & (EmbeddedJob.id < rows[-1].id)).order_by(EmbeddedJob.id)
                if r.args[:2] == first.args[:2]]
            results = batch([r.args for r in rows], waiting)
            done = [r.id for r, result in zip(rows, results, strict=True) if result is None]
            for start in range(0, len(done), 500):
                EmbeddedJob.update(status="done", attempts=EmbeddedJob.attempts + 1).where(
                    EmbeddedJob.id.in_(done[start:start + 500])).execute()
            for r, result in zip(rows, results, strict=True):
                if isinstance(result, tuple):  # held behind an earlier item of its key
                    EmbeddedJob.update(run_at=result[1] or utcnow() + timedelta(seconds=1)
                                       ).where(EmbeddedJob.id == r.id).execute()
        for r, result in zip(rows, results, strict=True):
            if isinstance(result, BaseException):
                self._failed(r, "".join(traceback.format_exception(result, limit=5)))
        return len(done)

    def start(self) -> None:
        """Run jobs in a background thread until ``stop``."""
        if self._thread:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="inlet-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the runner to finish its current job and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)
        self._thread = None

    def _loop(self) -> None:
        last_sweep = time.monotonic()
        while not self._stop.is_set():
            try:
                self.run_pending()
                if time.monotonic() - last_sweep > self.settings.sweep_seconds:
                    last_sweep = time.monotonic()
                    sweep_once()
            except Exception:  # keep the runner alive; a DB hiccup must not stop all jobs
                log.exception("embedded queue runner error")
            self._wake.wait(timeout=1.0)
            self._wake.clear()


def schedule_once(queue: RedisQueue | EmbeddedQueue, mark: str, func: Callable, *args,
                  ttl: int, force: bool = False, held: bool = False) -> bool:
    """Enqueue ``func(*args)`` unless Redis ``mark`` says one is scheduled; True if queued."""
    if isinstance(queue, EmbeddedQueue):
        queue.enqueue(func, *args)  # no Redis, no mark: no fork to save, a spare job is cheap
        return True
    try:
        # ``force``: the mark may belong to a job lost with its worker. ``held``: the caller
        # set the mark itself (intake's submit script). The TTL ends a mark nobody clears.
        if not (held or queue.redis.set(mark, "1", nx=not force, ex=ttl)):
            return False
        queue.enqueue(func, *args)
    except Exception:
        # Nothing is scheduled: the next caller must not find the mark. If Redis is down the
        # TTL clears it instead.
        with contextlib.suppress(redis.exceptions.RedisError):
            release(queue, mark)
        raise
    return True


def release(queue: RedisQueue | EmbeddedQueue, mark: str) -> None:
    """Clear ``mark`` so the next ``schedule_once`` enqueues again (no-op without Redis)."""
    if not isinstance(queue, EmbeddedQueue):
        queue.redis.delete(mark)


def make_queue(settings: Settings):
    """RQ when ``INLET_REDIS_URL`` is set, else the embedded queue."""
    return RedisQueue(settings) if settings.redis_url else EmbeddedQueue(settings)
