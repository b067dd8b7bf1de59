"""How the manager publishes: events folded into its state as they go out, messages numbered
and checked against termination, and the participants who may publish (each with its own
publisher, so the bus stamps who sent what).

A mixin of :class:`~groupchat.chat.GroupChat`, kept apart from the loop so that the manager's
per-message path reads in one place: every event the manager publishes goes through
:meth:`Publishing._emit` or :meth:`Publishing._emit_now`, and so into
:class:`~groupchat.state.ChatState`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from groupchat.bus import Bus, Publisher
from groupchat.channel import InputChannel
from groupchat.checked import maker
from groupchat.events import MANAGER, EventBase, MessagePosted, SelectorAttempt
from groupchat.messages import Message, MessageKind, Part, Usage, parse_mentions
from groupchat.participant import Participant, participant_info, validate_name

if TYPE_CHECKING:
    import asyncio

    from groupchat.events import EndStatus
    from groupchat.participant import ChatView
    from groupchat.state import ChatState
    from groupchat.termination import Termination

__all__ = ["ManagerActions", "Publishing"]

_make_message = maker(Message)

E = TypeVar("E", bound=EventBase)


class Publishing:
    """Publishing events and messages as the manager or a participant, and registering who
    takes part; see the module docstring."""

    if TYPE_CHECKING:
        bus: Bus
        chat_id: str
        termination: Termination | None
        view: ChatView
        _state: ChatState
        _pub: Publisher
        _participants: dict[str, Participant]
        _publishers: dict[str, Publisher]
        _departed: dict[str, Participant]
        _end: tuple[str, EndStatus] | None
        _runner: asyncio.Task[Any] | None

    async def _emit(self, pub: Publisher | None, cls: type[E], /, **fields: Any) -> E:
        """Publish an event (as the manager when ``pub`` is ``None``) and fold it in."""
        event = await (self._pub if pub is None else pub).emit(cls, **fields)
        self._state.apply(event)
        return event

    def _emit_now(self, pub: Publisher | None, cls: type[E], /, **fields: Any) -> E:
        """:meth:`_emit` without waiting, for what must not be deferred (see ``emit_nowait``)."""
        event = (self._pub if pub is None else pub).emit_nowait(cls, **fields)
        self._state.apply(event)
        return event

    def _message(
        self,
        sender: str,
        content: str,
        kind: MessageKind,
        *,
        message_id: str | None = None,
        parts: tuple[Part, ...] = (),
        interrupted: bool = False,
        usage: Usage | None = None,
    ) -> Message:
        return _make_message(
            id=message_id or self._state.next_message_id(),
            sender=sender,
            content=content,
            kind=kind,
            parts=parts,
            mentions=parse_mentions(content, self._participants) if "@" in content else (),
            interrupted=interrupted,
            usage=usage,
        )

    async def _post(self, pub: Publisher, message: Message) -> Message:
        await self._emit(pub, MessagePosted, message=message)
        self._check(message)
        return message

    def _post_now(self, pub: Publisher, message: Message) -> Message:
        self._emit_now(pub, MessagePosted, message=message)
        self._check(message)
        return message

    def _check(self, message: Message) -> None:
        """A message is on the bus: check termination."""
        if self.termination is not None and self._end is None and self._runner is not None:
            reason = self.termination.check(message, self.view)
            if reason is not None:
                self._end = (reason, "completed")

    async def _report_attempt(
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
        await self._emit(
            None,
            SelectorAttempt,
            policy=policy,
            attempt=attempt,
            answer=answer,
            accepted=accepted,
            problem=problem,
            usage=usage,
            billed_to=self._state.billed_to,
            model=model,
        )

    def _forget(self, name: str) -> None:
        channel = self._state.channels.pop(name, None)
        if channel is not None:
            channel.attach(None)
            channel.release()  # held by a pause of this chat: not by any other
        self._departed[name] = self._participants.pop(name)
        del self._publishers[name]
        del self._state.infos[name]

    def _register(self, participant: Participant) -> Any:
        name = validate_name(participant.name)
        if name.lower() in (n.lower() for n in self._participants):
            raise ValueError(f"duplicate participant name {name!r} (names ignore case)")
        info = participant_info(participant)
        self._participants[name] = participant
        self._publishers[name] = self.bus.publisher(self.chat_id, name)
        self._state.infos[name] = info
        self._departed.pop(name, None)
        channel = getattr(participant, "channel", None)
        if isinstance(channel, InputChannel):
            self._state.channels[name] = channel
            if self._state.paused:
                channel.hold()  # joined while paused: their clock starts when it resumes
        return info


class ManagerActions:
    """What a policy that conducts the chat may do besides choosing who speaks: publish events
    and post messages as the manager.

    A policy with a ``bind_chat(actions)`` method gets one when the chat is built (the magentic
    manager does); participants never do, so their view stays read-only.
    """

    __slots__ = ("_chat",)

    def __init__(self, chat: Publishing) -> None:
        self._chat = chat

    async def emit(self, cls: type[E], /, **fields: Any) -> E:
        """Publish an event as the manager."""
        return await self._chat._emit(None, cls, **fields)

    async def post(self, content: str, kind: MessageKind) -> Message:
        """Post a message from the manager; it joins the history and counts for termination
        like any other message."""
        chat = self._chat
        return await chat._post(chat._pub, chat._message(MANAGER, content, kind))
