"""``create_app(settings)``: the gateway built from plain lists of routes and middleware."""

from __future__ import annotations

import contextlib
import gc

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

import gateway.convertors  # noqa: F401  (registers the {…:vocab} path convertor)
from gateway import intake, ratelimit, runtime
from gateway.errors import EXCEPTION_HANDLERS
from gateway.middleware import Language, RefuseNul, SecurityHeaders
from gateway.registry import AREAS
from gateway.settings import Settings


def build_routes() -> list:
    """Every area's routes, in the order of the registry."""
    # Routes are tried in order: the public high-volume endpoints (form submits, webhook
    # deliveries) first, so they don't pay for matching every API path; of those the shorter
    # lists first (the hooks' two receivers ahead of the forms' seven pages).
    public = sorted((area.load("public_routes") for area in AREAS), key=len)
    return [
        *(route for routes in public for route in routes),
        *(route for area in AREAS for route in area.load("routes")),
        # /api last: the areas mount more specific /api/... paths before it.
        Mount("/api", routes=[route for area in AREAS for route in area.load("api_routes")],
              name="api"),
    ]


def create_app(settings: Settings | None = None, *, run_jobs: bool | None = None) -> Starlette:
    """Build the ASGI app; ``run_jobs`` (default: on with no Redis) runs queued jobs in-process."""
    settings = settings or Settings.from_env()
    queue = runtime.configure(settings)
    if run_jobs is None:
        run_jobs = settings.embedded_queue

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if run_jobs:
            queue.start()
        # What start-up loaded lives as long as the process: frozen, it is no longer walked
        # by every full collection, which under load paused all requests for tens of ms.
        gc.freeze()
        try:
            yield
        finally:
            if run_jobs:
                queue.stop()
            await intake.aclose()  # this loop's asyncio Redis connections
            await ratelimit.aclose()

    app = Starlette(routes=build_routes(),
                    middleware=[Middleware(SecurityHeaders), Middleware(RefuseNul),
                                Middleware(Language)],
                    exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    app.state.settings = settings
    app.state.queue = queue
    return app
