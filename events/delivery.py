"""One POST of events to an endpoint: the body, the signed headers, the guarded request.

No redirect is followed (``events.wire`` never does; a 3xx is a failure), the whole exchange
has ``TIMEOUT`` seconds, and at most ``BODY_CAP`` bytes of the answer are read (``KEPT`` of them
kept for the attempt log).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

from events import wire
from events.targets import TargetRefused
from gateway import runtime
from gateway.signing import derive_secret, signed_headers

TIMEOUT = 10.0
BODY_CAP = 64 * 1024
KEPT = 1024
USER_AGENT = "Inlet-Webhooks/1"
SALT_PURPOSE = "event-endpoint:"  # endpoint secrets never equal a hook's with the same salt
_pools: dict[tuple, wire.Pool] = {}


@dataclass
class Outcome:
    """What one POST got: a status (None: no answer), latency, the start of the answer."""

    status_code: int | None
    latency_ms: int
    response: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def secret_for(salt: str) -> str:
    """The ``whsec_`` secret of an endpoint's salt."""
    return derive_secret(runtime.settings().secret_key, SALT_PURPOSE + salt)


def iso(value: datetime | str) -> str:
    """A stored timestamp (datetime, or text from SQLite/PostgreSQL JSON) as API ISO-8601."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.rstrip("Z"))
    return value.isoformat(timespec="microseconds") + "Z"


def envelope(event_id: int, kind: str, data: str | dict, created_at) -> dict:
    """The event shape (README, "Outbound events"): id, type, timestamp, data."""
    data = json.loads(data) if isinstance(data, str) else data
    contact = data.get("contact") if isinstance(data, dict) else None
    if isinstance(contact, dict):  # the snapshot's times as the API shows them
        for key in ("created_at", "updated_at"):
            if contact.get(key):
                contact[key] = iso(contact[key])
    return {"id": f"evt_{event_id}", "type": kind, "timestamp": iso(created_at), "data": data}


def body_and_id(events: list[dict], batch: bool) -> tuple[bytes, str]:
    """The POST body and its ``webhook-id``: one event, or a JSON array of them."""
    if not batch:
        return json.dumps(events[0], ensure_ascii=False).encode(), events[0]["id"]
    msg_id = f"batch_{events[0]['id'].removeprefix('evt_')}_{events[-1]['id']}"
    return json.dumps(events, ensure_ascii=False).encode(), msg_id


def _pool() -> wire.Pool:
    allowed = runtime.settings().allow_private_targets
    key = tuple(str(network) for network in allowed)
    if key not in _pools:
        _pools[key] = wire.Pool(allowed, keepalive=30.0)
    return _pools[key]


def post(url: str, secrets: list[str], body: bytes, msg_id: str) -> Outcome:
    """POST ``body`` signed by every one of ``secrets``; never raises for the target's faults."""
    headers = [("content-type", "application/json"), ("user-agent", USER_AGENT),
               *signed_headers(secrets, msg_id, body).items()]
    started = time.monotonic()
    try:
        answer = _pool().post(url, headers, body, timeout=TIMEOUT, cap=BODY_CAP, keep=KEPT * 4)
    except TargetRefused as exc:
        return Outcome(None, _ms(started), error=str(exc)[:300])
    except TimeoutError:
        return Outcome(None, _ms(started), error=f"no answer within {TIMEOUT:.0f} s")
    except (OSError, ValueError) as exc:
        return Outcome(None, _ms(started), error=(f"{type(exc).__name__}: {exc}")[:300])
    status, text = answer.status, answer.body.decode("utf-8", "replace")[:KEPT]
    error = None
    if 300 <= status < 400:
        error = "redirects are not followed: point the endpoint at the final URL"
    elif not 200 <= status < 300:
        error = f"answered {status}"
    return Outcome(status, _ms(started), text, error)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
