"""Fixtures for outbound events: a real HTTP receiver on loopback and a worker that settles."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# the admin UI's login fixtures, for the admin pages of endpoints
from tests.gateway.admin.conftest import admin, admin_client, admin_page  # noqa: F401


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # a worker's parallel POSTs connect at once (the default is 5)


class Receiver:
    """A local HTTP server recording every POST; ``answer`` sets its reply (status, headers),
    given ``pause`` seconds after the request arrived."""

    def __init__(self, host: str = "127.0.0.1", pause: float = 0.0):
        self.requests: list[dict] = []
        self.answer = (200, {})
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                time.sleep(pause)
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "body": body})
                status, headers = outer.answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                reply = b'{"ok": true}'
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = _Server((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/inlet"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict]:
        """Every event received (a batch's array flattened), in arrival order."""
        found = []
        for request in self.requests:
            data = json.loads(request["body"])
            found.extend(data if isinstance(data, list) else [data])
        return found

    def types(self) -> list[str]:
        return [event["type"] for event in self.events()]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _events_env(env, monkeypatch, request):
    """Loopback is allowed for the receiver (a module may say otherwise with
    ``ALLOW_PRIVATE``); a delivery run does not wait for more work."""
    from events import emit, jobs
    env["INLET_ALLOW_PRIVATE_TARGETS"] = getattr(request.module, "ALLOW_PRIVATE", "127.0.0.1")
    monkeypatch.setattr(jobs, "IDLE_SECONDS", 0.0)
    monkeypatch.setattr(emit, "SUBSCRIPTIONS_TTL", 0.0)  # every write sees new endpoints


@pytest.fixture
def subscribe(client, tenant, receiver):
    """Create an endpoint for the receiver by the API; returns (endpoint, secret)."""
    def make(events=("*",), url=None, **extra):
        r = client.post("/api/event-endpoints", headers=tenant.headers,
                        json={"url": url or receiver.url, "events": list(events), **extra})
        assert r.status_code == 201, r.text
        body = r.json()
        return body, body["secret"]
    return make


@pytest.fixture
def deliver(run_jobs):
    """Run the worker until no delivery is due."""
    from events import jobs

    def run():
        for _ in range(10):
            run_jobs()
            jobs.deliver_due()
            if not jobs.due_count():
                return
        raise AssertionError("deliveries did not settle")
    return run
