"""Connector fixtures: hooks made through the API, signed posts, a worker loop."""

from __future__ import annotations

import json
import uuid

import pytest

from connectors import signatures
from gateway.db import db, is_postgres


class Hooks:
    """Creates hooks and posts to them the way a sending tool would."""

    def __init__(self, client, tenant):
        self.client = client
        self.tenant = tenant

    def create(self, **data) -> tuple[dict, str]:
        """A hook via POST /api/hooks; returns (hook, secret)."""
        body = {"kind": "generic", "name": "Zapier", "source": "Website", "language": "nl",
                "mapping": {"email": "email", "first_name": "first_name"}} | data
        r = self.client.post("/api/hooks", json=body, headers=self.tenant.headers)
        assert r.status_code == 201, r.text
        hook = r.json()
        return hook, hook.pop("secret")

    def post(self, hook: dict, secret: str, payload, *, msg_id: str | None = None,
             timestamp: int | None = None, body: bytes | None = None, headers=None):
        """A signed POST to the hook's URL (path only)."""
        raw = body if body is not None else json.dumps(payload).encode()
        signed = signatures.headers(secret, msg_id or f"msg_{uuid.uuid4().hex}", raw,
                                    timestamp)
        path = hook["url"].removeprefix("http://testserver")
        return self.client.post(path, content=raw, headers={
            "content-type": "application/json", **signed, **(headers or {})})


@pytest.fixture
def hooks(client, tenant) -> Hooks:
    return Hooks(client, tenant)


@pytest.fixture
def work(run_jobs, store):
    """Run the worker until the intake queue and every retry have settled."""
    from connectors.jobs import STREAM
    from gateway import intake

    def run():
        for _ in range(20):
            run_jobs()
            if not intake.pending(STREAM) and not store.rq.count:
                return
        raise AssertionError("the queue did not settle")
    return run


REFUSE = {
    "sqlite": ["CREATE TRIGGER h5_refuse BEFORE INSERT ON contact "
               "WHEN NEW.email LIKE 'boom%' BEGIN SELECT RAISE(ABORT, 'store refused'); END"],
    "postgres": ["CREATE FUNCTION h5_refuse() RETURNS trigger AS $$ BEGIN "
                 "IF left(NEW.email, 4) = 'boom' THEN RAISE EXCEPTION 'store refused'; END IF; "
                 "RETURN NEW; END $$ LANGUAGE plpgsql",
                 "CREATE TRIGGER h5_refuse BEFORE INSERT ON contact "
                 "FOR EACH ROW EXECUTE FUNCTION h5_refuse()"],
}
ALLOW = {"sqlite": ["DROP TRIGGER h5_refuse"],
         "postgres": ["DROP TRIGGER h5_refuse ON contact", "DROP FUNCTION h5_refuse()"]}


@pytest.fixture
def refusing_store(store):
    """A real store failure: the database refuses some inserts until ``allow()``."""
    backend = "postgres" if is_postgres() else "sqlite"
    with db.connection_context():
        for sql in REFUSE[backend]:
            db.execute_sql(sql)
    state = {"on": True}

    def allow():
        with db.connection_context():
            for sql in ALLOW[backend]:
                db.execute_sql(sql)
        state["on"] = False
    yield allow
    if state["on"]:
        allow()
