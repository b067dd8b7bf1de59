"""Where a fork cuts a turn: a fork at an event inside a streamed message keeps that message.

A fork at ``--at SEQ`` shares the parent's events ``0..SEQ``. When SEQ falls inside a turn
whose text had begun to stream, the fork holds what was on screen at that event: the text
streamed so far (every piece up to the cut, with the tools it ran), posted as one message cut
short (``interrupted``), as if the speaker had been interrupted there. The chat then goes on
after that message, as after an interrupt; the turn is not given again (that would repeat the
speaker's text under the partial one). A cut before anything streamed leaves the turn open:
the fork gives it again from its start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from groupchat._fields import share_fields_set
from groupchat.events import (
    Event,
    MessagePosted,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnSkipped,
    TurnStarted,
)
from groupchat.messages import Message, Part, ToolCallPart, ToolResultPart, parse_mentions

__all__ = ["close_cut_turn"]


def close_cut_turn(events: Sequence[Event], names: Iterable[str]) -> MessagePosted | None:
    """The message a fork of ``events`` (the shared ones) posts for the turn they cut, or
    ``None`` when they cut none, or one that had not streamed yet. ``names`` are the
    participants a mention in its text can name."""
    start = _open_turn_at(events)
    if start is None:
        return None
    turn = events[start]
    assert isinstance(turn, TurnStarted)
    text: list[str] = []
    parts: list[Part] = []
    for event in events[start + 1 :]:
        if isinstance(event, TextDelta) and event.message_id == turn.message_id:
            text.append(event.text)
        elif isinstance(event, ToolCall) and event.message_id == turn.message_id:
            parts.append(
                ToolCallPart(call_id=event.call_id, name=event.name, arguments=event.arguments)
            )
        elif isinstance(event, ToolResult) and event.message_id == turn.message_id:
            parts.append(
                ToolResultPart(
                    call_id=event.call_id,
                    name=event.name,
                    content=event.content,
                    is_error=event.is_error,
                )
            )
    content = "".join(text)
    if not content and not parts:
        return None
    message = Message(
        id=turn.message_id,
        sender=turn.speaker,
        content=content,
        kind="turn",
        parts=tuple(parts),
        mentions=parse_mentions(content, list(names)) if "@" in content else (),
        interrupted=True,
    )
    share_fields_set(message)
    last = events[-1]
    return MessagePosted(
        chat_id=last.chat_id, seq=last.seq + 1, time=last.time, sender=turn.speaker, message=message
    )


def _open_turn_at(events: Sequence[Event]) -> int | None:
    """The index of the ``turn_started`` of the turn still open at the end of ``events``."""
    start = next(
        (i for i in range(len(events) - 1, -1, -1) if isinstance(events[i], TurnStarted)), None
    )
    if start is None:
        return None
    turn = events[start]
    assert isinstance(turn, TurnStarted)
    for event in events[start + 1 :]:
        if isinstance(event, TurnSkipped) and event.message_id == turn.message_id:
            return None
        if isinstance(event, MessagePosted) and event.message.id == turn.message_id:
            return None
    return start
