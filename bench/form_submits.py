"""Benchmark: form submissions accepted per second, drained per second, accept -> SMTP time.

One ``inlet serve --no-access-log``-equivalent process (uvicorn, one worker, the real app)
serves the form and a trivial Starlette endpoint (same app, same middleware). A second
process drives each in turn with 32 concurrent connections (``bench/loadgen.py``): every
submission is a new visitor (own address, own ``X-Forwarded-For`` address, as behind a proxy)
posting the script embed's request (urlencoded, ``Accept: application/json``) with a render
time it got from the hosted page. Mails go to a local SMTP server (aiosmtpd) in this process.

    python bench/form_submits.py [--seconds 5] [--rounds 2] [--connections 32]
        [--db postgres|sqlite] [--embedded] [--burst 10000] [--workers 2]

1. Accept rate: forms next to the trivial endpoint (nothing drains meanwhile).
2. Drain rate: then ``--workers`` ``inlet worker`` processes (``--embedded``: SQLite, no
   Redis, the ``inlet serve`` process's own runner) write the backlog; items stored per
   second, and its ratio to the accept rate (target >= 50%; embedded >= 1,000/s); then how
   long until their confirmation mails were all handed to SMTP (mails/s).
3. Accept -> mail handed to SMTP: a ``--burst`` of exactly that many submissions at full
   speed onto the system at rest (workers running, nothing queued); p50/p99 from each 202 to
   its confirmation mail's arrival (target p99 <= 15 s).
4. Reconciliation: accepted = stored = mailed (one confirmation mail per address), 0 lost,
   0 doubled.

Targets also: forms >= 40% of the trivial endpoint's rate, p99 < 50 ms. Uses Redis database 9
(INLET_BENCH_FORMS_REDIS_URL; emptied first and afterwards) and the PostgreSQL schema
``inlet_bench_forms`` of INLET_BENCH_POSTGRES_URL (dropped afterwards), or SQLite.
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
import os, sys, uvicorn
from starlette.responses import JSONResponse
from starlette.routing import Route
from gateway.app import create_app

async def trivial(request):
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)

# BENCH_RUN_JOBS=0: the embedded runner stays off while the accept rate is measured
app = create_app(run_jobs=False if os.environ.get("BENCH_RUN_JOBS") == "0" else None)
app.router.routes[0:0] = [Route("/bench/trivial", trivial, methods=["POST"])]
# as `inlet serve --no-access-log` (behind a proxy that logs): ~60 us a request otherwise
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), proxy_headers=True,
            access_log=False, log_level="warning")
"""


# ---- the load generator (runs as its own process) --------------------------------------------

async def load(url: str, seconds: float, connections: int, rate: float, ts: str,
               limit: str = "0") -> dict:
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

    def accept(status: int, content: bytes, email: str) -> list | None:
        return [email, time.time()] if status == 202 else None  # when the 202 arrived

    return await loadgen.run(url, seconds, connections, make_request, accept, rate,
                             int(limit))


def drive(url: str, seconds: float, connections: int, ts: str, rate: float = 0,
          server_pid: int | None = None, limit: int = 0) -> dict:
    """Run the load generator in a second process against ``url`` (at most ``limit``
    requests when set); with ``server_pid`` also the server's CPU time per request
    (independent of what else the machine runs)."""
    figures, used = common.run_load(__file__, url, seconds, connections, rate, ts, str(limit),
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


class Inbox:
    """A local SMTP server (aiosmtpd): when each recipient's mails arrived."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        self.received: dict[str, list[float]] = {}
        self.port = common.free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook
        at = time.time()
        for rcpt in envelope.rcpt_tos:
            self.received.setdefault(rcpt, []).append(at)
        return "250 OK"

    def wait_for(self, emails: set[str], timeout: float) -> None:
        """Until every address of ``emails`` got a mail, or ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not emails <= self.received.keys():
            time.sleep(0.1)


def stored(env: dict) -> int:
    """Submissions written so far."""
    from forms.models import Submission
    from gateway.db import db
    with db.connection_context():
        return Submission.select().count()


def wait_stored(env: dict, count: int, timeout: float = 1800) -> float:
    """Seconds until ``count`` submissions are written."""
    started = time.perf_counter()
    while stored(env) < count and time.perf_counter() - started < timeout:
        time.sleep(0.05)
    return time.perf_counter() - started


def start_drain(env: dict, args) -> list:
    """What drains: ``--workers`` ``inlet worker``s, or (``--embedded``) the server's runner."""
    if args.embedded:
        return []
    return [common.start_inlet(["worker"], env, own_session=True)
            for _ in range(args.workers)]


def burst(base: str, slug: str, ts: str, args, inbox: Inbox) -> dict:
    """``--burst`` submissions at full speed onto a system at rest (drains running, nothing
    queued: a TV mention, not the tail of the accept phase); accept -> SMTP times."""
    figures = drive(f"{base}/f/{slug}", 300, args.connections, ts, limit=args.burst)
    accepted = figures["accepted"]
    inbox.wait_for({email for email, _ in accepted}, timeout=600)
    waits = sorted(inbox.received[email][0] - at for email, at in accepted
                   if email in inbox.received)
    figures["mailed"] = len(waits)
    if waits:
        figures["mail_p50_s"] = waits[len(waits) // 2]
        figures["mail_p99_s"] = waits[int(len(waits) * 0.99)]
    return figures


def reconcile(account_id: int, accepted: list[str], inbox: Inbox) -> dict:
    """Unconfirmed contacts, links and mails received against the accepted submissions."""
    from forms.models import Confirmation, Submission
    from gateway.db import db
    from gateway.models import Contact
    with db.connection_context():
        emails = {c.email for c in Contact.select(Contact.email).where(
            (Contact.account == account_id) & (Contact.status == "unconfirmed"))}
        total = Contact.select().where(Contact.account == account_id).count()
        confirmations = Confirmation.select().count()
        submissions = Submission.select().count()
    unique = set(accepted)
    mailed = {email for email in unique if inbox.received.get(email)}
    mails = sum(len(inbox.received.get(email, [])) for email in unique)
    return {"accepted": len(accepted), "stored": submissions, "contacts": total,
            "unconfirmed_contacts": len(emails), "confirmation_links": confirmations,
            "mailed": len(mailed), "mails_received": mails,
            "lost": len(unique - emails) + len(unique - mailed),
            "doubled": total - len(unique) + mails - len(mailed) + submissions - len(unique)}


def report(name: str, figures: dict, baseline: dict, ratio: float) -> None:
    """One endpoint's figures of a round, next to the trivial endpoint's (``baseline``)."""
    print(f"  {name:<22} {figures['rps']:8.0f} req/s  ratio {ratio:6.1%}   "
          f"p50 {figures['p50_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms   "
          f"server CPU {figures['cpu_ms']:.2f} ms/req   statuses {figures['statuses']}")


def main() -> None:
    args = common.endpoint_options(__doc__)
    inbox = Inbox()
    inbox.controller.start()
    # the load generator names its visitors in X-Forwarded-For, as a proxy would
    with common.isolated_inlet(args.db, REDIS, SCHEMA, trusted_proxies="127.0.0.1",
                               smtp_url=f"smtp://127.0.0.1:{inbox.port}") as env:
        if args.embedded:
            env.pop("INLET_REDIS_URL")
        account_id, slug = setup(env)
        accepted, results, rate = accept_phase(args, env, slug)
        print(f" accepted {len(accepted)} at {rate:.0f}/s; draining...", flush=True)
        drain_started = time.time()
        drains = start_drain(env, args)
        try:
            with common.served(SERVER, env) as (base, _):
                seconds = wait_stored(env, len(accepted))
                drain_rate = len(accepted) / seconds
                print(f" drained in {seconds:.1f} s; mailing...", flush=True)
                inbox.wait_for({email for email, _ in accepted}, timeout=1800)
                mail_seconds = max(inbox.received[e][0] for e, _ in accepted) - drain_started
                print(f" mailed in {mail_seconds:.1f} s; burst...", flush=True)
                ts = render_time(base, slug)
                figures = burst(base, slug, ts, args, inbox)
                accepted += figures["accepted"]
                wait_stored(env, len(accepted), timeout=600)
                inbox.wait_for({email for email, _ in accepted}, timeout=600)
        finally:
            common.stop(drains)
        print_accept(args, results)
        who = "the `inlet serve` runner (embedded)" if args.embedded else \
            f"{args.workers} x `inlet worker`"
        target = "target >= 1,000/s" if args.embedded else "target >= 50% of accept"
        print(f" accept {rate:.0f}/s; drained {len(accepted) - len(figures['accepted'])} by "
              f"{who} in {seconds:.1f} s: {drain_rate:.0f} items/s, ratio "
              f"{drain_rate / rate:.1%} ({target})")
        print(f" their {len(accepted) - len(figures['accepted'])} confirmation mails handed "
              f"to SMTP {mail_seconds:.1f} s after the drain started: "
              f"{(len(accepted) - len(figures['accepted'])) / mail_seconds:.0f} mails/s")
        print(f" burst of {len(figures['accepted'])} accepted at {figures['rps']:.0f}/s from "
              f"rest: accept -> mail handed to SMTP p50 {figures.get('mail_p50_s', 0):.2f}"
              f" s, p99 {figures.get('mail_p99_s', 0):.2f} s (target p99 <= 15 s), "
              f"{figures['mailed']} mailed")
        check = reconcile(account_id, [email for email, _ in accepted], inbox)
        ok = check["lost"] == 0 and check["doubled"] == 0 and check["accepted"] > 0
        print(f" reconciliation: {check}")
        print(" reconciliation:", "OK (accepted = stored = mailed, 0 lost, 0 doubled)" if ok
              else "MISMATCH")
    inbox.controller.stop()


def accept_phase(args, env: dict, slug: str) -> tuple[list, dict, float]:
    """The accept-rate rounds, nothing draining; returns (accepted, figures, forms rate)."""
    with common.served(SERVER, env | {"BENCH_RUN_JOBS": "0"}) as (base, server_pid):
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
    for figures in results["trivial"] + results["paced"][:1]:
        figures.pop("accepted", None)
    return accepted, results, statistics.median(f["rps"] for f in results["forms"])


def print_accept(args, results: dict) -> None:
    """The accept-rate rounds, as before."""
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
    print(f" forms / trivial: median ratio {statistics.median(ratios):.1%} "
          f"(target >= 40%), worst form p99 at {args.connections} connections {p99:.1f} ms "
          "(target < 50 ms)")


if __name__ == "__main__":
    common.entry(main, load)
