"""What a joined terminal's commands ask of the chat, shared by both join front-ends.

The plain console join (:mod:`.join`) and the full-screen one (:mod:`.join_app`) read the same
commands; those that ask the chat something (steer, pause, resume, interrupt, stop, kick,
invite, and ``/as`` to take another person's seat) become the same request here, and their
replies are said the same way. Each front-end says how to show a line (``notice``) and what
changes when the terminal answers for someone else (``seated``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from groupchat.events import ControlCommand
from groupchat.tui.commands import COMMANDS, Command, ParsedCommand
from groupchat.tui.share.client import Incoming, JoinError
from groupchat.tui.share.protocol import Hello, Ok, Send, claim, control

__all__ = [
    "CHAT_COMMANDS",
    "JOIN_COMMANDS",
    "Connection",
    "JoinedTerminal",
    "chat_request",
]

JOIN_COMMANDS: dict[str, Command] = {
    **{
        name: COMMANDS[name]
        for name in ("help", "pause", "resume", "interrupt", "next", "skip", "who")
    },
    "as": Command("as", "[PERSON]", "take PERSON's seat instead (alone: who you are)", 0, 1),
    "kick": COMMANDS["kick"],
    "invite": COMMANDS["invite"],
    "stop": Command("stop", "", "end the chat, for everyone"),
    "quit": Command("quit", "", "leave; the chat's own terminal answers for you again"),
}
"""What a joined terminal understands: the console's commands that steer a chat, taking another
person's seat (``/as``), kick and invite as at the chat's own terminal, and leaving."""

CHAT_COMMANDS = frozenset({"as", "next", "kick", "invite", "pause", "resume", "interrupt", "stop"})
"""The commands :meth:`JoinedTerminal.ask_chat` does."""


class Connection(Protocol):
    """What a front-end needs of a joined chat (a :class:`~.client.JoinClient`, or a test's)."""

    hello: Hello

    def incoming(self) -> AsyncIterator[Incoming]: ...

    async def request(self, message: Send) -> Ok: ...

    async def close(self) -> None: ...


_ASKED: dict[str, ControlCommand] = {
    "kick": "kick",
    "invite": "invite",
    "pause": "pause",
    "resume": "resume",
    "interrupt": "interrupt",
    "stop": "stop",
}
"""Typed commands that become a ``control`` event of the same name."""


def chat_request(command: ParsedCommand) -> Send | None:
    """The request a command that asks the chat sends (``None``: not one of them, or ``/as``,
    which :meth:`JoinedTerminal.switch` does)."""
    name, args = command.name, command.args
    target = args[0].lstrip("@") if args else None
    if name == "next":
        return control("steer", target) if target is not None else None
    asked = _ASKED.get(name)
    if asked is None:
        return None
    return control(asked, target) if asked in ("kick", "invite") else control(asked)


class JoinedTerminal:
    """The part of a join front-end that asks the chat; see the module docstring."""

    client: Connection
    person: str
    """Who this terminal answers for."""

    def notice(self, text: str, *, error: bool = False) -> None:
        raise NotImplementedError

    def seated(self, name: str) -> None:
        """This terminal answers for ``name`` now (after ``/as``); ``person`` is ``name``."""

    async def send(self, message: Send, *, quiet: bool = False) -> Ok | None:
        """Send ``message``; a refusal is said, and so is the reply unless ``quiet`` (a reply
        that nothing happened is said even then). Returns the reply (``None``: refused)."""
        try:
            reply = await self.client.request(message)
        except JoinError as exc:
            self.notice(str(exc), error=True)
            return None
        if not quiet or reply.text.startswith("nothing"):
            self.notice(reply.text)
        return reply

    async def ask_chat(self, command: ParsedCommand) -> bool:
        """Do ``command`` if it is one of :data:`CHAT_COMMANDS` (``False``: it is not)."""
        if command.name == "as":
            if command.args:
                await self.switch(command.args[0])
            else:
                self.notice(f"you are {self.person}")
            return True
        message = chat_request(command)
        if message is None:
            return False
        await self.send(message)
        return True

    async def switch(self, name: str) -> None:
        """``/as PERSON``: answer for PERSON from here instead (the seat left goes back to the
        chat's own terminal)."""
        reply = await self.send(claim(name.lstrip("@"), switch=True), quiet=True)
        if reply is None:
            return
        if reply.name is not None and reply.name != self.person:
            self.person = reply.name
            self.seated(reply.name)
        self.notice(reply.text)
