"""Benchmark: outbound events delivered per second by ``inlet worker``s, next to the rate the
same workers drain inbound hooks, and the delay from a change's commit to its delivery.

A raw asyncio HTTP receiver (in this process) records every POST. An account with one event
endpoint (contact.created, contact.updated) pointing at it. Then:

1. **drain**: ``--changes`` contact changes (creates, then updates of a tenth of them) are
   committed in batches through ``gateway.contacts.upsert_many`` with no worker running,
   plus one batch that is rolled back; ``--workers`` ``inlet worker`` processes then deliver
   them: deliveries per second, from when the workers listen until the last one arrived
   (timed as the hook drain below is);
2. **live**: with the workers running, ``--live`` more changes are committed at ``--rate``
   per second: p50/p99 from each commit to the delivery of its event;
3. **hooks**: the same number of inbound hook deliveries are queued (``gateway.intake``) and
   the same workers drain them: the reference rate (target: events ≥ 50% of it).

The receiver then checks every committed change arrived at least once, every POST is
correctly signed (verified by the ``standardwebhooks`` package when installed), and nothing
of the rolled-back batch arrived.

    python bench/event_deliveries.py [--changes 10000] [--live 2000] [--rate 200]
        [--workers 2] [--db postgres|sqlite]

Uses Redis database 10 (INLET_BENCH_REDIS_URL; emptied first) and the PostgreSQL schema
``inlet_bench_events`` of INLET_BENCH_POSTGRES_URL (dropped afterwards), or SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import threading
import time
import uuid

import common

REDIS = os.environ.get("INLET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
os.environ["INLET_BENCH_REDIS_URL"] = REDIS  # hook_deliveries' drain watches the same Redis
SCHEMA = "inlet_bench_events"
BATCH = 100  # changes per committed transaction


class Receiver:
    """A raw asyncio HTTP/1.1 server (keep-alive) recording (arrival, headers, body)."""

    def __init__(self):
        self.received: list[tuple[float, dict, bytes]] = []
        self.parsed: list[tuple[float, dict]] = []
        self.parsed_posts = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/events"
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader, writer) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")[1:]
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines if line)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                self.received.append((time.time(), headers, body))
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def events(self) -> list[tuple[float, dict]]:
        """(arrival, event) of every event received (each POST parsed once: ``wait_for`` asks
        every 50 ms, and parsing all of them each time took the receiver's CPU)."""
        arrived = len(self.received)
        for at, _, body in self.received[self.parsed_posts:arrived]:
            data = json.loads(body)
            self.parsed.extend((at, event) for event in (data if isinstance(data, list)
                                                         else [data]))
        self.parsed_posts = arrived
        return self.parsed


def setup(env: dict, url: str) -> tuple[int, str]:
    """An account and one endpoint for ``url``; returns (account id, secret)."""
    from events import endpoints
    from gateway import runtime
    from gateway.accounts import add_vocabulary, create_account
    from gateway.db import db
    from gateway.settings import Settings
    runtime.configure(Settings.from_env(env))
    with db.connection_context():
        account = create_account("Bench events")
        add_vocabulary(account.id, "source", "Website")
        _, secret = endpoints.create_endpoint(account.id, {
            "url": url, "events": ["contact.created", "contact.updated"]})
    return account.id, secret


def commit_changes(account_id: int, emails: list[str], first_name: str,
                   rollback: bool = False) -> float:
    """Write ``emails`` (new or changed) in one transaction; returns the commit time."""
    from gateway.contacts import Provenance, upsert_many
    from gateway.db import db
    cleans = [{"email": e, "first_name": first_name, "language": "en", "source": "Website"}
              for e in emails]
    with db.connection_context():
        with db.atomic() as tx:
            upsert_many(account_id, cleans, status="confirmed",
                        provenance=Provenance(channel="api", reference="bench"),
                        field_types={})
            if rollback:
                tx.rollback()
        return time.time()


def write_all(account_id: int, emails: list[str], first_name: str, rate: float = 0.0
              ) -> dict[str, float]:
    """Commit ``emails`` in batches (paced at ``rate`` changes/s if given); email → commit."""
    committed, started = {}, time.monotonic()
    for start in range(0, len(emails), BATCH):
        batch = emails[start:start + BATCH]
        if rate:
            time.sleep(max(0.0, started + start / rate - time.monotonic()))
        at = commit_changes(account_id, batch, first_name)
        committed.update(dict.fromkeys(batch, at))
    return committed


def wait_for(receiver: Receiver, count: int, timeout: float = 900) -> float:
    """Wait until ``count`` events arrived; returns the arrival of the last one needed."""
    deadline = time.monotonic() + timeout
    while len(receiver.events()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    arrived = sorted(at for at, _ in receiver.events())
    return arrived[min(count, len(arrived)) - 1]


def listening(workers: int, receiver: Receiver) -> tuple[float, int]:
    """Wait until the ``workers`` listen (timed from then, as the hook drain is: a start-up
    is no delivery); returns (that moment, events already received by then)."""
    import redis
    from rq import Worker
    r = redis.Redis.from_url(REDIS)
    ready_by = time.monotonic() + 60
    while Worker.count(connection=r) < workers and time.monotonic() < ready_by:
        time.sleep(0.05)
    return time.time(), len(receiver.events())


def hook_drain(env: dict, count: int, workers: int) -> float:
    """Queue ``count`` inbound hook deliveries, drain them with ``workers``; returns the rate."""
    import hook_deliveries

    from connectors import jobs
    from gateway import intake, runtime
    from gateway.db import utcnow
    _, hook_id, _ = hook_deliveries.setup(env)

    async def queue_all() -> None:
        settings = runtime.settings()
        for start in range(0, count, 200):
            await asyncio.gather(*(intake.submit(settings, jobs.STREAM, jobs.accept_delivery, {
                "hook": hook_id, "webhook_id": None, "received_at": utcnow().isoformat(),
                "body": json.dumps({"email": f"hook{i}@bench.example", "first_name": "H"})},
                item_id=intake.new_id("dlv_")) for i in range(start, min(count, start + 200))))
        await intake.aclose()
    asyncio.run(queue_all())
    _, rate = hook_deliveries.drain(env, workers, count)
    return rate


def verify(receiver: Receiver, secret: str) -> int:
    """How many POSTs are NOT correctly signed."""
    try:
        from standardwebhooks import Webhook
        check = Webhook(secret).verify
    except ImportError:  # the test dependency is absent: our own verifier
        from connectors.signatures import verify as ours

        def check(body, h):
            ours([secret], h.get("webhook-id"), h.get("webhook-timestamp"),
                 h.get("webhook-signature"), body)
    bad = 0
    for _, headers, body in receiver.received:
        try:
            check(body, headers)
        except Exception:
            bad += 1
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=10000)
    parser.add_argument("--live", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="live changes per second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()
    receiver = Receiver()
    with common.isolated_inlet(args.db, REDIS, SCHEMA, allow_private_targets="127.0.0.1",
                               sweep_seconds="5") as env:
        account_id, secret = setup(env, receiver.url)
        run = uuid.uuid4().hex[:6]
        creates = args.changes - args.changes // 10
        emails = [f"c{i}-{run}@bench.example" for i in range(creates)]
        committed = write_all(account_id, emails, "First")
        committed.update({f"u:{e}": t for e, t in write_all(
            account_id, emails[:args.changes - creates], "Second").items()})
        gone = [f"gone{i}-{run}@bench.example" for i in range(BATCH)]
        commit_changes(account_id, gone, "Gone", rollback=True)
        workers = [common.start_inlet(["worker"], env) for _ in range(args.workers)]
        try:
            started, early = listening(args.workers, receiver)
            last = wait_for(receiver, args.changes)
            drain_rate = (args.changes - early) / (last - started)
            live = [f"l{i}-{run}@bench.example" for i in range(args.live)]
            live_commits = write_all(account_id, live, "Live", rate=args.rate)
            wait_for(receiver, args.changes + args.live)
        finally:
            common.stop(workers, timeout=60)
        arrivals: dict[str, float] = {}
        for at, event in receiver.events():
            email = event["data"]["contact"]["email"]
            key = email if event["type"] == "contact.created" else f"u:{email}"
            arrivals.setdefault(key, at)
        delays = sorted(arrivals[e] - t for e, t in live_commits.items() if e in arrivals)
        hook_rate = hook_drain(env, args.changes, args.workers)
        missing = [k for k in [*committed, *live_commits] if k not in arrivals]
        rolled_back = [e for e in gone if e in arrivals]
        bad = verify(receiver, secret)
    report(args, drain_rate, hook_rate, delays, len(receiver.received), missing,
           rolled_back, bad)


def report(args, drain_rate: float, hook_rate: float, delays: list[float], posts: int,
           missing: list, rolled_back: list, bad: int) -> None:
    """The figures and the receiver's checks."""
    print(f"outbound events benchmark: {args.changes} changes, {args.workers} workers, {args.db}")
    print(f" event delivery rate   {drain_rate:8.0f} events/s")
    print(f" inbound hook drain    {hook_rate:8.0f} deliveries/s "
          f"(events at {drain_rate / hook_rate:.0%} of it; target >= 50%)")
    if delays:
        p50 = statistics.median(delays) * 1000
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1000
        print(f" commit -> delivery    p50 {p50:.0f} ms, p99 {p99:.0f} ms "
              f"({args.live} changes at {args.rate:g}/s)")
    ok = not missing and not rolled_back and not bad
    print(f" receiver: {posts} POSTs, missing {len(missing)}, badly signed {bad}, "
          f"rolled back but delivered {len(rolled_back)}: {'OK' if ok else 'FAILED'}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
