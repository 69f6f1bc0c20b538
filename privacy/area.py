"""The privacy area: export, access requests, erasure (with suppression) and retention."""

from __future__ import annotations

from gateway.area import Area
from privacy.models import MODELS
from privacy.spec import OPENAPI

AREA = Area(
    name="privacy",
    models=tuple(MODELS),
    openapi=OPENAPI,
    api_routes="privacy.routes.api_routes",
    commands="privacy.cli.commands",
    job_modules=("privacy.erasure",),
    sweeps=("privacy.erasure.requeue_lost", "privacy.retention.sweep"),
)
