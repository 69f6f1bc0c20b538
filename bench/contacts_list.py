"""Benchmark: the contact list at a million contacts (keyset pagination).

Fills 1,000,000 contacts, then times ``GET /api/contacts?sort=-created_at`` for the first
page and for a page 900,000 rows deep, through the real app. Prints both and their ratio
(target: the deep page costs no more than 2x the first).

    python bench/contacts_list.py [--rows 1000000] [--repeat 15] [--db postgres|sqlite]

Uses the schema ``inlet_bench_list`` of INLET_BENCH_POSTGRES_URL (default: the local ``test``
database) and drops it afterwards; ``--db sqlite``: a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import common
from starlette.applications import Starlette
from starlette.testclient import TestClient

from gateway.accounts import add_vocabulary, create_account
from gateway.app import create_app
from gateway.auth import create_token
from gateway.contacts import encode_cursor
from gateway.db import db, is_postgres
from gateway.models import Contact
from gateway.settings import Settings

SCHEMA = "inlet_bench_list"


# Every 100th contact is a "Nele", the rest "Jan"; family names cycle over 1,000; languages
# over nl/fr/en; every 10th is unconfirmed: a search or a filter then matches what it would
# in a real list, not nothing and not everything.
_COLUMNS = """(account_id, email, first_name, name, language, source, status, preferences,
               interests, custom_fields, created_at, updated_at)"""
_VALUES = """{account}, 'c' || g || '@example.com',
             CASE WHEN {mod}(g, 100) = 1 THEN 'Nele' ELSE 'Jan' END,
             'Peeters' || {mod}(g, 1000),
             CASE {mod}(g, 3) WHEN 0 THEN 'nl' WHEN 1 THEN 'fr' ELSE 'en' END, 'Website',
             CASE WHEN {mod}(g, 10) = 0 THEN 'unconfirmed' ELSE 'confirmed' END,
             '[]', '[]', '{{}}', {stamp}, {stamp}"""


def fill(account_id: int, rows: int) -> None:
    """Insert ``rows`` contacts in one statement (setup, not measured)."""
    if is_postgres():
        stamp = "timestamp '2024-01-01' + g * interval '1 second'"
        values = _VALUES.format(account=account_id, mod="mod", stamp=stamp)
        db.execute_sql(f"INSERT INTO contact {_COLUMNS} SELECT {values} "
                       f"FROM generate_series(1, {rows}) AS g")
    else:
        stamp = "datetime('2024-01-01', '+' || g || ' seconds')"
        values = _VALUES.format(account=account_id, mod="mod", stamp=stamp).replace(
            "mod(g, ", "(g % ")
        with db.atomic():
            db.execute_sql(f"INSERT INTO contact {_COLUMNS} WITH RECURSIVE s(g) AS "
                           f"(SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {rows}) "
                           f"SELECT {values} FROM s")
    db.execute_sql("ANALYZE contact" if is_postgres() else "ANALYZE")


def timed(client: TestClient, headers: dict, params: dict, repeat: int) -> float:
    """Median wall time of one list request, in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        r = client.get("/api/contacts", params=params, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200 and len(r.json()["items"]) == params.get("limit", 50)
    return statistics.median(samples)


def options(doc: str) -> argparse.Namespace:
    """The options of a million-contacts benchmark: how many rows, how many timed requests."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    return parser.parse_args()


@contextmanager
def filled_app(schema: str, rows: int, kind: str = "postgres"
               ) -> Iterator[tuple[Starlette, int]]:
    """The app on a fresh store (``schema`` on PostgreSQL, or an SQLite file) whose account
    holds ``rows`` contacts: yields the app and the account id, then drops the store."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = common.store_url(kind, tmp, schema)
            settings = Settings.from_env({
                "INLET_DATA_DIR": tmp, "INLET_SECRET_KEY": common.SECRET_KEY,
                "INLET_DATABASE_URL": url})
            app = create_app(settings, run_jobs=False)
            account = create_account("Bench")
            add_vocabulary(account.id, "source", "Website")
            print(f"filling {rows:,} contacts…", flush=True)
            start = time.perf_counter()
            fill(account.id, rows)
            print(f"  filled in {time.perf_counter() - start:.1f} s")
            yield app, account.id
    finally:
        db.close()
        if kind == "postgres":
            common.drop_schema(schema)


def deep_cursor(depth: int, where=None) -> str:
    """The cursor of the page ``depth`` rows deep, newest first (of the contacts ``where``
    holds for); closes this process's connection, as the app opens its own."""
    query = Contact.select(Contact.created_at, Contact.id)
    if where is not None:
        query = query.where(where)
    [row] = list(query.order_by(Contact.created_at.desc(), Contact.id.desc())
                 .offset(depth - 1).limit(1))
    db.close()
    return encode_cursor(row.created_at, row.id)


def main() -> None:
    args = options(__doc__)
    with filled_app(SCHEMA, args.rows, args.db) as (app, account_id):
        _, token = create_token(account_id)
        depth = min(900_000, args.rows - 100)
        cursor = deep_cursor(depth)
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(app) as client:
            timed(client, headers, {"sort": "-created_at"}, 3)  # warm up
            first = timed(client, headers, {"sort": "-created_at"}, args.repeat)
            deep = timed(client, headers, {"sort": "-created_at", "cursor": cursor},
                         args.repeat)
            page_ids = client.get("/api/contacts", params={"cursor": cursor},
                                  headers=headers).json()["items"][0]["email"]
        common.print_ratio(first, deep, depth, f"  (first row {page_ids})")


if __name__ == "__main__":
    main()
