"""What the TUI shows, built from chat events alone: the conversation, who takes part, the status.

A live chat and a replay feed the same events into a :class:`ChatModel`, so both show the same
things. The model holds no widgets: it keeps every entry of the conversation (cheap records),
while the app mounts views for only a window of them. Changes are collected (:attr:`dirty`,
:attr:`changed`) so that the views catch up at most once per frame, however fast events come.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from groupchat.events import (
    ChatEnded,
    ChatStarted,
    ErrorEvent,
    EventBase,
    Handoff,
    HumanInputRequested,
    MessagePosted,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    Paused,
    Resumed,
    SelectorAttempt,
    SpeakerSelected,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnSkipped,
    TurnStarted,
)
from groupchat.messages import ToolCallPart, ToolResultPart, Usage

__all__ = [
    "SELECTOR",
    "ChatModel",
    "Entry",
    "Member",
    "MessageEntry",
    "NoteEntry",
    "Plan",
    "ToolEntry",
    "ends_request",
]

SELECTOR = "selector"
"""Whom selection calls' tokens count under (as in the chat's own totals)."""

_BASE_FIELDS = frozenset({"chat_id", "seq", "time", "sender", "type"})
_KEEPS_REQUEST = frozenset(
    {
        "text_delta",
        "paused",
        "resumed",
        "participant_joined",
        "tool_call",
        "handoff",
        "human_input",
        "control",
        "seat_claimed",
        "seat_released",
    }
)
"""Event types that leave an open request to a person open; every other one answers or ends it."""


@dataclass(slots=True, eq=False)
class Member:
    """A participant as the sidebar shows it. ``colour`` is its place in order of appearance."""

    name: str
    description: str = ""
    kind: str = "agent"
    human: bool = False
    colour: int = 0
    state: str = "waiting"
    left: bool = False


@dataclass(slots=True, eq=False)
class ToolEntry:
    call_id: str
    name: str
    arguments: dict[str, Any]
    result: str | None = None
    is_error: bool = False


@dataclass(slots=True, eq=False)
class MessageEntry:
    """A message of the conversation, streamed or posted whole.

    The text grows by appending pieces (joined only when read); ``rewrites`` counts the times
    the posted text replaced, rather than extended, what had streamed.
    """

    index: int
    message_id: str
    sender: str
    time: datetime
    kind: str = "turn"
    streaming: bool = True
    interrupted: bool = False
    usage: Usage | None = None
    tools: list[ToolEntry] = field(default_factory=list)
    rewrites: int = 0
    length: int = 0
    _chunks: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        chunks = self._chunks
        if len(chunks) > 1:
            chunks[:] = ["".join(chunks)]
        return chunks[0] if chunks else ""

    def extend(self, piece: str) -> None:
        if piece:
            self._chunks.append(piece)
            self.length += len(piece)

    def replace(self, text: str) -> None:
        self._chunks[:] = [text]
        self.length = len(text)
        self.rewrites += 1

    def tool(self, call_id: str) -> ToolEntry | None:
        for tool in self.tools:
            if tool.call_id == call_id:
                return tool
        return None


@dataclass(slots=True, eq=False)
class NoteEntry:
    """A one-line note: who was selected and why, a pass, a pause, an error, an unknown event.

    ``who`` (a participant, shown in their colour) comes first, then ``text``.
    """

    index: int
    time: datetime
    kind: str
    text: str
    who: str | None = None


Entry = MessageEntry | NoteEntry


@dataclass(slots=True, eq=False)
class Plan:
    """The magentic manager's plan (its task ledger) and where the work stands (its progress
    ledger), for the plan panel."""

    revision: int
    steps: tuple[str, ...]
    facts: tuple[str, ...] = ()
    reason: str = ""
    round: int = 0
    next_speaker: str = ""
    instruction: str = ""
    stalls: int = 0
    max_stalls: int = 0
    review: str = ""


class ChatModel:
    """The state of one chat as its events describe it; ``me`` is the person at this terminal.

    ``here`` are all the people this terminal answers for (``me`` included): what is asked of
    any of them is asked of the person at the keyboard (see :mod:`groupchat.tui.seats`).
    """

    def __init__(self, me: str | None = None, *, here: Iterable[str] = ()) -> None:
        self.me = me
        self.here: set[str] = set(here)
        self.away: set[str] = set()
        """People who answer from another terminal now, even ``me`` (see ``groupchat join``)."""
        self.reset()

    def reset(self) -> None:
        """Forget everything (a replay that starts again)."""
        self.entries: list[Entry] = []
        self.members: dict[str, Member] = {}
        self.team = ""
        self.task: str | None = None
        self.policy = ""
        self.termination: str | None = None
        self.chat_id = ""
        self.state = "waiting"  # waiting | running | paused | ended | lost
        self.end_status = ""
        self.end_reason = ""
        self.turn = 0
        self.messages = 0
        self.usage = Usage()
        self.usage_by: dict[str, Usage] = {}
        self.speaker: str | None = None
        self.writing: str | None = None  # who is streaming text right now
        self.next_speaker: str | None = None
        self.next_reason = ""
        self.request: HumanInputRequested | None = None
        self.plan: Plan | None = None
        self.last_seq = -1
        self.dirty: set[int] = set()
        self.changed = True
        self._open: dict[str, MessageEntry] = {}  # message id -> entry still being written

    # ------------------------------------------------------------------ reading

    @property
    def my_request(self) -> HumanInputRequested | None:
        """The open request to the person at this terminal (as any of the people here), if any."""
        request = self.request
        if request is not None and self.is_here(request.participant):
            return request
        return None

    def is_here(self, name: str | None) -> bool:
        """Whether ``name`` is the person at this terminal or another they answer for."""
        if name is None or name in self.away:
            return False
        return name == self.me or name in self.here

    def names(self) -> list[str]:
        """Who takes part now, in order of appearance."""
        return [m.name for m in self.members.values() if not m.left]

    def descriptions(self) -> dict[str, str]:
        """What each participant is for (as the chat describes them)."""
        return {m.name: m.description for m in self.members.values() if not m.left}

    def drain(self) -> set[int]:
        """The entries changed since the last call (the view updates those it shows)."""
        dirty = self.dirty
        self.dirty = set()
        return dirty

    # ------------------------------------------------------------------ events

    def apply(self, event: EventBase) -> None:
        """Take one event into the model."""
        self.last_seq = event.seq
        kind: str = getattr(event, "type", "")
        if self.request is not None and ends_request(event):
            self._end_request(event)
        handler = _HANDLERS.get(kind)
        if handler is None:
            self._generic(event)
        else:
            handler(self, event)

    def add_note(self, time: datetime, kind: str, text: str, who: str | None = None) -> None:
        """A note of the front-end's own (e.g. where a resumed chat goes on)."""
        index = len(self.entries)
        self.entries.append(NoteEntry(index, time, kind, text, who))
        self.dirty.add(index)

    def _note(self, event: EventBase, kind: str, text: str, who: str | None = None) -> None:
        self.add_note(event.time, kind, text, who)

    def _member(self, info: ParticipantInfo) -> Member:
        member = self.members.get(info.name)
        if member is None:
            member = Member(info.name, colour=len(self.members))
            self.members[info.name] = member
        member.description = info.description
        member.kind = info.kind
        member.human = info.human
        member.left = False
        member.state = "waiting"
        return member

    def _set_state(self, name: str | None, state: str) -> None:
        member = self.members.get(name) if name is not None else None
        if member is not None and not member.left and member.state != state:
            member.state = state
            self.changed = True

    def _entry(self, message_id: str, sender: str, event: EventBase) -> MessageEntry:
        entry = self._open.get(message_id)
        if entry is None:
            entry = MessageEntry(len(self.entries), message_id, sender, event.time)
            self.entries.append(entry)
            self._open[message_id] = entry
        return entry

    def _count(self, who: str, usage: Usage) -> None:
        self.usage = self.usage + usage
        previous = self.usage_by.get(who)
        self.usage_by[who] = usage if previous is None else previous + usage

    def _started(self, event: ChatStarted) -> None:
        self.chat_id = event.chat_id
        self.team = str(event.metadata.get("team", "") or "")
        self.task = event.task
        self.policy = event.policy
        self.termination = event.termination
        self.state = "running"
        for info in event.participants:
            self._member(info)
        ends = f" · ends on: {event.termination}" if event.termination else ""
        self._note(event, "started", f"chat started · policy: {event.policy}{ends}")
        self.changed = True

    def _joined(self, event: ParticipantJoined) -> None:
        self._member(event.participant)
        self._note(event, "joined", " joined", event.participant.name)
        self.changed = True

    def _left(self, event: ParticipantLeft) -> None:
        member = self.members.get(event.name)
        if member is not None:
            member.left = True
            member.state = "left"
        if self.next_speaker == event.name:
            self.next_speaker = None
        reason = f" ({event.reason})" if event.reason else ""
        self._note(event, "left", f" left{reason}", event.name)
        self.changed = True

    def _selected(self, event: SpeakerSelected) -> None:
        self.next_speaker = event.speaker
        self.next_reason = event.reason
        self.turn = event.turn
        self._note(event, "selected", f" · {event.reason}", event.speaker)
        self.changed = True

    def _turn(self, event: TurnStarted) -> None:
        self.speaker = event.speaker
        self.turn = event.turn
        if self.next_speaker == event.speaker:
            self.next_speaker = None
        self._set_state(event.speaker, "thinking")
        self.changed = True

    def _delta(self, event: TextDelta) -> None:
        entry = self._entry(event.message_id, event.sender, event)
        entry.extend(event.text)
        self.dirty.add(entry.index)
        if self.writing != event.sender:
            self.writing = event.sender
            self._set_state(event.sender, "speaking")
            self.changed = True

    def _tool_call(self, event: ToolCall) -> None:
        entry = self._entry(event.message_id, event.sender, event)
        entry.tools.append(ToolEntry(event.call_id, event.name, event.arguments.thaw()))
        self.dirty.add(entry.index)
        self._set_state(event.sender, f"using {event.name}")

    def _tool_result(self, event: ToolResult) -> None:
        entry = self._entry(event.message_id, event.sender, event)
        tool = entry.tool(event.call_id)
        if tool is None:
            tool = ToolEntry(event.call_id, event.name, {})
            entry.tools.append(tool)
        tool.result = event.content
        tool.is_error = event.is_error
        self.dirty.add(entry.index)
        self._set_state(event.sender, "thinking")

    def _posted(self, event: MessagePosted) -> None:
        message = event.message
        entry = self._open.pop(message.id, None)
        if entry is None:
            entry = MessageEntry(len(self.entries), message.id, message.sender, event.time)
            entry.extend(message.content)
            self.entries.append(entry)
        elif message.content != entry.text:
            if message.content.startswith(entry.text):
                entry.extend(message.content[entry.length :])
            else:
                entry.replace(message.content)
        entry.kind = message.kind
        entry.streaming = False
        entry.interrupted = message.interrupted
        entry.usage = message.usage
        for part in message.parts:
            if isinstance(part, ToolCallPart) and entry.tool(part.call_id) is None:
                entry.tools.append(ToolEntry(part.call_id, part.name, part.arguments.thaw()))
            elif isinstance(part, ToolResultPart):
                tool = entry.tool(part.call_id)
                if tool is None:
                    tool = ToolEntry(part.call_id, part.name, {})
                    entry.tools.append(tool)
                if tool.result is None:
                    tool.result, tool.is_error = part.content, part.is_error
        self.dirty.add(entry.index)
        self.messages += 1
        if message.usage is not None:
            self._count(message.sender, message.usage)
        if message.kind == "turn":
            self._set_state(message.sender, "waiting")
            if self.speaker == message.sender:
                self.speaker = None
            if self.writing == message.sender:
                self.writing = None
        self.changed = True

    def _requested(self, event: HumanInputRequested) -> None:
        self.request = event
        who = event.participant
        mine = self.is_here(who)
        if event.request == "turn":
            self._set_state(who, "your turn" if mine else "waiting for input")
            return
        if event.request == "approval":
            self._set_state(self.speaker, "waiting for you" if mine else f"waiting for {who}")
            self._note(event, "request", f"asked {who} to approve: {event.prompt}")
        else:
            self._set_state(who, "choosing")
            choices = ", ".join(event.choices)
            self._note(event, "request", f"asked {who}: who speaks next? ({choices})")

    def _end_request(self, event: EventBase) -> None:
        request = self.request
        assert request is not None
        self.request = None
        who = request.participant
        if request.request == "approval":
            self._set_state(self.speaker, "thinking")
        elif request.request == "select_speaker" or not isinstance(event, MessagePosted):
            self._set_state(who, "thinking" if self.speaker == who else "waiting")
        self.changed = True

    def _attempt(self, event: SelectorAttempt) -> None:
        if event.usage is not None:
            self._count(SELECTOR, event.usage)
            self.changed = True
        if not event.accepted:
            problem = f": {event.problem}" if event.problem else ""
            answer = event.answer if len(event.answer) <= 80 else event.answer[:79] + "…"
            self._note(
                event,
                "attempt",
                f"{event.policy} attempt {event.attempt} answered {answer!r}{problem}",
            )

    def _handoff(self, event: Handoff) -> None:
        note = f": {event.note}" if event.note else ""
        self._note(event, "handoff", f" hands over to {event.target}{note}", event.sender)

    def _skipped(self, event: TurnSkipped) -> None:
        entry = self._open.pop(event.message_id, None)
        if entry is not None:
            entry.streaming = False
            entry.interrupted = True
            self.dirty.add(entry.index)
        self._set_state(event.speaker, "waiting")
        if self.speaker == event.speaker:
            self.speaker = None
        if self.writing == event.speaker:
            self.writing = None
        self._note(event, "skipped", f" passed ({event.reason})", event.speaker)
        self.changed = True

    def _paused(self, event: Paused) -> None:
        self.state = "paused"
        by = f" by {event.by}" if event.by else ""
        self._note(event, "paused", f"paused{by}")
        self.changed = True

    def _resumed(self, event: Resumed) -> None:
        self.state = "running"
        by = f" by {event.by}" if event.by else ""
        self._note(event, "resumed", f"resumed{by}")
        self.changed = True

    def _error(self, event: ErrorEvent) -> None:
        who = f"{event.participant}: " if event.participant else ""
        self._note(event, "error", f"error: {who}{event.error}")

    def _ended(self, event: ChatEnded) -> None:
        self.state = "ended"
        self.end_status = event.status
        self.end_reason = event.reason
        self.usage = event.usage
        self.usage_by = dict(event.usage_by)
        self._settle("waiting")
        self._note(event, "ended", f"chat ended ({event.status}): {event.reason}")
        self.changed = True

    def lose(self, reason: str) -> None:
        """The chat can no longer be followed from here (a joined terminal's connection is
        gone): nothing is open or asked any more, and the status says ``reason``."""
        self.state = "lost"
        self.end_reason = reason
        self._settle("unknown")
        self.changed = True

    def _settle(self, members: str) -> None:
        """Nothing goes on any more: no speaker, nothing asked, no message still streaming, and
        every member still in the chat shown as ``members``."""
        self.speaker = self.writing = self.next_speaker = None
        self.request = None
        for entry in self._open.values():
            entry.streaming = False
            self.dirty.add(entry.index)
        self._open.clear()
        for member in self.members.values():
            if not member.left:
                member.state = members

    # The magentic manager's events are read by their fields, so that this model works with
    # any version of them and still shows an event type it does not know (see ``_generic``).

    def _task_ledger(self, event: Any) -> None:
        facts = getattr(event, "facts", None)
        known = tuple(getattr(facts, "given", ()) or ()) if facts is not None else ()
        revision = int(getattr(event, "revision", 0))
        self.plan = Plan(
            revision, tuple(getattr(event, "plan", ()) or ()), known, str(event.reason or "")
        )
        title = "plan" if revision == 0 else f"plan, revision {revision}"
        reason = f" ({event.reason})" if getattr(event, "reason", "") else ""
        steps = len(self.plan.steps)
        self._note(event, "plan", f"{title}{reason}: {steps} step{'' if steps == 1 else 's'}")
        self.changed = True

    def _progress_ledger(self, event: Any) -> None:
        plan = self.plan
        if plan is None:
            plan = self.plan = Plan(0, ())
        plan.round = int(getattr(event, "round", 0))
        plan.next_speaker = str(getattr(event.next_speaker, "answer", "") or "")
        plan.instruction = str(getattr(event.instruction, "answer", "") or "")
        plan.stalls = int(getattr(event, "stalls", 0))
        plan.max_stalls = int(getattr(event, "max_stalls", 0))
        progress = getattr(getattr(event, "making_progress", None), "answer", True)
        looping = getattr(getattr(event, "in_loop", None), "answer", False)
        done = getattr(getattr(event, "satisfied", None), "answer", False)
        state = "the request is satisfied" if done else f"progress {'✓' if progress else '✗'}"
        loop = " · in a loop" if looping else ""
        stalls = f" · stalls {plan.stalls}/{plan.max_stalls}" if plan.max_stalls else ""
        self._note(event, "progress", f"round {plan.round} · {state}{loop}{stalls}")
        self.changed = True

    def _replan(self, event: Any) -> None:
        self._note(event, "plan", f"replanning ({event.reason})")

    def _plan_review(self, event: Any) -> None:
        feedback = f": {event.feedback}" if getattr(event, "feedback", "") else ""
        decision = str(event.decision)
        said, label = _REVIEWS.get(decision, (f" reviewed the plan: {decision}", decision))
        if self.plan is not None:
            self.plan.review = label
        if decision == "no_answer" or not event.reviewer:
            self._note(event, "plan", f"the plan runs without a review{feedback}")
        else:
            self._note(event, "plan", f"{said}{feedback}", event.reviewer)
        self.changed = True

    def _command(self, event: EventBase) -> None:
        """A command sent to the manager: what it did is an event of its own, shown there."""

    def _seat(self, event: Any) -> None:
        where = "answers from" if event.type == "seat_claimed" else "no longer answers from"
        self._note(event, "seat", f"{event.sender} {where} {event.holder}", event.sender)

    def _generic(self, event: EventBase) -> None:
        """An event type this model does not know (newer than it): shown with its fields."""
        fields = {k: v for k, v in event.model_dump(mode="json").items() if k not in _BASE_FIELDS}
        shown = json.dumps(fields, ensure_ascii=False, default=str)
        if len(shown) > 300:
            shown = shown[:299] + "…"
        self._note(event, "event", f"{getattr(event, 'type', type(event).__name__)} {shown}")


_REVIEWS = {
    "approve": (" approved the plan", "approved"),
    "revise": (" asked for changes", "changes asked"),
    "reject": (" rejected the plan", "rejected"),
    "no_answer": ("", "not reviewed"),
}
"""A plan review's note (after the reviewer's name) and its label in the plan panel."""


def _interjection(event: EventBase) -> bool:
    return isinstance(event, MessagePosted) and event.message.kind == "interjection"


def ends_request(event: EventBase) -> bool:
    """Whether ``event`` answers or ends a request to a person that was open before it."""
    return getattr(event, "type", "") not in _KEEPS_REQUEST and not _interjection(event)


_HANDLERS: dict[str, Callable[[ChatModel, Any], None]] = {
    "chat_started": ChatModel._started,
    "participant_joined": ChatModel._joined,
    "participant_left": ChatModel._left,
    "speaker_selected": ChatModel._selected,
    "turn_started": ChatModel._turn,
    "text_delta": ChatModel._delta,
    "message_posted": ChatModel._posted,
    "tool_call": ChatModel._tool_call,
    "tool_result": ChatModel._tool_result,
    "human_input_requested": ChatModel._requested,
    "selector_attempt": ChatModel._attempt,
    "handoff": ChatModel._handoff,
    "turn_skipped": ChatModel._skipped,
    "paused": ChatModel._paused,
    "resumed": ChatModel._resumed,
    "error": ChatModel._error,
    "chat_ended": ChatModel._ended,
    "task_ledger": ChatModel._task_ledger,
    "progress_ledger": ChatModel._progress_ledger,
    "replan": ChatModel._replan,
    "plan_review": ChatModel._plan_review,
    "human_input": ChatModel._command,
    "control": ChatModel._command,
    "seat_claimed": ChatModel._seat,
    "seat_released": ChatModel._seat,
}
