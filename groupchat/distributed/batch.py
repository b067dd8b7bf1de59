"""Commands of many callers sent to Redis together: one pipeline a round trip.

A manager of a hundred chats, or a worker hosting agents in them, sends many small commands at
once (stream appends, turn requests, a turn's pieces). Sent one by one, each costs a round trip
and most of the client's CPU per command; a :class:`Batcher` sends the commands issued until the
event loop comes round in one pipeline, so under load a round trip carries many commands, and
alone a command goes at once. Each caller still awaits its own reply (or error). Commands of
one pipeline run in the order they were issued; a caller that needs one command to land
before its next awaits the first (pipelines on their way at once may land in any order).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

__all__ = ["BATCH_MOST", "FLYING", "Batcher"]

BATCH_MOST = 512
"""Commands one pipeline carries at most."""

FLYING = 8
"""Pipelines on their way at once at most (each holds a connection while it is)."""

Adder = Callable[["Pipeline"], Any]
"""Adds exactly one command to a pipeline (``lambda pipe: pipe.xadd(...)``)."""


class Batcher:
    """Sends the commands given to :meth:`run` in pipelines; see the module docstring."""

    def __init__(self, client: Redis, *, most: int = BATCH_MOST, flying: int = FLYING) -> None:
        self.client = client
        self.most = most
        self.flying = flying
        self._queue: list[tuple[Adder, asyncio.Future[Any]]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0
        """Pipelines sent so far."""

    async def run(self, add: Adder) -> Any:
        """The reply to the one command ``add`` puts in a pipeline; raises what the command
        or the connection raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((add, future))
        if not self._scheduled:
            # Everything issued until the loop comes round goes in the same pipeline.
            self._scheduled = True
            loop.call_soon(self._launch)
        return await future

    def _launch(self) -> None:
        self._scheduled = False
        while self._queue and len(self._tasks) < self.flying:
            batch = [entry for entry in self._queue[: self.most] if not entry[1].done()]
            del self._queue[: self.most]
            if batch:
                self.sent += 1
                task = asyncio.ensure_future(self._send(batch))
                self._tasks.add(task)
                task.add_done_callback(self._landed)

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._queue and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._launch)

    async def _send(self, batch: list[tuple[Adder, asyncio.Future[Any]]]) -> None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for add, _future in batch:
                    add(pipe)
                replies = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            for _add, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            for _add, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_add, future), reply in zip(batch, replies, strict=True):
            if future.done():
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
