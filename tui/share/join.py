"""``groupchat join``: take part in a chat that runs in another terminal, in the plain console.

The conversation so far is shown, then live, with the console's renderer; the person speaks as
the one they claimed. At a terminal, lines and commands are read with a prompt; from a pipe,
one line answers each request to them (nothing is read as an interjection), and at the end of
the input they give their seat back and watch the chat to its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from groupchat.events import ChatStarted, Event, ParticipantJoined, ParticipantLeft
from groupchat.safe_text import one_line
from groupchat.tui.commands import CommandError, parse_command, unescape
from groupchat.tui.console import ConsoleRenderer
from groupchat.tui.headless import read_line
from groupchat.tui.seats import addressed
from groupchat.tui.share.client import JoinClient, JoinError, find_chat
from groupchat.tui.share.join_commands import JOIN_COMMANDS, Connection, JoinedTerminal
from groupchat.tui.share.protocol import Bye, ErrorReply, claim, release, say

if TYPE_CHECKING:
    from groupchat.tui.share.bus_client import BusJoinClient

__all__ = ["ENDED", "JOIN_COMMANDS", "JoinSession", "has_ended", "join_chat", "open_seat"]

ENDED = "the chat ended"


def has_ended(chat_id: str) -> str:
    """What joining a chat that has ended says: there is nothing to join, only to read."""
    chat_id = one_line(chat_id)
    return (
        f"chat {chat_id} has ended: nothing to join; see it with `groupchat show {chat_id}` "
        f"or `groupchat replay {chat_id}`"
    )


class JoinSession(JoinedTerminal):
    """One person at a joined terminal, speaking as ``name`` through ``client``."""

    def __init__(self, client: Connection, name: str, *, console: Console | None = None) -> None:
        self.client = client
        self.person = name
        self.console = console or Console(highlight=False)
        self.renderer = ConsoleRenderer(self.console, me=name)
        self.participants: dict[str, bool] = {}
        """Who takes part (as the events shown say), and whether they are a person."""
        self.ended: Bye | None = None
        self._changed = asyncio.Event()
        self._prompt: Any = None

    # ------------------------------------------------------------------ what comes in

    async def show(self) -> None:
        """Render the chat until the server says goodbye or the connection is lost."""
        async for item in self.client.incoming():
            if isinstance(item, Bye):
                self.ended = item
                if item.reason != ENDED:
                    self._say(item.reason, "bold red")
            elif isinstance(item, ErrorReply):
                self._say(item.error, "red")
            else:
                self._take(item)
            self._changed.set()
            if self._prompt is not None:
                self._prompt.app.invalidate()
        if self.ended is None:
            self._say("the connection to the chat was lost", "bold red")
        self._changed.set()

    def _take(self, event: Event) -> None:
        if isinstance(event, ChatStarted):
            self.participants = {p.name: p.human for p in event.participants}
        elif isinstance(event, ParticipantJoined):
            self.participants[event.participant.name] = event.participant.human
        elif isinstance(event, ParticipantLeft):
            self.participants.pop(event.name, None)
        self.renderer.render(event)

    @property
    def name(self) -> str:
        """Who this terminal answers for (``/as`` changes it)."""
        return self.person

    def _say(self, text: str, style: str = "dim") -> None:
        self.renderer._note(text, style)

    def notice(self, text: str, *, error: bool = False) -> None:
        self._say(text, "red" if error else "dim")

    def seated(self, name: str) -> None:
        self.renderer.me = name

    # ------------------------------------------------------------------ what goes out

    async def handle_line(self, line: str) -> bool:
        """A line typed here: text as the person, or a command. ``False``: they leave."""
        try:
            command = parse_command(line, JOIN_COMMANDS)
        except CommandError as exc:
            self._say(str(exc), "red")
            return True
        if command is None:
            await self.send(say(unescape(line)), quiet=True)
            return True
        name = command.name
        if name == "quit":
            return False
        if await self.ask_chat(command):
            return True
        if name == "help":
            width = max(len(f"/{c.name} {c.args}") for c in JOIN_COMMANDS.values())
            for c in JOIN_COMMANDS.values():
                self.console.print(Text(f"  {f'/{c.name} {c.args}'.ljust(width)}  {c.help}"))
        elif name == "who":
            for who, human in self.participants.items():
                tag = " (human)" if human else ""
                self.console.print(self.renderer._name(who).append(tag, style="dim"))
        elif name == "skip":
            request = self.renderer.asked
            if request is None or request.request != "turn":
                self._say("there is no turn to pass: you are not asked to speak")
            else:
                await self.send(say(""), quiet=True)
        return True

    def _prompt_text(self) -> str:
        request = self.renderer.asked
        if request is not None:
            what = {"select_speaker": "who speaks next?", "approval": "approve?"}
            return f"{addressed(self.name, what.get(request.request, 'your turn'))} › "
        return f"{one_line(self.name)} › "

    async def _read_terminal(self, ready: asyncio.Event) -> None:
        from prompt_toolkit import PromptSession

        session: PromptSession[str] = PromptSession()
        self._prompt = session
        while True:
            try:
                line = await session.prompt_async(self._prompt_text, pre_run=ready.set)
            except (EOFError, KeyboardInterrupt):
                return
            if not await self.handle_line(line):
                return

    async def _read_piped(self, stream: IO[str]) -> None:
        """One line answers each request to the person; at the end of input, leave the seat."""
        answered: object = None
        while True:
            request = self.renderer.asked
            if self.ended is not None:
                return
            if request is None or request is answered:
                self._changed.clear()
                await self._changed.wait()
                continue
            line = await read_line(stream)
            if line is None:
                with contextlib.suppress(JoinError):
                    await self.client.request(release())
                return
            await self.send(say(line), quiet=True)
            answered = request

    async def run(self, *, interactive: bool, stdin: IO[str] | None = None) -> int:
        """Show the chat and read the person's lines until the chat ends or they leave.

        Returns the exit status: 0 when the chat ended or they left, 1 when the connection
        was lost or this terminal fell behind.
        """
        shower = asyncio.create_task(self.show())
        patch: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if interactive:
            from prompt_toolkit.patch_stdout import patch_stdout

            patch = patch_stdout(raw=True)
            self.renderer.line_buffered = True
        with patch:
            if interactive:
                ready = asyncio.Event()
                reader = asyncio.create_task(self._read_terminal(ready))
                await asyncio.wait((reader, shower), return_when=asyncio.FIRST_COMPLETED)
            else:
                reader = asyncio.create_task(self._read_piped(stdin or sys.stdin))
                await asyncio.wait((shower,))
            left = reader.done() and interactive
            for task in (reader, shower):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if left or (self.ended is not None and self.ended.reason == ENDED):
            return 0
        return 1


async def open_seat(
    ident: str, name: str | None = None, *, folder: Path | None = None, bus: str | None = None
) -> tuple[JoinClient | BusJoinClient, str]:
    """Connect to the running chat ``ident`` (an id or its start) and claim ``name`` (default:
    the first person nobody answers for); returns the client and who was claimed. The chat is
    found among those shared on this machine's sockets, or with ``bus`` (a ``redis://`` URL)
    among those running on that bus, from any machine. Raises :class:`JoinError` when that
    cannot be done (nothing stays open then)."""
    client: JoinClient | BusJoinClient
    if bus is not None:
        from groupchat.tui.share.bus_client import BusJoinClient

        client = await BusJoinClient.connect(bus, ident)
    else:
        client = await JoinClient.connect(find_chat(ident, folder))
    try:
        claimed = await client.request(claim(name))
    except JoinError as exc:
        await client.close()
        if client.ended is not None and client.ended.reason == ENDED:  # ended as it connected
            raise JoinError(has_ended(client.hello.chat_id)) from None
        raise JoinError(f"{'--as ' + name if name else 'join'}: {exc}") from None
    assert claimed.name is not None
    return client, claimed.name


async def join_chat(
    ident: str,
    name: str | None = None,
    *,
    console: Console | None = None,
    interactive: bool | None = None,
    stdin: IO[str] | None = None,
    folder: Path | None = None,
    bus: str | None = None,
) -> int:
    """Join the running chat ``ident`` (an id or its start) as ``name`` (default: the first
    person nobody answers for), on this machine or on ``bus``. Raises :class:`JoinError` when
    that cannot be done."""
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    client, claimed = await open_seat(ident, name, folder=folder, bus=bus)
    try:
        session = JoinSession(client, claimed, console=console)
        session._say(f"you are {claimed} in chat {client.hello.chat_id}; /quit leaves")
        return await session.run(interactive=interactive, stdin=stdin)
    finally:
        await client.close()
