"""gateway.web helpers: one shared run for concurrent cache refreshes; the client address."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from starlette.requests import Request
from starlette.testclient import TestClient

from gateway.settings import Settings
from gateway.web import AUTH_FAILURES_PER_MINUTE, client_ip, shared
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


# ---- client_ip: X-Forwarded-For only from trusted proxies ----------------------------------

def _request(peer: str, forwarded: list[str], trusted: str = "") -> Request:
    settings = Settings.from_env({"INLET_DATA_DIR": "/nonexistent", "INLET_SECRET_KEY": "k" * 20,
                                  "INLET_TRUSTED_PROXIES": trusted})
    app = SimpleNamespace(state=SimpleNamespace(settings=settings))
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "client": (peer, 1234), "headers": headers, "app": app})


def test_client_ip_believes_x_forwarded_for_only_from_a_trusted_peer():
    assert client_ip(_request("203.0.113.5", ["198.51.100.1"])) == "203.0.113.5"
    assert client_ip(_request("127.0.0.1", ["198.51.100.1"])) == "127.0.0.1"  # none trusted
    assert client_ip(_request("203.0.113.5", ["198.51.100.1"], "127.0.0.1")) == "203.0.113.5"
    assert client_ip(_request("127.0.0.1", ["198.51.100.1"], "127.0.0.1")) == "198.51.100.1"


def test_client_ip_walks_the_chain_from_the_right_past_trusted_hops():
    trusted = "127.0.0.1,10.0.0.0/8"
    # The client wrote the first entries itself: only the hop the proxies saw counts.
    chain = ["6.6.6.6, 198.51.100.1", "10.1.2.3"]
    assert client_ip(_request("127.0.0.1", chain, trusted)) == "198.51.100.1"
    assert client_ip(_request("127.0.0.1", [], trusted)) == "127.0.0.1"
    assert client_ip(_request("127.0.0.1", ["10.0.0.7"], trusted)) == "10.0.0.7"


def _auth_statuses(client, forwarded_for) -> list[int]:
    return [client.get("/api/contacts", headers={"Authorization": "Bearer inl_wrong",
                                                 "X-Forwarded-For": ip}).status_code
            for ip in forwarded_for]


def test_a_rotating_x_forwarded_for_does_not_get_around_a_per_ip_limit(client, tenant):
    rotating = [f"198.51.100.{i}" for i in range(AUTH_FAILURES_PER_MINUTE + 1)]
    assert _auth_statuses(client, rotating)[-1] == 429


def test_behind_a_trusted_proxy_limits_key_on_the_forwarded_client(env, request):
    env["INLET_TRUSTED_PROXIES"] = "127.0.0.1"
    app = request.getfixturevalue("app")
    request.getfixturevalue("tenant")
    proxy = TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 40000))
    assert _auth_statuses(proxy, [f"198.51.100.{i}" for i in range(30)]) == [401] * 30
    statuses = _auth_statuses(proxy, ["6.6.6.6, 203.0.113.7"] * (AUTH_FAILURES_PER_MINUTE + 1))
    assert statuses[-1] == 429
    assert _auth_statuses(proxy, ["203.0.113.8"]) == [401]  # another visitor is not held back


def test_parse_json_refuses_what_no_store_can_keep():
    import pytest

    from gateway.errors import MalformedJSON, ValidationFailed
    from gateway.web import MAX_JSON_DEPTH, parse_json
    assert parse_json(b'{"a": [1.5, "\\u00e9"]}') == {"a": [1.5, "é"]}
    assert parse_json("\ufeff[]".encode()) == []  # a BOM, as some tools send it
    nested_ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(nested_ok)
    for raw in (b"NaN", b"[Infinity]", b'{"a": -Infinity}', b"1e999", b"-1e400",
                b"1" * 4301):
        with pytest.raises(ValidationFailed) as caught:
            parse_json(raw)
        assert caught.value.details[0]["code"] == "number_out_of_range"
    for raw in (b"[" * 100_000 + b"]" * 100_000, b"[" * 33 + b"]" * 33,
                b'{"a": "\\u0000"}', b'["\\ud800"]', b"\xff", b"{"):
        with pytest.raises(MalformedJSON):
            parse_json(raw)


def test_whole_numbers_are_ascii_digits_only():
    from gateway.web import whole_number
    assert whole_number(" 42 ") == 42 and whole_number("0") == 0
    for text in ("²", "١٢", "-1", "1e3", "", None, "9" * 19, "4 2"):
        assert whole_number(text) is None, text
