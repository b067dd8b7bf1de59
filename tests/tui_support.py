"""Helpers for the TUI tests: waiting on the app's state, and an agent the test holds mid-turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.app import App
from textual.pilot import Pilot

from groupchat.events import (
    ChatEnded,
    ChatStarted,
    Event,
    MessagePosted,
    ParticipantInfo,
    SpeakerSelected,
)
from groupchat.messages import Message
from groupchat.participant import ChatView, TurnItem

__all__ = [
    "GatedAgent",
    "fixed_clock",
    "long_chat_events",
    "noticed",
    "screen_text",
    "until",
    "until_shown",
]

LIMIT_S = 10.0


async def until(pilot: Pilot[Any], predicate: Callable[[], bool], what: str) -> None:
    """Let the app run (``pilot.pause()``, no fixed delay) until ``predicate`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LIMIT_S
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause()


async def until_shown(pilot: Pilot[object]) -> None:
    """Until everything the app has taken in is on screen."""
    app = pilot.app
    await until(pilot, lambda: app.shown, "the views to catch up")  # type: ignore[attr-defined]
    await pilot.pause()


def noticed(app: App[object], text: str) -> bool:
    """Whether a notice (toast) containing ``text`` was shown."""
    return any(text in notification.message for notification in app._notifications)


def screen_text(app: App[object]) -> str:
    """What the terminal shows now, as plain text (one line per row)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def long_chat_events(messages: int, *, chat_id: str = "long") -> list[Event]:
    """A stored chat of ``messages`` messages (a selection and a message each), built directly."""
    names = ("ada", "bob", "cy", "dee")
    start = datetime(2025, 1, 1, 12, tzinfo=UTC)
    step = timedelta(seconds=1)
    events: list[Event] = [
        ChatStarted(
            chat_id=chat_id,
            sender="manager",
            seq=0,
            time=start,
            task="Talk for a long time",
            participants=tuple(ParticipantInfo(name=n) for n in names),
            policy="round robin",
        )
    ]
    for number in range(1, messages + 1):
        name = names[number % len(names)]
        time = start + number * step
        events.append(
            SpeakerSelected(
                chat_id=chat_id,
                sender="manager",
                seq=len(events),
                time=time,
                speaker=name,
                candidates=names,
                reason="round robin",
                policy="round robin",
                turn=number,
            )
        )
        text = f"Message **{number}** from {name}.\n\n- a point\n- another point"
        message = Message(id=f"m{number}", sender=name, content=text)
        events.append(
            MessagePosted(chat_id=chat_id, sender=name, seq=len(events), time=time, message=message)
        )
    events.append(
        ChatEnded(
            chat_id=chat_id,
            sender="manager",
            seq=len(events),
            time=start + (messages + 1) * step,
            reason="done",
            messages=messages,
        )
    )
    return events


def fixed_clock(_time: datetime) -> str:
    """Every event at the same time: screenshots do not depend on the clock."""
    return "12:00:00"


class GatedAgent:
    """Streams ``before``, then waits for :meth:`open` (the test's cue), then streams ``after``.

    :attr:`waiting` is set while it waits, so a test acts exactly while the agent is mid-message.
    """

    kind = "scripted"
    human = False

    def __init__(self, name: str, before: list[str], after: list[str]) -> None:
        self.name = name
        self.description = f"{name} (held by the test)"
        self.before = before
        self.after = after
        self.waiting = asyncio.Event()
        self._gate = asyncio.Event()
        self.turns = 0

    def open(self) -> None:
        self._gate.set()

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        self.turns += 1
        for piece in self.before:
            yield piece
        self.waiting.set()
        await self._gate.wait()
        self._gate.clear()
        self.waiting.clear()
        for piece in self.after:
            yield piece
