"""What the benchmarks share: their own PostgreSQL schema and Redis database, Inlet processes
(``inlet serve``-equivalent servers, ``inlet worker``), free ports, readiness, CPU time and the
load-generator process, and figures printed next to their baseline as a ratio.

A script runs as ``python bench/<name>.py`` from the repository root: Python then puts
``bench/`` first on the import path, so no file here may be named like a package or a standard
module (this one is imported as ``common``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the app's packages, also from a checkout that is not installed
    sys.path.insert(1, str(ROOT))

PG = os.environ.get("INLET_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET_KEY = "bench-secret-key-0123456789"


# ---- isolation: a schema of its own, a Redis database of its own ----------------------------

def pg_admin(base: str = PG):
    """A connection to ``base``'s database outside any benchmark schema."""
    import peewee
    u = urlparse(base)
    return peewee.PostgresqlDatabase(u.path.lstrip("/"), user=u.username, host=u.hostname,
                                     port=u.port or 5432, password=u.password)


def schema_url(schema: str, base: str = PG) -> str:
    """The database URL whose tables live in ``schema``."""
    return f"{base}?options=-csearch_path%3D{schema}"


def create_schema(schema: str, base: str = PG) -> str:
    """A fresh, empty ``schema`` (dropped first if a run left it); returns its URL."""
    admin = pg_admin(base)
    admin.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.execute_sql(f'CREATE SCHEMA "{schema}"')
    admin.close()
    return schema_url(schema, base)


def drop_schema(schema: str, base: str = PG) -> None:
    """Remove ``schema`` and everything in it."""
    admin = pg_admin(base)
    admin.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.close()


def store_url(kind: str, tmp: str, schema: str) -> str:
    """A fresh store: ``schema`` on PostgreSQL, or an SQLite file in ``tmp``."""
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench.sqlite3"
    return create_schema(schema)


def flush_redis(url: str, refuse_foreign: bool = False) -> None:
    """Empty the benchmark's Redis database; with ``refuse_foreign``, stop instead when it holds
    keys that are not Inlet's (someone else's database)."""
    import redis
    r = redis.Redis.from_url(url)
    if refuse_foreign:
        foreign = [k for k in r.scan_iter(count=1000) if not k.startswith((b"inlet", b"rq:"))]
        if foreign:
            sys.exit(f"Refusing to run: {url} holds keys that are not Inlet's ({foreign[:3]}).")
    r.flushdb()


def inlet_env(data_dir: str | Path, database_url: str, redis_url: str | None = None,
              **settings: str) -> dict[str, str]:
    """The settings of a benchmark's Inlet (``INLET_*``; ``settings`` by lower-case name)."""
    env = {"INLET_ENV": "production", "INLET_DATA_DIR": str(data_dir),
           "INLET_DATABASE_URL": database_url, "INLET_SECRET_KEY": SECRET_KEY}
    if redis_url:
        env["INLET_REDIS_URL"] = redis_url
    return env | {f"INLET_{name.upper()}": value for name, value in settings.items()}


@contextmanager
def isolated_inlet(kind: str, redis_url: str, schema: str, **settings: str) -> Iterator[dict]:
    """The environment of an Inlet on its own Redis database and store (``kind``: postgres or
    sqlite), both emptied first; after a run that did not fail, emptied again."""
    flush_redis(redis_url)
    with tempfile.TemporaryDirectory() as tmp:
        yield os.environ | inlet_env(tmp, store_url(kind, tmp, schema), redis_url,
                                     job_retry_intervals="1,5", **settings)
    if kind == "postgres":
        drop_schema(schema)
    flush_redis(redis_url)


# ---- processes: servers, workers, readiness --------------------------------------------------

def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    """Whether something accepts connections on ``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def healthy(base_url: str) -> bool:
    """Whether ``GET /healthz`` answers 200."""
    import httpx2 as httpx
    try:
        return httpx.get(base_url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(proc: subprocess.Popen, ready: Callable[[], bool], name: str,
               timeout: float = 30) -> None:
    """Poll ``ready`` until it holds; stop the benchmark if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{name} exited during start-up")
        if ready():
            return
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"{name} did not start")


def start_server(code: str, env: dict, port: int) -> subprocess.Popen:
    """Run ``code`` (a script serving the app with uvicorn on ``sys.argv[1]``) until it
    listens on ``port``."""
    proc = subprocess.Popen([sys.executable, "-c", code, str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(proc, lambda: port_open(port), "the server")
    return proc


@contextmanager
def served(code: str, env: dict) -> Iterator[tuple[str, int]]:
    """``start_server`` on a free port: yields its base URL and process id, stops it after."""
    port = free_port()
    server = start_server(code, env, port)
    try:
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        stop([server], timeout=30)


def start_inlet(args: list[str], env: dict, log: Path | None = None,
                own_session: bool = False) -> subprocess.Popen:
    """``inlet <args>`` (``serve``, ``worker``, …) as a process, its output appended to ``log``
    (or dropped); ``own_session`` gives it a process group of its own, so ``stop`` reaches
    the processes it starts too."""
    command = [sys.executable, "-m", "gateway.cli", *args]
    if log is None:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=own_session)
    with open(log, "ab") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=own_session)


def _signal(proc: subprocess.Popen, signum: int) -> None:
    """Signal ``proc``'s whole process group if it leads one, else ``proc`` alone."""
    if os.getpgid(proc.pid) == proc.pid:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)


def stop(procs: list[subprocess.Popen], timeout: float = 15) -> None:
    """SIGTERM each process still running (a warm shutdown: a running job finishes first),
    SIGKILL what is left after ``timeout``."""
    import signal
    for proc in procs:
        if proc.poll() is None:
            _signal(proc, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal(proc, signal.SIGKILL)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- options ---------------------------------------------------------------------------------

def load_parser(doc: str, seconds: float) -> argparse.ArgumentParser:
    """The options of a benchmark under load: for how long, over how many connections, with
    how many ``inlet worker``s draining."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    return parser


def endpoint_options(doc: str) -> argparse.Namespace:
    """The options of a benchmark of one endpoint next to a trivial one in the same server."""
    parser = load_parser(doc, seconds=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--paced", type=float, default=0.3,
                        help="Then a paced run at this fraction of the trivial rate (0: none).")
    parser.add_argument("--embedded", action="store_true",
                        help="Embedded defaults: SQLite, no Redis, the server's own runner.")
    parser.add_argument("--burst", type=int, default=10000,
                        help="Submissions of the accept -> mail burst (where measured).")
    args = parser.parse_args()
    if args.embedded:
        args.db = "sqlite"
    return args


# ---- the load generator's process ------------------------------------------------------------

def entry(main: Callable[[], None], load) -> None:
    """A load benchmark's entry: the load generator's process (``load_process(load)``) when
    ``run_load`` started it, else ``main``."""
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        load_process(load)
    else:
        main()


def run_load(script: str, url: str, seconds: float, connections: int, rate: float,
             *extra: str, server_pid: int | None = None) -> tuple[dict, float]:
    """Run ``script`` as a second process generating the load (see ``load_process``); returns
    its figures and, with ``server_pid``, the server's CPU seconds meanwhile (a figure that
    does not depend on what else the machine runs)."""
    args = [sys.executable, script, "--load", url, str(seconds), str(connections), str(rate),
            *extra]
    before = cpu_seconds(server_pid) if server_pid else 0.0
    out = subprocess.run(args, capture_output=True, text=True, check=True,
                         timeout=seconds + 120)
    used = cpu_seconds(server_pid) - before if server_pid else 0.0
    return json.loads(out.stdout), used


def load_process(load) -> None:
    """Entry of the load-generator process: ``load(url, seconds, connections, rate, *extra)``
    from its arguments, its figures printed as JSON."""
    url, seconds, connections, rate, *extra = sys.argv[2:]
    figures = asyncio.run(load(url, float(seconds), int(connections), float(rate), *extra))
    print(json.dumps(figures))


def rounds(count: int, runs: dict[str, Callable[[], dict]]) -> dict[str, list[dict]]:
    """``count`` rounds, each making every one of ``runs`` in turn (the trivial endpoint
    first, so each round's endpoints meet the same phase of a drifting host): the figures of
    each run by its name, round by round."""
    results: dict[str, list[dict]] = {name: [] for name in runs}
    for _ in range(count):
        for name, run in runs.items():
            results[name].append(run())
    return results


# ---- figures ---------------------------------------------------------------------------------

def print_rounds(name: str, args, results: dict[str, list[dict]],
                 endpoints: dict[str, str],
                 report: Callable[[str, dict, dict, float], None]) -> None:
    """Each round's figures: the trivial endpoint (the baseline), then each of ``endpoints``
    (label: key in ``results``) next to it, by the benchmark's ``report`` (which gets the
    figures, the baseline's and the ratio of their rates)."""
    print(f"{name} benchmark: {args.connections} connections, {args.rounds} x "
          f"{args.seconds:g} s per endpoint, {args.db}, one uvicorn worker")
    for i in range(args.rounds):
        baseline = results["trivial"][i]
        print(f" round {i + 1}")
        for label, figures in [("trivial endpoint", baseline),
                               *((label, results[key][i]) for label, key in endpoints.items())]:
            report(label, figures, baseline, figures["rps"] / baseline["rps"])


def print_reconciliation(workers: int, seconds: float, check: dict, ok: bool) -> None:
    """How the workers drained the accepted work and whether the store matches it."""
    print(f" drained by {workers} x `inlet worker` in {seconds:.1f} s: {check}")
    print(" reconciliation:", "OK (0 lost, 0 doubled)" if ok else "MISMATCH")


def print_ratio(first: float, deep: float, depth: int, note: str = "") -> None:
    """A deep page's time next to the first page's (the baseline), and their ratio."""
    print(f"first page          : {first:8.2f} ms (baseline)")
    print(f"page {depth:,} deep : {deep:8.2f} ms{note}")
    ratio = deep / first
    print(f"ratio deep/first    : {ratio:8.2f}x  (target <= 2.00x) "
          f"{'OK' if ratio <= 2 else 'OVER TARGET'}")
