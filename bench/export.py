"""Benchmark: exporting contacts through the API against the database's own CSV dump.

Fills ``--rows`` contacts (set-based, not measured), then in the same run times
``GET /api/contacts/export`` (CSV, streamed by one uvicorn process of the real app) and the
baseline: PostgreSQL's ``COPY (SELECT …) TO STDOUT WITH CSV`` of the same columns and order,
or ``sqlite3 -csv`` on SQLite. Each side runs ``--repeat`` times in turn (default 3) and
the best run of each is compared: other work on the machine only ever slows a run down, so
the best is the least disturbed (each run's own ratio is printed too). Prints both, their
ratio (target ≤ 3×) and the server's peak memory of its own (anonymous, sampled; target
< 150 MB) beside its peak RSS, which also counts any database pages SQLite maps into it.

    python bench/export.py [--rows 1000000] [--db postgres|sqlite] [--repeat 3]

Uses the schema ``inlet_bench_export`` of INLET_BENCH_POSTGRES_URL (default: the local
``test`` database), dropped afterwards; ``--db sqlite``: a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import common
import httpx2 as httpx

from gateway import runtime
from gateway.accounts import add_custom_field, add_vocabulary, create_account
from gateway.auth import create_token
from gateway.db import db, is_postgres
from gateway.settings import Settings

SCHEMA = os.environ.get("INLET_BENCH_SCHEMA", "inlet_bench_export")
SERVER = """
import sys, uvicorn
from gateway.app import create_app
uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=False,
            log_level="warning")
"""
COLUMNS = ("email, first_name, name, language, source, preferences, interests, "
           "custom_fields, status, created_at, updated_at")
_INSERT = """INSERT INTO contact (account_id, email, first_name, name, language, source, status,
    preferences, interests, custom_fields, created_at, updated_at)
    SELECT {account}, 'c' || g || '@example.com', 'Jan', 'Peeters' || {mod}, 'nl', 'Website',
    'confirmed', '["Weekly"]', '["Sports", "Music"]', '{{"size": 3}}', {stamp}, {stamp}
    FROM {rows}"""


def fill(account_id: int, rows: int) -> None:
    """``rows`` contacts with labels and a custom field, in one statement."""
    if is_postgres():
        db.execute_sql(_INSERT.format(
            account=account_id, mod="mod(g, 1000)",
            stamp="timestamp '2024-01-01' + g * interval '1 second'",
            rows=f"generate_series(1, {rows}) AS g"))
    else:
        with db.atomic():
            db.execute_sql("WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s "
                           f"WHERE g < {rows}) " + _INSERT.format(
                               account=account_id, mod="(g % 1000)",
                               stamp="datetime('2024-01-01', '+' || g || ' seconds')",
                               rows="s"))
    db.execute_sql("ANALYZE")


def baseline(url: str, account_id: int) -> tuple[float, int]:
    """Seconds and bytes of the database's own CSV of the same columns, in the same order."""
    query = (f"SELECT {COLUMNS} FROM contact WHERE account_id = {account_id} "
             "ORDER BY created_at, id")
    start = time.perf_counter()
    if is_postgres():
        sink = _Counter()
        db.cursor().copy_expert(f"COPY ({query}) TO STDOUT WITH CSV HEADER", sink)
        size = sink.size
    else:
        path = url.removeprefix("sqlite:///")
        out = subprocess.run(["sqlite3", "-csv", "-header", path, query], check=True,
                             stdout=subprocess.PIPE).stdout
        size = len(out)
    return time.perf_counter() - start, size


class _Counter:
    """A file-like sink that only counts what is written."""

    size = 0

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)


def through_api(base: str, token: str) -> tuple[float, int, int]:
    """Seconds, bytes and lines of the API's CSV export, streamed and dropped."""
    size = lines = 0
    start = time.perf_counter()
    with httpx.stream("GET", base + "/api/contacts/export", timeout=600,
                      headers={"Authorization": f"Bearer {token}"}) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    return time.perf_counter() - start, size, lines


def status_mb(pid: int, field: str) -> float:
    """One memory figure of /proc/<pid>/status (VmHWM, RssAnon, …), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class AnonPeak:
    """The highest anonymous resident memory of a process, sampled every 20 ms. The kernel
    keeps a peak of the whole RSS only (VmHWM), which counts the pages of a memory-mapped
    file read through (SQLite's ``mmap_size``): shared page cache, not the process's own."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, status_mb(self.pid, "RssAnon"))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def prepare(rows: int, kind: str) -> tuple[int, str]:
    """The account, its vocabulary and custom field, ``rows`` contacts and a read token."""
    account = create_account("Bench")
    add_vocabulary(account.id, "source", "Website")
    add_custom_field(account.id, {"name": "size", "type": "number"})  # exported too
    _, token = create_token(account.id, ["contacts:read"])
    started = time.perf_counter()
    fill(account.id, rows)
    print(f"filled {rows:,} contacts in {time.perf_counter() - started:.1f} s ({kind})")
    return account.id, token


def measure(url: str, account_id: int, base: str, token: str, rows: int) -> tuple:
    """One baseline run, then one API run: (seconds, bytes) of each."""
    with db.connection_context():
        base_s, base_bytes = baseline(url, account_id)
    api_s, api_bytes, lines = through_api(base, token)
    assert lines == rows + 1, (lines, rows)
    return base_s, base_bytes, api_s, api_bytes


def report(kind: str, rows: int, runs: list[tuple], anon: float, rss: float) -> None:
    """The best run of each side, their ratio (each run's too) and the server's memory."""
    base_s, api_s = min(r[0] for r in runs), min(r[2] for r in runs)
    every = f"best of {len(runs)}"
    name = "COPY … TO STDOUT WITH CSV" if kind == "postgres" else "sqlite3 -csv"
    print(f"baseline {name}: {base_s:.2f} s, {runs[0][1] / 1e6:.1f} MB ({every}: "
          f"{', '.join(f'{r[0]:.2f}' for r in runs)} s)")
    print(f"API export (CSV, streamed): {api_s:.2f} s, {runs[0][3] / 1e6:.1f} MB, "
          f"{rows / api_s:,.0f} contacts/s ({every}: {', '.join(f'{r[2]:.2f}' for r in runs)} s)")
    print(f"ratio {api_s / base_s:.2f}x (target <= 3x; run by run "
          f"{', '.join(f'{r[2] / r[0]:.2f}x' for r in runs)}); server peak memory {anon:.0f} MB "
          f"of its own (anonymous; target < 150 MB), peak RSS {rss:.0f} MB with the "
          "mapped database pages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each side, in turn; the best of each is compared")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = common.store_url(args.db, tmp, SCHEMA)
        env = common.inlet_env(tmp, url)
        runtime.configure(Settings.from_env(env))
        with db.connection_context():
            account_id, token = prepare(args.rows, args.db)
        with common.served(SERVER, common.os.environ | env) as (base, pid):
            sampler = AnonPeak(pid)
            runs = [measure(url, account_id, base, token, args.rows)
                    for _ in range(args.repeat)]
            anon, rss = sampler.stop(), status_mb(pid, "VmHWM")
        report(args.db, args.rows, runs, anon, rss)
    if args.db == "postgres":
        db.close()
        common.drop_schema(SCHEMA)


if __name__ == "__main__":
    main()
