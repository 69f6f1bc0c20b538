"""The events' HTTP/1.1 client: answers framed every way HTTP allows, kept-alive connections
reused only when the answer ended cleanly, the cap, the deadline, the SSRF guard."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import threading
import time

import pytest

from events import delivery, wire
from events.targets import TargetRefused

LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)
HEADERS = [("content-type", "application/json"), ("webhook-id", "evt_1")]


class Scripted:
    """A raw loopback server answering the n-th request with ``answers[n]``: (bytes, whether
    to close the connection after them), or None to never answer."""

    def __init__(self, answers: list):
        self.answers, self.requests, self.connections = list(answers), [], 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook?x=1"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # a client that hangs up resets it
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
            while len(buffer) < length:
                buffer += conn.recv(65536)
            self.requests.append((head, buffer[:length]))
            buffer = buffer[length:]
            answer = self.answers.pop(0)
            if answer is None:
                time.sleep(5)
                return
            conn.sendall(answer[0])
            if answer[1]:
                return

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def scripted():
    servers = []

    def make(*answers):
        servers.append(Scripted(list(answers)))
        return servers[-1]
    yield make
    for server in servers:
        server.close()


@pytest.fixture
def pool():
    made = wire.Pool(LOOPBACK)
    yield made
    made.close()


def _post(pool: wire.Pool, url: str, *, timeout: float = 5.0, cap: int = 1000,
          keep: int = 100) -> wire.Answer:
    return pool.post(url, HEADERS, b'{"a": 1}', timeout=timeout, cap=cap, keep=keep)


def test_a_sized_answer_keeps_the_connection_for_the_next_post(scripted, pool):
    server = scripted((b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
                       False),
                      (b"HTTP/1.1 503 Busy\r\ncontent-length: 4\r\n\r\nbusy", False))
    first, second = _post(pool, server.url), _post(pool, server.url)
    assert (first.status, first.body, second.status, second.body) == (200, b"ok", 503, b"busy")
    assert server.connections == 1
    head, body = server.requests[0]
    assert head.startswith(b"POST /hook?x=1 HTTP/1.1\r\n") and body == b'{"a": 1}'
    assert b"\r\nhost: 127.0.0.1:" in head and b"\r\nwebhook-id: evt_1" in head


def test_a_chunked_answer_is_joined_and_interim_answers_skipped(scripted, pool):
    server = scripted((b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
                       b"Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n"
                       b"Trailer: 1\r\n\r\n", False),
                      (b"HTTP/1.1 204 No Content\r\n\r\n", False))
    answer = _post(pool, server.url)
    assert (answer.status, answer.body) == (201, b"abcde")
    assert _post(pool, server.url).status == 204
    assert server.connections == 1


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\n\r\nuntil the end",  # no length: the body ends with the connection
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 13\r\n\r\nuntil the end",
    b"HTTP/1.0 200 OK\r\nContent-Length: 13\r\n\r\nuntil the end"])
def test_an_answer_that_ends_the_connection_is_not_reused(scripted, pool, answer):
    server = scripted((answer, True), (answer, True))
    assert _post(pool, server.url).body == b"until the end"
    assert _post(pool, server.url).body == b"until the end"
    assert server.connections == 2


def test_a_long_answer_is_capped_and_its_connection_dropped(scripted, pool):
    server = scripted((b"HTTP/1.1 500 Oops\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000,
                       False), (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False))
    answer = _post(pool, server.url, cap=2000, keep=10)
    assert (answer.status, answer.body) == (500, b"x" * 10)
    assert _post(pool, server.url).status == 200
    assert server.connections == 2


def test_an_answer_that_does_not_come_times_out(scripted, pool):
    server = scripted(None)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        _post(pool, server.url, timeout=0.3)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("answer", [b"SSH-2.0-OpenSSH\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n"])
def test_what_is_not_http_is_a_protocol_error(scripted, pool, answer):
    server = scripted((answer, True))
    with pytest.raises(wire.ProtocolError):
        _post(pool, server.url)


def test_a_header_cannot_smuggle_a_line(scripted, pool):
    server = scripted()
    with pytest.raises(wire.ProtocolError):
        pool.post(server.url, [("webhook-id", "evt_1\r\nx-evil: 1")], b"{}",
                                 timeout=1, cap=10, keep=10)
    assert server.requests == []


def test_a_forbidden_address_is_refused_before_any_connection(scripted):
    server = scripted((b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False))
    with pytest.raises(TargetRefused):
        _post(wire.Pool(allowed=()), server.url)
    assert server.connections == 0


def test_an_outcome_keeps_the_first_kilobyte_and_names_the_failure(scripted, store):
    text = "é" * 3000
    answer = text.encode()
    server = scripted((b"HTTP/1.1 422 No\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer),
                       False))
    outcome = delivery.post(server.url, ["whsec_" + "A" * 32], b"{}", "evt_1")
    assert outcome.status_code == 422 and outcome.response == text[:delivery.KEPT]
    assert outcome.error == "answered 422" and outcome.latency_ms >= 0 and not outcome.ok
