"""A second gateway on the test store whose Redis is unreachable (a Redis outage, in-process).

The fault tests in tests/faults kill a real Redis under real processes; this is the quick
form for the suite: same database, a Redis URL nothing listens on, so every enqueue fails
exactly as it does when Redis is down.
"""

from __future__ import annotations

import contextlib

DEAD_REDIS = "redis://127.0.0.1:1/0"


@contextlib.contextmanager
def redis_down(env: dict):
    """Yield a TestClient whose queue is down; the test's own wiring is restored after."""
    from starlette.testclient import TestClient

    from gateway import runtime
    from gateway.app import create_app
    from gateway.settings import Settings
    normal = runtime.settings()
    runtime.reset()
    try:
        app = create_app(Settings.from_env(env | {"INLET_REDIS_URL": DEAD_REDIS}),
                         run_jobs=False)
        with TestClient(app, raise_server_exceptions=False) as down:
            yield down
    finally:
        runtime.reset()
        runtime.configure(normal)
