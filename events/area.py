"""The events area: signed outbound events (webhooks) to endpoints an account registers."""

from __future__ import annotations

from events.models import MODELS
from events.spec import OPENAPI
from gateway.area import Area

AREA = Area(
    name="events",
    models=tuple(MODELS),
    openapi=OPENAPI,
    routes="events.routes.routes",
    commands="events.cli.commands",
    job_modules=("events.jobs",),
    sweeps=("events.jobs.requeue_stuck", "events.jobs.disable_failing",
            "events.jobs.purge_old"),
    on_changes="events.emit.on_changes",
)
