"""``create_app(settings)``: the gateway built from plain lists of routes and middleware."""

from __future__ import annotations

import contextlib
import gc

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

import gateway.convertors  # noqa: F401  (registers the {…:vocab} path convertor)
from connectors.routes import public_routes as hook_receivers
from connectors.routes import routes as connector_routes
from forms.routes import public_routes as form_pages
from forms.routes import routes as forms_routes
from gateway import intake, ratelimit, runtime
from gateway.admin.routes import routes as admin_routes
from gateway.api.routes import routes as api_routes
from gateway.errors import EXCEPTION_HANDLERS
from gateway.health import healthz
from gateway.imports.routes import routes as import_routes
from gateway.middleware import RefuseNul, SecurityHeaders
from gateway.settings import Settings


def build_routes() -> list:
    """Every area's routes, each area mounted from its own ``routes.py``."""
    # Routes are tried in order: the public high-volume endpoints (form submits, webhook
    # deliveries) first, so they don't pay for matching every API path.
    return [
        *hook_receivers,  # two routes: ahead of the forms' seven
        *form_pages,
        Route("/healthz", healthz, name="healthz"),
        *import_routes,
        *forms_routes,
        *connector_routes,
        *admin_routes,
        # /api last: the areas mount more specific /api/... paths before it.
        Mount("/api", routes=api_routes, name="api"),
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
                    middleware=[Middleware(SecurityHeaders), Middleware(RefuseNul)],
                    exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    app.state.settings = settings
    app.state.queue = queue
    return app
