"""Periodic housekeeping that keeps "nothing accepted is ever lost" true after outages.

Runs inside ``inlet worker`` (at start-up, then every ``INLET_SWEEP_SECONDS``) and inside the
embedded job runner. Each sweep is a module-level function, idempotent and cheap when there
is nothing to do.
"""

from __future__ import annotations

import logging
import threading

from gateway.queue import resolve

log = logging.getLogger("inlet.sweeper")

# Other areas append the dotted paths of their own sweeps here.
SWEEPS = ["gateway.mail.requeue_unsent", "gateway.intake.reschedule",
          "gateway.imports.jobs.requeue_stalled", "connectors.jobs.requeue_stuck",
          "gateway.idempotency.purge_expired"]


def sweep_once() -> None:
    """Run every sweep; one failing sweep does not stop the others."""
    for path in SWEEPS:
        try:
            resolve(path)()
        except Exception:  # a DB or Redis hiccup: try again next minute
            log.exception("sweep %s failed", path)


def run_forever(interval: float) -> None:
    """Sweep now, then every ``interval`` seconds (the body of ``inlet worker``'s sweeper)."""
    from gateway import runtime
    from gateway.settings import Settings
    runtime.configure(Settings.from_env(), migrate=False)
    stop = threading.Event()
    sweep_once()
    while not stop.wait(interval):
        sweep_once()


def start_process(interval: float):
    """``run_forever`` in its own process, ended with the caller.

    A separate process, not a thread: RQ forks a work horse per job, and a fork taken while
    a sweeper thread holds a lock (a Redis pool, a database) would leave the horse hung.
    """
    import multiprocessing
    process = multiprocessing.get_context("spawn").Process(
        target=run_forever, args=(interval,), name="inlet-sweeper", daemon=True)
    process.start()
    return process
