"""A test delivery: the server signs a sample and posts it to the hook through its own app.

The request goes through the whole ASGI stack (middleware, routing, the receiving endpoint,
signature check, intake), exactly as a sender's would, but without a network round trip:
the app is called in-process, so it works behind any proxy, on embedded defaults and in
tests alike. Then it waits briefly for a worker to process the delivery and reports what
became of it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field

from connectors import records, samples, signatures
from connectors.models import Delivery, Hook
from gateway import runtime
from gateway.tenancy import owned
from gateway.web import in_db

WAIT_SECONDS = 3.0  # how long the page waits for a worker before saying "queued"
POLL_SECONDS = 0.2


@dataclass
class Outcome:
    """What became of a test delivery, for the hook's page."""

    status: int
    state: str  # refused · queued · processed · dead
    reason: str = ""
    delivery_id: str | None = None
    contact_ids: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def prepare(account_id: int, hook_id) -> tuple[Hook, bytes, dict]:
    """The hook, the sample body and the headers a sender of this hook would add."""
    hook = owned(Hook, account_id, hook_id, "hook")
    body = json.dumps(samples.sample(hook), ensure_ascii=False).encode()
    secret = signatures.derive_secret(runtime.settings().secret_key, hook.secret_salt)
    headers = {"content-type": "application/json", "user-agent": "Inlet test delivery"}
    if hook.auth == "bearer":
        headers["authorization"] = f"Bearer {secret}"
    else:
        headers.update(signatures.headers(secret, f"msg_test_{uuid.uuid4().hex}", body))
    return hook, body, headers


async def send(app, path: str, account_id: int, hook_id) -> Outcome:
    """Post the hook's sample to ``path`` through ``app`` and report the outcome."""
    _, body, headers = await in_db(prepare, account_id, hook_id)
    status, answer = await call(app, "POST", path, headers, body)
    if status != 202:
        message = (answer.get("error") or {}).get("message", "") if isinstance(answer, dict) \
            else ""
        return Outcome(status, "refused", message)
    delivery_id = answer["delivery_id"]
    waited = 0.0
    while True:
        outcome = await in_db(settled, delivery_id)
        if outcome or waited >= WAIT_SECONDS:
            return outcome or Outcome(202, "queued", delivery_id=delivery_id)
        await asyncio.sleep(POLL_SECONDS)
        waited += POLL_SECONDS


def settled(delivery_id: str) -> Outcome | None:
    """The outcome of a processed or dead delivery; None while it waits for a worker."""
    found = Delivery.get_or_none(Delivery.id == delivery_id)
    if found is None or found.status not in ("done", "dead"):
        return None
    result = found.result or {}
    ids = [r["contact_id"] for r in result.get("records", []) if r.get("contact_id")]
    state = "processed" if found.status == "done" else "dead"
    return Outcome(202, state, found.error or "", delivery_id, ids, records.reasons(result))


async def call(app, method: str, path: str, headers: dict, body: bytes) -> tuple[int, object]:
    """One HTTP request to an ASGI ``app`` in-process; returns (status, parsed JSON body)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "server": ("127.0.0.1", 80),
             "client": ("127.0.0.1", 0),
             "headers": [(k.lower().encode(), v.encode()) for k, v in
                         {**headers, "content-length": str(len(body)), "host": "127.0.0.1"}
                         .items()]}
    sent = False
    status, chunks = 500, []

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def reply(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
    await app(scope, receive, reply)
    try:
        return status, json.loads(b"".join(chunks) or b"null")
    except ValueError:
        return status, None
