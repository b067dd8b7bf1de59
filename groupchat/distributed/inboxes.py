"""One reader for every stream a process waits on: a blocking ``XREAD`` over all of them.

A manager of many chats reads each chat's inboxes, and a worker its reply stream of each chat
it hosts in. A blocking read per stream would hold a connection and cost a round trip a
stream; an :class:`Inboxes` reads them all in one ``XREAD`` (entries that arrived together come
back together) and hands each entry to the handler its stream was watched with. Handlers run
in the reader's task and must not block: whatever waits on Redis they start as a task.

Streams watched while a read is blocked are read from the next one on: :meth:`watch` ends the
blocked read at once by adding to a stream of the reader's own (``wake``), when there is one.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from groupchat.distributed import keys
from groupchat.distributed.streams import xread

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["BLOCK_MS", "Handler", "Inboxes"]

BLOCK_MS = 1000
"""How long one read waits for an entry (the reader's ``idle`` hook runs at least as often)."""

Handler = Callable[[str, bytes, dict[bytes, bytes]], None]
"""Called with the stream, the entry's id and its fields."""


class Inboxes:
    """Reads the streams given to :meth:`watch`; see the module docstring.

    ``wake``: whether to keep a stream of its own to end a blocked read when streams are
    added (the client must be allowed to write ``groupchat:wake:*``); without it a new
    stream is read from the next read on, within :data:`BLOCK_MS`, or sooner when the caller
    watches ``extra`` streams that announce what is added. ``idle`` is called after each
    read."""

    def __init__(
        self,
        client: Redis,
        *,
        wake: bool = True,
        block_ms: int = BLOCK_MS,
        idle: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.block_ms = block_ms
        self.idle = idle
        self.wake_key = f"{keys.PREFIX}:wake:{uuid.uuid4().hex[:16]}" if wake else None
        self._positions: dict[str, bytes | str] = {}
        self._handlers: dict[str, Handler] = {}
        self._task: asyncio.Task[None] | None = None
        self._reading: set[str] = set()  # the streams of the read under way
        self._waking: asyncio.Task[Any] | None = None
        if self.wake_key is not None:
            self._positions[self.wake_key] = "0-0"

    def watch(self, positions: dict[str, bytes | str], handler: Handler) -> None:
        """Read each stream of ``positions`` after its position, handing entries to
        ``handler``."""
        for stream, position in positions.items():
            self._positions[stream] = position
            self._handlers[stream] = handler
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="inboxes")
        elif not positions.keys() <= self._reading:
            self._wake()

    def unwatch(self, streams: list[str]) -> None:
        for stream in streams:
            self._positions.pop(stream, None)
            self._handlers.pop(stream, None)

    def watching(self, stream: str) -> bool:
        return stream in self._handlers

    def _wake(self) -> None:
        if self.wake_key is None or (self._waking is not None and not self._waking.done()):
            return
        key = self.wake_key

        async def wake() -> None:
            with contextlib.suppress(Exception):  # the read ends within BLOCK_MS anyway
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.xadd(key, {"w": "1"}, maxlen=16, approximate=True)
                    pipe.expire(key, 24 * 3600)
                    await pipe.execute()

        self._waking = asyncio.ensure_future(wake())

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._waking is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._waking
        if self.wake_key is not None:
            with contextlib.suppress(Exception):
                await self.client.delete(self.wake_key)

    async def _run(self) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        pause = 0.05
        positions = self._positions
        while positions.keys() - {self.wake_key}:
            self._reading = set(positions)
            try:
                answer = await xread(self.client, positions, count=500, block=self.block_ms)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                await asyncio.sleep(pause)  # Redis is away; the stream writers bound the wait
                pause = min(pause * 2, 1.0)
                continue
            pause = 0.05
            for stream, entries in answer:
                if stream not in positions:
                    continue  # unwatched meanwhile
                for entry_id, fields in entries:
                    handler = self._handlers.get(stream)
                    if handler is None:
                        break  # unwatched by a handler of this read
                    positions[stream] = entry_id
                    try:
                        handler(stream, entry_id, fields)
                    except Exception:  # one chat's bad entry must not stop the rest
                        continue
            if self.idle is not None:
                self.idle()
        self._task = None
