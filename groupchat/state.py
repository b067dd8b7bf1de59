"""What the manager knows of its chat, folded from the chat's events.

One :class:`ChatState` serves a live chat and a resumed one: the manager applies every event it
publishes (and every event of a stored chat, when it loads one) through :meth:`ChatState.apply`,
so the history, the turn count, who spoke last, the token totals, the message numbering and who
has left are the same whichever way the chat got there. Participants' views and policies read
it through :class:`~groupchat.participant.ChatView`.

Streamed text (``text_delta``) changes nothing here, so the manager does not apply deltas: the
posted message carries the whole text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from groupchat.events import (
    ChatStarted,
    Handoff,
    MessagePosted,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    Paused,
    Resumed,
    SelectorAttempt,
    SpeakerSelected,
    TurnSkipped,
    TurnStarted,
)
from groupchat.messages import Message, Usage

if TYPE_CHECKING:
    from groupchat.channel import InputChannel
    from groupchat.participant import MessageLog

__all__ = ["SELECTOR", "ChatState", "add_usage", "billed_for"]

SELECTOR = "selector"
"""Whom the tokens of selection calls are counted under, unless the policy names another
``usage_key`` (the magentic manager counts under ``manager``)."""


def billed_for(event: SelectorAttempt, default: str = SELECTOR) -> str:
    """Whom ``event``'s tokens count under: the ``billed_to`` it carries, or, for an attempt
    stored before events carried it, ``default`` (the manager's fold is given the policy's
    ``usage_key``; a front-end reading a transcript uses ``selector`` until ``chat_ended``
    gives the chat's own totals)."""
    return event.billed_to or default


def add_usage(usage_by: dict[str, Usage], who: str, usage: Usage) -> None:
    """Count ``usage`` under ``who`` in ``usage_by`` (the one counting rule of every fold)."""
    previous = usage_by.get(who)
    usage_by[who] = usage if previous is None else previous + usage


class ChatState:
    """The manager's fold of one chat's events; see the module docstring.

    ``infos`` and ``channels`` are the participants present now (kept by the manager as it
    registers them); everything else comes from events. ``billed_to`` is whom the policy's
    selection calls count under (its ``usage_key``).
    """

    __slots__ = (
        "_apply",
        "billed_to",
        "channels",
        "chat_id",
        "chosen",
        "handoff",
        "infos",
        "infos_view",
        "last_speaker",
        "left",
        "log",
        "message_count",
        "messages",
        "open_turn",
        "paused",
        "reserved",
        "speaker",
        "task",
        "turn",
        "turn_start_index",
        "usage",
        "usage_by",
    )

    def __init__(self, chat_id: str, billed_to: str = SELECTOR) -> None:
        from groupchat.participant import MessageLog

        self.chat_id = chat_id
        self.billed_to = billed_to
        self.task: str | None = None
        self.messages: list[Message] = []
        self.log: MessageLog = MessageLog(self.messages)
        self.infos: dict[str, ParticipantInfo] = {}
        self.infos_view: Mapping[str, ParticipantInfo] = MappingProxyType(self.infos)
        self.channels: dict[str, InputChannel] = {}
        self.left: set[str] = set()
        """Who left the chat and has not come back."""
        self.turn = 0
        self.speaker: str | None = None
        """Whose turn is running (or being wound up)."""
        self.last_speaker: str | None = None
        self.open_turn: TurnStarted | None = None
        """The turn that started and has not ended with a message or a skip."""
        self.chosen: str | None = None
        """Who was selected and has not started their turn yet."""
        self.turn_start_index = 0
        self.usage = Usage()
        self.usage_by: dict[str, Usage] = {}
        self.handoff: tuple[str, str] | None = None
        self.message_count = 0
        """Message ids used so far (a turn's, the task's, interjections')."""
        self.reserved: set[str] = set()
        """Ids handed out by :meth:`next_message_id` whose event has not been applied yet."""
        self.paused = False
        self._apply: dict[type[Any], Callable[[Any], None]] = {
            ChatStarted: self._started,
            MessagePosted: self._posted,
            TurnStarted: self._turn_started,
            TurnSkipped: self._skipped,
            SpeakerSelected: self._selected,
            SelectorAttempt: self._attempt,
            Handoff: self._handoff,
            ParticipantLeft: self._left,
            ParticipantJoined: self._joined,
            Paused: self._paused,
            Resumed: self._resumed,
        }

    def apply(self, event: Any) -> None:
        """Fold one event of this chat into the state (events of other types change nothing)."""
        apply = self._apply.get(type(event))
        if apply is not None:
            apply(event)

    def next_message_id(self) -> str:
        """A new message id (``m1``, ``m2`` ...), counted as used from now on."""
        self.message_count += 1
        message_id = f"m{self.message_count}"
        self.reserved.add(message_id)
        return message_id

    def _use_id(self, message_id: str) -> None:
        if message_id in self.reserved:
            self.reserved.discard(message_id)
        else:  # an event read back from a transcript: count it
            self.message_count += 1

    def count_usage(self, who: str, usage: Usage) -> None:
        self.usage = self.usage + usage
        add_usage(self.usage_by, who, usage)

    # ------------------------------------------------------------------ the events

    def _started(self, event: ChatStarted) -> None:
        if event.task and self.task is None:
            self.task = event.task

    def _posted(self, event: MessagePosted) -> None:
        message = event.message
        self.messages.append(message)
        if message.usage is not None:
            self.count_usage(message.sender, message.usage)
        turn = self.open_turn
        if turn is not None and message.id == turn.message_id:
            self._turn_ended(turn.speaker)
        else:
            self._use_id(message.id)
            if message.kind == "task" and self.task is None:
                self.task = message.content

    def _turn_started(self, event: TurnStarted) -> None:
        self.turn = event.turn
        self.open_turn = event
        self.chosen = None
        self.speaker = event.speaker
        self.turn_start_index = len(self.messages)
        self.handoff = None
        self._use_id(event.message_id)

    def _skipped(self, event: TurnSkipped) -> None:
        turn = self.open_turn
        if turn is not None and event.message_id == turn.message_id:
            if event.reason == "cancelled":
                # Cut off from outside (Ctrl+C, a kill): a resumed chat gives the turn again.
                self.speaker = None
            else:
                self._turn_ended(turn.speaker)

    def _turn_ended(self, speaker: str) -> None:
        self.open_turn = None
        self.speaker = None
        self.last_speaker = speaker

    def _selected(self, event: SpeakerSelected) -> None:
        self.chosen = event.speaker

    def _attempt(self, event: SelectorAttempt) -> None:
        if event.usage is not None:
            self.count_usage(event.billed_to or self.billed_to, event.usage)

    def _handoff(self, event: Handoff) -> None:
        self.handoff = (event.target, event.note)

    def _left(self, event: ParticipantLeft) -> None:
        self.left.add(event.name)

    def _joined(self, event: ParticipantJoined) -> None:
        self.left.discard(event.participant.name)

    def _paused(self, event: Paused) -> None:
        self.paused = True

    def _resumed(self, event: Resumed) -> None:
        self.paused = False
