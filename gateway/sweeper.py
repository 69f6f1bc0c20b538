"""Periodic housekeeping that keeps "nothing accepted is ever lost" true after outages.

Runs inside ``inlet worker`` (at start-up, then every ``INLET_SWEEP_SECONDS``; see
``gateway.worker``) and inside the embedded job runner. Each sweep is a module-level function,
idempotent and cheap when there is nothing to do; each area declares its own (``Area.sweeps``).
"""

from __future__ import annotations

import logging

from gateway.dotted import resolve
from gateway.registry import AREAS

log = logging.getLogger("inlet.sweeper")

SWEEPS = [path for area in AREAS for path in area.sweeps]


def sweep_once() -> None:
    """Run every sweep; one failing sweep does not stop the others."""
    for path in SWEEPS:
        try:
            resolve(path)()
        except Exception:  # a DB or Redis hiccup: try again next minute
            log.exception("sweep %s failed", path)
