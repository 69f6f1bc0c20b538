"""Redis Lua scripts called from the event loop, with concurrent calls coalesced.

At high request rates, packing, sending and parsing one command per request costs more CPU
than the script's own work. A ``ScriptCaller`` sends the calls that arrive while a round trip
is in flight together in the next one: one ``EVALSHA`` per group (calls sharing the same
leading arguments, whose ARGV groups are concatenated), all groups in one pipeline. Each
caller still waits for the reply to its own group and learns its position in it.

``caller = ScriptCaller(url, source)``; ``reply, index = await caller.call(head, args)``
    ``head``: ``(numkeys, *keys, *leading argv)`` shared by the group; ``args``: this call's
    ARGV group. ``reply`` is the script's answer for the whole group; ``index`` is this
    call's position among the group's callers.
"""

from __future__ import annotations

import asyncio
import hashlib

import redis
import redis.asyncio as aioredis


class _Connection:
    """One event loop's connection and its queue of waiting calls."""

    def __init__(self, url: str):
        self.client = aioredis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=2)
        self.pending: dict[tuple, list[tuple[list, asyncio.Future]]] = {}
        self.flusher: asyncio.Task | None = None


class ScriptCaller:
    """Calls one Lua script, coalescing the calls of each event loop (see the module)."""

    def __init__(self, url: str, source: str):
        self.url, self.source = url, source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        # asyncio connections belong to one loop: one per loop (tests run several)
        self._connections: dict[int, tuple[asyncio.AbstractEventLoop, _Connection]] = {}

    def _connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        entry = self._connections.get(id(loop))
        if entry is None or entry[0] is not loop:
            entry = self._connections[id(loop)] = (loop, _Connection(self.url))
        return entry[1]

    async def call(self, head: tuple, args: list) -> tuple[list, int]:
        """Run the script for ``args`` within ``head``'s group: (group reply, own index)."""
        conn = self._connection()
        future = asyncio.get_running_loop().create_future()
        group = conn.pending.setdefault(head, [])
        group.append((args, future))
        index = len(group) - 1
        if conn.flusher is None or conn.flusher.done():
            conn.flusher = asyncio.create_task(self._flush(conn))
        return await future, index

    async def aclose(self) -> None:
        """Close the running loop's connection, after its calls in flight."""
        entry = self._connections.pop(id(asyncio.get_running_loop()), None)
        if entry:
            if entry[1].flusher:
                await asyncio.gather(entry[1].flusher, return_exceptions=True)
            await entry[1].client.aclose()

    async def _send(self, conn: _Connection, groups: dict) -> list:
        # EVALSHA straight away: redis-py's Script would add a SCRIPT EXISTS round trip
        async with conn.client.pipeline(transaction=False) as pipe:
            for head, calls in groups.items():
                pipe.evalsha(self.sha, *head, *[a for args, _ in calls for a in args])
            return await pipe.execute(raise_on_error=False)

    async def _flush(self, conn: _Connection) -> None:
        while conn.pending:
            groups, conn.pending = conn.pending, {}
            try:
                replies = await self._send(conn, groups)
                if any(isinstance(r, redis.exceptions.NoScriptError) for r in replies):
                    # Redis restarted or flushed its scripts: nothing ran; load and redo
                    await conn.client.script_load(self.source)
                    replies = await self._send(conn, groups)
            except Exception as exc:  # the connection failed: every waiter gets the error
                replies = [exc] * len(groups)
            for calls, reply in zip(groups.values(), replies, strict=True):
                for _, future in calls:
                    if future.done():
                        continue  # the caller was cancelled (its client went away)
                    if isinstance(reply, Exception):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
