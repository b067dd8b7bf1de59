"""The tracer of a running chat: a subscriber of its bus that folds every event into spans.

:class:`ChatTracer` reads the chat from where its run begins with a filtered subscription (all
event types but streamed text), so it never holds the chat back; the manager starts it at the
start of a run and waits for it at the end. :func:`trace_events` traces stored events the same
way (a transcript, a replay). Imported only when tracing is on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import get_args

from groupchat.bus import Bus, Subscription
from groupchat.events import Event
from groupchat.tracing import Tracing
from groupchat.tracing import context as carried
from groupchat.tracing.spans import ChatSpans

__all__ = ["KINDS", "ChatTracer", "trace_events"]


def _kinds() -> frozenset[str]:
    union = get_args(get_args(Event)[0])
    return frozenset(cls.model_fields["type"].default for cls in union) - {"text_delta"}


KINDS: frozenset[str] = _kinds()
"""The event types a tracer reads: all but ``text_delta`` (the posted message has the text)."""

FINISH_TIMEOUT = 5.0
"""Seconds the end of a run waits for its tracer to read the last events."""


class ChatTracer:
    """Traces one run of ``chat_id`` on ``bus`` from sequence number ``start`` on."""

    def __init__(self, bus: Bus, chat_id: str, start: int, options: Tracing) -> None:
        self.spans = ChatSpans(chat_id, options)
        self._sub: Subscription = bus.subscribe(chat_id, start=start, kinds=KINDS)
        self._chat_id = chat_id
        self._task = asyncio.create_task(self._read(), name=f"trace {chat_id}")
        carried.register(chat_id, self.traceparent)

    async def _read(self) -> None:
        apply, sub = self.spans.apply, self._sub
        async for event in sub:
            apply(event)
            for more in sub.ready():  # what else came meanwhile, without a wake-up each
                apply(more)

    def catch_up(self) -> None:
        """Fold what the subscription holds now, without waiting for the reading task."""
        apply = self.spans.apply
        for event in self._sub.ready():
            apply(event)

    def traceparent(self, message_id: str) -> str | None:
        """The W3C trace context of turn ``message_id``'s span (for a worker's turn)."""
        self.catch_up()
        span = self.spans.turn_span(message_id)
        return carried.inject(span) if span is not None else None

    async def finish(self) -> None:
        """Read the run's last events (the chat is closed) and end what is still open."""
        carried.unregister(self._chat_id, self.traceparent)
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._task), FINISH_TIMEOUT)
        finally:
            if not self._task.done():
                self._task.cancel()
            self._sub.close()
            self.spans.close()


def trace_events(events: Iterable[Event], options: Tracing | None = None) -> None:
    """Trace stored events of one chat (e.g. a transcript) as the live chat was traced."""
    spans: ChatSpans | None = None
    for event in events:
        if spans is None:
            spans = ChatSpans(event.chat_id, options or Tracing(enabled=True))
        if event.type != "text_delta":
            spans.apply(event)
    if spans is not None:
        spans.close()
