"""Replay in the plain console: a stored chat shown exactly like a live one, with controls.

The replay is published onto its own bus and rendered by the same :class:`ConsoleRenderer` a
live chat uses, subscribed the same way. In a terminal, keys typed at an empty prompt control
it (space pause/resume, ``n`` step, ``+``/``-`` speed, ``q`` quit) and so do typed commands
(``/pause``, ``/resume``, ``/step``, ``/speed X``, ``/seek SEQ``, ``/quit``, ``/help``).
Without a terminal it plays at the given speed and returns when the chat is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from groupchat.bus import EventBus, Subscription
from groupchat.events import ChatStarted, Event, ParticipantJoined
from groupchat.transcripts.replay import DEFAULT_MAX_GAP, Replayer
from groupchat.tui.commands import Command
from groupchat.tui.console import ConsoleRenderer

__all__ = [
    "REPLAY_COMMANDS",
    "SPEEDS",
    "ReplayConsole",
    "faster",
    "run_replay_console",
    "slower",
]

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 0.0)
"""The speeds ``+`` and ``-`` step through, slowest first; 0 is as fast as possible."""

KEYS = {" ": "pause or resume", "n": "step", "+": "faster", "-": "slower", "q": "quit"}
"""Keys that act when typed at an empty prompt."""

REPLAY_COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("pause", "", "hold the replay"),
        Command("resume", "", "play on"),
        Command("step", "", "show up to the next message, then hold"),
        Command("speed", "X", "play at X times the original pace (0: as fast as possible)", 1, 1),
        Command("seek", "SEQ", "go to event SEQ, forward or back", 1, 1),
        Command("quit", "", "leave the replay"),
        Command("help", "", "list the keys and commands"),
    )
}


def faster(speed: float) -> float:
    """The next speed up in :data:`SPEEDS` (as fast as possible stays so)."""
    if speed == 0:
        return 0.0
    return next((s for s in SPEEDS if s == 0 or s > speed), 0.0)


def slower(speed: float) -> float:
    """The next speed down in :data:`SPEEDS` (the slowest stays so)."""
    timed = [s for s in SPEEDS if s > 0]
    if speed == 0:
        return timed[-1]
    return next((s for s in reversed(timed) if s < speed), timed[0])


def speed_label(speed: float) -> str:
    return "max speed" if speed == 0 else f"{speed:g}×"


def help_text() -> str:
    rows = [f"  {'space' if k == ' ' else k:<10}  {what}" for k, what in KEYS.items()]
    rows.append("  (keys act at an empty prompt)")
    width = max(len(f"/{c.name} {c.args}") for c in REPLAY_COMMANDS.values())
    rows += [f"  {f'/{c.name} {c.args}'.ljust(width)}  {c.help}" for c in REPLAY_COMMANDS.values()]
    return "Replay keys and commands:\n" + "\n".join(rows)


class ReplayConsole:
    """One person watching a replay at the console: renders it, and turns keys and commands
    into controls of the :class:`Replayer` (which it replaces with a restarted one to seek
    backwards)."""

    def __init__(self, replayer: Replayer, *, console: Console | None = None) -> None:
        self.replayer = replayer
        self.console = console or Console(highlight=False)
        self.renderer = ConsoleRenderer(self.console)
        self.quit_requested = False
        self._sub: Subscription | None = None
        self._prompt: Any = None

    @property
    def finished(self) -> bool:
        """The replay was shown to its last event (not quit before)."""
        return self.replayer.done and self.replayer.position == self.replayer.end

    # ------------------------------------------------------------------ controls

    def toggle(self) -> None:
        if self.replayer.paused:
            self.replayer.resume()
        else:
            self.replayer.pause()

    def quit(self) -> None:
        self.quit_requested = True
        self.replayer.stop()

    def seek(self, seq: int) -> None:
        """Go to event ``seq``: forward publishes what lies between at once; backward restarts
        the replay there, after a rule, keeping what was already printed above it."""
        replayer = self.replayer
        if seq >= replayer.position:
            replayer.seek(seq)
            return
        restarted = replayer.restart(seq, history=False)  # raises if seq is out of range
        if self._sub is not None:
            self._sub.close()  # what the old replay published but was not shown yet is dropped
        self.renderer = self._fresh_renderer(seq)
        self.console.print(Rule(Text(f"⏮ back to event {seq}"), style="yellow"))
        self.replayer = restarted

    def handle_key(self, key: str) -> bool:
        """Act on a key typed at an empty prompt; ``False`` if it is no control key."""
        if key == " ":
            self.toggle()
        elif key == "n":
            self.replayer.step()
        elif key == "+":
            self.replayer.set_speed(faster(self.replayer.speed))
        elif key == "-":
            self.replayer.set_speed(slower(self.replayer.speed))
        elif key == "q":
            self.quit()
        else:
            return False
        self._refresh()
        return True

    def handle_line(self, line: str) -> None:
        """Act on a typed line: a command, or a control key on its own."""
        text = line.strip()
        if not text:
            return
        if len(text) == 1 and self.handle_key(text):
            return
        if not text.startswith("/"):
            self._error(f"unknown input {text!r}; /help lists the keys and commands")
            return
        name, *args = text[1:].split() or [""]
        command = REPLAY_COMMANDS.get(name.lower())
        if command is None:
            self._error(f"unknown command /{name}; /help lists the keys and commands")
            return
        if not command.min_args <= len(args) <= command.max_args:
            self._error(f"usage: /{command.name} {command.args}".rstrip())
            return
        try:
            self._run(command.name, args)
        except ValueError as exc:  # ReplayError included
            self._error(str(exc))
        self._refresh()

    def _run(self, name: str, args: list[str]) -> None:
        if name == "pause":
            self.replayer.pause()
        elif name == "resume":
            self.replayer.resume()
        elif name == "step":
            self.replayer.step()
        elif name == "speed":
            self.replayer.set_speed(_number(args[0], float, "a speed"))
        elif name == "seek":
            self.seek(_number(args[0], int, "an event number"))
        elif name == "quit":
            self.quit()
        else:
            self.console.print(Text(help_text()))

    def status(self) -> str:
        """One line for the toolbar: state, speed, position, keys."""
        r = self.replayer
        state = "■ ended" if r.done else "⏸ paused" if r.paused else "▶ playing"
        # What is shown ends at seq position - 1: fork there to share it.
        fork = f" · fork --at {r.position - 1}" if r.position > 0 else ""
        return (
            f"{state} · {speed_label(r.speed)} · event {r.position}/{r.end}{fork} · "
            "space pause · n step · +/- speed · /seek SEQ · q quit"
        )

    def _error(self, message: str) -> None:
        self.console.print(Text(message, style="red"))

    def _refresh(self) -> None:
        if self._prompt is not None:
            self._prompt.app.invalidate()

    def _fresh_renderer(self, upto: int) -> ConsoleRenderer:
        """A renderer for a restarted replay, giving everyone the colour they had."""
        renderer = ConsoleRenderer(self.console, line_buffered=self.renderer.line_buffered)
        replayer = self.replayer
        for event in replayer.events[: upto - replayer.events[0].seq]:
            if isinstance(event, ChatStarted):
                for info in event.participants:
                    renderer.color(info.name)
            elif isinstance(event, ParticipantJoined):
                renderer.color(event.participant.name)
        return renderer

    # ------------------------------------------------------------------ running

    async def play(self) -> None:
        """Run the replay, and the replays that seeking back starts, rendering every event."""
        while True:
            replayer, renderer = self.replayer, self.renderer
            sub = self._sub = replayer.bus.subscribe(
                replayer.chat_id, start=replayer.position, maxsize=4096
            )
            runner = asyncio.create_task(replayer.run())
            try:
                async for event in sub:
                    renderer.render(event)
                    self._refresh()
            finally:
                sub.close()
                if not runner.done():
                    replayer.stop()
                await runner
            if self.replayer is replayer or self.quit_requested:
                return

    async def run(self, *, interactive: bool | None = None) -> bool:
        """Play the replay here; in a terminal, read keys and commands meanwhile. ``True`` if
        it was shown to the end. ``interactive`` defaults to whether stdin and stdout are
        terminals."""
        if interactive is None:
            interactive = sys.stdin.isatty() and sys.stdout.isatty()
        if not interactive:
            await self.play()
            return self.finished
        from prompt_toolkit.patch_stdout import patch_stdout

        # Whole lines only above an active prompt; the line being written shows in the toolbar.
        self.renderer.line_buffered = True
        with patch_stdout(raw=True):
            ready = asyncio.Event()
            reader = asyncio.create_task(self._read_terminal(ready))
            waiter = asyncio.create_task(ready.wait())
            await asyncio.wait((reader, waiter), return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            try:
                await self.play()
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        return self.finished

    def _toolbar(self) -> str:
        partial = self.renderer.partial[-80:].replace("\n", " ")
        return f"{self.status()}\n{partial}" if partial else self.status()

    async def _read_terminal(self, ready: asyncio.Event) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.application import get_app
        from prompt_toolkit.filters import Condition
        from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

        at_empty_prompt = Condition(lambda: not get_app().current_buffer.text)
        bindings = KeyBindings()
        for key in KEYS:

            def act(event: KeyPressEvent, key: str = key) -> None:
                self.handle_key(key)

            bindings.add(key, filter=at_empty_prompt)(act)
        session: Any = PromptSession(bottom_toolbar=self._toolbar, key_bindings=bindings)
        self._prompt = session
        while not self.quit_requested:
            try:
                line = await session.prompt_async("replay › ", pre_run=ready.set)
            except (EOFError, KeyboardInterrupt):
                self.quit()
                return
            self.handle_line(line)


def _number(text: str, kind: type[float] | type[int], what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{text!r} is not {what}") from None


async def run_replay_console(
    events: Sequence[Event],
    *,
    speed: float = 1.0,
    max_gap: float | None = DEFAULT_MAX_GAP,
    console: Console | None = None,
    interactive: bool | None = None,
) -> bool:
    """Replay ``events`` (one chat's log) in the console at ``speed`` (0: as fast as possible).

    Returns ``True`` if the chat was shown to its end, ``False`` if the person quit. Raises
    :class:`~groupchat.transcripts.replay.ReplayError` for events that are not one chat's
    contiguous log.
    """
    replayer = Replayer(events, EventBus(), speed=speed, max_gap=max_gap)
    return await ReplayConsole(replayer, console=console).run(interactive=interactive)
