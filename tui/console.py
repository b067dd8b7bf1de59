"""The plain console: the chat rendered with rich, your input read with prompt-toolkit.

For terminals where a full-screen app does not fit, and for scripts. Everything agents and
people write is shown as plain text (``rich.text.Text`` after :func:`safe_text`), never parsed
as markup or passed through as terminal control sequences. With several people in the team,
the person at the console answers for whoever of them is asked; the prompt names who a line is
sent as (see :mod:`groupchat.tui.seats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from groupchat.bus import Subscription
from groupchat.chat import ChatResult, GroupChat
from groupchat.safe_text import one_line
from groupchat.tui.claims import Claims
from groupchat.tui.commands import COMMANDS, CommandError, help_text, parse_command, unescape
from groupchat.tui.completion import PromptCompleter
from groupchat.tui.control import ChatControl, ControlError
from groupchat.tui.headless import LineFeeder, costing
from groupchat.tui.seats import Seats, addressed

if TYPE_CHECKING:
    from groupchat.models.pricing import PriceTable
    from groupchat.participant import Participant

from groupchat.tui.console_render import ConsoleRenderer

__all__ = ["ConsoleRenderer", "ConsoleSession", "run_console"]


class ConsoleSession:
    """One person at the console: renders the chat and turns their lines into input or commands.

    They answer for every human of the chat when asked ("hot seat"), or only for ``humans`` if
    given; ``human`` (default: the first of ``humans``) is who they are when they speak out of
    turn, until ``/as NAME``. With neither, they only watch. The people in ``claims`` answer
    from joined terminals (``groupchat join``) while claimed, and not from here.
    """

    def __init__(
        self,
        chat: GroupChat,
        *,
        human: Participant | None = None,
        humans: Sequence[Participant] | None = None,
        console: Console | None = None,
        prices: PriceTable | None = None,
        claims: Claims | None = None,
    ) -> None:
        self.chat = chat
        self.seats = Seats(chat, human, people=humans, claims=claims)
        self.console = console or Console(highlight=False)
        self.renderer = ConsoleRenderer(
            self.console, me=self.seats.me, here=self.seats.here, cost_of=costing(prices, chat)
        )
        self.control = ChatControl(chat, self.seats.me)
        self._prompt: Any = None
        self._shown: str | None = None  # whom the prompt last said a line is sent as
        self.seats.claims.listen(self._claimed)

    def _claimed(self, name: str, holder: str | None) -> None:
        """A joined terminal took ``name``'s seat, or gave it back."""
        if holder is not None:
            self.renderer._note(f"{name} answers from another terminal now", "italic")
        else:
            self.renderer._note(f"{name} is back: this terminal answers for them again", "italic")
        request = self.renderer.request
        if request is not None and request.participant == name:
            self.renderer._input_requested(request)  # who answers it has changed
        if self._prompt is not None:
            self._prompt.app.invalidate()

    @property
    def human(self) -> Participant | None:
        """The person seated at the console (``/as NAME`` changes who)."""
        return self.seats.seated

    def _toolbar(self) -> str:
        renderer = self.renderer
        if renderer._streaming is None:
            return ""
        speaker = renderer.writer()
        return one_line(f"{speaker} is writing: {renderer.partial[-100:]}")

    async def handle_line(self, line: str, *, sender: str | None = None) -> None:
        """A line the person typed: a slash command, or text for the chat.

        Text goes as ``sender`` (the name the prompt showed; default: :meth:`voice`).
        """
        try:
            command = parse_command(line)
        except CommandError as exc:
            self.console.print(Text(str(exc), style="red"))
            return
        me = self.seats.me
        if command is None:
            try:
                self.seats.post(unescape(line), sender or self.voice())
            except ControlError as exc:
                self.console.print(Text(str(exc), style="red"))
            return
        name, args = command.name, command.args
        if "console" not in COMMANDS[name].where:
            self.console.print(Text(f"/{name} is in the full-screen app only", style="dim"))
        elif name in ("kick", "invite"):
            await self._membership(name, args)
        elif name == "help":
            self.console.print(Text(help_text("console")))
        elif name == "pause":
            await self.chat.pause(by=me)
        elif name == "resume":
            await self.chat.resume(by=me)
        elif name == "interrupt":
            if not await self.chat.interrupt(by=me):
                self.console.print(Text("nobody is speaking", style="dim"))
        elif name == "next":
            try:
                self.chat.steer(args[0].lstrip("@"), by=me)
                self.console.print(Text(f"{args[0]} speaks next", style="dim"))
            except KeyError as exc:
                self.console.print(Text(str(exc.args[0]), style="red"))
        elif name == "skip":
            try:
                self.seats.skip(self._skippable())
            except ControlError as exc:
                self.console.print(Text(str(exc), style="dim"))
        elif name == "as":
            self._sit(args)
        elif name == "who":
            for pname, info in self.chat.view.participants.items():
                tag = " (human)" if info.human else ""
                self.console.print(self.renderer._name(pname).append(tag, style="dim"))
        elif name in ("stop", "quit"):
            await self.chat.stop("stopped", by=me)

    def _skippable(self) -> str | None:
        """Whose turn ``/skip`` passes: the person here who is asked for a turn, if any."""
        request = self.renderer.asked
        if request is not None:
            return request.participant if request.request == "turn" else None
        me = self.seats.me  # a turn the events shown do not tell of yet
        return me if me is not None and self.seats.waiting(me) else None

    def _sit(self, args: tuple[str, ...]) -> None:
        """``/as NAME``: speak as NAME from now on; ``/as`` alone says who you are."""
        try:
            said = self.seats.sit(args[0]) if args else self.seats.who()
        except ControlError as exc:
            self.console.print(Text(str(exc), style="red"))
            return
        self.renderer.me = self.control.me = self.seats.me
        self.console.print(Text(said, style="dim"))

    async def _membership(self, name: str, args: tuple[str, ...]) -> None:
        """``/kick NAME`` and ``/invite [NAME]``."""
        try:
            if name == "kick":
                said = await self.control.kick(args[0])
            elif args:
                said = await self.control.invite(args[0])
            else:
                said = "can come back: " + (", ".join(self.control.invitable()) or "nobody")
        except ControlError as exc:
            self.console.print(Text(str(exc), style="red"))
            return
        self.console.print(Text(said, style="dim"))

    async def _render(self, sub: Subscription) -> None:
        async for event in sub:
            self.renderer.render(event)
            if self._prompt is not None:
                self._prompt.app.invalidate()

    def voice(self) -> str | None:
        """Whom a line typed now is sent as: the person asked (as the events shown so far
        say), else the one seated."""
        request = self.renderer.asked
        return request.participant if request is not None else self.seats.me

    def _prompt_text(self) -> str:
        """Who a line is sent as, and what they are asked: ``bob, your turn › ``."""
        request = self.renderer.asked
        self._shown = self.voice()
        if request is not None:
            what = {"select_speaker": "who speaks next?", "approval": "approve?"}
            return f"{addressed(request.participant, what.get(request.request, 'your turn'))} › "
        me = self.seats.me
        return "› " if me is None or me.lower() == "you" else f"{me} › "

    async def _read_terminal(self, ready: asyncio.Event) -> None:
        from prompt_toolkit import PromptSession

        names = self.chat.view.participants
        session: PromptSession[str] = PromptSession(
            bottom_toolbar=self._toolbar,
            completer=PromptCompleter(
                lambda: list(names),
                lambda: {n: i.description for n, i in names.items()},
                values=lambda: {"PERSON": self.seats.names},
            ),
            complete_while_typing=True,
        )
        self._prompt = session
        while True:
            try:
                line = await session.prompt_async(self._prompt_text, pre_run=ready.set)
            except (EOFError, KeyboardInterrupt):
                await self.chat.stop("stopped", by=self.seats.me)
                return
            await self.handle_line(line, sender=self._shown)

    async def run(self, task: str | None, *, interactive: bool | None = None) -> ChatResult:
        """Run the chat here until it ends. ``interactive`` defaults to whether stdin and stdout
        are terminals; otherwise people's turns are read from stdin, one line each."""
        if interactive is None:
            interactive = sys.stdin.isatty() and sys.stdout.isatty()
        reader: asyncio.Task[None] | None = None
        patch: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if interactive:
            # Output goes through prompt-toolkit's stdout proxy, above the prompt; whole lines
            # only, so a redraw of the prompt never cuts a line in two.
            from prompt_toolkit.patch_stdout import patch_stdout

            patch = patch_stdout(raw=True)
            self.renderer.line_buffered = True
        elif channels := self.seats.channels():
            # Piped lines answer whoever of the people here is asked, in the order they are.
            feeder = LineFeeder(sys.stdin, channels, claims=self.seats.claims)
            reader = asyncio.create_task(feeder.run())
        with patch:
            if interactive:
                ready = asyncio.Event()
                reader = asyncio.create_task(self._read_terminal(ready))
                await ready.wait()  # draw the prompt before any output, or it may erase it
            # Subscribe before the chat starts so that its first events are shown too.
            # Durable: a display that falls behind slows the chat rather than skip anything.
            sub = self.chat.bus.subscribe(
                self.chat.chat_id, start=self.chat.bus.next_seq(self.chat.chat_id), maxsize=4096
            )
            renderer = asyncio.create_task(self._render(sub))
            try:
                result = await self.chat.run(task)
            finally:
                if reader is not None:
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
                with contextlib.suppress(asyncio.CancelledError):
                    await renderer
        return result


async def run_console(
    chat: GroupChat,
    task: str | None,
    *,
    human: Participant | None = None,
    humans: Sequence[Participant] | None = None,
    console: Console | None = None,
    interactive: bool | None = None,
    prices: PriceTable | None = None,
    claims: Claims | None = None,
) -> ChatResult:
    """Run ``chat`` in the plain console with ``human`` as the person at the keyboard (who
    answers for ``humans`` too, by default every person in the chat except those in ``claims``;
    see :class:`ConsoleSession`); with ``prices`` its end says what it cost."""
    return await ConsoleSession(
        chat, human=human, humans=humans, console=console, prices=prices, claims=claims
    ).run(task, interactive=interactive)
