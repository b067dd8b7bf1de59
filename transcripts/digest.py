"""Read a chat's events once into what an export shows: who took part, what happened, statistics.

The Markdown and HTML exports render the same :class:`Digest`, so both show the same things.
The chat is folded by the core's :class:`~groupchat.timeline.Timeline` (as the TUI, the console
and the store fold it): who is present, the streamed text of messages, the token totals. This
module adds what an export shows: the order of things, notes worded for a document, statistics.
Streamed deltas are folded into their messages; a turn whose text streamed but whose message was
never posted (the process died mid-turn) is kept as an *unfinished* message. Event types this
module does not know (newer than it) still appear, as a generic note.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from groupchat.events import (
    MANAGER,
    ChatEnded,
    ChatStarted,
    ErrorEvent,
    EventBase,
    Handoff,
    HumanInputRequested,
    MessagePosted,
    ModelCall,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    Paused,
    Resumed,
    SeatClaimed,
    SeatReleased,
    SelectorAttempt,
    SpeakerSelected,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnSkipped,
    TurnStarted,
)
from groupchat.messages import Message, ToolCallPart, ToolResultPart, Usage
from groupchat.state import billed_for
from groupchat.timeline import Timeline

__all__ = [
    "Digest",
    "Entry",
    "Failure",
    "Note",
    "Person",
    "Said",
    "SpeakerStats",
    "Tool",
    "digest",
]

_BASE_FIELDS = frozenset({"chat_id", "seq", "time", "sender", "type"})


@dataclass(slots=True)
class Person:
    """A participant as the export shows it; ``colour`` is its place in order of appearance."""

    name: str
    description: str = ""
    kind: str = "agent"
    human: bool = False
    colour: int = 0


@dataclass(slots=True)
class Note:
    """A small line: a selection and its reason, a skipped turn, a join, a pause, ...

    ``text`` is what ``who`` did, without the name ("speaks next: ...", "skipped the turn: ...").
    """

    time: datetime
    kind: str
    who: str | None
    text: str


@dataclass(slots=True)
class Said:
    """A message; ``unfinished`` when only its streamed text exists (it was never posted)."""

    time: datetime
    message: Message
    unfinished: bool = False


@dataclass(slots=True)
class Tool:
    """A tool call and, once it came, its result (either may be missing)."""

    time: datetime
    sender: str
    name: str
    call_id: str
    arguments: dict[str, Any] | None = None
    result: str | None = None
    is_error: bool = False


@dataclass(slots=True)
class Failure:
    time: datetime
    error: str
    detail: str
    participant: str | None
    fatal: bool


Entry = Note | Said | Tool | Failure | ChatEnded


@dataclass(slots=True)
class SpeakerStats:
    messages: int = 0
    skipped: int = 0
    tool_calls: int = 0
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class Digest:
    """Everything an export renders, in the order it happened."""

    chat_id: str | None = None
    title: str = "Group chat"
    task: str | None = None
    started: datetime | None = None
    policy: str = ""
    termination: str | None = None
    people: dict[str, Person] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    stats: dict[str, SpeakerStats] = field(default_factory=dict)
    transitions: dict[tuple[str, str], int] = field(default_factory=dict)
    end: ChatEnded | None = None

    @property
    def speakers(self) -> list[str]:
        """Participants in order of appearance (the manager is not one)."""
        return list(self.people)

    def stat(self, name: str) -> SpeakerStats:
        stats = self.stats.get(name)
        if stats is None:
            stats = self.stats[name] = SpeakerStats()
        return stats


class _Reader:
    def __init__(self) -> None:
        self.d = Digest()
        self.timeline = Timeline()
        self.pending: dict[str, Said] = {}  # message id -> text streamed, not posted (yet)
        self.dropped: set[int] = set()  # ids of placeholder entries replaced by the real thing
        self.tools: dict[tuple[str, str], Tool] = {}  # (message id, call id) -> entry
        self.tool_parts_seen: set[tuple[str, str, str]] = set()  # (message id, kind, call id)
        self.previous: str | None = None  # the last participant who posted a message

    def person(self, name: str, info: ParticipantInfo | None = None) -> Person:
        people = self.d.people
        known = people.get(name)
        if known is None:
            known = people[name] = Person(name=name, colour=len(people))
        if info is not None:
            known.description = info.description
            known.kind = info.kind
            known.human = info.human
        return known

    def note(self, event: EventBase, kind: str, who: str | None, text: str) -> None:
        if who is not None and who != MANAGER:
            self.person(who)
        self.d.entries.append(Note(event.time, kind, who, text))

    def read(self, event: EventBase) -> None:
        self.timeline.apply(event)
        handler = getattr(self, "on_" + str(getattr(event, "type", "")), None)
        if handler is None:
            self.note(event, "event", event.sender, _generic(event))
        else:
            handler(event)

    # -- one method per event type ------------------------------------------------------------

    def on_chat_started(self, event: ChatStarted) -> None:
        d = self.d
        d.chat_id = event.chat_id
        team = event.metadata.get("team")
        if isinstance(team, str) and team.strip():
            d.title = team
        d.task = event.task
        d.started = event.time
        d.policy = event.policy
        d.termination = event.termination
        for info in event.participants:
            self.person(info.name, info)

    def on_participant_joined(self, event: ParticipantJoined) -> None:
        info = event.participant
        self.person(info.name, info)
        self.note(event, "joined", info.name, _joined(info))

    def on_participant_left(self, event: ParticipantLeft) -> None:
        self.note(event, "left", event.name, "left" + (f": {event.reason}" if event.reason else ""))

    def on_speaker_selected(self, event: SpeakerSelected) -> None:
        text = f"speaks next: {event.reason}"
        if event.policy:
            text += f" [{event.policy}]"
        # Worth saying only when someone was left out.
        if set(event.candidates) != set(self.timeline.names()):
            text += f" (candidates: {', '.join(event.candidates)})"
        self.note(event, "selected", event.speaker, text)

    def on_turn_started(self, event: TurnStarted) -> None:
        self.person(event.speaker)

    def on_text_delta(self, event: TextDelta) -> None:
        if event.message_id not in self.pending:
            placeholder = Message(id=event.message_id, sender=event.sender, content="")
            said = self.pending[event.message_id] = Said(event.time, placeholder, unfinished=True)
            self.d.entries.append(said)

    def _settle(self, message_id: str) -> None:
        pending = self.pending.pop(message_id, None)
        if pending is not None:
            self.dropped.add(id(pending))

    def on_message_posted(self, event: MessagePosted) -> None:
        message: Message = event.message
        self._settle(message.id)
        self._parts(event, message)
        self.d.entries.append(Said(event.time, message))
        self._count(message)

    def _count(self, message: Message) -> None:
        d = self.d
        sender = message.sender
        stats = d.stat(sender)
        stats.messages += 1
        if sender == MANAGER or message.kind == "task":
            return
        self.person(sender)
        if self.previous is not None:
            key = (self.previous, sender)
            d.transitions[key] = d.transitions.get(key, 0) + 1
        self.previous = sender

    def _parts(self, event: MessagePosted, message: Message) -> None:
        """Tool parts of a message that were not published as events of their own."""
        calls: dict[str, Tool] = {}
        for part in message.parts:
            if (message.id, part.kind, part.call_id) in self.tool_parts_seen:
                continue
            if isinstance(part, ToolCallPart):
                tool = Tool(
                    event.time, message.sender, part.name, part.call_id, part.arguments.thaw()
                )
                calls[part.call_id] = tool
                self.d.entries.append(tool)
                self.d.stat(message.sender).tool_calls += 1
            elif isinstance(part, ToolResultPart):
                tool = calls.get(part.call_id) or Tool(
                    event.time, message.sender, part.name, part.call_id
                )
                if tool.call_id not in calls:
                    self.d.entries.append(tool)
                tool.result = part.content
                tool.is_error = part.is_error

    def on_tool_call(self, event: ToolCall) -> None:
        tool = Tool(event.time, event.sender, event.name, event.call_id, event.arguments.thaw())
        self.tools[(event.message_id, event.call_id)] = tool
        self.tool_parts_seen.add((event.message_id, "tool_call", event.call_id))
        self.person(event.sender)
        self.d.stat(event.sender).tool_calls += 1
        self.d.entries.append(tool)

    def on_tool_result(self, event: ToolResult) -> None:
        self.tool_parts_seen.add((event.message_id, "tool_result", event.call_id))
        tool = self.tools.get((event.message_id, event.call_id))
        if tool is None or tool.result is not None:
            tool = Tool(event.time, event.sender, event.name, event.call_id)
            self.d.entries.append(tool)
        tool.result = event.content
        tool.is_error = event.is_error

    def on_model_call(self, event: ModelCall) -> None:
        seconds = (event.time - event.started).total_seconds()
        text = f"called {event.model} ({seconds:.2f} s"
        if event.usage is not None:
            text += f", {event.usage.input_tokens} in / {event.usage.output_tokens} out"
        text += ")"
        if event.error is not None:
            text += f": failed: {event.error}"
        self.note(event, "event", event.sender, text)

    def on_human_input_requested(self, event: HumanInputRequested) -> None:
        wants = {"turn": "their turn", "select_speaker": "who speaks next", "approval": "approval"}
        text = f"is asked for {wants.get(event.request, event.request)}"
        if event.prompt:
            text += f": {event.prompt}"
        if event.choices:
            text += f" (choices: {', '.join(event.choices)})"
        if event.timeout is not None:
            text += f" (within {event.timeout:g} s)"
        self.note(event, "input", event.participant, text)

    def on_selector_attempt(self, event: SelectorAttempt) -> None:
        verdict = "accepted" if event.accepted else "rejected"
        text = f"selector {event.policy}, attempt {event.attempt}: {event.answer!r} {verdict}"
        if event.problem:
            text += f": {event.problem}"
        self.note(event, "attempt", None, text)
        if event.usage is not None:
            self.d.stat(billed_for(event))  # its row comes in order of appearance

    def on_handoff(self, event: Handoff) -> None:
        text = f"hands over to {event.target}" + (f": {event.note}" if event.note else "")
        self.note(event, "handoff", event.sender, text)

    def on_turn_skipped(self, event: TurnSkipped) -> None:
        self._settle(event.message_id)
        self.d.stat(event.speaker).skipped += 1
        self.note(event, "skipped", event.speaker, f"skipped the turn: {event.reason}")

    def on_paused(self, event: Paused) -> None:
        self.note(event, "paused", event.by, "paused the chat" if event.by else "chat paused")

    def on_resumed(self, event: Resumed) -> None:
        self.note(event, "resumed", event.by, "resumed the chat" if event.by else "chat resumed")

    def on_error(self, event: ErrorEvent) -> None:
        if event.participant is not None:
            self.person(event.participant)
        self.d.entries.append(
            Failure(event.time, event.error, event.detail, event.participant, event.fatal)
        )

    def on_human_input(self, event: EventBase) -> None:
        """A person's line: the message it became (if any) is what the transcript shows."""

    def on_control(self, event: EventBase) -> None:
        """A command to the manager: what it did (a pause, a steer, a removal) is shown."""

    def on_seat_claimed(self, event: SeatClaimed) -> None:
        self.note(event, "seat", event.sender, f"answers from {event.holder}")

    def on_seat_released(self, event: SeatReleased) -> None:
        self.note(event, "seat", event.sender, f"no longer answers from {event.holder}")

    def on_chat_ended(self, event: ChatEnded) -> None:
        self.d.end = event
        self.d.entries.append(event)

    # -----------------------------------------------------------------------------------------

    def finish(self) -> Digest:
        entries = self.timeline.entries
        for message_id, said in self.pending.items():
            text = entries[message_id].text
            said.message = said.message.model_copy(update={"content": text})
            self.person(said.message.sender)
        self._usage()
        if self.dropped:
            self.d.entries = [e for e in self.d.entries if id(e) not in self.dropped]
        return self.d

    def _usage(self) -> None:
        """Each speaker's tokens as the timeline counts them (the chat's own totals once it
        ended): a row that only held tokens counted under another name goes."""
        stats = self.d.stats
        usage_by = self.timeline.usage_by
        for name, usage in usage_by.items():
            self.d.stat(name).usage = usage
        for name in [n for n in stats if n not in usage_by]:
            row = stats[name]
            row.usage = Usage()
            if not (row.messages or row.skipped or row.tool_calls):
                del stats[name]


def digest(events: Iterable[EventBase]) -> Digest:
    """Fold a chat's events (any slice of its log, in order) into a :class:`Digest`."""
    reader = _Reader()
    for event in events:
        reader.read(event)
    return reader.finish()


def _generic(event: EventBase) -> str:
    """A one-line account of an event type this module does not know."""
    fields = {k: v for k, v in event.model_dump(mode="json").items() if k not in _BASE_FIELDS}
    detail = json.dumps(fields, ensure_ascii=False, sort_keys=True)
    return f"sent {getattr(event, 'type', type(event).__name__)} {detail}"


def _joined(info: ParticipantInfo) -> str:
    what = "joined (human)" if info.human else f"joined ({info.kind})"
    return f"{what}: {info.description}" if info.description else what
