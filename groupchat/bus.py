"""The in-process event bus: one ordered log per chat, many subscribers per chat.

Each chat is an append-only log. Publishing stamps the event (chat id, next sequence number,
UTC time, the publisher's sender) and appends it; subscribers read the log through their own
cursor, so a subscriber may start from any retained sequence number and every subscriber sees
the same order.

Memory. The bus keeps what durable subscribers have not read yet plus the last ``retain``
events of each chat (default :data:`DEFAULT_RETAIN`), so a long chat costs the same per
message as a short one; the transcript store is the complete record. ``EventBus(retain=None)``
keeps every event for as long as the bus lives, so that a late subscriber can start from
sequence number 0 without a store.

Falling behind. A subscriber's buffer is the part of the log it has not read yet, bounded by its
``maxsize``:

* a *durable* subscriber (the default; the transcript store is one) never loses an event: when
  it is ``maxsize`` events behind, publishers wait until it has caught up to half of that, so
  the chat slows down instead. A subscriber that stops reading altogether holds the chat for
  as long as it is subscribed, unless it gave a ``stall_timeout``: once the chat has waited
  that long for it without progress, it is let go (its next read raises
  :class:`SubscriberStalled`) and the chat goes on;
* a non-durable subscriber (``durable=False``) never slows the chat. It reads every event the
  bus still retains; if it falls so far behind that events it had not read were trimmed, its
  next read raises :class:`SubscriberLagged`.

Closing a chat lets every subscriber read what is left and then ends its iteration; publishing
to a closed chat raises :class:`ChatClosedError`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from groupchat.events import Event, EventBase, MessagePosted

__all__ = [
    "DEFAULT_RETAIN",
    "ChatClosedError",
    "EventBus",
    "EventsUnavailableError",
    "Publisher",
    "SubscriberLagged",
    "SubscriberStalled",
    "Subscription",
]

E = TypeVar("E", bound=EventBase)


_FIELDS_SETS: dict[type[Any], set[str]] = {}


def share_fields_set(model: Any) -> None:
    """Give a freshly validated model its class's shared set of field names.

    Each pydantic instance otherwise carries a set of its own, which the garbage collector has
    to visit for as long as the chat's history lives; sharing one per class keeps long chats
    as fast as short ones. Only ``model_fields_set`` (``exclude_unset``) sees the difference:
    every field counts as set, as if it had been given explicitly.
    """
    cls = type(model)
    shared = _FIELDS_SETS.get(cls)
    if shared is None:
        shared = _FIELDS_SETS[cls] = set(cls.model_fields)
    object.__setattr__(model, "__pydantic_fields_set__", shared)


class ChatClosedError(RuntimeError):
    """Raised when publishing to a chat that has been closed."""


class EventsUnavailableError(LookupError):
    """Raised when subscribing from a sequence number the bus no longer retains."""


class SubscriberStalled(RuntimeError):
    """Raised to a durable subscriber that was let go because it stopped reading for longer
    than its ``stall_timeout`` while the chat waited for it."""

    def __init__(self, cursor: int) -> None:
        super().__init__(
            f"this subscriber stopped reading at seq {cursor} and was let go; "
            "events after that were not delivered to it"
        )
        self.cursor = cursor


class SubscriberLagged(RuntimeError):
    """Raised to a non-durable subscriber whose unread events were trimmed from the log."""

    def __init__(self, chat_id: str, wanted: int, oldest: int) -> None:
        super().__init__(
            f"subscriber of chat {chat_id} fell behind: events {wanted}..{oldest - 1} were trimmed"
        )
        self.wanted = wanted
        self.oldest = oldest


class _ChatLog:
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
    )

    def __init__(self, chat_id: str, retain: int | None, start_seq: int) -> None:
        self.chat_id = chat_id
        self.events: list[Any] = []
        self.base = start_seq  # seq of events[0]
        self.closed = False
        self.retain = retain
        self.subscribers: list[Subscription] = []
        self.readers_waiting: list[Subscription] = []
        self.space_waiters: list[asyncio.Future[None]] = []
        self.inboxes: list[Subscription] = []
        self.wanted: frozenset[str] = frozenset()
        """The event types some filtered subscription reads (see :meth:`EventBus.subscribe`)."""

    def filter(self, sub: Subscription) -> None:
        """Start giving ``sub`` (a subscription with ``kinds``) the matching events appended."""
        self.inboxes.append(sub)
        assert sub.kinds is not None
        self.wanted = self.wanted | sub.kinds

    def unfilter(self, sub: Subscription) -> None:
        if sub in self.inboxes:
            self.inboxes.remove(sub)
        wanted: frozenset[str] = frozenset()
        for other in self.inboxes:
            wanted |= other.kinds or frozenset()
        self.wanted = wanted

    def _deliver(self, events: list[Any]) -> None:
        for sub in self.inboxes:
            kinds = sub.kinds
            assert kinds is not None
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


class Subscription:
    """An async iterator over one chat's events from a starting sequence number.

    Iteration ends when the chat is closed and every event has been read, or when
    :meth:`close` is called. A subscription with ``kinds`` reads only events of those types
    (see :meth:`EventBus.subscribe`).
    """

    __slots__ = (
        "_log",
        "cursor",
        "durable",
        "kinds",
        "maxsize",
        "queue",
        "stall_timeout",
        "stalled",
        "waiter",
    )

    def __init__(
        self,
        log: _ChatLog,
        start: int,
        maxsize: int,
        durable: bool,
        stall_timeout: float | None = None,
        kinds: frozenset[str] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        if stall_timeout is not None and stall_timeout <= 0:
            raise ValueError("stall_timeout must be positive")
        self._log: _ChatLog | None = log
        self.cursor = start
        self.maxsize = maxsize
        self.durable = durable and kinds is None
        self.stall_timeout = stall_timeout
        self.stalled = False
        self.waiter: asyncio.Future[None] | None = None
        self.kinds = kinds
        self.queue: deque[Any] = deque()

    @property
    def lag(self) -> int:
        """How many published events this subscriber has not read yet."""
        if self.kinds is not None:
            return len(self.queue)
        log = self._log
        return 0 if log is None else log.next_seq - self.cursor

    def __aiter__(self) -> Subscription:
        return self

    def put(self, events: list[Any]) -> None:
        """Queue matching events (for a subscription with ``kinds``) and wake its reader."""
        self.queue.extend(events)
        self.cursor = events[-1].seq + 1
        self.wake()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def ready(self) -> list[Event]:
        """The events this subscriber can read now, without waiting (they count as read)."""
        if self.kinds is not None:
            events = list(self.queue)
            self.queue.clear()
            return events
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
        if self.kinds is not None:
            return await self._next_matching()
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

    async def _next_matching(self) -> Event:
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
        if self.kinds is not None:
            log.unfilter(self)
        if self in log.subscribers:
            log.subscribers.remove(self)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
        if log.space_waiters:
            log.release_space()


class Publisher:
    """A right to publish to one chat as one sender. The bus stamps that sender on every event."""

    __slots__ = ("_log", "sender")

    def __init__(self, log: _ChatLog, sender: str) -> None:
        self._log = log
        self.sender = sender

    @property
    def chat_id(self) -> str:
        return self._log.chat_id

    def emit_nowait(self, cls: type[E], /, **fields: Any) -> E:
        """Like :meth:`emit` but never waits: for the rare events that must not be deferred
        (a person's interjection), at the cost of a durable buffer briefly over its bound."""
        log = self._log
        if log.closed:
            raise ChatClosedError(f"chat {log.chat_id} is closed")
        return self._stamp(log, cls, fields)

    def _stamp(self, log: _ChatLog, cls: type[E], fields: dict[str, Any]) -> E:
        event = cls(
            chat_id=log.chat_id,
            seq=log.base + len(log.events),
            time=datetime.now(UTC),
            sender=self.sender,
            **fields,
        )
        share_fields_set(event)
        if cls is MessagePosted and event.message.sender != self.sender:  # type: ignore[attr-defined]
            raise ValueError(
                f"{self.sender} cannot post a message as {event.message.sender}"  # type: ignore[attr-defined]
            )
        log.append(event)
        return event

    async def emit(self, cls: type[E], /, **fields: Any) -> E:
        """Build an event of type ``cls`` from ``fields``, stamp it and append it to the chat.

        Waits while a durable subscriber is full. Nothing is appended if the fields are invalid,
        so sequence numbers never have gaps.
        """
        log = self._log
        if log.space_waiters or log.blocked():
            await log.wait_for_space()
        if log.closed:
            raise ChatClosedError(f"chat {log.chat_id} is closed")
        return self._stamp(log, cls, fields)


DEFAULT_RETAIN = 256
"""Events of each chat the bus keeps in memory beyond what durable subscribers still need."""


class EventBus:
    """Ordered per-chat event logs shared by publishers and subscribers in one process.

    ``retain`` is how many already-read events each chat keeps in memory (``None``: all of
    them, for as long as the bus lives); see the module docstring.
    """

    def __init__(self, *, retain: int | None = DEFAULT_RETAIN) -> None:
        if retain is not None and retain < 1:
            raise ValueError("retain must be at least 1")
        self._retain = retain
        self._chats: dict[str, _ChatLog] = {}

    def open(self, chat_id: str | None = None, *, start_seq: int = 0) -> str:
        """Create the log of a chat (or reopen a closed one) and return its id.

        ``start_seq`` is where numbering begins for a new log, used to continue a stored chat.
        """
        chat_id = chat_id or uuid.uuid4().hex[:12]
        log = self._chats.get(chat_id)
        if log is None:
            self._chats[chat_id] = _ChatLog(chat_id, self._retain, start_seq)
        else:
            if log.closed:
                log.closed = False
            if start_seq and not log.events and log.base != start_seq:
                if any(sub.cursor != log.base for sub in log.subscribers):
                    raise ValueError(f"chat {chat_id}: cannot renumber, a subscriber has read")
                log.base = start_seq  # nothing published yet: continue a stored chat's numbering
                for sub in log.subscribers:
                    sub.cursor = start_seq
        return chat_id

    def _log(self, chat_id: str) -> _ChatLog:
        try:
            return self._chats[chat_id]
        except KeyError:
            raise KeyError(f"no chat {chat_id!r} on this bus") from None

    def chats(self) -> list[str]:
        return list(self._chats)

    def is_closed(self, chat_id: str) -> bool:
        return self._log(chat_id).closed

    def next_seq(self, chat_id: str) -> int:
        return self._log(chat_id).next_seq

    def oldest_seq(self, chat_id: str) -> int:
        """The sequence number of the oldest event of the chat still on the bus."""
        return self._log(chat_id).base

    def publisher(self, chat_id: str, sender: str) -> Publisher:
        """A publisher for ``chat_id`` whose events all carry ``sender``."""
        if not sender:
            raise ValueError("a publisher needs a sender")
        return Publisher(self._log(chat_id), sender)

    def subscribe(
        self,
        chat_id: str,
        *,
        start: int | None = 0,
        maxsize: int = 1024,
        durable: bool = True,
        stall_timeout: float | None = None,
        kinds: frozenset[str] | None = None,
    ) -> Subscription:
        """Read ``chat_id`` from sequence number ``start`` (``None``: only events from now on).

        The chat is created if it does not exist yet, so a subscriber can be in place before
        the first event; subscribing to a closed chat reads its retained events and stops.

        With ``kinds`` (event types, e.g. ``{"human_input"}``) the subscription reads only
        events of those types: it keeps its own queue of them, so it never holds the chat back
        and never misses one to trimming. This is how the manager reads the commands sent to
        it without reading every streamed token.
        """
        log = self._chats.get(chat_id)
        if log is None:
            self.open(chat_id)
            log = self._chats[chat_id]
        if start is None:
            start = log.next_seq
        if start < log.base:
            raise EventsUnavailableError(
                f"chat {chat_id}: events before seq {log.base} are no longer on the bus"
            )
        if start > log.next_seq:
            raise EventsUnavailableError(
                f"chat {chat_id}: seq {start} has not been published (next is {log.next_seq})"
            )
        sub = Subscription(log, start, maxsize, durable, stall_timeout, kinds)
        if kinds is not None:
            retained = log.events[start - log.base :]
            matching = [event for event in retained if event.type in kinds]
            sub.queue.extend(matching)
            sub.cursor = log.next_seq
            log.filter(sub)
        else:
            log.subscribers.append(sub)
        return sub

    async def append(self, event: Event) -> None:
        """Append an already stamped event, e.g. one read back from a transcript.

        Its sequence number must be the chat's next one; sender and time are kept.
        """
        log = self._log(event.chat_id)
        if log.space_waiters or log.blocked():
            await log.wait_for_space()
        if log.closed:
            raise ChatClosedError(f"chat {log.chat_id} is closed")
        if event.seq != log.next_seq:
            raise ValueError(f"chat {event.chat_id}: expected seq {log.next_seq}, got {event.seq}")
        log.append(event)

    def append_ready(self, events: Sequence[Event]) -> int:
        """Append already stamped events, in order, as many as fit now without waiting.

        The events must all be of one chat with consecutive sequence numbers from the chat's
        next one; a bad one raises :class:`ValueError` and nothing is appended. Appends none
        while a durable subscriber is full, else as many as the fullest one has room for, and
        returns how many it appended: :meth:`append` then waits for room for the next. This is
        how a replay at full speed publishes, a batch at a time instead of an event at a time.
        """
        if not events:
            return 0
        log = self._log(events[0].chat_id)
        if log.closed:
            raise ChatClosedError(f"chat {log.chat_id} is closed")
        if log.space_waiters:
            return 0
        room = log.room()
        batch = list(events if room is None or room >= len(events) else events[:room])
        if not batch:
            return 0
        seq, chat_id = log.next_seq, log.chat_id
        for event in batch:
            if event.seq != seq or event.chat_id != chat_id:
                raise ValueError(
                    f"chat {chat_id}: expected seq {seq}, got {event.chat_id} seq {event.seq}"
                )
            seq += 1
        log.extend(batch)
        return len(batch)

    def history(self, chat_id: str, start: int = 0) -> list[Event]:
        """The retained events of a chat from ``start`` on (a copy)."""
        log = self._log(chat_id)
        return list(log.events[max(0, start - log.base) :])

    def close(self, chat_id: str) -> None:
        """Close a chat: subscribers finish reading and stop, publishers are refused."""
        log = self._chats.get(chat_id)
        if log is not None:
            log.close()

    def discard(self, chat_id: str) -> None:
        """Close a chat and drop its events from memory."""
        self.close(chat_id)
        self._chats.pop(chat_id, None)

    async def stream(self, chat_id: str, start: int = 0) -> AsyncIterator[Event]:
        """Convenience: iterate a chat's events as a durable subscriber."""
        sub = self.subscribe(chat_id, start=start)
        try:
            async for event in sub:
                yield event
        finally:
            sub.close()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
