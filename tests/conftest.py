"""Fixtures: every store test runs on SQLite and on PostgreSQL, with a real Redis.

Isolation knobs (so several runs can share one machine):
INLET_TEST_POSTGRES_URL, INLET_TEST_PG_SCHEMA, INLET_TEST_REDIS_URL. The suite runs on
pytest-xdist workers; each takes its own schema and Redis database from those (``per_worker``).
"""

from __future__ import annotations

import base64
import contextlib
import os
from dataclasses import dataclass

import peewee
import pytest
import redis
from starlette.testclient import TestClient

from gateway import runtime
from gateway.db import db, init_database
from gateway.schema import all_models, upgrade


def per_worker(schema: str, redis_url: str) -> tuple[str, str]:
    """The schema and Redis database of this pytest-xdist worker (gw0, gw1, …): each has its
    own, counting down from the configured database, so parallel workers never share data."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return schema, redis_url
    number = int(worker.removeprefix("gw"))
    base, _, index = redis_url.rpartition("/")
    return f"{schema}_{worker}", f"{base}/{(int(index) - number) % 16}"


PG_URL = os.environ.get("INLET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_SCHEMA, REDIS_URL = per_worker(os.environ.get("INLET_TEST_PG_SCHEMA", "inlet_test"),
                                  os.environ.get("INLET_TEST_REDIS_URL",
                                                 "redis://127.0.0.1:6379/15"))
BACKENDS = [b for b in os.environ.get("INLET_TEST_BACKENDS", "sqlite,postgres").split(",") if b]


@pytest.fixture(scope="session")
def redis_server():
    """The test Redis database; refuses to run against one holding data."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.exit(f"Redis is not reachable at {REDIS_URL}", returncode=3)
    if client.dbsize():
        pytest.exit(f"Refusing to run: Redis database {REDIS_URL} is not empty.", returncode=3)
    yield client
    client.flushdb()


@pytest.fixture(autouse=True)
def _clean_redis(request):
    """Tests leave the Redis database as they found it: empty."""
    yield
    if "redis_server" in request.fixturenames:
        request.getfixturevalue("redis_server").flushdb()


@pytest.fixture(scope="session")
def pg_url():
    """A fresh schema of the test database, dropped at the end."""
    admin = peewee.PostgresqlDatabase(None)
    admin.init(**_pg_params(PG_URL))
    admin.execute_sql(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
    admin.execute_sql(f'CREATE SCHEMA "{PG_SCHEMA}"')
    url = f"{PG_URL}?options=-csearch_path%3D{PG_SCHEMA}"
    init_database(url)
    upgrade()
    db.close()
    yield url
    admin.execute_sql(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
    admin.close()


def _pg_params(url: str) -> dict:
    from urllib.parse import urlparse
    u = urlparse(url)
    return {"database": u.path.lstrip("/"), "user": u.username, "password": u.password,
            "host": u.hostname, "port": u.port or 5432}


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """One store per test: a new SQLite file, or the PostgreSQL schema truncated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'inlet.sqlite3'}"
        return
    url = request.getfixturevalue("pg_url")
    init_database(url)
    tables = ", ".join(f'"{m._meta.table_name}"' for m in all_models())
    db.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    db.close()
    yield url


@pytest.fixture
def env(database_url, redis_server, tmp_path) -> dict:
    """The INLET_ environment of a test gateway; tests may add to it before ``settings``."""
    return {"INLET_ENV": "test", "INLET_DATA_DIR": str(tmp_path / "var"),
            "INLET_DATABASE_URL": database_url, "INLET_REDIS_URL": REDIS_URL,
            "INLET_SECRET_KEY": "test-secret-key-0123456789",
            "INLET_BASE_URL": "http://testserver", "INLET_JOB_RETRY_INTERVALS": "0,0"}


@pytest.fixture
def settings(env, request):
    from gateway.settings import Settings
    if "mailbox" in request.fixturenames:
        request.getfixturevalue("mailbox")  # it adds INLET_SMTP_URL to env first
    return Settings.from_env(env)


@pytest.fixture
def store(settings):
    """The configured store and queue, with an open connection for direct checks."""
    queue = runtime.configure(settings)
    yield queue
    db.close()
    runtime.reset()


@pytest.fixture
def app(settings, store):
    from gateway.app import create_app
    return create_app(settings, run_jobs=False)


@pytest.fixture
def client(app):
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@dataclass
class Tenant:
    """An account with a token, as a client would use it."""

    id: int
    token: str
    token_id: int

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def basic(self) -> dict:
        raw = base64.b64encode(f"{self.id}:{self.token}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}


def make_tenant(name: str, scopes=("contacts:read", "contacts:write", "imports:write", "admin"),
                sources=("Website", "Fair"), preferences=("Weekly", "Monthly"),
                interests=("Sports", "Music")) -> Tenant:
    """An account with vocabularies and a token (direct store calls, committed)."""
    from gateway.accounts import add_vocabulary, create_account
    from gateway.auth import create_token
    account = create_account(name)
    for kind, names in (("source", sources), ("preference", preferences),
                        ("interest", interests)):
        for label in names:
            add_vocabulary(account.id, kind, label)
    row, plain = create_token(account.id, scopes)
    return Tenant(account.id, plain, row.id)


@pytest.fixture
def tenant(store) -> Tenant:
    return make_tenant("Acme")


@pytest.fixture
def other_tenant(store) -> Tenant:
    return make_tenant("Rival")


@pytest.fixture
def run_jobs(store):
    """Run every queued job with a real RQ worker on the test Redis; returns a callable."""
    def run():
        store.run_pending()
    return run


# ---- a real SMTP peer -----------------------------------------------------------------------

class Mailbox:
    """Messages an aiosmtpd server received, parsed."""

    def __init__(self):
        self.messages = []
        self.sessions = []  # the aiosmtpd session (one per connection) of each message

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        import email
        from email import policy
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        self.sessions.append(session)
        return "250 OK"

    @property
    def connections(self) -> int:
        """How many SMTP connections delivered messages."""
        return len({id(session) for session in self.sessions})  # all kept alive: ids unique

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


@contextlib.contextmanager
def smtp_peer(handler):
    """A real SMTP server (aiosmtpd) on a free port answering with ``handler``; yields its
    ``smtp://`` URL."""
    import socket

    from aiosmtpd.controller import Controller
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free port; yields (Mailbox, smtp_url)."""
    box = Mailbox()
    with smtp_peer(box) as url:
        yield box, url


@pytest.fixture
def mailbox(env, smtp_server):
    """Route the test gateway's mail to the SMTP peer; returns its Mailbox."""
    box, url = smtp_server
    env["INLET_SMTP_URL"] = url
    return box


# ---- a live server and a real browser -------------------------------------------------------

ARTIFACTS = os.environ.get("INLET_TEST_ARTIFACTS", "test-artifacts")


@contextlib.contextmanager
def serving(app, *, port: int | None = None, lifespan: str = "off", stop_seconds: float = 10):
    """``app`` served by uvicorn in a thread on ``port`` (default: a free one); yields its
    base URL."""
    import socket
    import threading
    import time

    import uvicorn
    if port is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan=lifespan))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=stop_seconds)


@pytest.fixture
def live_server(app):
    """The app served by uvicorn on a free port, for the browser; yields its base URL."""
    with serving(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright
    path = os.environ.get("INLET_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(path):
        pytest.fail(f"chromium not found at {path}; .ci/run installs it (apt-get install "
                    "chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser page; a screenshot is kept under test-artifacts/ after each test."""
    context = browser.new_context()
    pg = context.new_page()
    yield pg
    os.makedirs(ARTIFACTS, exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    try:
        pg.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)
    finally:
        context.close()


def run_async(coro):
    """Run ``coro`` on a fresh loop in its own thread: the session's Playwright owns this one's."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
