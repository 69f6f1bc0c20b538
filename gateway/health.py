"""GET /healthz: liveness and the state of the database and the queue."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.db import db


def _database_ok() -> bool:
    try:
        with db.connection_context():
            db.execute_sql("SELECT 1")
        return True
    except Exception:  # any driver error means "down"; details stay in the log
        return False


async def healthz(request: Request) -> JSONResponse:
    """200 when database and queue answer, else 503 naming the one that does not."""
    queue = request.app.state.queue
    database = await run_in_threadpool(_database_ok)
    redis_ok = await run_in_threadpool(queue.ping)
    checks = {"database": "ok" if database else "down",
              "queue": ("embedded" if request.app.state.settings.embedded_queue else
                        "ok" if redis_ok else "down")}
    healthy = database and redis_ok
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)


routes = [Route("/healthz", healthz, name="healthz")]
