"""A lean HTTP/1.1 client for event POSTs: kept-alive connections per origin, one request on a
connection at a time, no redirect ever followed, one deadline for the whole exchange (each
socket read waits only what is left of it), at most ``cap`` bytes of an answer read.

httpcore (with h11) cost about five times the CPU of the exchange itself per POST — its pool's
bookkeeping, locks and event objects — and that CPU, not the receivers, bounded how many
events a worker delivers per second. A POST here is one ``sendall`` and, usually, one
``recv``; connections are opened by ``events.targets.connect`` (the SSRF check on the address
actually connected to).
"""

from __future__ import annotations

import functools
import select
import socket
import ssl
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpcore2

from events.targets import Network, connect

MAX_LINE = 64 * 1024  # a status or header line longer than this is not an answer
MAX_HEADERS = 100
NO_BODY = (204, 304)


class ProtocolError(ValueError):
    """The answer is not HTTP/1.x this client reads."""


@dataclass(frozen=True)
class Target:
    """What a URL means to the client: where to connect, what to ask for."""

    origin: tuple[str, str, int]  # scheme, host, port
    authority: str  # the Host header
    path: str  # the request target


@dataclass
class Answer:
    """A final answer: its status and the first bytes of its body."""

    status: int
    body: bytes


@functools.lru_cache(maxsize=1024)
def target(url: str) -> Target:
    """The parsed ``url`` (cached: every POST of an endpoint names the same one)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProtocolError(f"cannot POST to {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # non-ASCII is sent percent-encoded; what is already ASCII is sent as written
    path = quote(path, safe="!#$%&'()*+,/:;=?@[]~")
    authority = parts.netloc.rpartition("@")[2]
    if not authority.isascii():  # an international name is sent as IDNA
        authority = parts.hostname.encode("idna").decode() + (
            f":{parts.port}" if parts.port else "")
    if any(ord(ch) < 33 for ch in path + authority):
        raise ProtocolError(f"cannot POST to {url!r}")
    return Target((parts.scheme, parts.hostname, port), authority, path)


@functools.cache
def _tls() -> ssl.SSLContext:
    # httpcore's context: the same trust store as before this client
    context = httpcore2.default_ssl_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


class Connection:
    """A socket with the bytes read ahead of what was consumed."""

    def __init__(self, sock: socket.socket, origin: tuple):
        self.sock, self.origin = sock, origin
        self.buffer = b""
        self.idle_since = 0.0

    def fill(self, deadline: float) -> None:
        """Read what arrives next, waiting no later than ``deadline``."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer in time")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionResetError("the connection was closed before the answer ended")
        self.buffer += data

    def line(self, deadline: float) -> bytes:
        """The next line, without its end."""
        while (end := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > MAX_LINE:
                raise ProtocolError("a line of the answer is too long")
            self.fill(deadline)
        line, self.buffer = self.buffer[:end], self.buffer[end + 1:]
        return line.rstrip(b"\r")

    def take(self, most: int, deadline: float) -> bytes:
        """Up to ``most`` of the next bytes (at least one)."""
        if not self.buffer:
            self.fill(deadline)
        chunk, self.buffer = self.buffer[:most], self.buffer[most:]
        return chunk

    def until_closed(self, deadline: float) -> bytes:
        """The next bytes, or b"" once the peer closed the connection."""
        if not self.buffer:
            try:
                self.fill(deadline)
            except ConnectionResetError:
                return b""
        chunk, self.buffer = self.buffer, b""
        return chunk

    def reusable(self, now: float, expiry: float) -> bool:
        """Idle for less than ``expiry`` and nothing (a close, stray bytes) arrived since."""
        if self.buffer or now - self.idle_since > expiry:
            return False
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return not poller.poll(0)

    def close(self) -> None:
        """Drop the connection."""
        try:
            self.sock.close()
        except OSError:
            pass


class Pool:
    """Kept-alive connections by origin, each opened to an address ``allowed`` permits."""

    def __init__(self, allowed: tuple[Network, ...] = (), keepalive: float = 30.0,
                 max_idle: int = 32):
        self.allowed, self.keepalive, self.max_idle = allowed, keepalive, max_idle
        self.idle: dict[tuple, list[Connection]] = defaultdict(list)
        self.lock = threading.Lock()

    def post(self, url: str, headers: list[tuple[str, str]], body: bytes, *, timeout: float,
             cap: int, keep: int) -> Answer:
        """POST ``body`` to ``url``: the final answer with its body's first ``keep`` bytes
        (at most ``cap`` are read); raises OSError, TimeoutError or ProtocolError."""
        deadline = time.monotonic() + timeout
        where = target(url)
        request = _request_bytes(where, headers, body)
        conn = self._checkout(where.origin, deadline)
        try:
            conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            conn.sock.sendall(request)
            status, kept, reuse = read_answer(conn, deadline, cap, keep)
        except BaseException:
            conn.close()
            raise
        if reuse:
            self._checkin(conn)
        else:
            conn.close()
        return Answer(status, kept)

    def _checkout(self, origin: tuple, deadline: float) -> Connection:
        now = time.monotonic()
        with self.lock:
            idle = self.idle[origin]
            while idle:
                conn = idle.pop()
                if conn.reusable(now, self.keepalive):
                    return conn
                conn.close()
        return self._open(origin, deadline)

    def _open(self, origin: tuple, deadline: float) -> Connection:
        scheme, host, port = origin
        sock = connect(host, port, self.allowed, max(deadline - time.monotonic(), 0.001))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":  # the name is verified and sent (SNI), not the address
                sock = _tls().wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        return Connection(sock, origin)

    def close(self) -> None:
        """Drop every idle connection."""
        with self.lock:
            idle = [conn for conns in self.idle.values() for conn in conns]
            self.idle.clear()
        for conn in idle:
            conn.close()

    def _checkin(self, conn: Connection) -> None:
        conn.idle_since = time.monotonic()
        with self.lock:
            idle = self.idle[conn.origin]
            if len(idle) < self.max_idle:
                idle.append(conn)
                return
        conn.close()


def _request_bytes(where: Target, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
    if lines.count("\n") != len(headers) or lines.count("\r") != len(headers):
        raise ProtocolError("a header value holds a line break")
    return (f"POST {where.path} HTTP/1.1\r\nhost: {where.authority}\r\n"
            f"content-length: {len(body)}\r\n{lines}\r\n").encode("latin-1") + body


def read_answer(conn: Connection, deadline: float, cap: int, keep: int
                ) -> tuple[int, bytes, bool]:
    """(status, the body's first ``keep`` bytes, whether the connection may be reused) of the
    final answer (interim 1xx answers are skipped)."""
    while True:
        version, status, fields = _read_head(conn, deadline)
        if not (100 <= status < 200) or status == 101:
            break
    reuse = version == b"HTTP/1.1" and b"close" not in fields.get(b"connection", b"").lower()
    if status in NO_BODY or 100 <= status < 200:
        return status, b"", reuse and status != 101
    if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        kept, ended = _read_chunked(conn, deadline, cap, keep)
    elif b"content-length" in fields:
        kept, ended = _read_sized(conn, deadline, cap, keep, _length(fields[b"content-length"]))
    else:  # the body ends when the connection does
        kept, _ = _read_until_closed(conn, deadline, cap, keep)
        ended = reuse = False
    return status, kept, reuse and ended


def _read_head(conn: Connection, deadline: float) -> tuple[bytes, int, dict[bytes, bytes]]:
    version, _, rest = conn.line(deadline).partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ProtocolError("the answer does not start with an HTTP/1.x status line")
    fields: dict[bytes, bytes] = {}
    for _ in range(MAX_HEADERS + 1):
        line = conn.line(deadline)
        if not line:
            return version, int(code), fields
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ProtocolError("a header line of the answer is malformed")
        name = name.lower()
        fields[name] = fields[name] + b"," + value.strip() if name in fields else value.strip()
    raise ProtocolError("the answer has too many headers")


def _length(value: bytes) -> int:
    values = {part.strip() for part in value.split(b",")}  # repeated headers are joined
    if len(values) != 1 or not (length := values.pop()).isdigit():
        raise ProtocolError("the answer's content-length is invalid")
    return int(length)


def _read_sized(conn: Connection, deadline: float, cap: int, keep: int, length: int
                ) -> tuple[bytes, bool]:
    kept, size = [], 0
    while size < min(length, cap):
        chunk = conn.take(min(length, cap) - size, deadline)
        if size < keep:
            kept.append(chunk)
        size += len(chunk)
    return b"".join(kept)[:keep], length <= cap


def _read_until_closed(conn: Connection, deadline: float, cap: int, keep: int
                       ) -> tuple[bytes, bool]:
    kept, size = [], 0
    while size <= cap and (chunk := conn.until_closed(deadline)):
        if size < keep:
            kept.append(chunk)
        size += len(chunk)
    return b"".join(kept)[:keep], False


def _read_chunked(conn: Connection, deadline: float, cap: int, keep: int
                  ) -> tuple[bytes, bool]:
    """The body of a chunked answer; whether it was read to its end (within ``cap``)."""
    kept, size = [], 0
    while True:
        head = conn.line(deadline).split(b";")[0].strip()
        try:
            length = int(head, 16)
        except ValueError:
            raise ProtocolError("a chunk size of the answer is invalid") from None
        if length == 0:
            while conn.line(deadline):  # trailers, up to the empty line
                pass
            return b"".join(kept)[:keep], True
        if size + length > cap:
            return b"".join(kept)[:keep], False  # capped: the rest is not read
        chunk = b""
        while len(chunk) < length:
            chunk += conn.take(length - len(chunk), deadline)
        if conn.line(deadline):
            raise ProtocolError("a chunk of the answer does not end where it says")
        if size < keep:
            kept.append(chunk)
        size += length
