"""Refused requests to a hook: kept briefly so the sender's mistakes show in the admin.

A wrong secret, an old timestamp, a form-encoded body: the sender sees the answer, but the
person setting the hook up usually does not. Each refusal is a row in ``Refusal`` (time,
status, the reason the client was told, source IP; never the body). The store is bounded
twice: at most ``KEEP`` rows per hook (older ones are pruned on insert), and at most
``PER_MINUTE`` writes per hook and minute in one process, so a flood of forged requests
costs no more than a few writes.

Why a table and not a Redis list: hooks also run on embedded defaults without Redis, and the
log must survive a restart to be of use the morning after.
"""

from __future__ import annotations

import logging
import threading
import time

from connectors.models import Refusal
from gateway.db import utcnow

KEEP = 50
PER_MINUTE = 20
MAX_TRACKED_HOOKS = 4096  # the throttle's memory is bounded like the hook config cache

log = logging.getLogger("inlet.connectors")
_window: dict[int, tuple[int, int]] = {}  # hook id → (minute, writes in it)
_lock = threading.Lock()


def allowed(hook_id: int, now: float | None = None) -> bool:
    """Whether this process may record another refusal for ``hook_id`` this minute."""
    minute = int((time.time() if now is None else now) // 60)
    with _lock:
        seen, count = _window.get(hook_id, (minute, 0))
        count = count + 1 if seen == minute else 1
        _window[hook_id] = (minute, count)
        if len(_window) > MAX_TRACKED_HOOKS:
            del _window[next(iter(_window))]
    return count <= PER_MINUTE


def record(hook_id: int, status: int, reason: str, ip: str) -> None:
    """Store one refusal and prune the hook's oldest beyond ``KEEP`` (blocking store work)."""
    Refusal.create(hook=hook_id, status=status, reason=reason[:300], ip=ip[:64],
                   received_at=utcnow())
    keep = (Refusal.select(Refusal.id).where(Refusal.hook == hook_id)
            .order_by(Refusal.id.desc()).limit(KEEP))
    Refusal.delete().where((Refusal.hook == hook_id) & Refusal.id.not_in(keep)).execute()


def recent(hook_id: int, limit: int = KEEP) -> list[Refusal]:
    """The hook's refusals, newest first."""
    return list(Refusal.select().where(Refusal.hook == hook_id)
                .order_by(Refusal.id.desc()).limit(limit))


def to_dict(refusal: Refusal) -> dict:
    """The API and admin shape of a refusal."""
    return {"status": refusal.status, "reason": refusal.reason, "ip": refusal.ip,
            "received_at": refusal.received_at.isoformat(timespec="seconds") + "Z"}
