"""Request helpers shared by every area: bounded JSON bodies, auth, DB work off the loop."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from gateway import auth
from gateway.db import db
from gateway.errors import (
    MalformedJSON,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from gateway.i18n import _
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
    declared = whole_number(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise PayloadTooLarge(_("The body is larger than %(limit)s bytes.") % {"limit": limit})
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(_("The body is larger than %(limit)s bytes.") % {"limit": limit})
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int | None = None):
    """Parse a JSON body: 415 for another content type, 413 too large, 400 malformed."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise UnsupportedMediaType(_("Send the body as application/json."))
    limit = limit or request.app.state.settings.max_body_bytes
    return parse_json(await read_body(request, limit))


# Deeper JSON than this is refused: no contact, mapping or CRM record needs it, and every
# recursive walk after parsing (validation, repr, encoding) stays far from the stack limit.
MAX_JSON_DEPTH = 32


class _NotFinite(ValueError):
    """A JSON number no store can keep: NaN, Infinity or one that overflows a double."""


def _refuse_constant(name: str):
    raise _NotFinite(name)


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (_INF, -_INF):
        raise _NotFinite(text[:40])
    return number


_INF = float("inf")
_decoder = json.JSONDecoder(parse_float=_finite_float, parse_constant=_refuse_constant)


def parse_json(raw: bytes | str):
    """Decode a client's JSON body; every value it returns can be stored and read back.

    400 for text that is not JSON, nested deeper than ``MAX_JSON_DEPTH`` or holding NUL or a
    lone surrogate; 422 for numbers no store can keep (NaN, ±Infinity, 1e999, integers past
    Python's 4,300-digit limit): no stored value may break a later read."""
    try:
        text = raw.decode(json.detect_encoding(raw)) if isinstance(raw, bytes) else raw
        data = _decoder.decode(text)
    except _NotFinite as exc:
        raise _out_of_range(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise MalformedJSON(_("Not valid JSON (line %(line)s, column %(column)s): %(why)s.")
                            % {"line": exc.lineno, "column": exc.colno, "why": exc.msg}) \
            from None
    except UnicodeDecodeError:
        raise MalformedJSON(_("The body is not UTF-8 text.")) from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError:  # int() past sys.get_int_max_str_digits()
        raise _out_of_range("an integer with too many digits") from None
    if _nesting_exceeds(data, MAX_JSON_DEPTH):
        raise _too_deep()
    if _SUSPECT_ESCAPE.search(text) and has_unstorable_text(data):
        # PostgreSQL refuses NUL in text and nothing can encode a lone surrogate as UTF-8:
        # refuse here, in the one error shape, rather than fail later with a 500.
        raise MalformedJSON(_("The body holds a \\u0000 or an unpaired surrogate escape."))
    return data


def _out_of_range(what: str) -> ValidationFailed:
    return ValidationFailed(_("A number in the body cannot be stored."), [{
        "code": "number_out_of_range", "value": what,
        "message": _("Numbers must be finite (no NaN or Infinity) and fit a 64-bit float.")}])


def _too_deep() -> MalformedJSON:
    return MalformedJSON(_("The body is nested more than %(depth)s levels deep.")
                         % {"depth": MAX_JSON_DEPTH})


def _nesting_exceeds(data, limit: int) -> bool:
    """True when lists/objects nest deeper than ``limit`` (iterative: no recursion)."""
    if not isinstance(data, dict | list):
        return False
    level = [data]
    for _level in range(limit):
        level = [child for node in level
                 for child in (node.values() if isinstance(node, dict) else node)
                 if isinstance(child, dict | list)]
        if not level:
            return False
    return True


# JSON escapes that decode to text no store (or UTF-8 answer) can hold.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])|\x00")


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


def client_ip(request: Request) -> str:
    """The client's address, for per-IP limits: the peer, unless the peer is a trusted proxy
    (``INLET_TRUSTED_PROXIES``); then the nearest X-Forwarded-For hop that is not trusted.

    The chain is walked from the right: the entries left of the first untrusted hop were
    written by the client itself and prove nothing.
    """
    peer = request.client.host if request.client else "unknown"
    trusted = request.app.state.settings.trusted_proxies
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in request.headers.getlist("x-forwarded-for")
            for hop in header.split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _is_trusted(hop, trusted):
            return hop[:64]
        peer = hop
    return peer


def _is_trusted(host: str, trusted) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in trusted)


async def _count_auth_failure(request: Request) -> None:
    """Token guessing: 429 once an address fails too often (a valid token still works)."""
    from gateway import ratelimit
    ip = client_ip(request)
    limiter = ratelimit.limiter_for(request.app.state.settings.redis_url)
    await ratelimit.check(limiter, [ratelimit.Limit(f"api-auth-fail:ip:{ip}",
                                                    AUTH_FAILURES_PER_MINUTE, 60)])


_WHOLE = re.compile(r"[0-9]{1,18}")


def whole_number(text: str | None) -> int | None:
    """``text`` as a non-negative int when it is 1–18 ASCII digits, else None.

    ``str.isdigit`` is true for "²" and other digits ``int`` refuses: never pair the two."""
    text = (text or "").strip()
    return int(text) if _WHOLE.fullmatch(text) else None


def query_int(request: Request, name: str, default: int) -> int:
    """An integer query parameter with a clear 400."""
    from gateway.errors import BadRequest
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    number = whole_number(raw.removeprefix("-"))
    if number is None:
        raise BadRequest(_("%(name)s must be a whole number.") % {"name": name})
    return -number if raw.startswith("-") else number
