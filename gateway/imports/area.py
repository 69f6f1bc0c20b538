"""The import area: CSV and JSON bulk imports (API, CLI, jobs, report)."""

from __future__ import annotations

from gateway.area import Area
from gateway.imports.models import MODELS
from gateway.imports.spec import OPENAPI

AREA = Area(
    name="imports",
    models=tuple(MODELS),
    openapi=OPENAPI,
    routes="gateway.imports.routes.routes",
    commands="gateway.imports.cli.commands",
    job_modules=("gateway.imports.jobs", "gateway.imports.report"),
    sweeps=("gateway.imports.jobs.requeue_stalled",),
    erase="gateway.imports.personal_data.erase",
    retention=("gateway.imports.personal_data.purge_uploads",
               "gateway.imports.personal_data.purge_errors"),
)
