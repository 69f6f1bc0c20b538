"""The forms area: embeddable opt-in forms with double opt-in."""

from __future__ import annotations

from forms.models import MODELS
from forms.spec import OPENAPI
from gateway.area import Area

AREA = Area(
    name="forms",
    models=tuple(MODELS),
    openapi=OPENAPI,
    public_routes="forms.routes.public_routes",
    routes="forms.routes.routes",
    commands="forms.cli.commands",
)
