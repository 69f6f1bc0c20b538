"""The connectors area: webhook receivers (generic and Efficy) and their deliveries."""

from __future__ import annotations

from connectors.models import MODELS
from connectors.spec import OPENAPI
from gateway.area import Area

AREA = Area(
    name="connectors",
    models=tuple(MODELS),
    openapi=OPENAPI,
    public_routes="connectors.routes.public_routes",
    routes="connectors.routes.routes",
    commands="connectors.cli.commands",
    sweeps=("connectors.jobs.requeue_stuck",),
    erase="connectors.personal_data.erase",
    retention=("connectors.personal_data.purge_payloads",),
)
