"""gateway.web helpers: one shared run for concurrent cache refreshes."""

from __future__ import annotations

import asyncio

from gateway.web import shared
from tests.conftest import run_async


def test_concurrent_callers_share_one_run_and_a_later_call_runs_again():
    runs = []

    async def load(value):
        runs.append(value)
        await asyncio.sleep(0.05)
        return value * 2

    async def go():
        first = await asyncio.gather(*(shared(("k", 1), load, 21) for _ in range(10)))
        other = await shared(("k", 2), load, 5)  # another key: its own run
        again = await shared(("k", 1), load, 21)  # the earlier run is over: a fresh one
        return first, other, again
    first, other, again = run_async(go())
    assert first == [42] * 10 and other == 10 and again == 42
    assert runs == [21, 5, 21]


def test_a_cancelled_caller_does_not_cancel_the_others_and_errors_reach_all():
    async def slow():
        await asyncio.sleep(0.05)
        return "done"

    async def broken():
        await asyncio.sleep(0.01)
        raise LookupError("no such row")

    async def go():
        quitter = asyncio.ensure_future(shared("slow", slow))
        stayer = asyncio.ensure_future(shared("slow", slow))
        await asyncio.sleep(0.01)
        quitter.cancel()
        results = await asyncio.gather(*(shared("broken", broken) for _ in range(3)),
                                       return_exceptions=True)
        return await stayer, quitter.cancelled(), results
    value, cancelled, results = run_async(go())
    assert value == "done" and cancelled
    assert [type(r) for r in results] == [LookupError] * 3
