"""Benchmark: form submissions accepted per second, next to a trivial endpoint.

One ``inlet serve --no-access-log``-equivalent process (uvicorn, one worker, the real app on
Redis) serves the form and a trivial Starlette endpoint (same app, same middleware). A second
process drives each in turn with 32 concurrent connections (``bench/loadgen.py``): every
submission is a new visitor (own address, own ``X-Forwarded-For`` address, as behind a proxy)
posting the script embed's request (urlencoded, ``Accept: application/json``) with a render
time it got from the hosted page. Then ``inlet worker`` processes drain the queue and the store
is reconciled: every accepted submission must be an unconfirmed contact (0 lost, 0 doubled).

    python bench/forms.py [--seconds 5] [--rounds 2] [--connections 32] [--db postgres|sqlite]

Targets: forms >= 40% of the trivial endpoint's rate, p99 < 50 ms, reconciliation exact.
Figures: closed-loop rate, p50/p99 (at saturation latency is ~connections/rate, so p99 there
mostly measures the queue in front of the server); the server's CPU time per request (the
capacity ratio with a core to itself, unaffected by what else runs on the machine); and
p50/p99 when paced at ``--paced`` x the trivial rate (for reference: latency below
saturation). The rate and p99 targets are judged on the closed-loop runs.
Uses Redis database 9 (INLET_BENCH_FORMS_REDIS_URL; emptied first and afterwards) and the
PostgreSQL schema ``inlet_bench_forms`` of INLET_BENCH_POSTGRES_URL (dropped afterwards), or
SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import runpy
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from urllib.parse import urlencode

# This script is named like the ``forms`` package: keep its folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

PG = os.environ.get("INLET_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("INLET_BENCH_FORMS_REDIS_URL", "redis://127.0.0.1:6379/9")
SCHEMA = "inlet_bench_forms"

SERVER = """
import sys, uvicorn
from starlette.responses import JSONResponse
from starlette.routing import Route
from gateway.app import create_app

async def trivial(request):
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)

app = create_app()
app.router.routes[0:0] = [Route("/bench/trivial", trivial, methods=["POST"])]
# as `inlet serve --no-access-log` (behind a proxy that logs): ~60 us a request otherwise
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), proxy_headers=True,
            access_log=False, log_level="warning")
"""


# ---- the load generator (runs as its own process) --------------------------------------------

async def _load(url: str, seconds: float, connections: int, ts: str, rate: float) -> dict:
    """Each request a new visitor (own address, own forwarded IP); keeps accepted addresses."""
    run = uuid.uuid4().hex[:8]
    counter = iter(range(10**9))

    def make_request() -> tuple[bytes, dict, str]:
        n = next(counter)
        email = f"v{run}-{n}@bench.example"
        body = urlencode({"email": email, "first_name": "Bench", "_ts": ts,
                          "_lang": "en", "_embed": "script"}).encode()
        headers = {"content-type": "application/x-www-form-urlencoded",
                   "accept": "application/json",
                   "x-forwarded-for": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}
        return body, headers, email

    def accept(status: int, content: bytes, email: str) -> str | None:
        return email if status == 202 else None

    # bench/loadgen.py, by path: this folder is kept off the import path (see above)
    load = runpy.run_path(os.path.join(_HERE, "loadgen.py"))["run"]
    return await load(url, seconds, connections, make_request, accept, rate)


def load_main() -> None:
    """Entry of the load-generator process: prints its figures as JSON."""
    url, seconds, connections, ts, rate = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), \
        sys.argv[5], float(sys.argv[6])
    print(json.dumps(asyncio.run(_load(url, seconds, connections, ts, rate))))


def drive(url: str, seconds: float, connections: int, ts: str, rate: float = 0,
          server_pid: int | None = None) -> dict:
    """Run the load generator in a second process against ``url``; with ``server_pid`` also
    the server's CPU time per request (independent of what else the machine runs)."""
    args = [sys.executable, __file__, "--load", url, str(seconds), str(connections), ts,
            str(rate)]
    before = cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run(args, capture_output=True, text=True, check=True,
                         timeout=seconds + 120)
    figures = json.loads(out.stdout)
    if server_pid:
        used = cpu_seconds(server_pid) - before
        figures["cpu_ms"] = 1000 * used / max(1, figures["requests"])
    return figures


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- set-up, server, workers, reconciliation --------------------------------------------------

def _pg_admin():
    from urllib.parse import urlparse

    import peewee
    u = urlparse(PG)
    return peewee.PostgresqlDatabase(u.path.lstrip("/"), user=u.username, host=u.hostname,
                                     port=u.port or 5432, password=u.password)


def database_url(kind: str, tmp: str) -> str:
    """A fresh store: the bench schema on PostgreSQL, or an SQLite file."""
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench.sqlite3"
    admin = _pg_admin()
    admin.execute_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    admin.execute_sql(f'CREATE SCHEMA "{SCHEMA}"')
    admin.close()
    return f"{PG}?options=-csearch_path%3D{SCHEMA}"


def setup(env: dict) -> tuple[int, str]:
    """An account and a double opt-in form; returns (account id, slug)."""
    from forms import service
    from gateway import runtime
    from gateway.accounts import add_vocabulary, create_account
    from gateway.db import db
    from gateway.settings import Settings
    runtime.configure(Settings.from_env(env))
    with db.connection_context():
        account = create_account("Bench")
        add_vocabulary(account.id, "source", "Website")
        form = service.create_form(account.id, {"name": "Bench", "source": "Website",
                                                "fields": ["first_name"],
                                                "min_fill_seconds": 1})
    return account.id, form.slug


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


def render_time(base: str, slug: str) -> str:
    """The signed render time of the hosted page, aged past the minimum fill time."""
    import httpx2 as httpx
    page = httpx.get(f"{base}/f/{slug}").text
    ts = re.search(r'name="_ts" value="([^"]+)"', page).group(1)
    time.sleep(1.1)  # set-up, not measured: a visitor takes at least min_fill_seconds
    return ts


def drain(env: dict, workers: int) -> float:
    """Run ``inlet worker --burst`` processes until every submission and mail is processed."""
    import redis

    from gateway.intake import keys
    r = redis.Redis.from_url(REDIS)
    started = time.perf_counter()
    while r.llen(keys("forms")["queue"]) or r.llen("rq:queue:inlet"):
        procs = [subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker", "--burst"],
                                  env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(workers)]
        for proc in procs:
            proc.wait(timeout=1800)
    return time.perf_counter() - started


def reconcile(account_id: int, accepted: list[str]) -> dict:
    """Unconfirmed contacts and confirmation mails against the accepted submissions."""
    from forms.models import Confirmation
    from gateway.db import db
    from gateway.models import Contact, OutgoingMail
    with db.connection_context():
        emails = {c.email for c in Contact.select(Contact.email).where(
            (Contact.account == account_id) & (Contact.status == "unconfirmed"))}
        total = Contact.select().where(Contact.account == account_id).count()
        confirmations = Confirmation.select().count()
        mails = OutgoingMail.select().where(OutgoingMail.status == "sent").count()
    unique = set(accepted)
    return {"accepted": len(accepted), "unconfirmed_contacts": len(emails),
            "contacts": total, "confirmation_links": confirmations, "mails_sent": mails,
            "lost": len(unique - emails), "doubled": total - len(unique)}


def report(name: str, figures: dict, baseline: dict) -> None:
    ratio = figures["rps"] / baseline["rps"]
    print(f"  {name:<22} {figures['rps']:8.0f} req/s  ratio {ratio:6.1%}   "
          f"p50 {figures['p50_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms   "
          f"server CPU {figures['cpu_ms']:.2f} ms/req   statuses {figures['statuses']}")


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
               "INLET_JOB_RETRY_INTERVALS": "1,5",
               # the load generator names its visitors in X-Forwarded-For, as a proxy would
               "INLET_TRUSTED_PROXIES": "127.0.0.1"}
        account_id, slug = setup(env)
        port = free_port()
        server = start_server(env, port)
        base = f"http://127.0.0.1:{port}"
        accepted: list[str] = []
        results: dict[str, list[dict]] = {"trivial": [], "forms": [], "paced": []}
        try:
            ts = render_time(base, slug)
            drive(f"{base}/bench/trivial", 1, args.connections, ts)  # warm up
            accepted.extend(drive(f"{base}/f/{slug}", 1, args.connections, ts)["accepted"])
            for _ in range(args.rounds):
                results["trivial"].append(drive(f"{base}/bench/trivial", args.seconds,
                                                args.connections, ts, 0, server.pid))
                results["forms"].append(drive(f"{base}/f/{slug}", args.seconds,
                                              args.connections, ts, 0, server.pid))
            if args.paced:
                rate = args.paced * statistics.median(t["rps"] for t in results["trivial"])
                for url in (f"{base}/bench/trivial", f"{base}/f/{slug}"):
                    results["paced"].append(drive(url, args.seconds, args.connections, ts,
                                                  rate) | {"rate": rate})
                accepted.extend(results["paced"][-1].pop("accepted"))
        finally:
            server.terminate()
            server.wait(timeout=30)
        for figures in results["forms"]:
            accepted.extend(figures.pop("accepted"))
        seconds = drain(env, args.workers)
        print(f"forms benchmark: {args.connections} connections, {args.rounds} x "
              f"{args.seconds:g} s per endpoint, {args.db}, one uvicorn worker")
        for i in range(args.rounds):
            base_fig = results["trivial"][i]
            print(f" round {i + 1}")
            report("trivial endpoint", base_fig, base_fig)
            report("form submit (202)", results["forms"][i], base_fig)
        for name, figures in zip(("trivial", "form submit"), results["paced"], strict=False):
            print(f" paced at {figures['rate']:.0f} req/s ({args.paced:.0%} of the trivial "
                  f"rate), {name}: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} "
                  f"ms, statuses {figures['statuses']}")
        ratios = [f["rps"] / t["rps"] for f, t in zip(results["forms"], results["trivial"],
                                                       strict=True)]
        p99 = max(f["p99_ms"] for f in results["forms"])
        cpu = statistics.median(t["cpu_ms"] for t in results["trivial"]) / statistics.median(
            f["cpu_ms"] for f in results["forms"])
        print(f" capacity from server CPU per request: forms = {cpu:.1%} of trivial "
              "(what one worker could reach with a core to itself)")
        check = reconcile(account_id, accepted)
        print(f" forms / trivial: median ratio {statistics.median(ratios):.1%} "
              f"(target >= 40%), worst form p99 at {args.connections} connections {p99:.1f} ms "
              "(target < 50 ms)")
        print(f" drained by {args.workers} x `inlet worker` in {seconds:.1f} s: {check}")
        ok = check["lost"] == 0 and check["doubled"] == 0 and check["accepted"] > 0
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
