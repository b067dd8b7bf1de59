"""The in-process event bus: one ordered log per chat, many subscribers per chat.

:class:`EventBus` implements :class:`~groupchat.bus.protocol.Bus` in one process and is the
default everywhere a bus is made. Publishing stamps the event (chat id, next sequence number,
UTC time, the publisher's sender) and appends it to the chat's :class:`~groupchat.bus.log.ChatLog`;
subscribers read that log through their own cursor, so every subscriber sees the same order.

Memory. The bus keeps what durable subscribers have not read yet plus the last ``retain``
events of each chat (default :data:`DEFAULT_RETAIN`), so a long chat costs the same per
message as a short one; the transcript store is the complete record. ``EventBus(retain=None)``
keeps every event for as long as the bus lives, so that a late subscriber can start from
sequence number 0 without a store.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from groupchat.bus.errors import ChatClosedError, EventsUnavailableError
from groupchat.bus.log import ChatLog
from groupchat.bus.readers import FilteredSubscription, MemorySubscription
from groupchat.checked import maker
from groupchat.events import Event, EventBase, MessagePosted

__all__ = ["DEFAULT_RETAIN", "EventBus", "MemoryPublisher"]

E = TypeVar("E", bound=EventBase)


class MemoryPublisher:
    """A right to publish to one chat of an :class:`EventBus` as one sender (see
    :class:`~groupchat.bus.protocol.Publisher`)."""

    __slots__ = ("_log", "sender")

    def __init__(self, log: ChatLog, sender: str) -> None:
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
            raise ChatClosedError(f"chat {log.chat_id} is closed{log.why}")
        return self._stamp(log, cls, fields)

    def _stamp(self, log: ChatLog, cls: type[E], fields: dict[str, Any]) -> E:
        event = maker(cls)(
            chat_id=log.chat_id,
            seq=log.base + len(log.events),
            time=datetime.now(UTC),
            sender=self.sender,
            **fields,
        )
        if (
            cls is MessagePosted
            and isinstance(event, MessagePosted)
            and event.message.sender != self.sender
        ):
            raise ValueError(f"{self.sender} cannot post a message as {event.message.sender}")
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
            raise ChatClosedError(f"chat {log.chat_id} is closed{log.why}")
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
        self._chats: dict[str, ChatLog] = {}

    def open(self, chat_id: str | None = None, *, start_seq: int = 0) -> str:
        """Create the log of a chat (or reopen a closed one) and return its id.

        ``start_seq`` is where numbering begins for a new log, used to continue a stored chat.
        """
        chat_id = chat_id or uuid.uuid4().hex[:12]
        log = self._chats.get(chat_id)
        if log is None:
            self._chats[chat_id] = self._new_log(chat_id, start_seq)
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

    def _new_log(self, chat_id: str, start_seq: int) -> ChatLog:
        """The log of a new chat (a backend that writes its chats elsewhere makes its own)."""
        return ChatLog(chat_id, self._retain, start_seq)

    def _log(self, chat_id: str) -> ChatLog:
        try:
            return self._chats[chat_id]
        except KeyError:
            raise KeyError(f"no chat {chat_id!r} on this bus") from None

    def next_seq(self, chat_id: str) -> int:
        return self._log(chat_id).next_seq

    def oldest_seq(self, chat_id: str) -> int:
        """The sequence number of the oldest event of the chat still on the bus."""
        return self._log(chat_id).base

    def publisher(self, chat_id: str, sender: str) -> MemoryPublisher:
        """A publisher for ``chat_id`` whose events all carry ``sender``."""
        if not sender:
            raise ValueError("a publisher needs a sender")
        return MemoryPublisher(self._log(chat_id), sender)

    def subscribe(
        self,
        chat_id: str,
        *,
        start: int | None = 0,
        maxsize: int = 1024,
        durable: bool = True,
        stall_timeout: float | None = None,
        kinds: frozenset[str] | None = None,
    ) -> MemorySubscription | FilteredSubscription:
        """Read ``chat_id`` from sequence number ``start`` (``None``: only events from now on).

        The chat is created if it does not exist yet, so a subscriber can be in place before
        the first event; subscribing to a closed chat reads its retained events and stops.

        With ``kinds`` (event types, e.g. ``{"human_input"}``) the subscription reads only
        events of those types: it keeps its own queue of them, so it never holds the chat back
        and never misses one to trimming. This is how the manager reads the commands sent to
        it without reading every streamed token.
        """
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        if stall_timeout is not None and stall_timeout <= 0:
            raise ValueError("stall_timeout must be positive")
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
        if kinds is not None:
            filtered = FilteredSubscription(log, kinds, log.events[start - log.base :])
            log.filter(filtered)
            return filtered
        sub = MemorySubscription(log, start, maxsize, durable, stall_timeout)
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
            raise ChatClosedError(f"chat {log.chat_id} is closed{log.why}")
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
            raise ChatClosedError(f"chat {log.chat_id} is closed{log.why}")
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

    def chats(self) -> list[str]:
        """The ids of the chats on this bus."""
        return list(self._chats)

    def is_closed(self, chat_id: str) -> bool:
        return self._log(chat_id).closed

    async def stream(self, chat_id: str, start: int = 0) -> AsyncIterator[Event]:
        """Convenience: iterate a chat's events as a durable subscriber."""
        sub = self.subscribe(chat_id, start=start)
        try:
            async for event in sub:
                yield event
        finally:
            sub.close()
