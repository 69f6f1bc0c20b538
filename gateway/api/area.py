"""The REST API area: contacts, vocabularies and the OpenAPI document, under /api."""

from __future__ import annotations

from gateway.api.spec import OPENAPI
from gateway.area import Area

AREA = Area(name="api", openapi=OPENAPI, api_routes="gateway.api.routes.routes")
