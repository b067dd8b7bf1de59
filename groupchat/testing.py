"""Deterministic doubles and helpers for testing teams: no model, no network, no sleeps.

``ScriptedAgent`` says fixed lines (or what a function returns); ``ScriptedModel`` and
``FunctionModel`` stand in for a model client (fixed answers, tool calls and usage, streamed in
pieces); ``ChatProbe`` reads a chat's events and waits for the one you expect, so a test can act
at exactly the right moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar, overload

from groupchat.agents import HumanParticipant, ScriptedAgent
from groupchat.bus import Bus, Subscription
from groupchat.events import Event, EventBase
from groupchat.models.scripted import FunctionModel, ScriptedModel, reply, tool_call

__all__ = [
    "ChatProbe",
    "FunctionModel",
    "HumanParticipant",
    "ScriptedAgent",
    "ScriptedModel",
    "reply",
    "tool_call",
]

E = TypeVar("E", bound=EventBase)


class ChatProbe:
    """Watches one chat on a bus from a sequence number on (default: the oldest it holds).

    It reads as a durable subscriber with a very large buffer, so it misses nothing however far
    behind it is and practically never holds the chat back; every event it has read is kept in
    :attr:`seen`.
    """

    def __init__(self, bus: Bus, chat_id: str, *, start: int | None = None) -> None:
        bus.open(chat_id)
        first = bus.oldest_seq(chat_id) if start is None else start
        self._sub: Subscription = bus.subscribe(chat_id, start=first, maxsize=1 << 30)
        self.seen: list[Event] = []

    @classmethod
    def of(cls, chat: Any, *, start: int | None = None) -> ChatProbe:
        """A probe on a :class:`~groupchat.chat.GroupChat` (or anything with bus and chat_id)."""
        return cls(chat.bus, chat.chat_id, start=start)

    @overload
    async def wait_for(self, kind: type[E], *, timeout: float = ..., **fields: Any) -> E: ...
    @overload
    async def wait_for(
        self, kind: Callable[[Event], bool], *, timeout: float = ..., **fields: Any
    ) -> Event: ...
    async def wait_for(self, kind: Any, *, timeout: float = 5.0, **fields: Any) -> Any:
        """Read on until an event of type ``kind`` (or matching predicate ``kind``) whose
        attributes equal ``fields`` arrives; return it. Raises ``TimeoutError`` naming what was
        awaited, or ``LookupError`` if the chat closes first."""
        if isinstance(kind, type):
            cls = kind

            def matches(event: Event) -> bool:
                return isinstance(event, cls)
        else:
            matches = kind

        async def read() -> Any:
            async for event in self._sub:
                self.seen.append(event)
                if matches(event) and all(getattr(event, k, None) == v for k, v in fields.items()):
                    return event
            raise LookupError(f"chat closed before {_describe(kind, fields)} arrived")

        try:
            return await asyncio.wait_for(read(), timeout)
        except TimeoutError:
            raise TimeoutError(f"no {_describe(kind, fields)} within {timeout} s") from None

    async def drain(self, *, timeout: float = 5.0) -> list[Event]:
        """Read until the chat closes; return everything seen."""

        async def read() -> None:
            async for event in self._sub:
                self.seen.append(event)

        await asyncio.wait_for(read(), timeout)
        return self.seen

    def close(self) -> None:
        self._sub.close()


def _describe(kind: Any, fields: dict[str, Any]) -> str:
    name = kind.__name__ if isinstance(kind, type) else getattr(kind, "__name__", "event")
    if fields:
        name += "(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"
    return name
