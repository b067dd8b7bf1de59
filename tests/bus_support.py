"""Helpers of the bus tests: guarded reads, stepping the loop, events stamped already."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from groupchat.bus import Bus, Subscription
from groupchat.events import Event, EventBase, TextDelta

GUARD = 2.0  # seconds; only a safety net against hangs, never a way to wait for work
PAST = datetime(2000, 1, 1, tzinfo=UTC)


class BusFactory(Protocol):
    """Makes a fresh, empty bus. ``retain`` is how many already-read events of each chat it
    keeps at least (``None``: all of them); far beyond that it lets older ones go."""

    def __call__(self, *, retain: int | None = ...) -> Bus: ...


async def run_until(predicate: Callable[[], bool], *, steps: int = 500) -> None:
    """Let other tasks run, one loop step at a time, until ``predicate`` holds."""
    for _ in range(steps):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def settle(steps: int = 50) -> None:
    """Give every ready task plenty of loop steps (used to show that something does NOT move)."""
    for _ in range(steps):
        await asyncio.sleep(0)


async def take(sub: Subscription, n: int) -> list[Event]:
    """Read exactly ``n`` events."""
    out: list[Event] = []
    async with asyncio.timeout(GUARD):
        for _ in range(n):
            out.append(await anext(sub))
    return out


async def drain(sub: Subscription) -> list[Event]:
    """Read until the iteration ends."""
    async with asyncio.timeout(GUARD):
        return [event async for event in sub]


def seqs(events: Sequence[EventBase]) -> list[int]:
    return [event.seq for event in events]


def texts(events: Sequence[EventBase]) -> list[str]:
    out: list[str] = []
    for event in events:
        assert isinstance(event, TextDelta)
        out.append(event.text)
    return out


async def publish_texts(bus: Bus, chat_id: str, sender: str, n: int) -> list[TextDelta]:
    pub = bus.publisher(chat_id, sender)
    return [await pub.emit(TextDelta, message_id="m", text=f"{sender}-{i}") for i in range(n)]


def stamped(chat_id: str, seq: int, sender: str = "recorded") -> TextDelta:
    """An event as read back from a transcript: stamped already, at a time long past."""
    return TextDelta(
        chat_id=chat_id,
        seq=seq,
        time=PAST + timedelta(seconds=seq),
        sender=sender,
        message_id="m",
        text=f"r{seq}",
    )
