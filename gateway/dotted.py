"""Functions and values named by dotted path: how a job is queued and found again, and how
the registry names the parts of an area that load the web and service layers."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def job_path(func: Callable) -> str:
    """``module.function`` for a module-level job function."""
    return f"{func.__module__}.{func.__qualname__}"


def resolve(path: str):
    """The module attribute named by ``path`` (``job_path`` of a function round-trips)."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)
