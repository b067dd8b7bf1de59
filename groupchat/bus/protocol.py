"""What every event bus offers: what the manager, the recorder, replay and the front-ends use.

A bus holds one ordered, append-only log per chat. Publishers append to it, stamped with who
they are; subscribers read it through their own cursor. :class:`~groupchat.bus.EventBus` is the
in-process implementation and the default everywhere a bus is made; another backend (one that
carries chats between processes) implements these three protocols and passes
``tests/bus_contract.py``.

Synchronous and asynchronous members. Whatever may wait is a coroutine: publishing
(:meth:`Publisher.emit`, :meth:`Bus.append`), which waits for durable subscribers, and reading
(``async for``). The synchronous members answer from what the bus already knows in this
process: a backend that keeps its logs elsewhere keeps, for each chat it opened or reads, the
state they report (the next sequence number, the oldest retained one, the events already
read) and may write through in the background, in order.

Errors (defined in :mod:`groupchat.bus.errors`, importable from here too):
:class:`ChatClosedError` for publishing to a closed chat, :class:`EventsUnavailableError` for
subscribing from a sequence number the bus does not hold, :class:`SubscriberStalled` and
:class:`SubscriberLagged` raised by a subscription's next read. A member given the id of a chat
the bus does not know raises :class:`KeyError`, save ``open``, ``subscribe`` (which create it),
``close`` and ``discard`` (which do nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from groupchat.bus.errors import (
    ChatClosedError,
    EventsUnavailableError,
    SubscriberLagged,
    SubscriberStalled,
)
from groupchat.events import Event, EventBase

__all__ = [
    "Bus",
    "ChatClosedError",
    "EventsUnavailableError",
    "Publisher",
    "SubscriberLagged",
    "SubscriberStalled",
    "Subscription",
]

E = TypeVar("E", bound=EventBase)


@runtime_checkable
class Publisher(Protocol):
    """The right to publish to one chat as one sender.

    Every event it publishes is stamped by the bus with the chat's id, the chat's next sequence
    number, the current UTC time and this publisher's :attr:`sender`: the fields cannot name
    any of these (:class:`TypeError`), so nobody publishes as someone else. A
    :class:`~groupchat.events.MessagePosted` whose message has another sender is refused
    (:class:`ValueError`). Invalid fields raise :class:`pydantic.ValidationError`. A refused
    event is not appended and uses no sequence number, so the numbers have no gaps.

    One publisher's events appear in the order it published them; concurrent publishers of a
    chat get one total order, the same for every subscriber.
    """

    @property
    def chat_id(self) -> str:
        """The chat this publisher appends to."""
        ...

    @property
    def sender(self) -> str:
        """Who every event of this publisher is from."""
        ...

    async def emit(self, cls: type[E], /, **fields: Any) -> E:
        """Build an event of type ``cls`` from ``fields``, stamp it, append it and return it.

        Waits while a durable subscriber of the chat is full (see :meth:`Bus.subscribe`).
        Raises :class:`ChatClosedError` if the chat is closed, also when it closes meanwhile.
        """
        ...

    def emit_nowait(self, cls: type[E], /, **fields: Any) -> E:
        """Like :meth:`emit` but never waits, for the rare events that must not be deferred (a
        person's interjection, a command), at the cost of a durable buffer briefly over its bound.
        """
        ...


@runtime_checkable
class Subscription(Protocol):
    """An async iterator over one chat's events, in the chat's order, from a sequence number.

    Iteration ends once the chat is closed and every event has been read, or when
    :meth:`close` is called. A read raises :class:`SubscriberStalled` to a durable subscriber
    that was let go after its ``stall_timeout``, and :class:`SubscriberLagged` to a
    non-durable one whose unread events are no longer on the bus.
    """

    def __aiter__(self) -> Subscription: ...

    async def __anext__(self) -> Event: ...

    @property
    def lag(self) -> int:
        """How many events this subscriber can read but has not read yet."""
        ...

    def ready(self) -> list[Event]:
        """The events this subscriber can read now, without waiting; they count as read."""
        ...

    def close(self) -> None:
        """Stop reading: a pending read ends, and a durable subscriber no longer holds the chat
        back. Closing twice is harmless."""
        ...


@runtime_checkable
class Bus(Protocol):
    """Ordered per-chat event logs shared by publishers and subscribers."""

    def open(self, chat_id: str | None = None, *, start_seq: int = 0) -> str:
        """Create the log of a chat (a fresh id if none is given), or reopen a closed one, and
        return its id. ``start_seq`` is the first sequence number of a chat with no events yet
        (to continue a stored chat); the numbering of a chat with events is never changed.
        Raises :class:`ValueError` if a subscriber has already read under the old numbering."""
        ...

    def publisher(self, chat_id: str, sender: str) -> Publisher:
        """A publisher for ``chat_id`` whose events all carry ``sender`` (which must not be
        empty: :class:`ValueError`)."""
        ...

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
        """Read ``chat_id`` from sequence number ``start`` (``None``: the events from now on).

        The chat is created if the bus does not know it, so a subscriber can be in place
        before the first event; a closed chat is read to its end. ``start`` must lie between
        the oldest retained event and the next sequence number, else
        :class:`EventsUnavailableError`.

        ``maxsize`` (at least 1) bounds how far behind the subscriber may be. A *durable*
        subscriber never loses an event: when it is ``maxsize`` behind, publishers wait until
        it has caught up to half of that. Given a ``stall_timeout`` (positive, in seconds), a
        durable subscriber the chat has waited for that long without progress is let go: its
        next read raises :class:`SubscriberStalled` and the chat goes on. A non-durable
        subscriber never holds the chat back; if events it has not read are trimmed, its next
        read raises :class:`SubscriberLagged`.

        With ``kinds`` (event types) only events of those types are read, from ``start`` on;
        such a subscription never holds the chat back and misses none of them to trimming.
        """
        ...

    async def append(self, event: Event) -> None:
        """Append an already stamped event (from a transcript or another process), keeping its
        sender and time. Its sequence number must be the chat's next one (:class:`ValueError`
        for a duplicate or a gap). Waits like :meth:`Publisher.emit`; raises
        :class:`ChatClosedError` on a closed chat."""
        ...

    def append_ready(self, events: Sequence[Event]) -> int:
        """Append stamped events of one chat, in order, as many as fit without waiting, and
        return how many: none while a durable subscriber is full or publishers are waiting,
        else as many as the fullest durable subscriber has room for (all of them if there is
        none); :meth:`append` then waits for room for the next. They must carry consecutive
        sequence numbers from the chat's next one: a bad one raises :class:`ValueError` and
        nothing is appended. Raises :class:`ChatClosedError` on a closed chat. This is how a
        replay at full speed publishes, a batch at a time."""
        ...

    def history(self, chat_id: str, start: int = 0) -> list[Event]:
        """The events of the chat still on the bus from ``start`` on, in order (a copy)."""
        ...

    def next_seq(self, chat_id: str) -> int:
        """The sequence number the chat's next event will get."""
        ...

    def oldest_seq(self, chat_id: str) -> int:
        """The sequence number of the chat's oldest event still on the bus."""
        ...

    def close(self, chat_id: str) -> None:
        """Close a chat: subscribers read what is left and stop; publishing raises
        :class:`ChatClosedError`, waiting publishers included."""
        ...

    def discard(self, chat_id: str) -> None:
        """Close a chat and forget it: the bus no longer knows its id."""
        ...
