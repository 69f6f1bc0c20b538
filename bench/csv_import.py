"""Import benchmark: validation + finalise through the real job code, next to a baseline.

Baseline (measured in the same run, same rows): ``csv`` parsing plus the fastest honest upsert
the store offers: on PostgreSQL ``COPY`` into a temporary table and one ``INSERT … SELECT … ON
CONFLICT DO UPDATE``, on SQLite one ``executemany`` of ``INSERT … ON CONFLICT DO UPDATE`` in one
transaction. Prints each ratio for a first import (all new) and a re-import of the same file
(all existing), on SQLite and on PostgreSQL, and the worker's peak memory for a 25 MB file.
Then the cost of outbound events: a first import into an account with one event endpoint
subscribed to ``contact.created`` (one event per new contact, written set-based in the
import's transactions), next to the same import without (target: at most 25% more time),
and how long after it the workers took to write the events' deliveries (the fan-out).

The jobs run as in production: two ``inlet worker`` processes on Redis share the validation
(one part each) and one of them finalises; ``--workers 1`` runs both steps in this process
instead, all parts in turn.

    python bench/csv_import.py [--rows 99999] [--backends sqlite,postgres] [--workers 2]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--no-memory]
        [--redis redis://127.0.0.1:6379/6] [--schema inlet_bench_import]

``--redis`` names a Redis database and ``--schema`` a PostgreSQL schema of the benchmark's own:
both are emptied (the schema dropped) by the run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import common

HEADER = ["email", "first_name", "name", "language", "source", "interests", "birthday", "note"]
FIRST = ["Ann", "Bob", "Chloé", "Dirk", "Els", "Frank", "Greet", "Hugo", "Inge", "Jan"]
EVENT_SINK = "http://127.0.0.1:9/inlet-events"
LAST = ["Peeters", "Janssens", "Maes", "Dubois", "Lambert", "De Smet", "Claes", "Goossens"]


def ascii_name(name: str) -> str:
    """Addresses are ASCII in practice even when names are not (Chloé → chloe)."""
    import unicodedata
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def generate(path: Path, rows: int, note_size: int = 30) -> None:
    """A CSV of ``rows`` contacts, 8 columns, quoted multi-value and comma-holding cells."""
    rnd = random.Random(42)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow([
                f"{ascii_name(rnd.choice(FIRST))}.{i}@example{i % 97}.com", rnd.choice(FIRST),
                rnd.choice(LAST), rnd.choice(("nl", "fr", "en")),
                rnd.choice(("Website", "Fair")),
                rnd.choice(("Sports,Music", "Music", "Sports", "")),
                f"{rnd.randint(1950, 2005)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
                "Met at the fair, table 4, " + "x" * rnd.randint(note_size // 2, note_size)])


def inlet_env(url: str) -> dict[str, str]:
    """The settings of the benchmark's Inlet (this process and its worker)."""
    return common.inlet_env(os.environ["BENCH_DATA_DIR"], url,
                            os.environ.get("BENCH_REDIS_URL"), env="test",
                            queue="inlet-bench-import",
                            import_parts=os.environ.get("BENCH_WORKERS", "2"),
                            allow_private_targets="127.0.0.1/32")


def setup(url: str) -> None:
    """Point Inlet at ``url`` (a fresh database or schema)."""
    from gateway import runtime
    from gateway.db import db
    from gateway.settings import Settings
    runtime.reset()
    runtime.configure(Settings.from_env(inlet_env(url)))
    db.connect(reuse_if_open=True)


def start_workers(url: str) -> list[subprocess.Popen]:
    """Two ``inlet worker`` processes sharing the validation (none with ``--workers 1``)."""
    if not os.environ.get("BENCH_REDIS_URL"):
        return []
    from gateway import runtime
    runtime.queue().redis.flushdb()
    workers = [common.start_inlet(["worker"], os.environ | inlet_env(url)) for _ in range(2)]
    time.sleep(3)  # started and listening: their start-up is not the import's cost
    return workers


def run_step(import_id: int, step: str) -> None:
    """Wait for the workers to run the queued ``step`` job, or run it here."""
    from gateway.imports import jobs
    from gateway.imports.models import Import
    if not os.environ.get("BENCH_REDIS_URL"):
        if step == "validating":
            jobs.run_validation(import_id, inline=True)
        else:
            jobs.run_finalise(import_id)
        return
    deadline = time.perf_counter() + 600
    while Import.get_by_id(import_id).step == step:
        if time.perf_counter() > deadline:
            raise SystemExit(f"the workers never finished {step}: is Redis up?")
        time.sleep(0.02)


def accounts() -> tuple[int, int, int]:
    """Three fresh accounts with the vocabularies of the file: (Inlet's, the baseline's, and
    one with an event endpoint subscribed to ``contact.created``)."""
    from events.endpoints import create_endpoint
    from gateway.accounts import add_custom_field, add_vocabulary, create_account
    ids = []
    for name in ("Bench", "Baseline", "Bench with events"):
        account = create_account(name)
        for kind, labels in (("source", ("Website", "Fair")), ("interest", ("Sports", "Music"))):
            for label in labels:
                add_vocabulary(account.id, kind, label)
        add_custom_field(account.id, {"name": "birthday", "type": "date"})
        add_custom_field(account.id, {"name": "note", "type": "text"})
        ids.append(account.id)
    # Nothing listens there (connection refused at once, allowed by INLET_ALLOW_PRIVATE_TARGETS):
    # what is measured is the import writing its events, not their delivery
    # (bench/event_deliveries.py measures that).
    create_endpoint(ids[2], {"url": EVENT_SINK, "events": ["contact.created"]})
    return ids[0], ids[1], ids[2]


def baseline(path: Path, account_id: int) -> float:
    """The fastest honest write of the same rows: ``csv`` parsing, then on PostgreSQL ``COPY``
    into a temporary table and one ``INSERT … SELECT … ON CONFLICT DO UPDATE``; on SQLite one
    ``executemany`` of ``INSERT … ON CONFLICT DO UPDATE`` in one transaction."""
    from gateway.db import db, is_postgres, utcnow
    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        now = utcnow()
        rows = [(account_id, r[0].lower(), r[1], r[2], r[3], r[4], "confirmed", "[]",
                 json.dumps(r[5].split(",") if r[5] else []),
                 json.dumps({"birthday": r[6], "note": r[7]}), now, now) for r in reader]
    with db.atomic():
        if is_postgres():
            _copy_upsert(db.cursor(), rows)
        else:
            db.cursor().executemany(_UPSERT.format(source="VALUES ({})".format(
                ", ".join([db.param] * 12))), rows)
    return time.perf_counter() - started


_COLUMNS = ("account_id, email, first_name, name, language, source, status, preferences, "
            "interests, custom_fields, created_at, updated_at")
_UPSERT = (f"INSERT INTO contact ({_COLUMNS}) {{source}} ON CONFLICT (account_id, email) "
           "DO UPDATE SET first_name = excluded.first_name, name = excluded.name, "
           "language = excluded.language, source = excluded.source, "
           "interests = excluded.interests, custom_fields = excluded.custom_fields, "
           "updated_at = excluded.updated_at")


def _copy_upsert(cursor, rows: list[tuple]) -> None:
    """``COPY`` the rows (CSV) into a temporary table, then one set-based upsert from it."""
    import io
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    buffer.seek(0)
    cursor.execute(f"CREATE TEMPORARY TABLE bench_rows ON COMMIT DROP AS SELECT {_COLUMNS} "
                   "FROM contact WITH NO DATA")  # the columns alone: no id drawn, no checks
    cursor.copy_expert(f"COPY bench_rows ({_COLUMNS}) FROM STDIN WITH (FORMAT csv)", buffer)
    cursor.execute(_UPSERT.format(source=f"SELECT {_COLUMNS} FROM bench_rows"))


def inlet_import(path: Path, account_id: int) -> tuple[float, dict]:
    """Upload (untimed), then validation + finalise through the job functions."""
    from gateway.imports import service
    with open(path, "rb") as fh:
        imp = service.create_from_upload(account_id, path.name, fh)
    started = time.perf_counter()
    service.set_consent(account_id, imp.id, True)  # queues the validation
    run_step(imp.id, "validating")
    validated = time.perf_counter()
    service.finalise(account_id, imp.id)  # queues the finalise
    run_step(imp.id, "finalising")
    elapsed = time.perf_counter() - started
    return elapsed, service.state(account_id, imp.id)["counts"], validated - started


def run_backend(name: str, url: str, path: Path, rows: int, repeats: int) -> None:
    """Interleave Inlet and baseline runs (fresh accounts each time); report the best of each."""
    setup(url)
    workers = start_workers(url)
    try:
        best = measure(name, path, repeats)
    finally:
        common.stop(workers, timeout=None)
        if workers:  # leave the benchmark's Redis database as it was found: empty
            from gateway import runtime
            runtime.queue().redis.flushdb()
    print(f"\n== {name} ({rows:,} rows, {path.stat().st_size / 1e6:.1f} MB, best of {repeats}, "
          f"{os.environ['BENCH_WORKERS']} worker(s) validating)")
    report(name, rows, best)


def measure(name: str, path: Path, repeats: int) -> dict:
    """Best time of each kind of run, and the counts of Inlet's runs."""
    best: dict = {}
    for _ in range(repeats):
        bench_id, base_id, events_id = accounts()
        for label in ("first import", "re-import", "with events"):
            if label == "with events":  # a first import where every new contact is an event
                runs = {"inlet": partial(inlet_import, path, events_id)}
            else:
                runs = {"base": partial(baseline, path, base_id),
                        "inlet": partial(inlet_import, path, bench_id)}
            for kind, run in runs.items():
                result = run()
                took = result[0] if isinstance(result, tuple) else result
                if kind == "inlet":
                    counts = result[1]
                    if label == "with events":  # what was written, not what was meant
                        best["with events:fan-out"] = max(  # the slowest, not the best
                            best.get("with events:fan-out", 0.0), fanned_out(events_id))
                        best["with events:written"] = written_events(events_id)
                    assert counts["failed"] == 0, counts
                    best[f"{label}:counts"] = counts
                    best[f"{label}:validation"] = min(best.get(f"{label}:validation", 1e9),
                                                      result[2])
                best[f"{label}:{kind}"] = min(best.get(f"{label}:{kind}", took), took)
    return best


def fanned_out(account_id: int, limit: float = 300.0) -> float:
    """Seconds, after the import, until the workers have written every delivery of its
    events (the import itself writes one fan-out row per statement)."""
    from events import jobs
    from events.models import EventFanout
    started = time.perf_counter()
    while EventFanout.select().where(EventFanout.account == account_id).exists():
        if not os.environ.get("BENCH_REDIS_URL"):  # no workers: fan out here
            jobs.fan_out()
            continue
        if time.perf_counter() - started > limit:
            raise SystemExit(f"the workers did not fan the events out within {limit:.0f}s")
        time.sleep(0.02)
    return time.perf_counter() - started


def written_events(account_id: int) -> tuple[int, int]:
    """(events, deliveries) the account's imports wrote."""
    from events.models import Event, EventDelivery
    events = Event.select(Event.id).where(Event.account == account_id)
    return events.count(), EventDelivery.select().where(EventDelivery.event.in_(events)).count()


def report(name: str, rows: int, best: dict) -> None:
    """Print each ratio."""
    primitive = ("COPY + INSERT … ON CONFLICT" if name == "postgres"
                 else "executemany INSERT … ON CONFLICT")
    print(f"{'':>13}  baseline: {primitive}, same rows, same run")
    for label in ("first import", "re-import"):
        took, base = best[f"{label}:inlet"], best[f"{label}:base"]
        counts = best[f"{label}:counts"]
        print(f"{label:>13}: inlet {took:6.2f}s  baseline {base:6.2f}s  ratio {took / base:4.2f}"
              f"   ({rows / took:,.0f} rows/s; created {counts['created']}, updated "
              f"{counts['updated']}, unchanged {counts['unchanged']}; validation "
              f"{best[f'{label}:validation']:.2f}s)")
    took, without = best["with events:inlet"], best["first import:inlet"]
    events, deliveries = best["with events:written"]
    print(f"{'with events':>13}: inlet {took:6.2f}s  first import without an endpoint "
          f"{without:6.2f}s  overhead {took / without - 1:+.0%} (target <= +25%; one endpoint "
          f"subscribed to contact.created: {events:,} events, {deliveries:,} deliveries, "
          f"all written by the workers within {best['with events:fan-out']:.2f}s after the "
          f"import)")


def drop_pg(schema: str, base: str) -> None:
    """Close the store, then drop the benchmark's schema."""
    from gateway.db import db
    if not db.is_closed():
        db.close()
    common.drop_schema(schema, base)


def memory(tmp: Path) -> None:
    """Peak RSS of a worker process importing a ~25 MB file (SQLite)."""
    path = tmp / "big.csv"
    generate(path, 99_999, note_size=190)
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(path),
                          f"sqlite:///{tmp / 'mem.sqlite3'}"], capture_output=True, text=True,
                         env={**os.environ, "BENCH_REDIS_URL": "", "BENCH_WORKERS": "1"},
                         check=True).stdout.split()
    print(f"\n== memory: {path.stat().st_size / 1e6:.1f} MB file, worker peak RSS {out[0]} MB "
          f"(target < 250 MB), {float(out[1]):.1f}s, created {out[2]}")


def memory_child(path: str, url: str) -> None:
    """The measured worker: one import, then its peak resident memory."""
    setup(url)
    took, counts, _ = inlet_import(Path(path), accounts()[0])
    print(peak_rss_mb(), took, counts["created"])


def peak_rss_mb() -> int:
    """This process's peak resident memory. Linux's ``VmHWM`` starts afresh at ``exec``;
    ``ru_maxrss`` would carry the parent's peak over from before it (its forked copy)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines()
                        if line.startswith("VmHWM:"))) // 1024
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=99_999)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg", default=os.environ.get(
        "INLET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, choices=(1, 2), default=2)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--schema", default="inlet_bench_import")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:  # one process does it all: the worst case for memory
        return memory_child(*args.memory_child)
    os.environ["BENCH_WORKERS"] = str(args.workers)
    if args.workers > 1:
        os.environ["BENCH_REDIS_URL"] = args.redis
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["BENCH_DATA_DIR"] = str(tmp / "var")
        path = tmp / "contacts.csv"
        generate(path, args.rows)
        for backend in args.backends.split(","):
            if backend == "sqlite":
                run_backend("sqlite", f"sqlite:///{tmp / 'bench.sqlite3'}", path, args.rows,
                            args.repeats)
            elif backend == "postgres":
                try:
                    run_backend("postgres", common.create_schema(args.schema, args.pg), path,
                                args.rows, args.repeats)
                finally:
                    drop_pg(args.schema, args.pg)
        if not args.no_memory:
            memory(tmp)


if __name__ == "__main__":
    main()
