"""One turn streamed to its outcome: what the participant said, used and how the turn ended.

The manager runs a turn in two steps: :func:`stream_turn` publishes what the participant yields
as it comes (deltas, tool calls and results, hand-offs, a wait for a person) and returns a
:class:`TurnOutcome`; the manager then concludes the turn from that value (a message or a skip,
an error, the end of the chat).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from groupchat.bus import ChatClosedError
from groupchat.events import (
    Handoff,
    HumanInputRequested,
    ModelCall,
    TextDelta,
    ToolCall,
    ToolResult,
)
from groupchat.messages import Part, ToolCallPart, ToolResultPart
from groupchat.participant import (
    AwaitingInput,
    EndChat,
    HandTo,
    ModelCalled,
    ModelCalling,
    Pass,
    Reply,
)

if TYPE_CHECKING:
    from groupchat.bus import Publisher
    from groupchat.participant import ChatView, Participant

__all__ = ["TurnOutcome", "stream_turn"]


@dataclass(slots=True)
class TurnOutcome:
    """How a turn's stream ended."""

    chunks: list[str] = field(default_factory=list)
    """The streamed text, in pieces."""
    parts: list[Part] = field(default_factory=list)
    """Tool calls and results, in order."""
    final: Reply | Pass | EndChat | None = None
    """The closing item, if the participant yielded one."""
    failure: BaseException | None = None
    """What the participant raised."""
    interrupted: bool = False
    """Cut short: an interrupt, a stop, or a cancellation from outside."""
    cancelled_outside: bool = False
    """Cut short by a cancellation that was not the manager's own."""
    calling: ModelCalling | None = None
    """The model call under way, between its :class:`ModelCalling` and :class:`ModelCalled`."""

    @property
    def reply(self) -> Reply | None:
        return self.final if isinstance(self.final, Reply) else None

    @property
    def content(self) -> str:
        reply = self.reply
        if reply is not None and reply.content is not None:
            return reply.content
        return "".join(self.chunks)


async def stream_turn(
    participant: Participant,
    view: ChatView,
    message_id: str,
    pub: Publisher,
    emit: Callable[..., Any],
    claim_cancel: Callable[[], bool],
    settle: Callable[[], None],
) -> TurnOutcome:
    """Run ``participant``'s turn, publishing what it yields through its own ``pub`` (and a wait
    for a person through the manager's ``emit``), until it closes, fails or is cut short.

    ``claim_cancel()`` says whether a cancellation was the manager's own (an interrupt or a
    stop); any other is remembered as ``cancelled_outside``, for the manager to re-raise once
    the turn is concluded. ``settle()`` is called as soon as the stream stops, before it is
    closed: from then on the turn can no longer be cut short.
    """
    outcome = TurnOutcome()
    chunks, parts = outcome.chunks, outcome.parts
    stream = participant.take_turn(view)
    try:
        async for item in stream:
            if type(item) is str:
                if item:
                    chunks.append(item)
                    await pub.emit(TextDelta, message_id=message_id, text=item)
            elif isinstance(item, (Reply, Pass, EndChat)):
                outcome.final = item
                break
            elif isinstance(item, ToolCallPart):
                parts.append(item)
                await pub.emit(
                    ToolCall,
                    message_id=message_id,
                    call_id=item.call_id,
                    name=item.name,
                    arguments=item.arguments,
                )
            elif isinstance(item, ToolResultPart):
                parts.append(item)
                await pub.emit(
                    ToolResult,
                    message_id=message_id,
                    call_id=item.call_id,
                    name=item.name,
                    content=item.content,
                    is_error=item.is_error,
                )
            elif isinstance(item, ModelCalling):
                outcome.calling = item
            elif isinstance(item, ModelCalled):
                outcome.calling = None
                await pub.emit(
                    ModelCall,
                    message_id=message_id,
                    model=item.model,
                    started=item.started,
                    usage=item.usage,
                    error=item.error,
                )
            elif isinstance(item, HandTo):
                await emit(pub, Handoff, target=item.target, note=item.note)
            elif isinstance(item, AwaitingInput):
                await emit(
                    None,
                    HumanInputRequested,
                    participant=participant.name,
                    request="turn",
                    prompt=item.prompt,
                    timeout=item.timeout,
                )
            else:
                raise TypeError(
                    f"{participant.name} yielded {type(item).__name__}; a turn yields str, "
                    "Reply, Pass, EndChat, HandTo, AwaitingInput, ModelCalled, ModelCalling "
                    "or tool parts"
                )
    except asyncio.CancelledError:
        if not claim_cancel():
            outcome.cancelled_outside = True
        outcome.interrupted = True
        _cut_call(outcome, pub, message_id)
    except Exception as exc:
        outcome.failure = exc
        _cut_call(outcome, pub, message_id, f"{type(exc).__name__}: {exc}")
    finally:
        settle()
    if outcome.final is not None or outcome.interrupted or outcome.failure is not None:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await aclose()
    reply = outcome.reply
    if reply is not None:
        parts.extend(p for p in reply.parts if p not in parts)
    return outcome


def _cut_call(
    outcome: TurnOutcome, pub: Publisher, message_id: str, error: str | None = None
) -> None:
    """Publish the model call the turn was in when it was cut off (or failed) without saying
    how the call ended: interrupted, or failed with ``error``."""
    calling = outcome.calling
    if calling is None:
        return
    outcome.calling = None
    with contextlib.suppress(ChatClosedError):
        pub.emit_nowait(
            ModelCall,
            message_id=message_id,
            model=calling.model,
            started=calling.started,
            error=error,
            interrupted=error is None,
        )
