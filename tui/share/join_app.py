"""``groupchat join`` in the full-screen app: take part in a chat that runs in another terminal.

The events that come over the socket are already stamped; they are appended as they are to a bus
of this app's own, and :class:`~groupchat.tui.app.ChatApp` reads them from it exactly as it reads
a live chat's, so a joined chat goes through the same model, views and rendering. What the live
app learns from the chat object (who takes part, who is asked, the policy) comes from the events:
the person here is asked when a ``human_input_requested`` to them is open (see
:attr:`~groupchat.tui.model.ChatScreenState.my_request`). Their lines go out as ``say`` and their
commands as ``control``; leaving closes the connection, and the chat's own terminal answers for
them again. A lost connection, or a terminal that fell behind, is said in the conversation and the
status line, and the app stays open to read and export.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from groupchat.bus import Bus, EventBus
from groupchat.events import Event, HumanInputRequested, dump_event, parse_event
from groupchat.tui.asked import AskedApp
from groupchat.tui.commands import (
    COMMANDS,
    Command,
    CommandError,
    ParsedCommand,
    parse_command,
    unescape,
)
from groupchat.tui.palette import PaletteCommand
from groupchat.tui.screens import ChooseScreen, HelpScreen
from groupchat.tui.share.join import ENDED, open_seat
from groupchat.tui.share.join_commands import (
    CHAT_COMMANDS,
    JOIN_COMMANDS,
    Connection,
    JoinedTerminal,
)
from groupchat.tui.share.protocol import Bye, ErrorReply, Ok, Send, control, say
from groupchat.tui.widgets.composer import ComposerBox
from groupchat.tui.widgets.conversation import WINDOW
from groupchat.tui.widgets.sidebar import Sidebar
from groupchat.tui.widgets.text import Clock, local_clock

__all__ = ["JOIN_APP_COMMANDS", "Connection", "JoinChatApp", "join_tui"]

JOIN_APP_COMMANDS: dict[str, Command] = {
    **{name: c for name, c in JOIN_COMMANDS.items() if name not in ("stop", "quit")},
    "export": COMMANDS["export"],
    "theme": COMMANDS["theme"],
    "stop": JOIN_COMMANDS["stop"],
    "quit": JOIN_COMMANDS["quit"],
}
"""What a joined terminal's input understands: the console join's commands, and export, theme."""

LOST = "the connection to the chat was lost"

_NOTES = (
    "\n  @name mentions a participant · // at the start sends a literal /\n"
    "  The chat runs in another terminal. A line sent when you are asked answers; at any\n"
    "  other time it is posted at once. /as PERSON takes another person's seat (yours goes\n"
    "  back). Leaving (Ctrl+Q, /quit) gives your seat back to the chat's own terminal;\n"
    "  the chat goes on."
)


class JoinChatApp(AskedApp, JoinedTerminal):
    """The chat behind ``client``, with the person claimed as ``name`` at the keyboard."""

    LABEL = "groupchat join"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Leave", priority=True),
    ]

    def __init__(
        self,
        client: Connection,
        name: str,
        *,
        clock: Clock = local_clock,
        window: int = WINDOW,
        animate: bool = True,
        quiet_gc: bool = False,
    ) -> None:
        super().__init__(me=name, clock=clock, window=window, animate=animate, quiet_gc=quiet_gc)
        self.client = client
        self.person = name
        self.model.here = {name}
        self.chat_id = client.hello.chat_id
        self.bus: Bus = EventBus()
        self.bus.open(self.chat_id)
        self.ended: Bye | None = None
        """The server's goodbye, once it came."""
        self.lost: str | None = None
        """Why this terminal no longer follows the chat (the connection went, it fell behind)."""
        self.left = False
        self._pump: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._event_lines: list[str] = []

    @property
    def exit_status(self) -> int:
        """As the console join's: 0 the chat ended or the person left, 1 the connection was lost
        or this terminal fell behind."""
        return 1 if self.lost is not None else 0

    @property
    def connected(self) -> bool:
        return self.ended is None and self.lost is None and not self.left

    def compose_controls(self) -> ComposeResult:
        self.composer = ComposerBox(
            names=self.model.names,
            descriptions=self.model.descriptions,
            values=self._argument_values,
            commands=JOIN_APP_COMMANDS,
            blink=self.blink,
            id="composer-box",
        )
        yield self.composer

    def _argument_values(self) -> dict[str, list[str]]:
        """What the input completes an argument with: themes, and the people for ``/as``."""
        return {**self.theme_values(), "PERSON": list(self.client.hello.humans)}

    # ------------------------------------------------------------------ events in

    def on_mount(self) -> None:
        self.read(self.bus.subscribe(self.chat_id, start=0, maxsize=4096))
        self._pump = asyncio.create_task(self._receive())
        self._start_asking()

    async def _receive(self) -> None:
        """Append what the socket brings to the local bus, then say how the connection ended."""
        bus, chat_id = self.bus, self.chat_id
        problem: str | None = None
        first = True
        try:
            async for item in self.client.incoming():
                if isinstance(item, Bye):
                    self.ended = item
                    break
                if isinstance(item, ErrorReply):
                    self.notice(item.error, error=True)
                    continue
                if first and item.seq > 0:  # the start is neither on the bus nor in a store
                    bus.open(chat_id, start_seq=item.seq)
                    self.model.add_note(
                        item.time, "divider", f"the chat's first {item.seq} events are not here"
                    )
                first = False
                await bus.append(item)
        except (KeyError, ValueError) as exc:  # another chat's event, or one out of order
            problem = f"the chat's events came out of order ({exc}); join again"
        finally:
            bus.close(chat_id)
        reader = self._reader
        if reader is not None:
            await asyncio.wait((reader,))  # everything received is shown before the news
        if self.left:
            return
        if problem is None and self.ended is not None and self.ended.reason == ENDED:
            self._show_request()
            return
        self.lost = problem or (self.ended.reason if self.ended is not None else LOST)
        self.model.lose(self.lost)
        self.model.add_note(datetime.now(UTC), "error", f"{self.lost} — this screen is read-only")
        self.notice(self.lost, error=True)
        self._show_request()
        self.changed()

    def transcript(self) -> list[Event]:
        return [parse_event(line) for line in self._event_lines]

    def on_chat_event(self, event: Event) -> None:
        self._event_lines.append(dump_event(event))  # as text: cheap to keep; /export reads it back
        if self.model.my_request is not self._request:
            self._show_request()

    # ------------------------------------------------------------------ requests to the person

    NOBODY_ASKED = "nothing is asked of you right now"
    ENTER_HELP = "send (when you are asked: your answer; empty passes)"

    def _post_answer(self, request: HumanInputRequested, answer: str) -> None:
        self._send(say(answer))

    def _set_idle_title(self) -> None:
        if self.lost is not None:
            self._set_input("disconnected — read-only · /export saves it · Ctrl+Q quits")
        elif self.model.state == "ended" or self.ended is not None:
            self._set_input("chat ended — /export saves it · Ctrl+Q quits")
        else:
            voice = "" if self.person.lower() == "you" else f" as {self.person}"
            self._set_input(
                f"message{voice} — sent at once; the next speaker sees it",
                f"say something{voice}…",
            )

    def _send(self, message: Send, *, quiet: bool = True) -> None:
        """Send ``message`` without holding up the screen; its reply, if any, is a notice."""
        self._spawn(self.send(message, quiet=quiet))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def send(self, message: Send, *, quiet: bool = False) -> Ok | None:
        if not self.connected:
            why = self.lost or ("the chat has ended" if self.ended is not None else "you left")
            self.notice(f"{why}: nothing can be sent from here (Ctrl+Q quits)", error=True)
            return None
        return await super().send(message, quiet=quiet)

    def seated(self, name: str) -> None:
        self.model.me = name
        self.model.here = {name}
        self.model.changed = True
        self._show_request()  # what the new seat is asked, or the idle title as them
        self.changed()

    async def on_composer_box_submitted(self, message: ComposerBox.Submitted) -> None:
        text = message.text
        try:
            command = parse_command(text, JOIN_APP_COMMANDS)
        except CommandError as exc:
            self.notice(str(exc), error=True)
            return
        if command is not None:
            await self.run_command(command)
            return
        self._send(say(unescape(text)))
        if self.connected:
            await self.conversation.action_jump_end()  # what you said, and what follows

    async def run_command(self, command: ParsedCommand) -> None:
        if await self.run_shared_command(command):
            return
        if command.name in CHAT_COMMANDS:
            self._spawn(self.ask_chat(command))
        elif command.name == "who":
            self.notice(self._who())
        elif command.name == "skip":
            request = self.model.my_request
            if request is None or request.request != "turn":
                self.notice("there is no turn to pass: you are not asked to speak", error=True)
            else:
                self._send(say(""))

    def _as(self, name: str) -> None:
        """Answer for ``name`` from here instead (the palette's "Speak as")."""
        self._spawn(self.switch(name))

    def _steer(self, name: str | None) -> None:
        if name is not None:
            self._send(control("steer", name.lstrip("@")), quiet=False)

    def action_interrupt(self) -> None:
        self._send(control("interrupt"), quiet=False)

    def action_pause_resume(self) -> None:
        paused = self.model.state == "paused"
        self._send(control("resume" if paused else "pause"), quiet=False)

    def action_choose_next(self) -> None:
        self.push_screen(
            ChooseScreen(
                "Who speaks next?",
                self.model.names(),
                prompt="Your pick overrides the policy once.",
            ),
            self._steer,
        )

    def on_sidebar_picked(self, message: Sidebar.Picked) -> None:
        self._steer(message.participant)

    async def action_quit(self) -> None:
        """Leave: the connection closes, and the chat's own terminal answers for them again."""
        self.left = True
        await self.client.close()
        self.exit()

    # ------------------------------------------------------------------ help and palette

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(
                HelpScreen(self.help_keys(), table=JOIN_APP_COMMANDS, notes=_NOTES),
            )

    def help_keys(self) -> Sequence[tuple[str, str]]:
        shared = [(key, what) for key, what in super().help_keys() if key != "Ctrl+Q"]
        return [*shared, ("Ctrl+Q", "leave (the chat goes on)")]

    def palette_commands(self) -> Iterable[PaletteCommand]:
        if self.connected:
            yield from self._steering_commands(
                "end it, for everyone", lambda: self._send(control("stop"), quiet=False)
            )
            for name in self.model.names():
                if name != self.person:
                    yield (
                        f"Remove {name}",
                        "kick them out of the chat",
                        partial(self._send, control("kick", name), quiet=False),
                    )
            for name in self.client.hello.humans:
                if name != self.person:
                    yield (f"Speak as {name}", "take their seat", partial(self._as, name))
        yield ("Leave", "the chat goes on; its own terminal answers for you", self.action_quit)
        yield from super().palette_commands()

    async def on_unmount(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            await asyncio.wait((pump,))
        await super().on_unmount()


async def join_tui(
    ident: str, name: str | None = None, *, folder: Path | None = None, bus: str | None = None
) -> int:
    """``groupchat join`` in the full-screen app (``bus``: a chat on that bus); returns the
    exit status (see :attr:`JoinChatApp.exit_status`). Raises :class:`JoinError` when it
    cannot join."""
    client, claimed = await open_seat(ident, name, folder=folder, bus=bus)
    try:
        app = JoinChatApp(client, claimed, quiet_gc=True)
        await app.run_async()
        return app.exit_status
    finally:
        await client.close()
