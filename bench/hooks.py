"""Benchmark: signed webhook deliveries accepted per second, next to a trivial endpoint.

One ``inlet serve --no-access-log``-equivalent process (uvicorn, one worker, the real app on
Redis) serves the hook, a trivial Starlette endpoint and — for reference — a naive endpoint
doing a blocking ``rq.Queue.enqueue`` per request. A second process drives each endpoint in turn
with 32 concurrent connections (``bench/loadgen.py``), signing a new single-contact body per
request (the rate and p99 targets are judged on these runs); then, for reference, a run paced
at ``--paced`` x the trivial rate (latency below saturation). Then ``inlet worker`` processes
drain the deliveries and the store is reconciled: stored contacts must equal accepted
deliveries (0 lost, 0 doubled).

    python bench/hooks.py [--seconds 5] [--rounds 2] [--connections 32] [--db postgres|sqlite]
        [--paced 0.3]

Targets: hooks ≥ 50% of the trivial endpoint's rate, p99 < 50 ms, reconciliation exact.
Uses Redis database 8 (INLET_BENCH_REDIS_URL; emptied first) and the PostgreSQL schema
``inlet_bench_hooks`` of INLET_BENCH_POSTGRES_URL (dropped afterwards), or SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import runpy
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

# bench/forms.py is named like the ``forms`` package: keep this folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

PG = os.environ.get("INLET_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
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

async def _load(url: str, seconds: float, connections: int, secret: str | None,
                rate: float) -> dict:
    """A new signed single-contact body per request; keeps accepted delivery ids."""
    from connectors.signatures import headers as signed
    run = runpy.run_path(os.path.join(_HERE, "loadgen.py"))["run"]  # by path: see _HERE

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

    return await run(url, seconds, connections, make_request, accept, rate)


def load_main() -> None:
    """Entry of the load-generator process: prints its figures as JSON."""
    url, seconds, connections, rate = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), \
        float(sys.argv[5])
    secret = sys.argv[6] if len(sys.argv) > 6 else None
    print(json.dumps(asyncio.run(_load(url, seconds, connections, secret, rate))))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(url: str, seconds: float, connections: int, secret: str | None = None, *,
          server_pid: int, rate: float = 0.0) -> dict:
    """Run the load generator in a second process against ``url`` (closed loop, or paced at
    ``rate``); adds the server's CPU time per request (robust to a load generator or a busy
    machine capping the rate)."""
    args = [sys.executable, __file__, "--load", url, str(seconds), str(connections),
            str(rate)]
    before = cpu_seconds(server_pid)
    out = subprocess.run(args + ([secret] if secret else []), capture_output=True, text=True,
                         check=True, timeout=seconds + 120)
    figures = json.loads(out.stdout)
    figures["server_cpu_us"] = 1e6 * (cpu_seconds(server_pid) - before) / figures["requests"]
    return figures


# ---- set-up, server, workers, reconciliation --------------------------------------------------

def database_url(kind: str, tmp: str) -> str:
    """A fresh store: the bench schema on PostgreSQL, or an SQLite file."""
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench.sqlite3"
    admin = _pg_admin()
    admin.execute_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    admin.execute_sql(f'CREATE SCHEMA "{SCHEMA}"')
    admin.close()
    return f"{PG}?options=-csearch_path%3D{SCHEMA}"


def _pg_admin():
    from urllib.parse import urlparse

    import peewee
    u = urlparse(PG)
    return peewee.PostgresqlDatabase(u.path.lstrip("/"), user=u.username, host=u.hostname,
                                     port=u.port or 5432, password=u.password)


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def drain(env: dict, workers: int) -> float:
    """Run ``inlet worker`` processes until every delivery is processed; returns seconds."""
    import redis
    from rq import Queue
    from rq.registry import StartedJobRegistry

    from connectors.jobs import STREAM
    from gateway.intake import keys
    r = redis.Redis.from_url(REDIS)
    queue = Queue("inlet", connection=r)
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    try:
        settled = 0
        while settled < 3:  # three quiet looks in a row: nothing queued, nothing running
            time.sleep(1)
            busy = (r.llen(keys(STREAM)["queue"]) or queue.count
                    or StartedJobRegistry(queue=queue).count)
            settled = 0 if busy else settled + 1
    finally:
        for proc in procs:
            proc.terminate()  # a warm shutdown: a running job finishes first
        for proc in procs:
            proc.wait(timeout=120)
    return time.perf_counter() - started


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


def report(name: str, figures: dict, baseline: dict) -> None:
    ratio = figures["rps"] / baseline["rps"]
    cpu_ratio = baseline["server_cpu_us"] / figures["server_cpu_us"]
    print(f"  {name:<20} {figures['rps']:7.0f} req/s ({ratio:6.1%})  server CPU "
          f"{figures['server_cpu_us']:5.0f} us/req ({cpu_ratio:6.1%})  p50 "
          f"{figures['p50_ms']:5.1f} ms  p99 {figures['p99_ms']:6.1f} ms  {figures['statuses']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--paced", type=float, default=0.3,
                        help="Then a paced run at this fraction of the trivial rate (0: none).")
    args = parser.parse_args()
    import redis
    redis.Redis.from_url(REDIS).flushdb()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "INLET_ENV": "production", "INLET_DATA_DIR": tmp,
               "INLET_DATABASE_URL": database_url(args.db, tmp), "INLET_REDIS_URL": REDIS,
               "INLET_SECRET_KEY": "bench-secret-key-0123456789",
               "INLET_JOB_RETRY_INTERVALS": "1,5"}
        account_id, hook_id, secret = setup(env)
        port = free_port()
        server = start_server(env, port)
        base = f"http://127.0.0.1:{port}"
        accepted: list[str] = []
        results: dict[str, list[dict]] = {"trivial": [], "hooks": [], "rq": []}
        opts = {"server_pid": server.pid}
        try:
            drive(f"{base}/bench/trivial", 1, args.connections, **opts)  # warm up
            warm = drive(f"{base}/hooks/{hook_id}", 1, args.connections, secret, **opts)
            accepted.extend(warm["accepted"])
            for _ in range(args.rounds):
                results["trivial"].append(drive(f"{base}/bench/trivial", args.seconds,
                                                args.connections, **opts))
                results["hooks"].append(drive(f"{base}/hooks/{hook_id}", args.seconds,
                                              args.connections, secret, **opts))
                results["rq"].append(drive(f"{base}/bench/rq", args.seconds,
                                           args.connections, **opts))
            if args.paced:
                rate = args.paced * statistics.median(t["rps"] for t in results["trivial"])
                results["paced"] = [drive(f"{base}/hooks/{hook_id}", args.seconds,
                                          args.connections, secret, rate=rate, **opts)
                                    | {"rate": rate}]
        finally:
            server.terminate()
            server.wait(timeout=30)
        for figures in results["hooks"] + results.get("paced", []):
            accepted.extend(figures.pop("accepted"))
        seconds = drain(env, args.workers)
        print(f"hooks benchmark: {args.connections} connections, {args.rounds} x "
              f"{args.seconds:g} s per endpoint, {args.db}, one uvicorn worker")
        for i in range(args.rounds):
            base_fig = results["trivial"][i]
            print(f" round {i + 1}")
            report("trivial endpoint", base_fig, base_fig)
            report("hook (signed, 202)", results["hooks"][i], base_fig)
            report("blocking rq enqueue", results["rq"][i], base_fig)
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
        print(f" drained by {args.workers} x `inlet worker` in {seconds:.1f} s: {check}")
        ok = (check["lost"] == 0 and check["doubled"] == check["deliveries_not_done"] == 0
              and check["accepted"] > 0)
        print(" reconciliation:", "OK (0 lost, 0 doubled)" if ok else "MISMATCH")
    if args.db == "postgres":
        admin = _pg_admin()
        admin.execute_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        admin.close()
    redis.Redis.from_url(REDIS).flushdb()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        load_main()
    else:
        main()
