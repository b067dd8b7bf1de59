"""Recording a live chat: a durable bus subscriber that appends every event to a store.

Being durable, the recorder never misses an event; if the store falls ``maxsize`` events behind,
the chat waits for it. While it runs it sends the store a heartbeat, so that a list of chats can
tell a chat that is running from one whose process died before it ended.

If the store fails (the disk is full, another process holds the file locked past the busy
timeout), the recorder stops reading, so that it never holds the chat back, and calls its
``on_error``: the CLI ends the chat there, with an error, rather than let it go on unrecorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable
from typing import Any

from groupchat.bus import Bus, Subscription
from groupchat.transcripts.protocols import EventLog
from groupchat.transcripts.records import LIVE_WINDOW

__all__ = ["HEARTBEAT_INTERVAL", "StoreRecorder"]

HEARTBEAT_INTERVAL = LIVE_WINDOW / 5
"""Seconds between the recorder's heartbeats while the chat is quiet."""


class StoreRecorder:
    """Writes the events of ``chat_id`` on ``bus`` to ``store`` as they are published.

    ``start`` is the first sequence number to record (default: the chat's next one when
    :meth:`start` is called). ``title``, ``spec`` and the lineage (``parent_id``, ``fork_seq``)
    go to the chat's row, which is created if missing. One recorder records until the chat is
    closed on the bus (the end of a run), or until :meth:`stop`.

    ``on_error(exc)`` is called (and awaited, if it returns an awaitable) once, from the
    recording task, when the store fails; :meth:`wait` then raises ``exc``.
    """

    def __init__(
        self,
        store: EventLog,
        bus: Bus,
        chat_id: str,
        *,
        start: int | None = None,
        title: str = "",
        spec: dict[str, Any] | None = None,
        parent_id: str | None = None,
        fork_seq: int | None = None,
        maxsize: int = 8192,
        on_error: Callable[[Exception], object] | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.chat_id = chat_id
        self._start = start
        self._title = title
        self._spec = spec
        self._parent_id = parent_id
        self._fork_seq = fork_seq
        self._maxsize = maxsize
        self._on_error = on_error
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.recorded = 0
        """How many events this recorder has handed to the store."""

    async def start(self) -> None:
        """Subscribe (before anything else, so no event published from now on is missed),
        create the chat's row if missing, and start recording in a background task."""
        if self._sub is not None:
            raise RuntimeError(f"the recorder of chat {self.chat_id} was already started")
        self._sub = sub = self.bus.subscribe(
            self.chat_id, start=self._start, maxsize=self._maxsize, durable=True
        )
        try:
            await self.store.create_chat(
                self.chat_id,
                title=self._title,
                spec=self._spec,
                parent_id=self._parent_id,
                fork_seq=self._fork_seq,
            )
            await self.store.heartbeat(self.chat_id)
        except BaseException:
            sub.close()
            raise
        self._task = asyncio.create_task(self._record(sub), name=f"recorder {self.chat_id}")

    async def wait(self) -> None:
        """Return once the chat is closed on the bus and every event is committed; raises what
        stopped the recording, if it failed."""
        if self._task is None:
            raise RuntimeError("the recorder was not started")
        await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Record what has been published so far, commit it and stop."""
        if self._task is None:
            return
        sub = self._sub
        self._stopping = True
        if sub is not None and sub.lag == 0:
            sub.close()  # wakes the reader, which is waiting for the next event
        await self.wait()

    async def _record(self, sub: Subscription) -> None:
        store = self.store
        nowait = store.append_nowait
        beat = asyncio.create_task(self._heartbeat())
        try:
            async for event in sub:
                if not nowait(event):
                    await store.append(event)
                self.recorded += 1
                if self._stopping and sub.lag == 0:
                    break
        except BaseException as exc:
            sub.close()  # a failed recorder must not hold the chat back
            with contextlib.suppress(Exception):
                await self._let_go(beat)
            if isinstance(exc, Exception):
                await self._failed(exc)
            raise
        sub.close()
        try:
            await self._let_go(beat)
        except Exception as exc:  # the last commit failed
            await self._failed(exc)
            raise

    async def _failed(self, exc: Exception) -> None:
        if self._on_error is not None:
            outcome = self._on_error(exc)
            if inspect.isawaitable(outcome):
                await outcome

    async def _let_go(self, beat: asyncio.Task[None]) -> None:
        """Stop the heartbeat, tell the store nobody writes the chat now, commit."""
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        await self.store.heartbeat(self.chat_id, alive=False)
        await self.store.flush()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            await self.store.heartbeat(self.chat_id)
