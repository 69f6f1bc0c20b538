"""``create_app(settings)``: the gateway built from plain lists of routes and middleware."""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

import gateway.convertors  # noqa: F401  (registers the {…:vocab} path convertor)
from gateway import intake, ratelimit, runtime
from gateway.api.routes import routes as api_routes
from gateway.errors import EXCEPTION_HANDLERS
from gateway.health import healthz
from gateway.middleware import RefuseNul, SecurityHeaders
from gateway.settings import Settings

# Each area's ``routes.py`` exposes ``routes``: a list of Route/Mount with absolute paths.
AREA_ROUTES = ("gateway.imports.routes", "forms.routes", "connectors.routes",
               "gateway.admin.routes")


def build_routes() -> list:
    """Every area's routes, each area mounted from its own ``routes.py``."""
    import importlib
    routes = [Route("/healthz", healthz, name="healthz")]
    for name in AREA_ROUTES:
        try:
            routes.extend(importlib.import_module(name).routes)
        except ModuleNotFoundError as exc:
            if not (exc.name and name.startswith(exc.name)):
                raise
    # /api last: areas may mount more specific /api/... paths before it.
    routes.append(Mount("/api", routes=api_routes, name="api"))
    return routes


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
