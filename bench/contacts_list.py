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
import os
import statistics
import tempfile
import time

import peewee
from starlette.testclient import TestClient

from gateway.accounts import add_vocabulary, create_account
from gateway.app import create_app
from gateway.auth import create_token
from gateway.contacts import encode_cursor
from gateway.db import db
from gateway.models import Contact
from gateway.settings import Settings

PG = os.environ.get("INLET_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "inlet_bench_list"


def admin_db() -> peewee.PostgresqlDatabase:
    from urllib.parse import urlparse
    u = urlparse(PG)
    return peewee.PostgresqlDatabase(u.path.lstrip("/"), user=u.username, host=u.hostname,
                                     port=u.port or 5432, password=u.password)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    admin = admin_db()
    admin.execute_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    admin.execute_sql(f'CREATE SCHEMA "{SCHEMA}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings.from_env({
                "INLET_DATA_DIR": tmp, "INLET_SECRET_KEY": "bench-secret-key-0123456789",
                "INLET_DATABASE_URL": f"{PG}?options=-csearch_path%3D{SCHEMA}"})
            app = create_app(settings, run_jobs=False)
            account = create_account("Bench")
            add_vocabulary(account.id, "source", "Website")
            _, token = create_token(account.id)
            print(f"filling {args.rows:,} contacts…", flush=True)
            start = time.perf_counter()
            fill(account.id, args.rows)
            print(f"  filled in {time.perf_counter() - start:.1f} s")
            depth = min(900_000, args.rows - 100)
            [row] = list(Contact.select(Contact.created_at, Contact.id)
                         .order_by(Contact.created_at.desc(), Contact.id.desc())
                         .offset(depth - 1).limit(1))
            deep_cursor = encode_cursor(row.created_at, row.id)
            db.close()
            headers = {"Authorization": f"Bearer {token}"}
            with TestClient(app) as client:
                timed(client, headers, {"sort": "-created_at"}, 3)  # warm up
                first = timed(client, headers, {"sort": "-created_at"}, args.repeat)
                deep = timed(client, headers, {"sort": "-created_at", "cursor": deep_cursor},
                             args.repeat)
                page_ids = client.get("/api/contacts", params={"cursor": deep_cursor},
                                      headers=headers).json()["items"][0]["email"]
            print(f"first page          : {first:8.2f} ms (baseline)")
            print(f"page {depth:,} deep : {deep:8.2f} ms  (first row {page_ids})")
            ratio = deep / first
            print(f"ratio deep/first    : {ratio:8.2f}x  (target <= 2.00x) "
                  f"{'OK' if ratio <= 2 else 'OVER TARGET'}")
    finally:
        db.close()
        admin.execute_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        admin.close()


if __name__ == "__main__":
    main()
