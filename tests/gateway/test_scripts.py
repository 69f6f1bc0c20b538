"""Coalesced Lua script calls on real Redis: shared round trips, own answers, lost scripts."""

import asyncio
import socket

import redis

from gateway.scripts import ScriptCaller
from tests.conftest import REDIS_URL, run_async

# Counts its own runs in KEYS[1] and answers its whole ARGV, tagged with the group's head.
ECHO = """
local runs = redis.call('INCR', KEYS[1])
local out = {KEYS[1], tostring(runs)}
for i = 1, #ARGV do out[#out + 1] = ARGV[i] end
return out
"""


def _gather(caller, calls):
    async def run():
        try:
            return await asyncio.gather(*(caller.call(head, args) for head, args in calls))
        finally:
            await caller.aclose()
    return run_async(run())


def test_concurrent_calls_share_one_run_per_group_and_know_their_place(redis_server):
    caller = ScriptCaller(REDIS_URL, ECHO)
    calls = [((1, f"t:group{i % 2}"), [f"call{i}", "x"]) for i in range(6)]
    answers = _gather(caller, calls)
    for i, (reply, index) in enumerate(answers):
        assert reply[0] == f"t:group{i % 2}".encode()
        assert reply[2 + 2 * index] == f"call{i}".encode()  # its own ARGV group, in order
        assert len(reply) == 2 + 2 * 3  # the three calls of its group, together
    # both groups ran once: the six calls took one round trip
    assert redis_server.get("t:group0") == b"1" and redis_server.get("t:group1") == b"1"


def test_calls_after_a_round_trip_form_the_next_one(redis_server):
    caller = ScriptCaller(REDIS_URL, ECHO)

    async def run():
        try:
            first = await caller.call((1, "t:seq"), ["a"])
            second = await caller.call((1, "t:seq"), ["b"])
            return first, second
        finally:
            await caller.aclose()
    (first, i), (second, j) = run_async(run())
    assert (first[1:], i) == ([b"1", b"a"], 0)
    assert (second[1:], j) == ([b"2", b"b"], 0)


def test_a_script_redis_lost_is_loaded_and_run_once(redis_server):
    caller = ScriptCaller(REDIS_URL, ECHO)
    _gather(caller, [((1, "t:lost"), ["warm"])])
    redis_server.script_flush()
    [(reply, _), _] = _gather(caller, [((1, "t:lost"), ["a"]), ((1, "t:lost"), ["b"])])
    assert reply[1:] == [b"2", b"a", b"b"]  # the failed attempt ran nothing


def test_an_unreachable_redis_fails_every_waiting_call():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    caller = ScriptCaller(f"redis://127.0.0.1:{port}/0", ECHO)

    async def run():
        try:
            return await asyncio.gather(*(caller.call((1, "t:x"), [str(i)]) for i in range(3)),
                                        return_exceptions=True)
        finally:
            await caller.aclose()
    outcomes = run_async(run())
    assert len(outcomes) == 3
    assert all(isinstance(o, redis.exceptions.ConnectionError) for o in outcomes)


def test_a_script_error_reaches_every_caller_of_the_group(redis_server):
    caller = ScriptCaller(REDIS_URL, "return redis.call('INCR', KEYS[1])")
    redis_server.set("t:text", "not a number")

    async def run():
        try:
            return await asyncio.gather(caller.call((1, "t:text"), []),
                                        caller.call((1, "t:text"), []),
                                        return_exceptions=True)
        finally:
            await caller.aclose()
    outcomes = run_async(run())
    assert all(isinstance(o, redis.exceptions.ResponseError) for o in outcomes)
