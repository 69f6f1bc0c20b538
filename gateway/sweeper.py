"""Periodic housekeeping that keeps "nothing accepted is ever lost" true after outages.

Runs inside ``inlet worker`` and inside the embedded job runner, once a minute. Each sweep is
a module-level function, idempotent and cheap when there is nothing to do.
"""

from __future__ import annotations

import logging
import threading

from gateway.queue import resolve

log = logging.getLogger("inlet.sweeper")

# Other areas append the dotted paths of their own sweeps here.
SWEEPS = ["gateway.mail.requeue_unsent", "gateway.intake.reschedule",
          "gateway.imports.jobs.requeue_stalled"]
INTERVAL_SECONDS = 60


def sweep_once() -> None:
    """Run every sweep; one failing sweep does not stop the others."""
    for path in SWEEPS:
        try:
            resolve(path)()
        except Exception:  # a DB or Redis hiccup: try again next minute
            log.exception("sweep %s failed", path)


def start_background(stop: threading.Event, interval: float = INTERVAL_SECONDS
                     ) -> threading.Thread:
    """Sweep every ``interval`` seconds in a daemon thread until ``stop`` is set."""
    def loop():
        while not stop.wait(interval):
            sweep_once()
    thread = threading.Thread(target=loop, name="inlet-sweeper", daemon=True)
    thread.start()
    return thread
