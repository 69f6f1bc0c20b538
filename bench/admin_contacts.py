"""Benchmark: the admin contacts overview (tabs with counts + keyset page) at a million contacts.

Fills the contacts like ``bench/contacts_list.py`` (PostgreSQL), logs in through the admin
login form, then times ``GET /admin/contacts`` for the first page and for a page 900,000 rows
deep, through the real app. Prints both and their ratio (target: deep <= 2x first).

    python bench/admin_contacts.py [--rows 1000000] [--repeat 15]
"""

from __future__ import annotations

import re
import statistics
import time

import common
from contacts_list import deep_cursor, filled_app, options  # the sibling benchmark's set-up
from starlette.testclient import TestClient

from gateway.auth import create_user
from gateway.models import Contact

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
    args = options(__doc__)
    with filled_app(SCHEMA, args.rows) as (app, account_id):
        create_user(account_id, "bench@example.com", "bench-password")
        depth = min(900_000, int(args.rows * 0.9) - 100)
        cursor = deep_cursor(depth, Contact.status == "confirmed")
        with TestClient(app) as client:
            log_in(client)
            timed(client, {}, 3)  # warm up
            first = timed(client, {}, args.repeat)
            deep = timed(client, {"cursor": cursor}, args.repeat)
        common.print_ratio(first, deep, depth)


if __name__ == "__main__":
    main()
