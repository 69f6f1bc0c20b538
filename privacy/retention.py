"""Retention: the sweep that purges what each area keeps for a limited time.

Each area declares its purges (``Area.retention``: ``purge(now) -> int``) and each reads its
own INLET_RETENTION_* period; ``now`` is this clock, which INLET_CLOCK_OFFSET_DAYS moves
(tests travel in time instead of sleeping).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from gateway import runtime
from gateway.db import db, utcnow
from gateway.dotted import resolve
from gateway.i18n import N_
from gateway.registry import AREAS

log = logging.getLogger("inlet.privacy")


def now() -> datetime:
    """The retention clock: naive UTC now, moved by INLET_CLOCK_OFFSET_DAYS."""
    return utcnow() + timedelta(days=runtime.settings().clock_offset_days)


def purges() -> list[str]:
    """Every area's purge, in the registry's order."""
    return [path for area in AREAS for path in area.retention]


def sweep() -> dict[str, int]:
    """Run every purge (one failing does not stop the others); {purge: rows or files}."""
    done: dict[str, int] = {}
    at = now()
    for path in purges():
        try:
            with db.connection_context(), db.atomic():
                done[path] = resolve(path)(at) or 0
        except Exception:  # a DB hiccup: the next sweep tries again
            log.exception("retention purge %s failed", path)
    return done


def policy() -> list[tuple[str, int]]:
    """(what, days) for the settings page (which translates ``what``) and the README's
    promise."""
    days = runtime.settings().retention_days
    return [(N_("Uploaded import files, and imports never finalised"), days("uploads")),
            (N_("Import row errors (errors.csv)"), days("errors")),
            (N_("Hook delivery payloads"), days("deliveries")),
            (N_("Outbound event payloads"), days("events")),
            (N_("Sent mail bodies"), days("mails"))]
