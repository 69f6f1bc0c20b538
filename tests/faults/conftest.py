"""Fault-test fixtures: a private PostgreSQL and Redis, and Inlet as real processes on them.

Nothing here touches the machine's shared Redis (6379) or PostgreSQL (5432): every service a
test may kill is its own. The in-process side (``stack.db()``) only sets things up and reads
the final store; all traffic goes through ``inlet serve`` and ``inlet worker`` processes.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.faults.services import PrivatePostgres, PrivateRedis, Process, free_port, wait_until

SECRET = "fault-test-secret-0123456789"


def double_opt_in_form(account_name: str):
    """A new account's double opt-in form (Dutch, no minimum fill time) and a render stamp a
    visitor's post may carry: (form, stamp). Call after ``stack.configure()``."""
    from forms import tokens
    from forms.definitions import create_form
    from tests.conftest import make_tenant
    tenant = make_tenant(account_name)
    form = create_form(tenant.id, {"name": "Letters", "source": "Website",
                                   "double_opt_in": True, "min_fill_seconds": 0,
                                   "languages": ["nl"]})
    return form, tokens.render_token(SECRET, form.id, now=time.time() - 5)
_databases = itertools.count(1)


@pytest.fixture(scope="session")
def private_pg():
    """One private PostgreSQL cluster for the session (a fresh database per test)."""
    pg = PrivatePostgres()
    pg.init()
    yield pg
    pg.destroy()


@pytest.fixture
def private_redis():
    """A private Redis (AOF on, as in production) that the test may kill and restart."""
    r = PrivateRedis()
    r.start()
    yield r
    r.destroy()


class Stack:
    """Inlet on the private services: ``serve()``, ``worker()``, and store access."""

    def __init__(self, pg: PrivatePostgres, redis: PrivateRedis, tmp: Path, database: str):
        self.pg, self.redis, self.tmp = pg, redis, tmp
        self.env = {"INLET_ENV": "test", "INLET_DATA_DIR": str(tmp / "var"),
                    "INLET_DATABASE_URL": pg.url(database), "INLET_REDIS_URL": redis.url,
                    "INLET_SECRET_KEY": SECRET, "INLET_QUEUE": "inlet",
                    "INLET_JOB_RETRY_INTERVALS": "1,1,2,2,3,5,5,5",
                    "INLET_SWEEP_SECONDS": "2",
                    # the load generators name their visitors in X-Forwarded-For
                    "INLET_TRUSTED_PROXIES": "127.0.0.1"}
        self.processes: list[Process] = []
        self.base_url = ""

    def settings(self):
        """The settings the processes run with."""
        from gateway.settings import Settings
        return Settings.from_env(self.env)

    def configure(self):
        """Wire this process (tables created) to the private store, for setup and checks."""
        from gateway import runtime
        runtime.reset()
        return runtime.configure(self.settings())

    def _process(self, *args: str) -> Process:
        log = self.tmp / f"{args[0]}-{len(self.processes)}.log"
        proc = Process(list(args), dict(self.env), log).start()
        self.processes.append(proc)
        return proc

    def serve(self) -> Process:
        """``inlet serve`` on a free port; returns once /healthz answers."""
        port = free_port()
        self.env["INLET_BASE_URL"] = self.base_url = f"http://127.0.0.1:{port}"
        proc = self._process("serve", "--port", str(port))
        wait_until(lambda: self._healthy(proc), 30, f"inlet serve\n{proc.output()}", 0.1)
        return proc

    def _healthy(self, proc: Process) -> bool:
        if not proc.alive():
            raise RuntimeError(f"inlet serve exited:\n{proc.output()}")
        try:
            return httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def worker(self) -> Process:
        """An ``inlet worker`` (RQ, with the scheduler for retries, and the sweeper)."""
        return self._process("worker")

    def stop_all(self) -> None:
        """SIGKILL every process this stack started."""
        for proc in self.processes:
            proc.kill()


@pytest.fixture
def stack(private_pg, private_redis, tmp_path):
    """Inlet wired to the private services; every process it started is killed after."""
    from gateway import runtime
    from gateway.db import db
    database = f"faults_{next(_databases)}_{int(time.time())}"
    conn = private_pg.connect()
    conn.cursor().execute(f'CREATE DATABASE "{database}"')
    conn.close()
    s = Stack(private_pg, private_redis, tmp_path, database)
    s.configure()
    yield s
    s.stop_all()
    db.close()
    runtime.reset()
