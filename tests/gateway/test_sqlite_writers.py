"""Embedded defaults (SQLite, no Redis): concurrent writers — web requests and the in-process
runner — queue on one writer lock and never surface "database is locked"."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from urllib.parse import urlencode

import pytest

from tests.conftest import serving
from tests.forms.conftest import aged_ts


@pytest.fixture
def database_url(tmp_path):
    """SQLite only: the writer lock is SQLite's."""
    return f"sqlite:///{tmp_path / 'inlet.sqlite3'}"


@pytest.fixture
def env(env):
    env.pop("INLET_REDIS_URL")
    return env


@pytest.fixture
def served(settings, store):
    """The app with its embedded runner (started by its lifespan), served by uvicorn in a
    thread."""
    from gateway.app import create_app
    with serving(create_app(settings, run_jobs=True), lifespan="auto", stop_seconds=30) as url:
        yield url


def _post(url: str, data: bytes, headers: dict) -> int:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (our server)
        return response.status


def test_concurrent_writers_never_see_database_is_locked(served, settings, tenant, caplog):
    from forms import definitions
    from gateway.db import db
    from gateway.models import Contact, EmbeddedJob
    caplog.set_level(logging.INFO)
    form = definitions.create_form(tenant.id, {"name": "N", "source": "Website",
                                               "double_opt_in": False, "welcome": True})
    ts = aged_ts(settings, form.id)
    statuses: list[int] = []

    def visitor(n: int) -> None:  # form submissions: EmbeddedJob rows, drained by the runner
        for i in range(25):
            body = urlencode({"email": f"v{n}-{i}@example.com", "_ts": ts, "_lang": "en",
                              "_embed": "script"}).encode()
            statuses.append(_post(f"{served}/f/{form.slug}", body, {
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json", "X-Forwarded-For": f"10.0.{n}.{i}"}))

    def api_client(n: int) -> None:  # API writes in the request, beside the runner's batches
        for i in range(15):
            body = json.dumps({"email": f"api{n}-{i}@example.com", "language": "en",
                               "source": "Website"}).encode()
            statuses.append(_post(f"{served}/api/contacts", body, {
                **tenant.headers, "Content-Type": "application/json"}))

    threads = [threading.Thread(target=visitor, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=api_client, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    deadline = time.time() + 60
    with db.connection_context():
        while time.time() < deadline and EmbeddedJob.select().where(
                EmbeddedJob.status == "queued").exists():
            time.sleep(0.1)
        jobs = list(EmbeddedJob.select())
        assert Contact.select().count() == 4 * 25 + 2 * 15
    assert sorted(set(statuses)) == [200, 201] or sorted(set(statuses)) == [201, 202]
    assert len(statuses) == 4 * 25 + 2 * 15
    assert {(job.status, job.attempts) for job in jobs} == {("done", 1)}  # none retried
    assert not [r for r in caplog.records if "locked" in r.getMessage()
                or (r.exc_text and "locked" in r.exc_text)]
