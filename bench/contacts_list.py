"""Benchmark: the contact list at a million contacts on PostgreSQL (keyset pagination).

Fills 1,000,000 contacts, then times ``GET /api/contacts?sort=-created_at`` for the first
page and for a page 900,000 rows deep, through the real app. Prints both and their ratio
(target: the deep page costs no more than 2x the first).

    python bench/contacts_list.py [--rows 1000000] [--repeat 15]

Uses the schema ``inlet_bench_list`` of INLET_BENCH_POSTGRES_URL (default: the local ``test``
database) and drops it afterwards.
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
from gateway.db import db
from gateway.models import Contact
from gateway.settings import Settings

SCHEMA = "inlet_bench_list"


def fill(account_id: int, rows: int) -> None:
    """Insert ``rows`` contacts in one statement (setup, not measured)."""
    db.execute_sql(f"""
        INSERT INTO contact (account_id, email, language, source, status, preferences,
                             interests, custom_fields, created_at, updated_at)
        SELECT {account_id}, 'c' || g || '@example.com', 'nl', 'Website',
               CASE WHEN mod(g, 10) = 0 THEN 'unconfirmed' ELSE 'confirmed' END,
               '[]', '[]', '{{}}',
               timestamp '2024-01-01' + g * interval '1 second',
               timestamp '2024-01-01' + g * interval '1 second'
        FROM generate_series(1, {rows}) AS g""")
    db.execute_sql("ANALYZE contact")


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
    return parser.parse_args()


@contextmanager
def filled_app(schema: str, rows: int) -> Iterator[tuple[Starlette, int]]:
    """The app on a fresh ``schema`` whose account holds ``rows`` contacts: yields the app and
    the account id, then drops the schema."""
    url = common.create_schema(schema)
    try:
        with tempfile.TemporaryDirectory() as tmp:
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
    with filled_app(SCHEMA, args.rows) as (app, account_id):
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
