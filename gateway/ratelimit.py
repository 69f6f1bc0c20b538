"""Rate limits: sliding-window counters in Redis, an in-memory fallback for the no-Redis mode.

A limit is ``(key, limit, window)``: at most ``limit`` hits per ``window`` seconds. The sliding
window is the usual two-bucket estimate (the previous fixed window weighted by how much of it
still overlaps): one Redis round trip for any number of limits, no per-hit sets to trim.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import redis

from gateway.errors import RateLimited, ServiceUnavailable
from gateway.scripts import ScriptCaller

PREFIX = "inlet:rl:"
# Counting in Redis, shared by every script that counts hits (here, and gateway.intake, which
# must refuse an item over its limits in the same atomic call that would store it).
# ``hit(at)`` reads ARGV from ``at``: the number of limits, then per limit the current and
# previous bucket keys, the TTL, the limit and the elapsed fraction of the window. It returns
# whether any limit is exceeded (the estimate of ``_estimate``), the counts as pairs
# (current, previous), and where the next ARGV group starts.
LUA_HIT = """
local function hit(at)
  local over, counts = false, {}
  for b = at + 1, at + tonumber(ARGV[at]) * 5, 5 do
    local current = redis.call('INCR', ARGV[b])
    if current == 1 then redis.call('EXPIRE', ARGV[b], ARGV[b + 2]) end
    local previous = tonumber(redis.call('GET', ARGV[b + 1]) or '0')
    if previous * (1 - tonumber(ARGV[b + 4])) + current > tonumber(ARGV[b + 3]) then
      over = true
    end
    counts[#counts + 1] = current
    counts[#counts + 1] = previous
  end
  return over, counts, at + 1 + tonumber(ARGV[at]) * 5
end
"""
# One round trip for the hits of every waiting caller: their ARGV groups one after another.
_HIT = LUA_HIT + """
local out, at = {}, 1
while at <= #ARGV do
  local _, counts
  _, counts, at = hit(at)
  out[#out + 1] = counts
end
return out
"""
# Reads the counts without counting (same ARGV groups and reply shape as ``_HIT``): for limits
# that count only failures, checked before the attempt and hit only when it failed.
_PEEK = """
local out, at = {}, 1
while at <= #ARGV do
  local counts = {}
  for b = at + 1, at + tonumber(ARGV[at]) * 5, 5 do
    counts[#counts + 1] = tonumber(redis.call('GET', ARGV[b]) or '0')
    counts[#counts + 1] = tonumber(redis.call('GET', ARGV[b + 1]) or '0')
  end
  out[#out + 1] = counts
  at = at + 1 + tonumber(ARGV[at]) * 5
end
return out
"""


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` hits per ``window`` seconds for ``key``."""

    key: str
    limit: int
    window: int


def _estimate(previous: int, current: int, window: int, now: float) -> tuple[float, float]:
    """(sliding count, seconds into the current window)."""
    elapsed = now % window
    return previous * (1 - elapsed / window) + current, elapsed


def _retry_after(previous: int, current: int, limit: Limit, now: float) -> int:
    """Seconds until the estimate drops back under the limit (at least 1)."""
    count, elapsed = _estimate(previous, current, limit.window, now)
    if previous and current < limit.limit:
        # The previous bucket decays linearly: wait until enough of it has slid out.
        need = (count - limit.limit + 1) / previous * limit.window
        return max(1, math.ceil(min(need, limit.window - elapsed)))
    return max(1, math.ceil(limit.window - elapsed))


def script_args(limits: list[Limit], now: float) -> list:
    """The ARGV group of ``LUA_HIT`` for one request's ``limits`` at ``now``."""
    args: list = [len(limits)]
    for lim in limits:
        bucket = int(now // lim.window)
        args += [f"{PREFIX}{lim.key}:{lim.window}:{bucket}",
                 f"{PREFIX}{lim.key}:{lim.window}:{bucket - 1}",
                 lim.window * 2 + 1, lim.limit, (now % lim.window) / lim.window]
    return args


def retry_after(limits: list[Limit], counts: list, now: float, extra: int = 0) -> int:
    """0, or the Retry-After of the worst exceeded limit, from ``LUA_HIT``'s counts (plus
    ``extra`` hits not counted yet)."""
    return _worst(limits, [(int(counts[i * 2 + 1]), int(counts[i * 2]) + extra)
                           for i in range(len(limits))], now)


class RedisLimiter:
    """Counters shared by every web process through Redis (asyncio; concurrent hits share a
    round trip: one script call over all their keys, each caller waiting for its counts)."""

    def __init__(self, url: str):
        self._script = ScriptCaller(url, _HIT)
        self._peek = ScriptCaller(url, _PEEK)

    async def aclose(self) -> None:
        """Close the running loop's connection."""
        await self._script.aclose()
        await self._peek.aclose()

    async def hit(self, limits: list[Limit], now: float | None = None) -> int:
        """Count one hit against every limit; returns 0 or the Retry-After of the worst one."""
        return await self._ask(self._script, limits, now, 0)

    async def peek(self, limits: list[Limit], now: float | None = None) -> int:
        """0, or the Retry-After if one more hit would exceed a limit (nothing is counted)."""
        return await self._ask(self._peek, limits, now, 1)

    @staticmethod
    async def _ask(script: ScriptCaller, limits: list[Limit], now: float | None,
                   extra: int) -> int:
        now = time.time() if now is None else now
        try:
            replies, index = await script.call((0,), script_args(limits, now))
        except (redis.exceptions.RedisError, OSError):
            raise ServiceUnavailable("The rate limiter is unavailable; retry later.") from None
        return retry_after(limits, replies[index], now, extra=extra)


class MemoryLimiter:
    """Per-process counters for the embedded (no-Redis) mode: one process serves everything."""

    def __init__(self):
        self._counts: dict[tuple[str, int, int], int] = {}
        self._lock = threading.Lock()

    async def hit(self, limits: list[Limit], now: float | None = None) -> int:
        """Count one hit against every limit; returns 0 or the Retry-After of the worst one."""
        now = time.time() if now is None else now
        pairs = []
        with self._lock:
            for lim in limits:
                bucket = int(now // lim.window)
                key = (lim.key, lim.window, bucket)
                self._counts[key] = self._counts.get(key, 0) + 1
                pairs.append((self._counts.get((lim.key, lim.window, bucket - 1), 0),
                              self._counts[key]))
            if len(self._counts) > 50_000:
                self._forget_old(now)
        return _worst(limits, pairs, now)

    async def peek(self, limits: list[Limit], now: float | None = None) -> int:
        """0, or the Retry-After if one more hit would exceed a limit (nothing is counted)."""
        now = time.time() if now is None else now
        with self._lock:
            pairs = [(self._counts.get((lim.key, lim.window, int(now // lim.window) - 1), 0),
                      self._counts.get((lim.key, lim.window, int(now // lim.window)), 0) + 1)
                     for lim in limits]
        return _worst(limits, pairs, now)

    def _forget_old(self, now: float) -> None:
        # Keep memory bounded: only the current and previous bucket of a key matter.
        self._counts = {k: v for k, v in self._counts.items() if k[2] >= int(now // k[1]) - 1}


def _worst(limits: list[Limit], pairs: list[tuple[int, int]], now: float) -> int:
    worst = 0
    for lim, (previous, current) in zip(limits, pairs, strict=True):
        count, _ = _estimate(previous, current, lim.window, now)
        if count > lim.limit:
            worst = max(worst, _retry_after(previous, current, lim, now))
    return worst


_limiters: dict[str | None, RedisLimiter | MemoryLimiter] = {}


def limiter_for(redis_url: str | None) -> RedisLimiter | MemoryLimiter:
    """Redis counters when Redis is configured, else this process's memory (embedded mode)."""
    limiter = _limiters.get(redis_url)
    if limiter is None:
        limiter = _limiters[redis_url] = RedisLimiter(redis_url) if redis_url else MemoryLimiter()
    return limiter


async def aclose() -> None:
    """Close the running loop's Redis connections (the app's lifespan calls it)."""
    for limiter in list(_limiters.values()):
        if isinstance(limiter, RedisLimiter):
            await limiter.aclose()


async def check(limiter, limits: list[Limit], now: float | None = None) -> None:
    """Count a hit; raise ``RateLimited`` (429 with Retry-After) when any limit is exceeded."""
    retry_after = await limiter.hit(limits, now)
    if retry_after:
        raise RateLimited(retry_after)


async def check_uncounted(limiter, limits: list[Limit], now: float | None = None) -> None:
    """``RateLimited`` if one more hit would exceed a limit; counts nothing (hit failures
    with ``limiter.hit`` once they are known)."""
    retry_after = await limiter.peek(limits, now)
    if retry_after:
        raise RateLimited(retry_after)
