"""Request helpers shared by every area: bounded JSON bodies, auth, DB work off the loop."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from gateway import auth
from gateway.db import db
from gateway.errors import MalformedJSON, PayloadTooLarge, Unauthorized, UnsupportedMediaType
from gateway.models import ApiToken


async def in_db(fn: Callable, *args, **kwargs):
    """Run blocking store work in the thread pool inside a connection context."""
    def work():
        with db.connection_context():
            return fn(*args, **kwargs)
    return await run_in_threadpool(work)


_running: dict[tuple, asyncio.Future] = {}


async def shared(key, fn: Callable[..., Awaitable], *args):
    """``await fn(*args)``, run once for all concurrent callers with the same ``key``.

    For cache refreshes on hot paths: when a cached form or hook expires under load, every
    request waiting for it would otherwise start its own query in its own thread, and the
    pile-up stalls the event loop for tens of milliseconds.
    """
    slot = (id(asyncio.get_running_loop()), key)
    running = _running.get(slot)
    if running is None:
        running = _running[slot] = asyncio.ensure_future(fn(*args))
        running.add_done_callback(lambda _: _running.pop(slot, None))
    return await asyncio.shield(running)  # a caller that goes away cancels only itself


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 before it is read whole when it exceeds ``limit``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int | None = None):
    """Parse a JSON body: 415 for another content type, 413 too large, 400 malformed."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise UnsupportedMediaType("Send the body as application/json.")
    limit = limit or request.app.state.settings.max_body_bytes
    raw = await read_body(request, limit)
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedJSON(f"The body is not valid JSON: {exc.__class__.__name__}.") from None
    if _SUSPECT_ESCAPE.search(raw) and has_unstorable_text(data):
        # PostgreSQL refuses NUL in text and nothing can encode a lone surrogate as UTF-8:
        # refuse here, in the one error shape, rather than fail later with a 500.
        raise MalformedJSON("The body holds a \\u0000 or an unpaired surrogate escape.")
    return data


# JSON escapes that decode to text no store (or UTF-8 answer) can hold.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def has_unstorable_text(value) -> bool:
    """True when a string anywhere in ``value`` holds NUL or a lone surrogate."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(has_unstorable_text(k) or has_unstorable_text(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_unstorable_text(v) for v in value)
    return False


# Failed token checks allowed per client address per minute before answers turn into 429.
AUTH_FAILURES_PER_MINUTE = 20


async def authorize(request: Request, scope: str, *alternatives: str) -> ApiToken:
    """The request's token, holding ``scope`` or one of ``alternatives`` (401/403 otherwise)."""
    header = request.headers.get("authorization")

    def check():
        token = auth.authenticate(header)
        auth.require_scope(token, scope, *alternatives)
        return token
    try:
        token = await in_db(check)
    except Unauthorized:
        await _count_auth_failure(request)
        raise
    request.state.token = token
    return token


async def _count_auth_failure(request: Request) -> None:
    """Token guessing: 429 once an address fails too often (a valid token still works)."""
    from gateway import ratelimit
    ip = request.client.host if request.client else "unknown"
    limiter = ratelimit.limiter_for(request.app.state.settings.redis_url)
    await ratelimit.check(limiter, [ratelimit.Limit(f"api-auth-fail:ip:{ip}",
                                                    AUTH_FAILURES_PER_MINUTE, 60)])


def query_int(request: Request, name: str, default: int) -> int:
    """An integer query parameter with a clear 400."""
    from gateway.errors import BadRequest
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer.") from None
