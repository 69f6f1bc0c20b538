"""Benchmark: form submissions accepted per second, next to a trivial endpoint.

One ``inlet serve --no-access-log``-equivalent process (uvicorn, one worker, the real app on
Redis) serves the form and a trivial Starlette endpoint (same app, same middleware). A second
process drives each in turn with 32 concurrent connections (``bench/loadgen.py``): every
submission is a new visitor (own address, own ``X-Forwarded-For`` address, as behind a proxy)
posting the script embed's request (urlencoded, ``Accept: application/json``) with a render
time it got from the hosted page. Then ``inlet worker`` processes drain the queue and the store
is reconciled: every accepted submission must be an unconfirmed contact (0 lost, 0 doubled).

    python bench/form_submits.py [--seconds 5] [--rounds 2] [--connections 32]
        [--db postgres|sqlite]

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

import os
import re
import statistics
import time
import uuid
from functools import partial
from urllib.parse import urlencode

import common
import loadgen

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

async def load(url: str, seconds: float, connections: int, rate: float, ts: str) -> dict:
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

    return await loadgen.run(url, seconds, connections, make_request, accept, rate)


def drive(url: str, seconds: float, connections: int, ts: str, rate: float = 0,
          server_pid: int | None = None) -> dict:
    """Run the load generator in a second process against ``url``; with ``server_pid`` also
    the server's CPU time per request (independent of what else the machine runs)."""
    figures, used = common.run_load(__file__, url, seconds, connections, rate, ts,
                                    server_pid=server_pid)
    if server_pid:
        figures["cpu_ms"] = 1000 * used / max(1, figures["requests"])
    return figures


# ---- set-up, workers, reconciliation ---------------------------------------------------------


def setup(env: dict) -> tuple[int, str]:
    """An account and a double opt-in form; returns (account id, slug)."""
    from forms import definitions
    from gateway import runtime
    from gateway.accounts import add_vocabulary, create_account
    from gateway.db import db
    from gateway.settings import Settings
    runtime.configure(Settings.from_env(env))
    with db.connection_context():
        account = create_account("Bench")
        add_vocabulary(account.id, "source", "Website")
        form = definitions.create_form(account.id, {"name": "Bench", "source": "Website",
                                                    "fields": ["first_name"],
                                                    "min_fill_seconds": 1})
    return account.id, form.slug


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
        procs = [common.start_inlet(["worker", "--burst"], env) for _ in range(workers)]
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


def report(name: str, figures: dict, baseline: dict, ratio: float) -> None:
    """One endpoint's figures of a round, next to the trivial endpoint's (``baseline``)."""
    print(f"  {name:<22} {figures['rps']:8.0f} req/s  ratio {ratio:6.1%}   "
          f"p50 {figures['p50_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms   "
          f"server CPU {figures['cpu_ms']:.2f} ms/req   statuses {figures['statuses']}")


def main() -> None:
    args = common.endpoint_options(__doc__)
    # the load generator names its visitors in X-Forwarded-For, as a proxy would
    with common.isolated_inlet(args.db, REDIS, SCHEMA, trusted_proxies="127.0.0.1") as env:
        account_id, slug = setup(env)
        with common.served(SERVER, env) as (base, server_pid):
            ts = render_time(base, slug)
            drive(f"{base}/bench/trivial", 1, args.connections, ts)  # warm up
            accepted = drive(f"{base}/f/{slug}", 1, args.connections, ts)["accepted"]
            results = common.rounds(args.rounds, {
                name: partial(drive, url, args.seconds, args.connections, ts, 0, server_pid)
                for name, url in (("trivial", f"{base}/bench/trivial"),
                                  ("forms", f"{base}/f/{slug}"))})
            results["paced"] = []
            if args.paced:
                rate = args.paced * statistics.median(t["rps"] for t in results["trivial"])
                for url in (f"{base}/bench/trivial", f"{base}/f/{slug}"):
                    results["paced"].append(drive(url, args.seconds, args.connections, ts,
                                                  rate) | {"rate": rate})
                accepted.extend(results["paced"][-1].pop("accepted"))
        for figures in results["forms"]:
            accepted.extend(figures.pop("accepted"))
        seconds = drain(env, args.workers)
        common.print_rounds("forms", args, results, {"form submit (202)": "forms"}, report)
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
        ok = check["lost"] == 0 and check["doubled"] == 0 and check["accepted"] > 0
        common.print_reconciliation(args.workers, seconds, check, ok)


if __name__ == "__main__":
    common.entry(main, load)
