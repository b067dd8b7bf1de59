"""A chat as its events describe it to someone watching: one fold that every front-end shares.

The TUI, the plain console, the export digest and the store's summary all apply a chat's events
to a :class:`Timeline`, so they agree on who takes part and in what state, what each message
says (streamed so far, or posted), which tools it used, what is asked of whom, the token totals,
who is next and why, whether the chat is paused or ended. Each keeps only its own wording.

It builds on the manager's :class:`~groupchat.state.ChatState` (turns, handoffs, who left, the
token totals, counted by the same rules) and adds what only watchers need. It is pure (no I/O,
no rendering) and cheap per event: a streamed piece is appended to its message, nothing more.

:meth:`Timeline.apply` returns what the event became, if anything a consumer shows: the
:class:`MessageEntry` it wrote to, or a :class:`Note` (a selection, a pause, a join ...) that
each consumer words its own way.

Token totals: selection calls count under their event's ``billed_to``; an attempt stored before
events carried it counts under ``billed_to`` given here (``selector`` by default), and once the
chat ends its ``chat_ended`` totals replace what was counted (they are the chat's own; an end
without totals per participant, as in a hand-made log, keeps those counted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from groupchat.events import (
    ChatEnded,
    ChatStarted,
    ControlRequested,
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
from groupchat.messages import ToolCallPart, ToolResultPart, Usage
from groupchat.state import SELECTOR, ChatState
from groupchat.timeline_entries import (
    Item,
    Member,
    MemberState,
    MessageEntry,
    Note,
    NoteKind,
    Status,
    ToolEntry,
    ends_request,
)

__all__ = [
    "Item",
    "Member",
    "MemberState",
    "MessageEntry",
    "Note",
    "NoteKind",
    "Status",
    "Timeline",
    "ToolEntry",
    "ends_request",
]


class Timeline:
    """The fold of one chat's events for those who watch it; see the module docstring."""

    def __init__(self, billed_to: str = SELECTOR, *, messages: bool = True) -> None:
        self.billed_to = billed_to
        self.keeps_messages = messages
        """With ``messages=False`` the timeline is a summary (members, counts, totals, the
        request, the status): it keeps no message, streamed or posted, and costs nothing per
        streamed piece (the store's summary of each chat)."""
        self.reset()

    def reset(self) -> None:
        """Forget everything (a replay that starts again)."""
        self.chat = ChatState("", self.billed_to)
        """The manager's own fold of the same events (turns, who left, handoffs, totals)."""
        self.chat_id = ""
        self.team = ""
        self.task: str | None = None
        self.policy = ""
        self.termination: str | None = None
        self.members: dict[str, Member] = {}
        self.entries: dict[str, MessageEntry] = {}
        """Every message by id, in order of appearance."""
        self.status: Status = "waiting"
        self.end: ChatEnded | None = None
        self.turn = 0
        self.messages = 0
        self.speaker: str | None = None
        self.writing: str | None = None
        """Who is streaming text right now."""
        self.next_speaker: str | None = None
        self.next_reason = ""
        self.request: HumanInputRequested | None = None
        """The open request to a person: their turn, a speaker choice, an approval."""
        self._open: dict[str, MessageEntry] = {}

    # ------------------------------------------------------------------ reading

    @property
    def usage(self) -> Usage:
        return self.chat.usage

    @property
    def usage_by(self) -> dict[str, Usage]:
        return self.chat.usage_by

    @property
    def paused(self) -> bool:
        return self.status == "paused"

    @property
    def left(self) -> set[str]:
        return self.chat.left

    def names(self) -> list[str]:
        """Who takes part now, in order of appearance."""
        return [m.name for m in self.members.values() if not m.left]

    def open_entries(self) -> list[MessageEntry]:
        """Messages still being written (streamed, not posted or skipped yet)."""
        return list(self._open.values())

    def unfinished(self) -> list[MessageEntry]:
        """Messages whose text streamed but that were never posted."""
        return [e for e in self.entries.values() if e.message is None]

    # ------------------------------------------------------------------ folding

    def apply(self, event: EventBase) -> Item | None:
        """Fold one event in; return the message it wrote to or the note it makes, if any."""
        if type(event) is TextDelta:  # the hot path: nothing else changes
            return self._delta(event) if self.keeps_messages else None
        if self.request is not None and ends_request(event):
            self._end_request(event)
        if self.keeps_messages or type(event) is not MessagePosted:
            self.chat.apply(event)
        handler = _HANDLERS.get(type(event))
        return handler(self, event) if handler is not None else None

    def replay(self, events: Iterable[EventBase]) -> None:
        for event in events:
            self.apply(event)

    def settle(self, state: MemberState) -> None:
        """Nothing goes on any more: no speaker, nothing asked, no message still streaming, and
        every member still in the chat is ``state``."""
        self.speaker = self.writing = self.next_speaker = None
        self.request = None
        for entry in self._open.values():
            entry.streaming = False
        self._open.clear()
        for member in self.members.values():
            if not member.left:
                member.state, member.detail = state, ""

    def lose(self) -> None:
        """The chat can no longer be followed (a joined terminal's connection is gone)."""
        self.status = "lost"
        self.settle("unknown")

    def _member(self, info: ParticipantInfo) -> Member:
        member = self.members.get(info.name)
        if member is None:
            member = self.members[info.name] = Member(info.name, colour=len(self.members))
        member.description = info.description
        member.kind = info.kind
        member.human = info.human
        member.left = False
        member.state, member.detail = "waiting", ""
        return member

    def _set(self, name: str | None, state: MemberState, detail: str = "") -> None:
        member = self.members.get(name) if name is not None else None
        if member is not None and not member.left:
            member.state, member.detail = state, detail

    def _entry(self, message_id: str, sender: str, event: EventBase) -> MessageEntry:
        entry = self._open.get(message_id)
        if entry is None:
            entry = MessageEntry(message_id, sender, event.time)
            self._open[message_id] = self.entries[message_id] = entry
        return entry

    def _delta(self, event: TextDelta) -> MessageEntry:
        entry = self._entry(event.message_id, event.sender, event)
        entry.extend(event.text)
        entry.streamed = True
        if self.writing != event.sender:
            self.writing = event.sender
            self._set(event.sender, "speaking")
        return entry

    def _started(self, event: ChatStarted) -> Note:
        self.chat_id = event.chat_id
        self.team = str(event.metadata.get("team", "") or "")
        self.task = event.task
        self.policy = event.policy
        self.termination = event.termination
        self.status = "running"
        self.end = None
        for info in event.participants:
            self._member(info)
        return Note("started", event)

    def _joined(self, event: ParticipantJoined) -> Note:
        self._member(event.participant)
        return Note("joined", event, event.participant.name)

    def _left(self, event: ParticipantLeft) -> Note:
        member = self.members.get(event.name)
        if member is not None:
            member.left = True
            member.state, member.detail = "left", ""
        if self.next_speaker == event.name:
            self.next_speaker = None
        return Note("left", event, event.name)

    def _control(self, event: ControlRequested) -> None:
        """A steer marks its pick as the next speaker at once (the manager confirms it with a
        ``speaker_selected`` when the turn before ends)."""
        if event.command == "steer" and event.name is not None:
            member = self.members.get(event.name)
            if member is not None and not member.left:
                self.next_speaker = event.name
                self.next_reason = f"{event.sender} asked for {event.name}"

    def _selected(self, event: SpeakerSelected) -> Note:
        self.next_speaker = event.speaker
        self.next_reason = event.reason
        self.turn = event.turn
        return Note("selected", event, event.speaker)

    def _turn(self, event: TurnStarted) -> None:
        self.speaker = event.speaker
        self.turn = event.turn
        if self.next_speaker == event.speaker:
            self.next_speaker = None
        self._set(event.speaker, "thinking")

    def _tool_call(self, event: ToolCall) -> MessageEntry | None:
        self._set(event.sender, "tool", event.name)
        if not self.keeps_messages:
            return None
        entry = self._entry(event.message_id, event.sender, event)
        entry.tools.append(ToolEntry(event.call_id, event.name, event.arguments.thaw()))
        return entry

    def _tool_result(self, event: ToolResult) -> MessageEntry | None:
        self._set(event.sender, "thinking")
        if not self.keeps_messages:
            return None
        entry = self._entry(event.message_id, event.sender, event)
        tool = entry.tool(event.call_id)
        if tool is None:
            tool = ToolEntry(event.call_id, event.name, {})
            entry.tools.append(tool)
        tool.result = event.content
        tool.is_error = event.is_error
        return entry

    def _posted(self, event: MessagePosted) -> MessageEntry | None:
        message = event.message
        self.messages += 1
        if message.kind == "turn":
            self._set(message.sender, "waiting")
            if self.speaker == message.sender:
                self.speaker = None
            if self.writing == message.sender:
                self.writing = None
        if not self.keeps_messages:  # counted as the manager counts it, and not kept
            if message.usage is not None:
                self.chat.count_usage(message.sender, message.usage)
            return None
        entry = self._open.pop(message.id, None)
        if entry is None:
            entry = MessageEntry(message.id, message.sender, event.time)
            entry.extend(message.content)
            self.entries[message.id] = entry
        elif message.content != entry.text:
            if message.content.startswith(entry.text):
                entry.extend(message.content[entry.length :])
            else:
                entry.replace(message.content)
        entry.message = message
        entry.seq, entry.number = event.seq, self.messages
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
        return entry

    def _requested(self, event: HumanInputRequested) -> Note:
        self.request = event
        who = event.participant
        if event.request == "turn":
            self._set(who, "asked")
        elif event.request == "approval":
            self._set(self.speaker, "approval", who)
        else:
            self._set(who, "choosing")
        return Note("request", event, who)

    def _end_request(self, event: EventBase) -> None:
        request = self.request
        assert request is not None
        self.request = None
        who = request.participant
        if request.request == "approval":
            self._set(self.speaker, "thinking")
        elif request.request == "select_speaker" or not isinstance(event, MessagePosted):
            self._set(who, "thinking" if self.speaker == who else "waiting")

    def _attempt(self, event: SelectorAttempt) -> Note:
        return Note("attempt", event)

    def _handoff(self, event: Handoff) -> Note:
        return Note("handoff", event, event.sender)

    def _skipped(self, event: TurnSkipped) -> Note:
        entry = self._open.pop(event.message_id, None)
        if entry is not None:
            entry.streaming = False
            entry.interrupted = True
        self._set(event.speaker, "waiting")
        if self.speaker == event.speaker:
            self.speaker = None
        if self.writing == event.speaker:
            self.writing = None
        return Note("skipped", event, event.speaker, entry)

    def _paused(self, event: Paused) -> Note:
        self.status = "paused"
        return Note("paused", event, event.by)

    def _resumed(self, event: Resumed) -> Note:
        self.status = "running"
        return Note("resumed", event, event.by)

    def _error(self, event: ErrorEvent) -> Note:
        return Note("error", event, event.participant)

    def _seat(self, event: SeatClaimed | SeatReleased) -> Note:
        return Note("seat", event, event.sender)

    def _ended(self, event: ChatEnded) -> Note:
        self.status = "ended"
        self.end = event
        # The chat's own totals are the truth (a chat stored before attempts said whom they
        # bill is put right here), and a resumed chat counts on from them. An end that does
        # not say who used what (a hand-made log) leaves the totals per participant counted.
        self.chat.usage = event.usage
        if event.usage_by:
            self.chat.usage_by = dict(event.usage_by)
        self.settle("waiting")
        return Note("ended", event)


_HANDLERS: dict[type[Any], Callable[[Timeline, Any], Item | None]] = {
    ChatStarted: Timeline._started,
    ParticipantJoined: Timeline._joined,
    ParticipantLeft: Timeline._left,
    SpeakerSelected: Timeline._selected,
    ControlRequested: Timeline._control,
    TurnStarted: Timeline._turn,
    MessagePosted: Timeline._posted,
    ToolCall: Timeline._tool_call,
    ToolResult: Timeline._tool_result,
    HumanInputRequested: Timeline._requested,
    SelectorAttempt: Timeline._attempt,
    Handoff: Timeline._handoff,
    TurnSkipped: Timeline._skipped,
    Paused: Timeline._paused,
    Resumed: Timeline._resumed,
    ErrorEvent: Timeline._error,
    SeatClaimed: Timeline._seat,
    SeatReleased: Timeline._seat,
    ChatEnded: Timeline._ended,
}
