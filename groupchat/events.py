"""The event schema: everything observable in a chat, as one discriminated union.

The bus, the transcript store, replay, export, the front-ends and the tests all use these models
unchanged. Every event carries the chat id, a per-chat sequence number with no gaps, a UTC time
and the sender; the bus stamps those four, so a participant cannot post as someone else.

Events are immutable all the way down, because the bus hands the same object to every
subscriber: models are frozen, sequences are tuples, and mappings (tool arguments, metadata,
token totals per participant) are :class:`~groupchat.frozen.FrozenDict`, whose JSON is that of
a plain dict.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic_core import PydanticSerializationError

from groupchat.frozen import FrozenDict
from groupchat.messages import Message, Usage

__all__ = [
    "EVENT_ADAPTER",
    "INBOUND",
    "INBOUND_ADAPTER",
    "MANAGER",
    "STAMPED",
    "BoolAnswer",
    "ChatEnded",
    "ChatStarted",
    "ControlCommand",
    "ControlRequested",
    "EndStatus",
    "ErrorEvent",
    "Event",
    "EventBase",
    "FactSheet",
    "Handoff",
    "HumanInput",
    "HumanInputRequested",
    "InboundEvent",
    "MessagePosted",
    "ModelCall",
    "ParticipantInfo",
    "ParticipantJoined",
    "ParticipantLeft",
    "Paused",
    "PlanReview",
    "ProgressLedger",
    "Replan",
    "Resumed",
    "ReviewDecision",
    "SeatClaimed",
    "SeatReleased",
    "SelectorAttempt",
    "SpeakerSelected",
    "TaskLedger",
    "TextAnswer",
    "TextDelta",
    "ToolCall",
    "ToolResult",
    "TurnSkipped",
    "TurnStarted",
    "dump_event",
    "event_list_adapter",
    "parse_event",
    "without_surrogates",
]

_E = TypeVar("_E", bound="EventBase")

MANAGER = "manager"
"""The sender of every event the chat's manager publishes (selection, turns, control, end)."""

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ParticipantInfo(BaseModel):
    """What the chat knows about a participant: enough to render it and to select it."""

    model_config = _FROZEN

    name: str
    description: str = ""
    kind: str = "agent"
    human: bool = False


class EventBase(BaseModel):
    """Fields every event has. The bus fills them in; nobody else sets them."""

    model_config = _FROZEN

    chat_id: str
    seq: int = Field(ge=0)
    time: AwareDatetime
    sender: str


class ChatStarted(EventBase):
    type: Literal["chat_started"] = "chat_started"
    task: str | None = None
    participants: tuple[ParticipantInfo, ...] = ()
    policy: str = ""
    termination: str | None = None
    metadata: FrozenDict[str, Any] = FrozenDict()


class ParticipantJoined(EventBase):
    type: Literal["participant_joined"] = "participant_joined"
    participant: ParticipantInfo


class ParticipantLeft(EventBase):
    type: Literal["participant_left"] = "participant_left"
    name: str
    reason: str = ""


class SpeakerSelected(EventBase):
    """The policy's choice of who acts next, with the candidates it chose among and why."""

    type: Literal["speaker_selected"] = "speaker_selected"
    speaker: str
    candidates: tuple[str, ...]
    reason: str
    policy: str
    turn: int


class TurnStarted(EventBase):
    type: Literal["turn_started"] = "turn_started"
    speaker: str
    message_id: str
    turn: int


class TextDelta(EventBase):
    """A streamed piece of the message ``message_id``; the posted message holds the whole text."""

    type: Literal["text_delta"] = "text_delta"
    message_id: str
    text: str


class MessagePosted(EventBase):
    type: Literal["message_posted"] = "message_posted"
    message: Message


class ToolCall(EventBase):
    """A participant calls a tool; ``arguments`` are read-only (``arguments.thaw()`` gives a
    plain copy)."""

    type: Literal["tool_call"] = "tool_call"
    message_id: str
    call_id: str
    name: str
    arguments: FrozenDict[str, Any] = FrozenDict()


class ToolResult(EventBase):
    type: Literal["tool_result"] = "tool_result"
    message_id: str
    call_id: str
    name: str
    content: str
    is_error: bool = False


class ModelCall(EventBase):
    """One call an agent's turn ``message_id`` made to a model (sent by the agent): which
    model, when it began (the event's time is when it ended), the tokens it used and, if it
    failed, why (``Type: message``). Tracing makes its ``chat {model}`` spans from these; the
    message's ``usage`` stays the turn's total."""

    type: Literal["model_call"] = "model_call"
    message_id: str
    model: str
    started: AwareDatetime
    usage: Usage | None = None
    error: str | None = Field(default=None, exclude_if=lambda value: value is None)
    interrupted: bool = Field(default=False, exclude_if=lambda value: value is False)
    """Cut off by the end of its turn (an interrupt, a stop): no answer, no usage."""


class HumanInputRequested(EventBase):
    """A human is asked for something: their turn's message, a speaker choice, an approval."""

    type: Literal["human_input_requested"] = "human_input_requested"
    participant: str
    request: Literal["turn", "select_speaker", "approval"] = "turn"
    prompt: str = ""
    choices: tuple[str, ...] = ()
    timeout: float | None = None


class SelectorAttempt(EventBase):
    """One call a selection policy makes to a model (or a person): who speaks next, or for the
    magentic manager a plan, a progress ledger or the final answer. ``usage`` counts in the
    chat's totals under ``billed_to``, the policy's ``usage_key`` (``selector``, or ``manager``).

    ``billed_to`` is left out of the JSON when unset, so a transcript written before it existed
    reads back byte for byte; a fold bills such an attempt under the key it is given (the
    policy's, for the manager; ``selector`` by default), and the chat's ``chat_ended`` totals
    are the truth once it comes (see :mod:`groupchat.timeline`)."""

    type: Literal["selector_attempt"] = "selector_attempt"
    policy: str
    attempt: int = Field(ge=1)
    answer: str
    accepted: bool
    problem: str = ""
    usage: Usage | None = None
    billed_to: str | None = Field(default=None, exclude_if=lambda value: value is None)
    model: str | None = Field(default=None, exclude_if=lambda value: value is None)
    """The model called, when the attempt called one (left out of the JSON when unset)."""


class Handoff(EventBase):
    """The speaker hands the floor to ``target`` (sent by the participant itself)."""

    type: Literal["handoff"] = "handoff"
    target: str
    note: str = ""


class TurnSkipped(EventBase):
    """A turn that ended without a message: passed, timed out, cut short before any text, failed."""

    type: Literal["turn_skipped"] = "turn_skipped"
    speaker: str
    message_id: str
    reason: str


class Paused(EventBase):
    type: Literal["paused"] = "paused"
    by: str | None = None


class Resumed(EventBase):
    type: Literal["resumed"] = "resumed"
    by: str | None = None


class ErrorEvent(EventBase):
    """Something failed; ``fatal`` says whether the chat ends because of it."""

    type: Literal["error"] = "error"
    error: str
    detail: str = ""
    participant: str | None = None
    fatal: bool = False


class FactSheet(BaseModel):
    """What the magentic manager knows and needs to find out about a task."""

    model_config = _FROZEN

    given: tuple[str, ...] = ()
    """Facts given in the request or verified."""
    to_look_up: tuple[str, ...] = ()
    to_derive: tuple[str, ...] = ()
    """Facts to work out (computation, deduction)."""
    guesses: tuple[str, ...] = ()
    """Educated guesses."""


class TaskLedger(EventBase):
    """The magentic manager's plan for the task: posted first and again after every revision."""

    type: Literal["task_ledger"] = "task_ledger"
    revision: int = Field(ge=0)
    """0 for the first plan; each replan or revision adds one."""
    task: str
    team: tuple[ParticipantInfo, ...] = ()
    facts: FactSheet = Field(default_factory=FactSheet)
    plan: tuple[str, ...] = ()
    cause: Literal["task", "stall", "review"] = "task"
    """What made it: a new task, stalls (a replan), a reviewer's answer (a revision)."""
    reason: str = ""
    """Why the plan changed, in words (empty for a task's first plan)."""


class BoolAnswer(BaseModel):
    """A yes/no answer of a progress ledger, with the model's reason."""

    model_config = _FROZEN

    answer: bool
    reason: str = ""


class TextAnswer(BaseModel):
    """A free-text answer of a progress ledger (a name, an instruction), with the reason."""

    model_config = _FROZEN

    answer: str
    reason: str = ""


class ProgressLedger(EventBase):
    """One round of the magentic manager: where the task stands and who acts next.

    ``stalls`` is the stall count after this round (up on no progress or a loop, else down);
    past ``max_stalls`` the manager replans.
    """

    type: Literal["progress_ledger"] = "progress_ledger"
    round: int = Field(ge=1)
    satisfied: BoolAnswer
    in_loop: BoolAnswer
    making_progress: BoolAnswer
    next_speaker: TextAnswer
    instruction: TextAnswer
    stalls: int = Field(default=0, ge=0)
    max_stalls: int = Field(default=0, ge=0)


class Replan(EventBase):
    """The magentic manager stalled too often: it revises facts and plan and starts over."""

    type: Literal["replan"] = "replan"
    reason: str
    stalls: int = Field(ge=0)
    resets: int = Field(ge=1)
    """Replans so far, this one included."""
    max_resets: int = Field(ge=0)


ReviewDecision = Literal["approve", "revise", "reject", "no_answer"]


class PlanReview(EventBase):
    """A person's verdict on the plan of ``revision``; ``no_answer`` lets the plan run."""

    type: Literal["plan_review"] = "plan_review"
    reviewer: str
    revision: int = Field(ge=0)
    decision: ReviewDecision
    feedback: str = ""


EndStatus = Literal["completed", "stopped", "max_turns", "error", "cancelled"]


class HumanInput(EventBase):
    """A line from a person, the sender: it answers their open request (a turn, a choice, an
    approval), or else the manager posts it at once as an interjection."""

    type: Literal["human_input"] = "human_input"
    text: str


ControlCommand = Literal["pause", "resume", "interrupt", "stop", "steer", "kick", "invite"]


class ControlRequested(EventBase):
    """The sender asks the manager to pause, resume, interrupt the speaker, stop the chat, make
    ``name`` the next speaker (``steer``), remove ``name`` (``kick``) or bring them back
    (``invite``). What the manager does about it is an event of its own (``paused``,
    ``speaker_selected`` with policy ``steer``, ``participant_left`` ...)."""

    type: Literal["control"] = "control"
    command: ControlCommand
    name: str | None = None
    reason: str = ""


class SeatClaimed(EventBase):
    """The person ``sender`` now answers from another terminal, ``holder`` (``groupchat join``)."""

    type: Literal["seat_claimed"] = "seat_claimed"
    holder: str


class SeatReleased(EventBase):
    """The person ``sender`` no longer answers from ``holder``."""

    type: Literal["seat_released"] = "seat_released"
    holder: str


INBOUND: frozenset[str] = frozenset({"human_input", "control", "seat_claimed", "seat_released"})
"""The types of the events sent *to* the manager (commands); it reads them from the bus."""

InboundEvent = Annotated[
    HumanInput | ControlRequested | SeatClaimed | SeatReleased, Field(discriminator="type")
]
"""The events of :data:`INBOUND`, as one union: what another process may ask a chat."""

INBOUND_ADAPTER: TypeAdapter[InboundEvent] = TypeAdapter(InboundEvent)
"""The codec of an inbound event (e.g. one sent from a joined terminal, see
:mod:`groupchat.tui.share.protocol`); refuses every other type."""

STAMPED: frozenset[str] = frozenset(EventBase.model_fields)
"""The fields the bus stamps on every event; whoever asks the chat never chooses them."""


class ChatEnded(EventBase):
    """The last event of a chat run: why it ended, how many messages, the token totals."""

    type: Literal["chat_ended"] = "chat_ended"
    reason: str
    status: EndStatus = "completed"
    messages: int = 0
    usage: Usage = Field(default_factory=Usage)
    usage_by: FrozenDict[str, Usage] = FrozenDict()
    """Token totals per participant; selection policies count under ``selector`` (the magentic
    manager under ``manager``)."""


Event = Annotated[
    ChatStarted
    | ParticipantJoined
    | ParticipantLeft
    | SpeakerSelected
    | TurnStarted
    | TextDelta
    | MessagePosted
    | ToolCall
    | ToolResult
    | ModelCall
    | HumanInputRequested
    | SelectorAttempt
    | Handoff
    | TurnSkipped
    | Paused
    | Resumed
    | ErrorEvent
    | TaskLedger
    | ProgressLedger
    | Replan
    | PlanReview
    | HumanInput
    | ControlRequested
    | SeatClaimed
    | SeatReleased
    | ChatEnded,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
"""The one JSON codec of the event schema."""


@cache
def event_list_adapter() -> TypeAdapter[list[Event]]:
    """The codec of a JSON array of events, built on first use: validating many events as one
    array is faster than one by one (keep arrays to a few hundred kilobytes, see
    :func:`~groupchat.transcripts.read_events`)."""
    return TypeAdapter(list[Event])


def dump_event(event: EventBase) -> str:
    """Serialise an event as one line of canonical JSON.

    JSON is UTF-8, so text that is not valid Unicode cannot be written as it is: a lone
    surrogate (e.g. an undecodable byte read with ``surrogateescape``) becomes U+FFFD.
    """
    try:
        return event.model_dump_json()
    except PydanticSerializationError:
        return without_surrogates(event).model_dump_json()


def without_surrogates(event: _E) -> _E:
    """``event`` with each lone surrogate in its text replaced by U+FFFD (pairs are joined)."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    return type(event).model_validate(clean(event.model_dump()))


def parse_event(data: str | bytes) -> Event:
    """Parse one canonical JSON event; raises ``pydantic.ValidationError`` naming the bad field."""
    return EVENT_ADAPTER.validate_json(data)
