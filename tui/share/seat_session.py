"""One joined terminal's part in a shared chat, whatever carries its lines.

A :class:`SeatSession` reads one client line of the sharing protocol (:mod:`.protocol`), does
it on the chat as the person the terminal answers for, and returns the reply: an
:class:`~.protocol.Ok` or an :class:`~.protocol.ErrorReply`. It knows nothing of sockets or
streams, so the Unix-socket server (:mod:`.server`) and the desk of a chat on a bus
(:mod:`.desk`) answer the same lines the same way. The client never chooses who sends: an
event is published as the person claimed, through the chat (which uses that person's own
publisher, so the bus stamps the sender). Whatever arrives is validated; a bad line gets an
error reply, and nothing a client sends can end the chat except ``stop``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from groupchat.events import ControlRequested, HumanInput, InboundEvent, SeatClaimed, SeatReleased
from groupchat.tui.claims import ClaimError, Claims
from groupchat.tui.control import ChatControl, ControlError
from groupchat.tui.seats import input_channel
from groupchat.tui.share.protocol import (
    ErrorReply,
    Hello,
    Ok,
    ProtocolError,
    Send,
    line_id,
    parse_client_line,
    read_event,
)

if TYPE_CHECKING:
    from groupchat.chat import GroupChat

__all__ = ["SeatSession"]


class SeatSession:
    """What one joined terminal, labelled ``holder``, does in ``chat``; see the module
    docstring. ``claims`` is shared with the chat's own terminal and every other one."""

    def __init__(self, chat: GroupChat, claims: Claims, holder: str) -> None:
        self.chat = chat
        self.claims = claims
        self.holder = holder
        self.seat: str | None = None
        """Who this terminal answers for (``None``: nobody yet)."""

    def hello(self) -> Hello:
        """The first line a terminal is sent: the chat, its people, and who is claimed."""
        return Hello(chat_id=self.chat.chat_id, humans=self.humans(), claimed=self.claims.names)

    def humans(self) -> list[str]:
        return [n for n, p in self.chat.participants.items() if input_channel(p) is not None]

    def leave(self) -> None:
        """Give the seat back: the chat's own terminal answers for that person again."""
        if self.seat is not None:
            self.claims.release(self.seat, self.holder)
            self.chat.release_seat(self.seat, self.holder)
            self.seat = None

    async def handle(self, line: str | bytes) -> Ok | ErrorReply:
        """Do one client line; the reply says what happened or why not."""
        try:
            message = parse_client_line(line)
        except ProtocolError as exc:
            return ErrorReply(id=line_id(line), error=f"bad message: {exc}")
        try:
            event = read_event(
                message,
                chat_id=self.chat.chat_id,
                sender=self.seat or self.holder,
                holder=self.holder,
            )
        except ProtocolError as exc:
            return ErrorReply(id=message.id, error=f"bad event: {exc}")
        try:
            return await self._do(message, event)
        except (ClaimError, ControlError) as exc:
            return ErrorReply(id=message.id, error=str(exc))
        except Exception as exc:  # whatever goes wrong here, the chat goes on
            return ErrorReply(id=message.id, error=f"{event.type} failed: {exc}")

    async def _do(self, message: Send, event: InboundEvent) -> Ok:
        """Publish ``event`` as the person this terminal answers for (a claim: as the person
        claimed), through the chat, which publishes with that person's own publisher."""
        if isinstance(event, SeatClaimed):
            return self._claim(message)
        if isinstance(event, SeatReleased):
            if self.seat is None:
                raise ControlError("you answer for nobody")
            name = self.seat
            self.leave()
            return Ok(id=message.id, text=f"{name} answers from the chat's own terminal again")
        if self.seat is None:
            raise ControlError("claim a person first: nobody answers from this terminal")
        if isinstance(event, HumanInput):
            return Ok(id=message.id, text=self._say(self.seat, event.text))
        return Ok(id=message.id, text=await self._control(self.seat, event))

    def _claim(self, message: Send) -> Ok:
        wanted_name = message.seat
        if self.seat is not None and not (message.switch and wanted_name is not None):
            raise ControlError(f"you already answer for {self.seat}; release first")
        humans = self.humans()
        listed = ", ".join(humans) or "none"
        if wanted_name is None:
            free = [name for name in humans if name not in self.claims]
            home = self.claims.home() if self.claims.home is not None else None
            free.sort(key=lambda name: name == home)  # the chat's own terminal's voice last
            if not free:
                raise ClaimError(f"every person already answers from a terminal ({listed})")
            name = free[0]
        else:
            wanted = wanted_name.lstrip("@").lower()
            found = [name for name in humans if name.lower() == wanted]
            if not found:
                agent = any(name.lower() == wanted for name in self.chat.participants)
                what = "is not a person" if agent else "is not"
                raise ClaimError(f"{wanted_name!r} {what} in this chat (people: {listed})")
            name = found[0]
        if name == self.seat:
            return Ok(id=message.id, text=f"you are {name} already", name=name)
        self.claims.claim(name, self.holder)  # first: a seat that is taken leaves the old one
        self.leave()
        self.chat.claim_seat(name, self.holder)
        self.seat = name
        return Ok(id=message.id, text=f"you are {name}", name=name)

    def _say(self, name: str, text: str) -> str:
        channel = input_channel(self.chat.participants.get(name))
        if channel is None:
            raise ControlError(f"{name} is not in the chat now")
        if channel.closed:
            raise ControlError(f"{name} has left this chat")
        if channel.requested:
            channel.send(text)
            return f"answered as {name}"
        if not text.strip():
            return "nothing is asked of you: a blank line does nothing"
        channel.send(text)
        return f"posted as {name}"

    async def _control(self, by: str, event: ControlRequested) -> str:
        chat, command, name = self.chat, event.command, event.name
        if command == "steer":
            if name is None:
                raise ControlError("next needs the name of the next speaker")
            return ChatControl(chat, by).steer(name)
        if command == "pause":
            await chat.pause(by=by)
            return "paused"
        if command == "resume":
            await chat.resume(by=by)
            return "resumed"
        if command == "interrupt":
            return "interrupted" if await chat.interrupt(by=by) else "nobody is speaking"
        if command == "kick":
            if name is None:
                raise ControlError("kick needs the name of who to remove")
            return await ChatControl(chat, by).kick(name, reason=event.reason)
        if command == "invite":
            control = ChatControl(chat, by)
            if name is None:
                return control.come_back()
            return await control.invite(name)
        await chat.stop(event.reason or "stopped", by=by)
        return "stopping the chat"
