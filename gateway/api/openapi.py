"""GET /api/openapi.json: the API described as OpenAPI 3.1.

Each area keeps its own part (``OPENAPI`` in its ``spec`` module, declared as
``Area.openapi``); this module joins them in the order of the registry.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway.registry import AREAS


def build() -> dict:
    """The whole OpenAPI document."""
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Inlet", "version": "1.0.0",
                 "description": "Contact-ingestion gateway. Authenticate with HTTP Basic "
                                "(account_id:token) or a Bearer token."},
        "servers": [{"url": "/"}],
        "security": [{"basic": []}, {"bearer": []}],
        "paths": {},
        "components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                                           "bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {}, "responses": {}},
    }
    for part in (area.openapi for area in AREAS):
        for path, ops in part.get("paths", {}).items():
            doc["paths"].setdefault(path, {}).update(ops)
        doc["components"]["schemas"].update(part.get("schemas", {}))
        doc["components"]["responses"].update(part.get("responses", {}))
    return doc


async def openapi_json(request: Request) -> JSONResponse:
    """Serve the document (public: it holds no account data)."""
    return JSONResponse(build())
