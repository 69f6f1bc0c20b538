"""What ``inlet worker`` runs beside RQ: the job modules loaded before the fork, and the
sweeper in a process of its own."""

from __future__ import annotations

import importlib
import multiprocessing
import threading

from gateway import runtime
from gateway.registry import AREAS
from gateway.settings import Settings
from gateway.sweeper import sweep_once

# The modules of the import and mail jobs: loaded once by the worker rather than by every
# work horse it forks (about 70 ms a job, most of it Jinja for the report mail).
JOB_MODULES = [name for area in AREAS for name in area.job_modules]


def load_job_modules() -> None:
    """Import the job modules here, before the worker freezes what it loaded and forks."""
    for name in JOB_MODULES:
        importlib.import_module(name)


def run_forever(interval: float) -> None:
    """Sweep now, then every ``interval`` seconds (the body of ``inlet worker``'s sweeper)."""
    runtime.configure(Settings.from_env(), migrate=False)
    stop = threading.Event()
    sweep_once()
    while not stop.wait(interval):
        sweep_once()


def start_sweeper(interval: float):
    """``run_forever`` in its own process, ended with the caller.

    A separate process, not a thread: RQ forks a work horse per job, and a fork taken while
    a sweeper thread holds a lock (a Redis pool, a database) would leave the horse hung.
    """
    process = multiprocessing.get_context("spawn").Process(
        target=run_forever, args=(interval,), name="inlet-sweeper", daemon=True)
    process.start()
    return process
