"""Reading a chat's stream from another process: its events from any seq, then as they come.

An entry that is not a valid event of the chat (written by hand, or by a client of another
version) is never a crash: it is read as an ``error`` event at its place in the order, naming
the entry and what is wrong with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from groupchat.distributed import keys
from groupchat.distributed.streams import xrange, xread
from groupchat.events import ChatEnded, ErrorEvent, Event, parse_event

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["BUS_SENDER", "follow", "parse_entry", "read_range"]

BUS_SENDER = "bus"
"""The sender of the ``error`` events that stand in for unreadable stream entries."""

PAGE = 1000
"""Entries read in one call."""


def parse_entry(chat_id: str, entry_id: bytes | str, fields: dict[Any, Any]) -> Event:
    """The event of one stream entry, or an ``error`` event in its place saying what is wrong."""
    try:
        seq = keys.entry_seq(entry_id)
    except ValueError as exc:
        raise ValueError(f"chat {chat_id}: {exc}") from None
    data = fields.get(b"e", fields.get("e"))
    problem = None
    if data is None:
        problem = "it has no event"
    else:
        try:
            event = parse_event(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "event"
            problem = f"{where}: {first.get('msg', 'invalid')}"
        else:
            if event.chat_id != chat_id or event.seq != seq:
                problem = f"it holds event {event.seq} of chat {event.chat_id}"
            else:
                return event
    name = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return ErrorEvent(
        chat_id=chat_id,
        seq=seq,
        time=datetime.now(UTC),
        sender=BUS_SENDER,
        error=f"stream entry {name} of chat {chat_id} is not a valid event ({problem}): skipped",
        detail="bus",
        fatal=False,
    )


async def read_range(
    client: Redis, chat_id: str, start: int = 0, end: int | None = None
) -> AsyncIterator[Event]:
    """The events of the chat's stream from seq ``start`` (to ``end``, excluded), as it is now."""
    stream = keys.events(chat_id)
    low = keys.entry_id(start)
    high = "+" if end is None else keys.entry_id(end - 1)
    while True:
        if end is not None and start >= end:
            return
        entries = await xrange(client, stream, low, high, count=PAGE)
        for entry_id, fields in entries:
            yield parse_entry(chat_id, entry_id, fields)
        if len(entries) < PAGE:
            return
        start = keys.entry_seq(entries[-1][0]) + 1
        low = keys.entry_id(start)


async def follow(
    client: Redis,
    chat_id: str,
    start: int = 0,
    *,
    until_end: bool = True,
    block: float = 1.0,
    outage_limit: float = 60.0,
    shown: str = "the bus",
) -> AsyncIterator[Event]:
    """The chat's events from seq ``start`` on, as they are appended; with ``until_end`` it
    stops after ``chat_ended``. Redis going away is waited out for ``outage_limit`` seconds,
    then :class:`BusUnavailableError`."""
    from groupchat.distributed.patience import patiently

    stream = keys.events(chat_id)
    last = f"0-{start}"  # XREAD returns entries after this one: seq ``start`` on

    def lost(exc: Exception) -> str:
        return f"lost the bus at {shown}: {exc}"

    while True:
        answer = await patiently(
            partial(xread, client, {stream: last}, count=PAGE, block=int(block * 1000)),
            limit=outage_limit,
            lost=lost,
        )
        for _stream, entries in answer:
            for entry_id, fields in entries:
                last = entry_id.decode()
                event = parse_entry(chat_id, entry_id, fields)
                yield event
                if until_end and isinstance(event, ChatEnded):
                    return
