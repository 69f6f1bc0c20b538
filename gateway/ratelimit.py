"""Rate limits: sliding-window counters in Redis, an in-memory fallback for the no-Redis mode.

A limit is ``(key, limit, window)``: at most ``limit`` hits per ``window`` seconds. The sliding
window is the usual two-bucket estimate (the previous fixed window weighted by how much of it
still overlaps): one Redis round trip for any number of limits, no per-hit sets to trim.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import threading
import time
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

from gateway.errors import RateLimited, ServiceUnavailable

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


def retry_after(limits: list[Limit], counts: list, now: float) -> int:
    """0, or the Retry-After of the worst exceeded limit, from ``LUA_HIT``'s counts."""
    return _worst(limits, [(int(counts[i * 2 + 1]), int(counts[i * 2]))
                           for i in range(len(limits))], now)


class _Batch:
    """One loop's connection: hits arriving while a round trip is in flight share the next
    one (a single EVALSHA over all their keys); each caller still waits for its own counts."""

    def __init__(self, url: str, sha: str):
        self.client = aioredis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=2)
        self.sha = sha
        self.pending: list[tuple[list, asyncio.Future]] = []
        self.flusher: asyncio.Task | None = None

    async def run(self, args: list):
        future = asyncio.get_running_loop().create_future()
        self.pending.append((args, future))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())
        return await future

    async def _write(self, batch: list) -> list:
        # One script call for the whole batch: packing and parsing a command per caller
        # cost more CPU than the counting itself.
        return await self.client.evalsha(self.sha, 0, *[a for args, _ in batch for a in args])

    async def _flush(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                try:
                    replies = await self._write(batch)
                except redis.exceptions.NoScriptError:
                    await self.client.script_load(_HIT)  # Redis lost its scripts: redo
                    replies = await self._write(batch)
            except Exception as exc:  # the connection failed: every waiter gets a 503
                replies = [exc] * len(batch)
            for (_, future), reply in zip(batch, replies, strict=True):
                if not future.done():
                    if isinstance(reply, Exception):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)


class RedisLimiter:
    """Counters shared by every web process through Redis (asyncio, batched round trips)."""

    def __init__(self, url: str):
        self.url = url
        self._sha = hashlib.sha1(_HIT.encode(), usedforsecurity=False).hexdigest()
        self._batches: dict[int, tuple[asyncio.AbstractEventLoop, _Batch]] = {}

    def _batch(self) -> _Batch:
        """This event loop's batch (asyncio connections belong to one loop)."""
        loop = asyncio.get_running_loop()
        entry = self._batches.get(id(loop))
        if entry is None or entry[0] is not loop:
            entry = self._batches[id(loop)] = (loop, _Batch(self.url, self._sha))
        return entry[1]

    async def aclose(self) -> None:
        """Close the running loop's connection."""
        entry = self._batches.pop(id(asyncio.get_running_loop()), None)
        if entry:
            if entry[1].flusher:
                await asyncio.gather(entry[1].flusher, return_exceptions=True)
            await entry[1].client.aclose()

    async def hit(self, limits: list[Limit], now: float | None = None) -> int:
        """Count one hit against every limit; returns 0 or the Retry-After of the worst one."""
        now = time.time() if now is None else now
        try:
            counts = await self._batch().run(script_args(limits, now))
        except (redis.exceptions.RedisError, OSError):
            raise ServiceUnavailable("The rate limiter is unavailable; retry later.") from None
        return retry_after(limits, counts, now)


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
