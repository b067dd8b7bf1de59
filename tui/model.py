"""What the TUI shows, built from chat events alone: the conversation, who takes part, the status.

A live chat and a replay feed the same events into a :class:`ChatScreenState`, so both show the
same things. The chat itself is folded by the core's :class:`~groupchat.timeline.Timeline` (as
the console, the export and the store fold it); this module adds only the TUI's wording: the
notes between messages, a member's state in words, the magentic plan panel. It holds no
widgets: it keeps every entry of the conversation (cheap records), while the app mounts views
for only a window of them. Changes are collected (:attr:`dirty`, :attr:`changed`) so that the
views catch up at most once per frame, however fast events come.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from groupchat.events import (
    ChatEnded,
    ChatStarted,
    ErrorEvent,
    EventBase,
    Handoff,
    HumanInputRequested,
    ParticipantJoined,
    ParticipantLeft,
    Paused,
    Resumed,
    SelectorAttempt,
    SpeakerSelected,
    TextDelta,
    TurnSkipped,
)
from groupchat.messages import Usage
from groupchat.timeline import Member as TimelineMember
from groupchat.timeline import MessageEntry, Timeline, ToolEntry, ends_request
from groupchat.tui.turn_clock import TurnClock

__all__ = [
    "ChatScreenState",
    "Entry",
    "Member",
    "MessageEntry",
    "NoteEntry",
    "Plan",
    "ToolEntry",
    "ends_request",
]

_BASE_FIELDS = frozenset({"chat_id", "seq", "time", "sender", "type"})


class Member:
    """A participant as the sidebar shows it: the timeline's member, its state in words."""

    __slots__ = ("_member", "_screen")

    def __init__(self, member: TimelineMember, screen: ChatScreenState) -> None:
        self._member = member
        self._screen = screen

    @property
    def name(self) -> str:
        return self._member.name

    @property
    def description(self) -> str:
        return self._member.description

    @property
    def kind(self) -> str:
        return self._member.kind

    @property
    def human(self) -> bool:
        return self._member.human

    @property
    def colour(self) -> int:
        return self._member.colour

    @property
    def left(self) -> bool:
        return self._member.left

    @property
    def state(self) -> str:
        """What they are doing, as the sidebar says it (asked: "your turn" when it is the person
        at this terminal)."""
        member = self._member
        state, detail = member.state, member.detail
        if state == "tool":
            return f"using {detail}"
        if state == "asked":
            return "your turn" if self._screen.is_here(member.name) else "waiting for input"
        if state == "approval":
            return "waiting for you" if self._screen.is_here(detail) else f"waiting for {detail}"
        return state


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


class ChatScreenState:
    """The state of one chat's screen as its events describe it; ``me`` is the person at this
    terminal.

    ``here`` are all the people this terminal answers for (``me`` included): what is asked of
    any of them is asked of the person at the keyboard (see :mod:`groupchat.tui.seats`).
    """

    def __init__(self, me: str | None = None, *, here: Iterable[str] = ()) -> None:
        self.me = me
        self.here: set[str] = set(here)
        self.away: set[str] = set()
        """People who answer from another terminal now, even ``me`` (see ``groupchat join``)."""
        self.timeline = Timeline()
        self.reset()

    def reset(self) -> None:
        """Forget everything (a replay that starts again)."""
        self.timeline.reset()
        self.entries: list[Entry] = []
        self.members: dict[str, Member] = {}
        self.end_reason = ""
        self.plan: Plan | None = None
        self.last_seq = -1
        self.turn_clock = TurnClock()
        """The time left of a person's timed turn; it stops while the chat is paused."""
        self.dirty: set[int] = set()
        self.changed = True

    # ------------------------------------------------------------------ reading

    @property
    def state(self) -> str:
        """waiting | running | paused | ended | lost"""
        return self.timeline.status

    @state.setter
    def state(self, value: Any) -> None:
        self.timeline.status = value

    @property
    def chat_id(self) -> str:
        return self.timeline.chat_id

    @property
    def team(self) -> str:
        return self.timeline.team

    @property
    def task(self) -> str | None:
        return self.timeline.task

    @property
    def policy(self) -> str:
        return self.timeline.policy

    @property
    def termination(self) -> str | None:
        return self.timeline.termination

    @property
    def turn(self) -> int:
        return self.timeline.turn

    @property
    def messages(self) -> int:
        """How many messages were posted."""
        return self.timeline.messages

    @property
    def speaker(self) -> str | None:
        """Whose turn is running."""
        return self.timeline.speaker

    @property
    def writing(self) -> str | None:
        """Who is streaming text right now."""
        return self.timeline.writing

    @property
    def next_speaker(self) -> str | None:
        return self.timeline.next_speaker

    @property
    def next_reason(self) -> str:
        return self.timeline.next_reason

    @property
    def request(self) -> HumanInputRequested | None:
        """The open request to a person (anyone's)."""
        return self.timeline.request

    @request.setter
    def request(self, value: HumanInputRequested | None) -> None:
        self.timeline.request = value

    @property
    def end_status(self) -> str:
        end = self.timeline.end
        return end.status if end is not None else ""

    @property
    def usage(self) -> Usage:
        return self.timeline.usage

    @property
    def usage_by(self) -> dict[str, Usage]:
        return self.timeline.usage_by

    @property
    def my_request(self) -> HumanInputRequested | None:
        """The open request to the person at this terminal (as any of the people here), if any."""
        request = self.timeline.request
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
        return self.timeline.names()

    def descriptions(self) -> dict[str, str]:
        """What each participant is for (as the chat describes them)."""
        return {m.name: m.description for m in self.timeline.members.values() if not m.left}

    def drain(self) -> set[int]:
        """The entries changed since the last call (the view updates those it shows)."""
        dirty = self.dirty
        self.dirty = set()
        return dirty

    # ------------------------------------------------------------------ events

    def apply(self, event: EventBase) -> None:
        """Take one event into the model."""
        self.last_seq = event.seq
        timeline = self.timeline
        if type(event) is TextDelta:  # the hot path
            writing = timeline.writing
            entry = timeline.apply(event)
            assert isinstance(entry, MessageEntry)
            self._show(entry)
            if timeline.writing != writing:
                self.changed = True
            return
        self.turn_clock.apply(event)
        settling = timeline.open_entries() if isinstance(event, ChatEnded) else ()
        item = timeline.apply(event)
        self.changed = True
        for entry in settling:
            self.dirty.add(entry.index)
        if isinstance(item, MessageEntry):
            self._show(item)
        elif item is not None and item.entry is not None:
            self.dirty.add(item.entry.index)
        if len(self.members) != len(timeline.members):
            for name, member in timeline.members.items():
                if name not in self.members:
                    self.members[name] = Member(member, self)
        handler = _HANDLERS.get(getattr(event, "type", ""))
        if handler is None:
            self._generic(event)
        else:
            handler(self, event)

    def _show(self, entry: MessageEntry) -> None:
        if entry.index < 0:
            entry.index = len(self.entries)
            self.entries.append(entry)
        self.dirty.add(entry.index)

    def add_note(self, time: datetime, kind: str, text: str, who: str | None = None) -> None:
        """A note of the front-end's own (e.g. where a resumed chat goes on)."""
        index = len(self.entries)
        self.entries.append(NoteEntry(index, time, kind, text, who))
        self.dirty.add(index)

    def _note(self, event: EventBase, kind: str, text: str, who: str | None = None) -> None:
        self.add_note(event.time, kind, text, who)

    def lose(self, reason: str) -> None:
        """The chat can no longer be followed from here (a joined terminal's connection is
        gone): nothing is open or asked any more, and the status says ``reason``."""
        for entry in self.timeline.open_entries():
            self.dirty.add(entry.index)
        self.timeline.lose()
        self.end_reason = reason
        self.changed = True

    # What each event says in the conversation (the timeline has folded it already).

    def _quiet(self, event: EventBase) -> None:
        """Shown by the message it belongs to, or not at all."""

    def _started(self, event: ChatStarted) -> None:
        ends = f" · ends on: {event.termination}" if event.termination else ""
        self._note(event, "started", f"chat started · policy: {event.policy}{ends}")

    def _joined(self, event: ParticipantJoined) -> None:
        self._note(event, "joined", " joined", event.participant.name)

    def _left(self, event: ParticipantLeft) -> None:
        reason = f" ({event.reason})" if event.reason else ""
        self._note(event, "left", f" left{reason}", event.name)

    def _selected(self, event: SpeakerSelected) -> None:
        self._note(event, "selected", f" · {event.reason}", event.speaker)

    def _skipped(self, event: TurnSkipped) -> None:
        why = "" if event.reason == "passed" else f" ({event.reason})"
        self._note(event, "skipped", f" passed{why}", event.speaker)

    def _requested(self, event: HumanInputRequested) -> None:
        who = event.participant
        if event.request == "approval":
            self._note(event, "request", f"asked {who} to approve: {event.prompt}")
        elif event.request == "select_speaker":
            choices = ", ".join(event.choices)
            self._note(event, "request", f"asked {who}: who speaks next? ({choices})")

    def _attempt(self, event: SelectorAttempt) -> None:
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

    def _paused(self, event: Paused) -> None:
        by = f" by {event.by}" if event.by else ""
        self._note(event, "paused", f"paused{by}")

    def _resumed(self, event: Resumed) -> None:
        by = f" by {event.by}" if event.by else ""
        self._note(event, "resumed", f"resumed{by}")

    def _error(self, event: ErrorEvent) -> None:
        who = f"{event.participant}: " if event.participant else ""
        self._note(event, "error", f"error: {who}{event.error}")

    def _ended(self, event: ChatEnded) -> None:
        self.end_reason = event.reason
        self._note(event, "ended", f"chat ended ({event.status}): {event.reason}")

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

    def _seat(self, event: Any) -> None:
        where = "answers from" if event.type == "seat_claimed" else "no longer answers from"
        self._note(event, "seat", f" {where} {event.holder}", event.sender)

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


_HANDLERS: dict[str, Callable[[ChatScreenState, Any], None]] = {
    "chat_started": ChatScreenState._started,
    "participant_joined": ChatScreenState._joined,
    "participant_left": ChatScreenState._left,
    "speaker_selected": ChatScreenState._selected,
    "turn_started": ChatScreenState._quiet,
    "text_delta": ChatScreenState._quiet,
    "message_posted": ChatScreenState._quiet,
    "tool_call": ChatScreenState._quiet,
    "tool_result": ChatScreenState._quiet,
    "model_call": ChatScreenState._quiet,
    "human_input_requested": ChatScreenState._requested,
    "selector_attempt": ChatScreenState._attempt,
    "handoff": ChatScreenState._handoff,
    "turn_skipped": ChatScreenState._skipped,
    "paused": ChatScreenState._paused,
    "resumed": ChatScreenState._resumed,
    "error": ChatScreenState._error,
    "chat_ended": ChatScreenState._ended,
    "task_ledger": ChatScreenState._task_ledger,
    "progress_ledger": ChatScreenState._progress_ledger,
    "replan": ChatScreenState._replan,
    "plan_review": ChatScreenState._plan_review,
    "human_input": ChatScreenState._quiet,
    "control": ChatScreenState._quiet,
    "seat_claimed": ChatScreenState._seat,
    "seat_released": ChatScreenState._seat,
}
