"""Process-wide wiring: the settings, database and queue a web process or worker runs with."""

from __future__ import annotations

from gateway.db import init_database
from gateway.queue import make_queue
from gateway.schema import upgrade
from gateway.settings import Settings

_current: dict = {}


def configure(settings: Settings, *, migrate: bool = True):
    """Point the database proxy and the queue at ``settings``; returns the queue."""
    if _current.get("settings") == settings:
        return _current["queue"]  # already wired: keep the open database and queue
    init_database(settings.database_url)
    if migrate:
        upgrade()
    queue = make_queue(settings)
    _current.update(settings=settings, queue=queue)
    return queue


def settings() -> Settings:
    """The settings this process was configured with."""
    if "settings" not in _current:
        configure(Settings.from_env())
    return _current["settings"]


def queue():
    """The queue this process was configured with."""
    if "queue" not in _current:
        configure(Settings.from_env())
    return _current["queue"]


def reset() -> None:
    """Forget the wiring (tests build many gateways in one process)."""
    _current.clear()
