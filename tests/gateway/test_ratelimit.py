"""Sliding-window rate limits on real Redis and in memory, on a frozen clock."""

import asyncio

import pytest

from gateway.errors import RateLimited
from gateway.ratelimit import Limit, MemoryLimiter, RedisLimiter, check
from tests.conftest import REDIS_URL, run_async

T0 = 1_800_000_000.0  # the start of a 60-second window


_run = run_async


@pytest.fixture(params=["redis", "memory"])
def limiter(request):
    if request.param == "memory":
        return MemoryLimiter()
    request.getfixturevalue("redis_server")
    return RedisLimiter(REDIS_URL)


def _hits(limiter, n, now, limit=Limit("t:ip", 3, 60)):
    async def run():
        try:
            return [await limiter.hit([limit], now) for _ in range(n)]
        finally:
            await _close(limiter)
    return _run(run())


async def _close(limiter):
    if isinstance(limiter, RedisLimiter):
        await limiter.aclose()


def test_allows_up_to_the_limit_then_says_when_to_retry(limiter):
    assert _hits(limiter, 3, T0 + 10) == [0, 0, 0]
    [retry] = _hits(limiter, 1, T0 + 10)
    assert retry == 50  # the window ends in 50 s


def test_the_previous_window_slides_out(limiter):
    _hits(limiter, 3, T0 + 59)
    # 30 s into the next window half of the old hits still count: 1.5 + 1 <= 3.
    assert _hits(limiter, 1, T0 + 90) == [0]
    [retry] = _hits(limiter, 1, T0 + 90)  # 1.5 + 2 > 3: wait until enough has slid out
    assert 1 <= retry <= 30
    assert _hits(limiter, 1, T0 + 120) == [0]  # the old window is gone


def test_check_raises_429_with_retry_after(limiter):
    async def run():
        for _ in range(2):
            await check(limiter, [Limit("t:x", 2, 60)], T0)
        with pytest.raises(RateLimited) as info:
            await check(limiter, [Limit("t:x", 2, 60), Limit("t:y", 100, 3600)], T0)
        await _close(limiter)
        return info.value
    exc = _run(run())
    assert exc.status == 429 and exc.headers["Retry-After"] == "60"


def test_concurrent_hits_share_a_round_trip_yet_count_apart(redis_server):
    """Callers batched into one script call each get their own keys' counts."""
    limiter = RedisLimiter(REDIS_URL)

    async def run():
        try:
            await limiter.hit([Limit("t:warm", 9, 60)], T0)
            redis_server.script_flush()  # Redis lost its scripts: the batch loads and redoes
            return await asyncio.gather(*[
                limiter.hit([Limit(f"t:c{i % 3}", 2, 60), Limit("t:all", 100, 60)], T0)
                for i in range(9)])
        finally:
            await limiter.aclose()
    # three callers per address; the third of each is over its limit of 2
    assert _run(run()) == [0] * 6 + [60] * 3
    assert int(redis_server.get(next(redis_server.scan_iter("inlet:rl:t:all:*")))) == 9


def test_peek_counts_nothing_and_says_whether_one_more_hit_would_be_over(limiter):
    limits = [Limit("t:peek", 2, 60)]

    async def run():
        seen = [await limiter.peek(limits, T0 + 10)]
        await limiter.hit(limits, T0 + 10)
        seen.append(await limiter.peek(limits, T0 + 10))
        seen.append(await limiter.peek(limits, T0 + 10))  # peeking again changes nothing
        await limiter.hit(limits, T0 + 10)
        seen.append(await limiter.peek(limits, T0 + 10))  # a third hit would be over
        seen.append(await limiter.peek(limits, T0 + 125))  # two windows later: clear
        await _close(limiter)
        return seen
    assert _run(run()) == [0, 0, 0, 50, 0]
