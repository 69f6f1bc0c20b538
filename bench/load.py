"""Load: forms, webhooks and the API together, against ``inlet serve`` + 2 ``inlet worker``.

A second process drives a mixed load for ``--seconds`` (default 60) with ``--connections``
concurrent connections: form submissions (double opt-in, each from its own visitor IP),
signed Standard Webhooks deliveries and API upserts (``PUT /api/contacts/{email}``) plus
listings. Every request is timed. Before it, the same driver measures ``GET /healthz`` (no
store, no queue) as the baseline; figures are printed next to it as a ratio.

After the load the workers drain the queues and the store is reconciled: every accepted
request (202 / 200 / 201) must be a stored contact — ``accepted = stored``, lost = 0.

    python bench/load.py [--seconds 60] [--connections 32] [--figures out.jsonl]

PostgreSQL: the schema ``inlet_bench_load`` of INLET_BENCH_POSTGRES_URL (created, dropped
after). Redis: database 7 of INLET_BENCH_REDIS_URL's server (must hold nothing but a previous
run's keys; emptied before and after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import common

REDIS = os.environ.get("INLET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
SCHEMA = "inlet_bench_load"
SECRET = "bench-load-secret-0123456789abcdef"
MIX = (("form", 0.4), ("hook", 0.4), ("api_put", 0.15), ("api_list", 0.05))


# ---- the driver (runs in its own process) ------------------------------------------------

async def drive(config: dict) -> dict:
    """Send the mixed load (or the baseline) for ``seconds``; returns every request's record."""
    import httpx2 as httpx

    from connectors import signatures
    results: list = []
    stop_at = time.monotonic() + config["seconds"]
    limits = httpx.Limits(max_connections=config["connections"])
    async with httpx.AsyncClient(base_url=config["base_url"], timeout=30,
                                 limits=limits) as client:
        async def one_worker(n: int):
            """One connection's loop: pick a kind, send, time it."""
            rng = random.Random(n)
            i = 0
            while time.monotonic() < stop_at:
                i += 1
                kind = "baseline" if config["baseline"] else _pick(rng)
                email = f"{kind}-{n}-{i}-{uuid.uuid4().hex[:8]}@example.com"
                started = time.perf_counter()
                try:
                    status = await _send(client, config, signatures, kind, email, n, i)
                except httpx.HTTPError:
                    status = -1
                results.append((kind, email, status, time.perf_counter() - started))
        await asyncio.gather(*(one_worker(n) for n in range(config["connections"])))
    return {"results": results, "seconds": config["seconds"]}


def _pick(rng: random.Random) -> str:
    x, total = rng.random(), 0.0
    for kind, share in MIX:
        total += share
        if x < total:
            return kind
    return MIX[-1][0]


async def _send(client, config, signatures, kind, email, n, i) -> int:
    if kind == "baseline":
        return (await client.get("/healthz")).status_code
    if kind == "form":
        r = await client.post(f"/f/{config['slug']}", data={"email": email,
                                                            "_ts": config["ts"]},
                              headers={"Accept": "application/json",
                                       "X-Forwarded-For": f"10.{n % 250}.{i // 250 % 250}."
                                                          f"{i % 250}"})
        return r.status_code
    if kind == "hook":
        body = json.dumps({"contact": {"email": email, "first_name": "Load"}}).encode()
        headers = signatures.headers(config["hook_secret"], f"msg_{uuid.uuid4().hex}", body)
        r = await client.post(f"/hooks/{config['hook_id']}", content=body,
                              headers={**headers, "content-type": "application/json"})
        return r.status_code
    auth = {"Authorization": f"Bearer {config['token']}"}
    if kind == "api_put":
        r = await client.put(f"/api/contacts/{email}", headers=auth,
                             json={"language": "nl", "source": "Website", "first_name": "Api"})
        return r.status_code
    return (await client.get("/api/contacts?limit=20", headers=auth)).status_code


def driver_main() -> None:
    """The driver process: config on stdin, records to the config's ``out`` file."""
    config = json.loads(sys.stdin.read())
    out = asyncio.run(drive(config))
    Path(config["out"]).write_text(json.dumps(out))


# ---- orchestration -------------------------------------------------------------------------

def _env(tmp: Path) -> dict:
    return common.inlet_env(tmp / "var", common.schema_url(SCHEMA), REDIS, secret_key=SECRET,
                            queue="inlet-bench-load", job_retry_intervals="1,2,5",
                            # the load generator names its visitors in X-Forwarded-For, as a
                            # proxy would
                            trusted_proxies="127.0.0.1")


def _prepare_services() -> None:
    common.flush_redis(REDIS, refuse_foreign=True)
    common.create_schema(SCHEMA)


def _cleanup_services() -> None:
    common.flush_redis(REDIS)
    common.drop_schema(SCHEMA)


def _setup_account(env: dict) -> dict:
    """Account, token, signed hook and a double opt-in form (in this process)."""
    from connectors.service import create_hook
    from forms import tokens
    from forms.definitions import create_form
    from gateway import runtime
    from gateway.accounts import add_vocabulary, create_account
    from gateway.auth import create_token
    from gateway.db import db
    from gateway.settings import Settings
    runtime.configure(Settings.from_env(env))
    with db.connection_context():
        account = create_account("Load")
        add_vocabulary(account.id, "source", "Website")
        _, token = create_token(account.id, ["admin"])
        hook, secret = create_hook(account.id, {
            "kind": "generic", "name": "Load", "auth": "standard-webhooks",
            "source": "Website", "language": "nl",
            "mapping": {"email": "contact.email", "first_name": "contact.first_name"}})
        form = create_form(account.id, {"name": "Load", "source": "Website",
                                        "double_opt_in": True, "min_fill_seconds": 0,
                                        "languages": ["nl"]})
    return {"account_id": account.id, "token": token, "hook_id": hook.id,
            "hook_secret": secret, "slug": form.slug,
            "ts": tokens.render_token(SECRET, form.id, now=time.time() - 5)}


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("INLET_")} | env
    return common.start_inlet(args, full, log, own_session=True)


def _run_driver(config: dict, tmp: Path, name: str) -> dict:
    out = tmp / f"{name}.json"
    config = dict(config, out=str(out))
    subprocess.run([sys.executable, __file__, "--drive"], input=json.dumps(config).encode(),
                   check=True, timeout=config["seconds"] + 120)
    return json.loads(out.read_text())


def _stats(records: list, seconds: float) -> dict:
    latencies = sorted(r[3] for r in records)
    if not latencies:
        return {"requests": 0}
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {"requests": len(records), "per_second": round(len(records) / seconds, 1),
            "p50_ms": round(q[49] * 1000, 1), "p99_ms": round(q[98] * 1000, 1),
            "statuses": {str(s): sum(1 for r in records if r[2] == s)
                         for s in sorted({r[2] for r in records})}}


ACCEPTED = {"form": {202}, "hook": {202}, "api_put": {200, 201}}


def _reconcile(env: dict, account_id: int, records: list, timeout: float) -> dict:
    """Wait for the workers to drain, then count accepted vs stored per kind."""
    from gateway.db import db
    from gateway.models import Contact
    accepted = {kind: {r[1] for r in records if r[0] == kind and r[2] in ok}
                for kind, ok in ACCEPTED.items()}
    wanted = set().union(*accepted.values())
    deadline = time.monotonic() + timeout
    while True:
        with db.connection_context():
            stored = set()
            emails = list(wanted)
            for start in range(0, len(emails), 5000):
                stored |= {c.email for c in Contact.select(Contact.email).where(
                    (Contact.account == account_id)
                    & Contact.email.in_(emails[start:start + 5000]))}
        if stored >= wanted or time.monotonic() > deadline:
            break
        time.sleep(1)
    return {kind: {"accepted": len(a), "stored": len(a & stored), "lost": len(a - stored)}
            for kind, a in accepted.items()}


def main() -> None:
    """Set up, run the baseline and the mixed load, reconcile, report, clean up."""
    parser = common.load_parser(__doc__, seconds=60)
    parser.add_argument("--baseline-seconds", type=float, default=5)
    parser.add_argument("--figures", help="append the figures as one JSON line to this file")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        return driver_main()
    tmp = Path(tempfile.mkdtemp(prefix="inlet-bench-load-"))
    env = _env(tmp)
    _prepare_services()
    procs: list[subprocess.Popen] = []
    try:
        setup = _setup_account(env)
        port = common.free_port()
        base_url = f"http://127.0.0.1:{port}"
        env["INLET_BASE_URL"] = base_url
        procs.append(_start(["serve", "--port", str(port)], env, tmp / "serve.log"))
        common.wait_ready(procs[0], lambda: common.healthy(base_url), "inlet serve")
        for i in range(args.workers):
            procs.append(_start(["worker"], env, tmp / f"worker-{i}.log"))
        config = {"base_url": base_url, "connections": args.connections, **setup}
        base = _run_driver(dict(config, seconds=args.baseline_seconds, baseline=True), tmp,
                           "baseline")
        load = _run_driver(dict(config, seconds=args.seconds, baseline=False), tmp, "load")
        drain_started = time.monotonic()
        reconciliation = _reconcile(env, setup["account_id"], load["results"], timeout=300)
        drain = time.monotonic() - drain_started
        report(args, base, load, reconciliation, drain)
    finally:
        common.stop(procs)
        _cleanup_services()
    shutil.rmtree(tmp, ignore_errors=True)  # kept (with the process logs) when it failed


def report(args, base: dict, load: dict, reconciliation: dict, drain: float) -> None:
    """Print the figures (and append them to ``--figures``); exit 1 on loss or errors."""
    b = _stats(base["results"], base["seconds"])
    total = _stats(load["results"], load["seconds"])
    kinds = {k: _stats([r for r in load["results"] if r[0] == k], load["seconds"])
             for k, _ in MIX}
    print(f"\nbaseline GET /healthz: {b['per_second']}/s p50 {b['p50_ms']} ms "
          f"p99 {b['p99_ms']} ms")
    print(f"mixed load {args.seconds:.0f}s x {args.connections} connections, "
          f"{args.workers} workers: {total['per_second']}/s "
          f"({total['per_second'] / b['per_second']:.2f}x baseline) "
          f"p50 {total['p50_ms']} ms p99 {total['p99_ms']} ms statuses {total['statuses']}")
    for kind, s in kinds.items():
        print(f"  {kind:9} {s.get('per_second', 0):7}/s p50 {s.get('p50_ms')} ms "
              f"p99 {s.get('p99_ms')} ms {s.get('statuses')}")
    lost = sum(v["lost"] for v in reconciliation.values())
    print(f"reconciliation (drained in {drain:.1f}s): {reconciliation} -> lost={lost}")
    errors = sum(n for s, n in total["statuses"].items() if int(s) >= 500 or int(s) < 0)
    print(f"5xx or no answer: {errors}")
    if args.figures:
        with open(args.figures, "a") as fh:
            fh.write(json.dumps({"bench": "load", "seconds": args.seconds,
                                 "connections": args.connections, "baseline": b,
                                 "total": total, "kinds": kinds,
                                 "reconciliation": reconciliation, "lost": lost,
                                 "drain_seconds": round(drain, 1)}) + "\n")
    if lost or errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
