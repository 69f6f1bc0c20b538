"""Shared helpers of the fuzz tests: the routes that take a body, and raw-socket HTTP."""

from __future__ import annotations

import socket
import time

import pytest

from tests.gateway.test_openapi import expand, served_operations
from tests.gateway.test_tenancy import snapshot, victim_resources

BODY_METHODS = ("post", "put", "patch")


def body_operations(app) -> list[tuple[str, str]]:
    """(path, method) of every served API route whose OpenAPI operation takes a body."""
    from gateway.api.openapi import build
    doc = build()["paths"]
    found = []
    for template, method in served_operations(app.routes):
        if not template.startswith("/api/") or method not in BODY_METHODS:
            continue
        for concrete in expand(template):
            if "requestBody" in doc.get(concrete, {}).get(method, {}):
                found.append((concrete, method))
    return found


def object_only(template: str, method: str) -> bool:
    """True when the documented JSON body of the operation must be an object (not an array,
    as a webhook test payload may be)."""
    from gateway.api.openapi import build
    doc = build()
    body = doc["paths"][template][method]["requestBody"]["content"]
    schema = body.get("application/json", {}).get("schema")
    if schema is None:
        return True  # multipart only: JSON of any shape is wrong
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rpartition("/")[2]]
    return schema.get("type") == "object"


MISSING_ID = "999999"


def fill(template: str, params: dict) -> str:
    """A concrete path for a template, from the caller's own resources.

    A parameter with no resource yet (an area whose factory the tenancy test lacks) gets an
    id that does not exist; ``is_complete`` tells the tests to allow a 404 there.
    """
    import re
    return re.sub(r"\{(\w+)\}", lambda m: str(params.get(m.group(1), MISSING_ID)), template)


def is_complete(template: str, params: dict) -> bool:
    """True when every path parameter of ``template`` names a real resource."""
    import re
    return all(name in params for name in re.findall(r"\{(\w+)\}", template))


@pytest.fixture
def own(client, tenant) -> dict:
    """One resource of each kind in the caller's own account (path parameters)."""
    return victim_resources(client, tenant)


@pytest.fixture
def unchanged(tenant):
    """Asserts at the end of the test that nothing of the account changed."""
    from gateway.db import db
    holder = {}

    def start():
        """Take the snapshot to compare with."""
        with db.connection_context():
            holder["before"] = snapshot(tenant.id)

    def check():
        """Assert the account is as the snapshot."""
        with db.connection_context():
            assert snapshot(tenant.id) == holder["before"]
    return start, check


def raw_request(base_url: str, head: str, body_chunks=(), timeout: float = 5.0
                ) -> tuple[bytes, int, float]:
    """Send a raw HTTP request; returns (response bytes, body bytes sent, seconds to answer).

    Sending stops as soon as an answer arrives: that proves the server answered without
    reading the rest of the body.
    """
    host, port = base_url.removeprefix("http://").split(":")
    started = time.monotonic()
    sent = 0
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1"))
        sock.setblocking(False)
        response = b""
        for chunk in body_chunks:
            response += _read_available(sock)
            if response:
                break
            try:
                sent += sock.send(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.01)
            if time.monotonic() - started > timeout:
                break
        sock.setblocking(True)
        sock.settimeout(timeout)
        while b"\r\n\r\n" not in response:
            try:
                data = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not data:
                break
            response += data
    return response, sent, time.monotonic() - started


def _read_available(sock) -> bytes:
    try:
        return sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return b""
    except ConnectionResetError:
        return b""
