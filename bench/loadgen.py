"""The benchmarks' load generator: a minimal HTTP/1.1 keep-alive client on asyncio.

httpx spends several times the server's own CPU per request; on a 2-core machine that capped
the rate a benchmark could measure (and inflated its latencies) long before the server was
saturated. This client writes the request by hand and reads just the status line, the
Content-Length and the body.

Two modes: a closed loop (each connection sends its next request as soon as the answer
arrives; latency then is about connections / rate) and a paced one (requests start on a fixed
schedule, whatever the answers do; latency counts from the scheduled start, so time spent
waiting for a free connection counts too — the latency a client sees at that load).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlparse

# make_request() -> (body, headers, key); accept(status, content, key) -> what to keep or None
MakeRequest = Callable[[], tuple[bytes, dict, object]]
Accept = Callable[[int, bytes, object], object]


async def post(reader, writer, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    """One HTTP/1.1 keep-alive POST on an open connection."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(f"POST {path} HTTP/1.1\r\nhost: bench\r\ncontent-length: {len(body)}\r\n"
                 f"{head}\r\n".encode() + body)
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines
                  if line.lower().startswith("content-length:"))
    return int(lines[0].split()[1]), await reader.readexactly(length)


async def run(url: str, seconds: float, connections: int, make_request: MakeRequest,
              accept: Accept, rate: float = 0.0, limit: int = 0) -> dict:
    """Drive ``url`` for ``seconds`` over ``connections`` connections, closed loop (``rate``
    0) or paced at ``rate`` requests/s, stopping after ``limit`` requests when it is set;
    returns rate, p50/p99, statuses and accepted keys."""
    target = urlparse(url)
    free: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        free.put_nowait(await asyncio.open_connection(target.hostname, target.port))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted: list = []
    deadline = time.perf_counter() + seconds
    issued = 0

    def more() -> bool:
        nonlocal issued
        issued += 1
        return time.perf_counter() < deadline and not (limit and issued > limit)

    async def one(scheduled: float) -> None:
        body, headers, key = make_request()
        reader, writer = await free.get()
        try:
            status, content = await post(reader, writer, target.path, body, headers)
        finally:
            free.put_nowait((reader, writer))
        latencies.append(time.perf_counter() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1
        kept = accept(status, content, key)
        if kept is not None:
            accepted.append(kept)

    async def closed_loop() -> None:
        while more():
            await one(time.perf_counter())

    async def paced() -> None:
        tasks, start, i = [], time.perf_counter(), 0
        while (scheduled := start + i / rate) < deadline:
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            tasks.append(asyncio.create_task(one(scheduled)))
            i += 1
        await asyncio.gather(*tasks)

    started = time.perf_counter()
    if rate:
        await paced()
    else:
        await asyncio.gather(*(closed_loop() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    while not free.empty():
        free.get_nowait()[1].close()
    latencies.sort()
    return {"requests": len(latencies), "rps": len(latencies) / elapsed,
            "p50_ms": 1000 * latencies[len(latencies) // 2],
            "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
            "statuses": statuses, "accepted": accepted}
