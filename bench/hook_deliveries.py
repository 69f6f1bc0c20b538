"""Benchmark: signed webhook deliveries accepted per second, next to a trivial endpoint.

One ``inlet serve --no-access-log``-equivalent process (uvicorn, one worker, the real app on
Redis) serves the hook, a trivial Starlette endpoint and — for reference — a naive endpoint
doing a blocking ``rq.Queue.enqueue`` per request. A second process drives each endpoint in turn
with 32 concurrent connections (``bench/loadgen.py``), signing a new single-contact body per
request (the rate and p99 targets are judged on these runs); then, for reference, a run paced
at ``--paced`` x the trivial rate (latency below saturation). Then ``--workers`` ``inlet
worker`` processes drain the deliveries (in batches, ``connectors.jobs.accept_many``): the
drain rate is printed next to the accept rate, and the store is reconciled: stored contacts
must equal accepted deliveries (0 lost, 0 doubled). Last, on embedded defaults (SQLite, no
Redis), deliveries are posted for ``--embedded-seconds`` to a server whose job runner is off,
then the server runs as ``inlet serve`` (jobs in-process) and the rate at which it drains
that backlog is printed, timed from its start (0: skipped).

    python bench/hook_deliveries.py [--seconds 5] [--rounds 2] [--connections 32]
        [--db postgres|sqlite] [--paced 0.3] [--workers 2] [--embedded-seconds 5]

Targets: hooks ≥ 50% of the trivial endpoint's rate, p99 < 50 ms, reconciliation exact; drain
rate with 2 workers ≥ 50% of the accept rate; embedded drain rate ≥ 1,000/s.
Uses Redis database 8 (INLET_BENCH_REDIS_URL; emptied first) and the PostgreSQL schema
``inlet_bench_hooks`` of INLET_BENCH_POSTGRES_URL (dropped afterwards), or SQLite.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from functools import partial

import common
import loadgen

REDIS = os.environ.get("INLET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
SCHEMA = "inlet_bench_hooks"

SERVER = """
import sys, uvicorn
from rq import Queue
from starlette.responses import JSONResponse
from starlette.routing import Route
from gateway import runtime
from gateway.app import create_app

async def trivial(request):
    return JSONResponse({"ok": True}, status_code=202)

async def rq_blocking(request):
    body = await request.body()
    queue = Queue("inlet-bench-baseline", connection=runtime.queue().redis)
    job = queue.enqueue("connectors.jobs.process_delivery", body.decode())
    return JSONResponse({"job": job.id}, status_code=202)

app = create_app()
# next to the hook routes, so every endpoint pays the same routing cost
at = [r.name for r in app.router.routes].index("hook_receive")
app.router.routes[at:at] = [Route("/bench/trivial", trivial, methods=["POST"]),
                            Route("/bench/rq", rq_blocking, methods=["POST"])]
# as `inlet serve --no-access-log` (behind a proxy that logs): ~60 us a request otherwise
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), proxy_headers=True,
            access_log=False)
"""


# ---- the load generator (runs as its own process) --------------------------------------------

async def load(url: str, seconds: float, connections: int, rate: float,
               secret: str | None = None) -> dict:
    """A new signed single-contact body per request; keeps accepted delivery ids."""
    from connectors.signatures import headers as signed

    def make_request() -> tuple[bytes, dict, None]:
        msg_id = f"msg_{uuid.uuid4().hex}"
        body = json.dumps({"email": f"{msg_id}@bench.example", "first_name": "Bench"},
                          separators=(",", ":")).encode()
        headers = {"content-type": "application/json"}
        if secret:
            headers.update(signed(secret, msg_id, body))
        return body, headers, None

    def accept(status: int, content: bytes, _key) -> str | None:
        return json.loads(content)["delivery_id"] if secret and status == 202 else None

    return await loadgen.run(url, seconds, connections, make_request, accept, rate)


def drive(url: str, seconds: float, connections: int, secret: str | None = None, *,
          server_pid: int, rate: float = 0.0) -> dict:
    """Run the load generator in a second process against ``url`` (closed loop, or paced at
    ``rate``); adds the server's CPU time per request (robust to a load generator or a busy
    machine capping the rate)."""
    extra = [secret] if secret else []
    figures, used = common.run_load(__file__, url, seconds, connections, rate, *extra,
                                    server_pid=server_pid)
    figures["server_cpu_us"] = 1e6 * used / figures["requests"]
    return figures


# ---- set-up, workers, reconciliation ---------------------------------------------------------

def setup(env: dict) -> tuple[int, int, str]:
    """An account and a signed generic hook; returns (account id, hook id, secret)."""
    from connectors import service
    from gateway import runtime
    from gateway.accounts import add_vocabulary, create_account
    from gateway.db import db
    from gateway.settings import Settings
    runtime.configure(Settings.from_env(env))
    with db.connection_context():
        account = create_account("Bench")
        add_vocabulary(account.id, "source", "Website")
        hook, secret = service.create_hook(account.id, {
            "name": "bench", "source": "Website", "language": "nl",
            "mapping": {"email": "email", "first_name": "first_name"}})
    return account.id, hook.id, secret


def drain(env: dict, workers: int, accepted: int) -> tuple[float, float]:
    """Run ``inlet worker`` processes until every delivery is processed; returns (seconds
    from the moment they all listen until the last delivery was settled, drain rate in
    deliveries per second over that time)."""
    import redis
    from rq import Queue, Worker
    from rq.registry import StartedJobRegistry

    from connectors.jobs import STREAM
    from gateway.intake import keys
    r = redis.Redis.from_url(REDIS)
    queue = Queue("inlet", connection=r)
    procs = [common.start_inlet(["worker"], env) for _ in range(workers)]
    try:
        ready_by = time.perf_counter() + 60
        while Worker.count(connection=r) < workers and time.perf_counter() < ready_by:
            time.sleep(0.05)  # timed from when they listen: a start-up is no drain
        started = time.perf_counter()
        settled, done_at = 0, started
        while settled < 3:  # three quiet looks in a row: nothing queued, nothing running
            time.sleep(0.2)
            if settled_deliveries() < accepted:
                settled = 0
                continue
            done_at = done_at if done_at > started else time.perf_counter()
            busy = (r.llen(keys(STREAM)["queue"]) or queue.count
                    or StartedJobRegistry(queue=queue).count)
            settled = 0 if busy else settled + 1
    finally:
        common.stop(procs, timeout=120)  # a warm shutdown: a running job finishes first
    seconds = done_at - started
    return seconds, accepted / seconds


def settled_deliveries() -> int:
    """Deliveries done or dead so far."""
    from connectors.models import Delivery
    from gateway.db import db
    with db.connection_context():
        return Delivery.select().where(Delivery.status.in_(["done", "dead"])).count()


EMBEDDED_SERVER = """
import sys, uvicorn
from gateway.app import create_app
run_jobs = sys.argv[2] == "run" if len(sys.argv) > 2 else None
uvicorn.run(create_app(run_jobs=run_jobs), host="127.0.0.1", port=int(sys.argv[1]),
            access_log=False)
"""


def embedded(seconds: float, connections: int) -> dict:
    """Embedded defaults: deliveries posted for ``seconds`` to a server that only accepts
    (its job runner off), then the server as ``inlet serve`` runs (jobs in-process) and
    drains that backlog; returns the accept rate and the drain rate (settled deliveries over
    the time from the server's start until the last one was settled)."""
    import tempfile

    from gateway import runtime
    with tempfile.TemporaryDirectory() as tmp:
        env = os.environ | common.inlet_env(tmp, f"sqlite:///{tmp}/bench.sqlite3",
                                            job_retry_intervals="1,5")
        account_id, hook_id, secret = setup(env)
        with common.served(EMBEDDED_SERVER.replace("sys.argv[2]", "'accept'"), env) as (
                base, server_pid):
            figures = drive(f"{base}/hooks/{hook_id}", seconds, connections, secret,
                            server_pid=server_pid)
        accepted = len(figures.pop("accepted"))
        started = time.perf_counter()
        with common.served(EMBEDDED_SERVER.replace("sys.argv[2]", "'run'"), env):
            deadline = time.perf_counter() + 600
            while settled_deliveries() < accepted and time.perf_counter() < deadline:
                time.sleep(0.05)
            took = time.perf_counter() - started
        check = reconcile(account_id, hook_id, [])
        runtime.reset()
    return {"accepted": accepted, "accept_rps": figures["rps"], "seconds": took,
            "drain_rps": check["deliveries_done"] / took, "done": check["deliveries_done"],
            "contacts": check["contacts"]}


def reconcile(account_id: int, hook_id: int, accepted: list[str]) -> dict:
    """Stored contacts and deliveries against the accepted delivery ids."""
    from connectors.models import Delivery
    from gateway.db import db
    from gateway.models import Consent, Contact
    with db.connection_context():
        done = {d.id for d in Delivery.select(Delivery.id).where(
            (Delivery.hook == hook_id) & (Delivery.status == "done"))}
        contacts = Contact.select().where(Contact.account == account_id).count()
        consents = Consent.select().where(Consent.account == account_id).count()
        other = Delivery.select().where((Delivery.hook == hook_id)
                                        & (Delivery.status != "done")).count()
    unique = set(accepted)
    return {"accepted": len(accepted), "unique_ids": len(unique),
            "deliveries_done": len(done), "deliveries_not_done": other,
            "contacts": contacts, "consents": consents,
            "lost": len(unique - done), "doubled": contacts - len(unique)}


def report(name: str, figures: dict, baseline: dict, ratio: float) -> None:
    """One endpoint's figures of a round, next to the trivial endpoint's (``baseline``)."""
    cpu_ratio = baseline["server_cpu_us"] / figures["server_cpu_us"]
    print(f"  {name:<20} {figures['rps']:7.0f} req/s ({ratio:6.1%})  server CPU "
          f"{figures['server_cpu_us']:5.0f} us/req ({cpu_ratio:6.1%})  p50 "
          f"{figures['p50_ms']:5.1f} ms  p99 {figures['p99_ms']:6.1f} ms  {figures['statuses']}")


def options():
    """The shared endpoint options, and ``--embedded-seconds`` (this benchmark's own)."""
    import argparse
    import sys
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--embedded-seconds", type=float, default=5.0)
    mine, sys.argv[1:] = own.parse_known_args()
    args = common.endpoint_options(__doc__)
    args.embedded_seconds = mine.embedded_seconds
    return args


def main() -> None:
    args = options()
    with common.isolated_inlet(args.db, REDIS, SCHEMA) as env:
        account_id, hook_id, secret = setup(env)
        with common.served(SERVER, env) as (base, server_pid):
            opts = {"server_pid": server_pid}
            drive(f"{base}/bench/trivial", 1, args.connections, **opts)  # warm up
            warm = drive(f"{base}/hooks/{hook_id}", 1, args.connections, secret, **opts)
            accepted = warm["accepted"]
            results = common.rounds(args.rounds, {
                "trivial": partial(drive, f"{base}/bench/trivial", args.seconds,
                                   args.connections, **opts),
                "hooks": partial(drive, f"{base}/hooks/{hook_id}", args.seconds,
                                 args.connections, secret, **opts),
                "rq": partial(drive, f"{base}/bench/rq", args.seconds, args.connections,
                              **opts)})
            if args.paced:
                rate = args.paced * statistics.median(t["rps"] for t in results["trivial"])
                results["paced"] = [drive(f"{base}/hooks/{hook_id}", args.seconds,
                                          args.connections, secret, rate=rate, **opts)
                                    | {"rate": rate}]
        for figures in results["hooks"] + results.get("paced", []):
            accepted.extend(figures.pop("accepted"))
        seconds, drain_rps = drain(env, args.workers, len(set(accepted)))
        common.print_rounds("hooks", args, results, {"hook (signed, 202)": "hooks",
                                                     "blocking rq enqueue": "rq"}, report)
        pairs = list(zip(results["hooks"], results["trivial"], strict=True))
        ratios = [h["rps"] / t["rps"] for h, t in pairs]
        cpu_ratios = [t["server_cpu_us"] / h["server_cpu_us"] for h, t in pairs]
        p99s = [h["p99_ms"] for h in results["hooks"]]
        check = reconcile(account_id, hook_id, accepted)
        paced = results.get("paced", [{}])[0]
        if paced:
            print(f" paced at {paced['rate']:.0f} req/s ({args.paced:.0%} of the trivial rate): "
                  f"hook p50 {paced['p50_ms']:.1f} ms, p99 {paced['p99_ms']:.1f} ms, "
                  f"{paced['statuses']}")
        print(f" hooks / trivial: median rate ratio {statistics.median(ratios):.1%}, median "
              f"server-CPU ratio {statistics.median(cpu_ratios):.1%} (target >= 50%); hook "
              f"p99 at {args.connections} connections median {statistics.median(p99s):.1f} ms, "
              f"worst {max(p99s):.1f} ms (target < 50 ms)")
        ok = (check["lost"] == 0 and check["doubled"] == check["deliveries_not_done"] == 0
              and check["accepted"] > 0)
        common.print_reconciliation(args.workers, seconds, check, ok)
        accept_rps = statistics.median(h["rps"] for h in results["hooks"])
        print(f" drain: {args.workers} x `inlet worker` settled {len(set(accepted)):,} "
              f"deliveries in {seconds:.1f} s = {drain_rps:,.0f}/s; accept rate (median of the "
              f"rounds) {accept_rps:,.0f}/s; drain/accept {drain_rps / accept_rps:.1%} "
              f"(target >= 50%) {'OK' if drain_rps >= accept_rps / 2 else 'UNDER TARGET'}")
    if args.embedded_seconds:
        e = embedded(args.embedded_seconds, args.connections)
        print(f" embedded defaults (SQLite, no Redis, jobs in the server's process): "
              f"{e['accepted']:,} accepted at {e['accept_rps']:,.0f}/s (job runner off), then "
              f"`inlet serve` settled them in {e['seconds']:.1f} s from its start: drain rate "
              f"{e['drain_rps']:,.0f}/s "
              f"(target >= 1,000/s) {'OK' if e['drain_rps'] >= 1000 else 'UNDER TARGET'}; "
              f"{e['done']:,} done, {e['contacts']:,} contacts")


if __name__ == "__main__":
    common.entry(main, load)
