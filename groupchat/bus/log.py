"""The in-process log of one chat: its retained events, its readers and the publishers waiting.

The log keeps what durable subscribers have not read yet plus the last ``retain`` events (it
trims once it holds twice that), wakes waiting readers on every append, and holds publishers
back while a durable subscriber is full (see :meth:`~groupchat.bus.protocol.Bus.subscribe`).
Subscriptions with ``kinds`` get their events pushed into their own queues instead.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from groupchat.bus.readers import FilteredSubscription, MemorySubscription

__all__ = ["ChatLog"]


class ChatLog:
    """The ordered events of one chat and who is reading them."""

    __slots__ = (
        "base",
        "chat_id",
        "closed",
        "events",
        "inboxes",
        "readers_waiting",
        "retain",
        "space_waiters",
        "subscribers",
        "wanted",
        "why",
    )

    def __init__(self, chat_id: str, retain: int | None, start_seq: int) -> None:
        self.chat_id = chat_id
        self.events: list[Any] = []
        self.base = start_seq  # seq of events[0]
        self.closed = False
        self.retain = retain
        self.subscribers: list[MemorySubscription] = []
        self.readers_waiting: list[MemorySubscription] = []
        self.space_waiters: list[asyncio.Future[None]] = []
        self.inboxes: list[FilteredSubscription] = []
        self.wanted: frozenset[str] = frozenset()
        """The event types some filtered subscription reads (see :meth:`Bus.subscribe`)."""
        self.why = ""
        """Why the chat was closed, when not by its end (``": ..."``, said when refusing)."""

    def filter(self, sub: FilteredSubscription) -> None:
        """Start giving ``sub`` the events appended of the types it reads."""
        self.inboxes.append(sub)
        self.wanted = self.wanted | sub.kinds

    def unfilter(self, sub: FilteredSubscription) -> None:
        if sub in self.inboxes:
            self.inboxes.remove(sub)
        wanted: frozenset[str] = frozenset()
        for other in self.inboxes:
            wanted |= other.kinds
        self.wanted = wanted

    def _deliver(self, events: list[Any]) -> None:
        for sub in self.inboxes:
            kinds = sub.kinds
            matching = [event for event in events if event.type in kinds]
            if matching:
                sub.put(matching)

    @property
    def next_seq(self) -> int:
        return self.base + len(self.events)

    def blocked(self) -> bool:
        end = self.base + len(self.events)
        for sub in self.subscribers:  # noqa: SIM110 - a plain loop is faster on the hot path
            if sub.durable and end - sub.cursor >= sub.maxsize:
                return True
        return False

    async def wait_for_space(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.closed and self.blocked():
            fut: asyncio.Future[None] = loop.create_future()
            self.space_waiters.append(fut)
            limit = self._stall_limit()
            started = loop.time()
            timer = loop.call_later(limit, _resolve, fut) if limit is not None else None
            try:
                await fut
            finally:
                if timer is not None:
                    timer.cancel()
                if fut in self.space_waiters:
                    self.space_waiters.remove(fut)
            if limit is not None and loop.time() - started >= limit:
                self._detach_stalled(loop.time() - started)

    def _stall_limit(self) -> float | None:
        """The shortest ``stall_timeout`` of the durable subscribers holding the chat back."""
        end = self.base + len(self.events)
        limits = [
            sub.stall_timeout
            for sub in self.subscribers
            if sub.durable and sub.stall_timeout is not None and end - sub.cursor >= sub.maxsize
        ]
        return min(limits) if limits else None

    def _detach_stalled(self, waited: float) -> None:
        end = self.base + len(self.events)
        for sub in list(self.subscribers):
            limit = sub.stall_timeout
            if (
                sub.durable
                and limit is not None
                and limit <= waited
                and end - sub.cursor >= sub.maxsize
            ):
                sub.detach()

    def append(self, event: Any) -> None:
        self.events.append(event)
        if self.wanted and event.type in self.wanted:
            self._deliver([event])
        if self.readers_waiting:
            self._wake_readers()
        if self.retain is not None and len(self.events) >= 2 * self.retain:
            self._trim()

    def extend(self, events: list[Any]) -> None:
        self.events += events
        if self.wanted:
            self._deliver(events)
        if self.readers_waiting:
            self._wake_readers()
        if self.retain is not None and len(self.events) >= 2 * self.retain:
            self._trim()

    def room(self) -> int | None:
        """Events that can be appended before a durable subscriber is full (``None``: any)."""
        end = self.base + len(self.events)
        room: int | None = None
        for sub in self.subscribers:
            if sub.durable:
                left = sub.maxsize - (end - sub.cursor)
                if room is None or left < room:
                    room = left
        return None if room is None else max(room, 0)

    def _wake_readers(self) -> None:
        for sub in self.readers_waiting:
            waiter = sub.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        self.readers_waiting.clear()

    def _trim(self) -> None:
        assert self.retain is not None
        keep_from = self.next_seq - self.retain
        for sub in self.subscribers:
            if sub.durable:
                keep_from = min(keep_from, sub.cursor)
        drop = keep_from - self.base
        if drop > 0:
            del self.events[:drop]
            self.base += drop

    def release_space(self) -> None:
        """Wake waiting publishers once every durable subscriber is at most half full."""
        end = self.base + len(self.events)
        for sub in self.subscribers:
            if sub.durable and end - sub.cursor > sub.maxsize // 2:
                return
        for fut in self.space_waiters:
            if not fut.done():
                fut.set_result(None)
        self.space_waiters.clear()

    def close(self) -> None:
        self.closed = True
        self._wake_readers()
        for sub in self.inboxes:
            sub.wake()
        for fut in self.space_waiters:
            if not fut.done():
                fut.set_result(None)
        self.space_waiters.clear()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
