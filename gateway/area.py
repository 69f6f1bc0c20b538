"""The area contract: what one area (a package such as ``forms``) brings to the gateway.

Each area declares one ``AREA`` in its package (``forms/area.py``; the core's is
``gateway/core.py``) and ``gateway.registry.AREAS`` lists them all: ``create_app``, the
``inlet`` CLI, the schema upgrade, the worker's job preloading, the sweeper and the OpenAPI
document read that one list. Adding an area means adding one entry there.

A declaration imports only the area's lowest layers (its models and OpenAPI part), so any
module may read the registry without an import circle. The parts that load services (routes,
CLI commands, jobs) are named by dotted path and loaded by the assembler that uses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import peewee

from gateway.dotted import resolve


@dataclass(frozen=True, eq=False)
class Area:
    """One area's parts; every field is optional."""

    name: str
    # Its tables, in creation order (a table after those it refers to).
    models: tuple[type[peewee.Model], ...] = ()
    # Its part of the OpenAPI document: {"paths": …, "schemas": …, "responses": …}.
    openapi: Mapping[str, dict] = field(default_factory=dict)
    # Dotted paths of route lists: high-volume public endpoints (tried first), the area's
    # pages and /api/... paths, and routes mounted under /api.
    public_routes: str = ""
    routes: str = ""
    api_routes: str = ""
    # Dotted path of a list of click commands added to ``inlet``.
    commands: str = ""
    # Modules the worker loads once before it forks a work horse per job.
    job_modules: tuple[str, ...] = ()
    # Dotted paths of housekeeping functions run by the sweeper (see gateway.sweeper).
    sweeps: tuple[str, ...] = ()
    # Dotted path of a function told, inside the transaction of every contact write, what
    # changed: it receives a list of ``gateway.changes.ContactChange`` (one account's).
    on_changes: str = ""
    # Dotted path of ``erase(account_id, contact_id, email)``: removes one person's data from
    # the area's tables and files (run by privacy.erasure, inside its transaction).
    erase: str = ""
    # Dotted paths of ``purge(now) -> int``: drop what is older than its INLET_RETENTION_*
    # period (run by the privacy area's retention sweep, with its travelling clock).
    retention: tuple[str, ...] = ()

    def load(self, part: str) -> list:
        """The list named by field ``part`` (``"routes"``, ``"commands"``, …); [] if none."""
        path = getattr(self, part)
        return list(resolve(path)) if path else []
