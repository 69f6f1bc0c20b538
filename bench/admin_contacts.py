"""Benchmark: the admin contacts overview (tabs with counts + keyset page) at a million contacts.

Fills the contacts like ``bench/contacts_list.py`` (PostgreSQL), logs in through the admin
login form, then times ``GET /admin/contacts`` for the first page and for a page 900,000 rows
deep, through the real app. Prints both and their ratio (target: deep <= 2x first).

    python bench/admin_contacts.py [--rows 1000000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path

# Running ``python bench/x.py`` puts bench/ first on sys.path, where bench/forms.py would
# shadow the ``forms`` package: drop it before importing the app.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from starlette.testclient import TestClient  # noqa: E402

from gateway.accounts import add_vocabulary, create_account  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.auth import create_user  # noqa: E402
from gateway.contacts import encode_cursor  # noqa: E402
from gateway.db import db  # noqa: E402
from gateway.models import Contact  # noqa: E402
from gateway.settings import Settings  # noqa: E402

# The sibling benchmark's database and fill, loaded by path (bench/ is not a package, and
# putting it on sys.path would shadow the ``forms`` package with bench/forms.py).
_spec = spec_from_file_location("bench_contacts_list",
                                Path(__file__).resolve().parent / "contacts_list.py")
base = module_from_spec(_spec)
_spec.loader.exec_module(base)

SCHEMA = "inlet_bench_admin"


def timed(client: TestClient, params: dict, repeat: int) -> float:
    """Median wall time of one overview page, in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        r = client.get("/admin/contacts", params=params)
        samples.append((time.perf_counter() - start) * 1000)
        rows = re.findall(r'href="/admin/contacts/\d+"', r.text)
        assert r.status_code == 200 and len(rows) == 50, r.text
    return statistics.median(samples)


def log_in(client: TestClient) -> None:
    page = client.get("/admin/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/admin/login", data={"email": "bench@example.com",
                                          "password": "bench-password", "csrf_token": token},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    admin = base.admin_db()
    admin.execute_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    admin.execute_sql(f'CREATE SCHEMA "{SCHEMA}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings.from_env({
                "INLET_DATA_DIR": tmp, "INLET_SECRET_KEY": "bench-secret-key-0123456789",
                "INLET_DATABASE_URL": f"{base.PG}?options=-csearch_path%3D{SCHEMA}"})
            app = create_app(settings, run_jobs=False)
            account = create_account("Bench")
            add_vocabulary(account.id, "source", "Website")
            create_user(account.id, "bench@example.com", "bench-password")
            print(f"filling {args.rows:,} contacts…", flush=True)
            start = time.perf_counter()
            base.fill(account.id, args.rows)
            print(f"  filled in {time.perf_counter() - start:.1f} s")
            confirmed = Contact.status == "confirmed"
            depth = min(900_000, int(args.rows * 0.9) - 100)
            [row] = list(Contact.select(Contact.created_at, Contact.id).where(confirmed)
                         .order_by(Contact.created_at.desc(), Contact.id.desc())
                         .offset(depth - 1).limit(1))
            deep_cursor = encode_cursor(row.created_at, row.id)
            db.close()
            with TestClient(app) as client:
                log_in(client)
                timed(client, {}, 3)  # warm up
                first = timed(client, {}, args.repeat)
                deep = timed(client, {"cursor": deep_cursor}, args.repeat)
            print(f"first page          : {first:8.2f} ms (baseline)")
            print(f"page {depth:,} deep : {deep:8.2f} ms")
            ratio = deep / first
            print(f"ratio deep/first    : {ratio:8.2f}x  (target <= 2.00x) "
                  f"{'OK' if ratio <= 2 else 'OVER TARGET'}")
    finally:
        db.close()
        admin.execute_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        admin.close()


if __name__ == "__main__":
    main()
