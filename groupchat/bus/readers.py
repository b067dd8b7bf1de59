"""The in-process subscriptions: a cursor over a chat's log, and a queue of chosen event types.

Both satisfy :class:`~groupchat.bus.protocol.Subscription`. :class:`MemorySubscription` reads
the log itself, so delivering an event to it costs nothing but the read; the log wakes it when
it waits. :class:`FilteredSubscription` (``subscribe(..., kinds=...)``) is given the matching
events as they are appended, so it never holds the chat back and loses none to trimming.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any

from groupchat.bus.errors import SubscriberLagged, SubscriberStalled
from groupchat.events import Event

if TYPE_CHECKING:
    from groupchat.bus.log import ChatLog

__all__ = ["FilteredSubscription", "MemorySubscription"]


class MemorySubscription:
    """An async iterator over one chat's events from a starting sequence number.

    Iteration ends when the chat is closed and every event has been read, or when
    :meth:`close` is called.
    """

    __slots__ = (
        "_log",
        "cursor",
        "durable",
        "maxsize",
        "stall_timeout",
        "stalled",
        "waiter",
    )

    def __init__(
        self,
        log: ChatLog,
        start: int,
        maxsize: int,
        durable: bool,
        stall_timeout: float | None = None,
    ) -> None:
        self._log: ChatLog | None = log
        self.cursor = start
        self.maxsize = maxsize
        self.durable = durable
        self.stall_timeout = stall_timeout
        self.stalled = False
        self.waiter: asyncio.Future[None] | None = None

    @property
    def lag(self) -> int:
        """How many published events this subscriber has not read yet."""
        log = self._log
        return 0 if log is None else log.next_seq - self.cursor

    def __aiter__(self) -> MemorySubscription:
        return self

    def ready(self) -> list[Event]:
        """The events this subscriber can read now, without waiting (they count as read)."""
        log = self._log
        if log is None:
            return []
        index = self.cursor - log.base
        if index < 0:
            raise SubscriberLagged(log.chat_id, self.cursor, log.base)
        events = log.events[index:]
        self.cursor += len(events)
        if events and log.space_waiters and self.durable:
            log.release_space()
        return events

    async def __anext__(self) -> Event:
        while True:
            log = self._log
            if log is None:
                if self.stalled:
                    raise SubscriberStalled(self.cursor)
                raise StopAsyncIteration
            index = self.cursor - log.base
            if index < 0:
                raise SubscriberLagged(log.chat_id, self.cursor, log.base)
            if index < len(log.events):
                self.cursor += 1
                if log.space_waiters and self.durable:
                    log.release_space()
                return log.events[index]  # type: ignore[no-any-return]
            if log.closed:
                self.close()
                raise StopAsyncIteration
            waiter = asyncio.get_running_loop().create_future()
            self.waiter = waiter
            log.readers_waiting.append(self)
            try:
                await waiter
            finally:
                self.waiter = None
                if self in log.readers_waiting:
                    log.readers_waiting.remove(self)

    def detach(self) -> None:
        """Let go of a subscriber that stopped reading: its next read raises
        :class:`SubscriberStalled`, and the chat goes on without it."""
        self.stalled = True
        self.close()

    def close(self) -> None:
        """Stop reading; a durable subscriber no longer holds the chat back."""
        log = self._log
        if log is None:
            return
        self._log = None
        if self in log.subscribers:
            log.subscribers.remove(self)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
        if log.space_waiters:
            log.release_space()


class FilteredSubscription:
    """The events of some types only, queued for it as they are appended to the chat's log."""

    __slots__ = ("_log", "kinds", "queue", "waiter")

    def __init__(self, log: ChatLog, kinds: frozenset[str], retained: list[Any]) -> None:
        self._log: ChatLog | None = log
        self.kinds = kinds
        self.queue: deque[Any] = deque(event for event in retained if event.type in kinds)
        self.waiter: asyncio.Future[None] | None = None

    @property
    def lag(self) -> int:
        """How many matching events are queued and not read yet."""
        return len(self.queue)

    def __aiter__(self) -> FilteredSubscription:
        return self

    def put(self, events: list[Any]) -> None:
        """Queue matching events and wake the reader."""
        self.queue.extend(events)
        self.wake()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def ready(self) -> list[Event]:
        """The queued events (they count as read)."""
        events = list(self.queue)
        self.queue.clear()
        return events

    async def __anext__(self) -> Event:
        while not self.queue:
            log = self._log
            if log is None or log.closed:
                self.close()
                raise StopAsyncIteration
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.queue.popleft()  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop reading; a pending read ends."""
        log = self._log
        if log is None:
            return
        self._log = None
        log.unfilter(self)
        self.wake()
