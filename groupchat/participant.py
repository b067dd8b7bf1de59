"""The participant protocol, what a turn may yield, and the read-only view of the chat it gets."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol, TypeAlias, overload, runtime_checkable

from groupchat.events import MANAGER, ParticipantInfo
from groupchat.messages import Message, Part, ToolCallPart, ToolResultPart, Usage

if TYPE_CHECKING:
    from groupchat.events import TurnStarted
    from groupchat.state import ChatState

__all__ = [
    "AwaitingInput",
    "ChatView",
    "EndChat",
    "HandTo",
    "MessageLog",
    "ModelCalled",
    "ModelCalling",
    "Participant",
    "Pass",
    "PolicyView",
    "Reply",
    "TurnItem",
    "participant_info",
    "validate_name",
]


@dataclass(frozen=True, slots=True)
class Reply:
    """Ends a turn with a message. ``content=None`` means the text streamed so far."""

    content: str | None = None
    parts: tuple[Part, ...] = ()
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Pass:
    """Ends a turn without a message."""

    reason: str = "passed"


@dataclass(frozen=True, slots=True)
class EndChat:
    """Ends the turn (posting any text streamed so far) and then the chat."""

    reason: str


@dataclass(frozen=True, slots=True)
class HandTo:
    """Hands the floor to ``target`` (published as a ``handoff`` event; the turn goes on).

    Policies read the request from :attr:`ChatView.handoff`; whether it is allowed is for the
    participant offering the hand-off (e.g. its ``transfer_to_<name>`` tools) to decide.
    """

    target: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class AwaitingInput:
    """Announces that the turn now waits for a person; published as ``human_input_requested``."""

    prompt: str = ""
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class ModelCalled:
    """Reports one call the turn made to a model (published as ``model_call``): the model's
    name, when the call began, its tokens, and why it failed if it did."""

    model: str
    started: datetime
    usage: Usage | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ModelCalling:
    """Says a call to a model has begun (nothing is published for it): should the turn be cut
    off before the matching :class:`ModelCalled`, the call is published as interrupted, so a
    trace still shows what the turn was waiting for."""

    model: str
    started: datetime


TurnItem: TypeAlias = (
    str
    | Reply
    | Pass
    | EndChat
    | AwaitingInput
    | HandTo
    | ToolCallPart
    | ToolResultPart
    | ModelCalled
    | ModelCalling
)
"""What a turn yields: ``str`` pieces of streamed text, tool parts (published as they come), and
at most one closing item (``Reply``, ``Pass`` or ``EndChat``)."""


@runtime_checkable
class Participant(Protocol):
    """Anything that can take a turn in a chat.

    ``take_turn`` is an async generator: it streams text as ``str`` pieces and may end with a
    :class:`Reply`, :class:`Pass` or :class:`EndChat`. A participant may also have ``human``
    (bool), ``kind`` (str) and ``channel`` (an :class:`~groupchat.channel.InputChannel` through
    which a person speaks).
    """

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]: ...


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
RESERVED_NAMES = frozenset({MANAGER, "selector"})


def validate_name(name: str) -> str:
    """Check a participant name: a letter or ``_`` first, then letters, digits, ``_`` or ``-``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"invalid participant name {name!r}: use letters, digits, '_' or '-', "
            "starting with a letter or '_', at most 64 characters"
        )
    if name.lower() in RESERVED_NAMES:
        raise ValueError(f"participant name {name!r} is reserved")
    return name


def participant_info(participant: Participant) -> ParticipantInfo:
    return ParticipantInfo(
        name=participant.name,
        description=participant.description,
        kind=getattr(participant, "kind", type(participant).__name__),
        human=bool(getattr(participant, "human", False)),
    )


class MessageLog(Sequence[Message]):
    """A read-only window onto the manager's message history (no copy is made)."""

    __slots__ = ("_items",)

    def __init__(self, items: list[Message]) -> None:
        self._items = items

    @overload
    def __getitem__(self, index: int) -> Message: ...
    @overload
    def __getitem__(self, index: slice) -> list[Message]: ...
    def __getitem__(self, index: int | slice) -> Message | list[Message]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Message]:
        return iter(self._items)

    def __repr__(self) -> str:
        return f"MessageLog({len(self._items)} messages)"


AskFn: TypeAlias = Callable[..., Awaitable[str | None]]
ReportFn: TypeAlias = Callable[..., Awaitable[None]]


class ChatView:
    """What a participant may read of the chat, plus a way to ask a person.

    The manager owns the history; a view reads it in place, so giving one to every turn costs
    nothing however long the chat is. Policies get a :class:`PolicyView`, which may also
    report the calls they make.
    """

    __slots__ = ("_ask", "_state")

    def __init__(self, state: ChatState, ask: AskFn) -> None:
        self._state = state
        self._ask = ask

    @property
    def chat_id(self) -> str:
        return self._state.chat_id

    @property
    def task(self) -> str | None:
        return self._state.task

    @property
    def messages(self) -> MessageLog:
        return self._state.log

    @property
    def participants(self) -> Mapping[str, ParticipantInfo]:
        return self._state.infos_view

    @property
    def turn(self) -> int:
        """How many turns have been taken so far."""
        return self._state.turn

    @property
    def speaker(self) -> str | None:
        """Who holds the current turn, if anyone."""
        return self._state.speaker

    @property
    def current_turn(self) -> TurnStarted | None:
        """The ``turn_started`` event of the turn being taken, if one is."""
        return self._state.open_turn

    @property
    def last_speaker(self) -> str | None:
        """Who took the previous turn (passing counts), if anyone."""
        return self._state.last_speaker

    @property
    def usage(self) -> Usage:
        """The chat's token totals so far, selection calls included."""
        return self._state.usage

    @property
    def usage_by(self) -> Mapping[str, Usage]:
        """Token totals per participant; selection policies count under ``selector``."""
        return MappingProxyType(self._state.usage_by)

    @property
    def handoff(self) -> tuple[str, str] | None:
        """``(target, note)`` if the previous turn handed the floor to someone, else ``None``."""
        return self._state.handoff

    @property
    def last_message(self) -> Message | None:
        log = self._state.messages
        return log[-1] if log else None

    def window(self, n: int) -> list[Message]:
        """The last ``n`` messages."""
        return self._state.messages[-n:] if n > 0 else []

    def messages_since_turn_start(self) -> list[Message]:
        """Messages posted since the previous turn began (its message and any interjections)."""
        msgs = self._state.messages
        return msgs[self._state.turn_start_index :]

    def humans(self) -> list[str]:
        return [name for name, info in self._state.infos.items() if info.human]

    async def ask(
        self,
        participant: str,
        prompt: str,
        *,
        request: str = "turn",
        choices: Sequence[str] = (),
        timeout: float | None = None,
    ) -> str | None:
        """Ask a human participant for text through their input channel.

        Publishes ``human_input_requested`` and returns the answer, or ``None`` when their
        input has ended or ``timeout`` seconds passed.
        """
        return await self._ask(
            participant, prompt, request=request, choices=tuple(choices), timeout=timeout
        )


class PolicyView(ChatView):
    """A selection policy's view: a participant's, plus reporting the calls it makes."""

    __slots__ = ("_report",)

    def __init__(self, state: ChatState, ask: AskFn, report: ReportFn) -> None:
        super().__init__(state, ask)
        self._report = report

    async def report_attempt(
        self,
        policy: str,
        attempt: int,
        answer: str,
        *,
        accepted: bool,
        problem: str = "",
        usage: Usage | None = None,
        model: str | None = None,
    ) -> None:
        """Publish one call to a model (or a person) as a ``selector_attempt`` event and count
        its tokens in the chat's totals under the policy's ``usage_key`` (``selector`` unless it
        names another), which the event carries as ``billed_to``; ``model`` names the model
        called."""
        await self._report(
            policy, attempt, answer, accepted=accepted, problem=problem, usage=usage, model=model
        )
