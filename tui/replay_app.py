"""Replay in the TUI: a stored chat shown as it was live, with play/pause, step, seek, speed.

A :class:`~groupchat.transcripts.replay.Replayer` publishes the stored events onto a bus of its
own and the app reads them like a live chat's. Seeking forward publishes what lies between at
once; seeking back starts the replay again at that event (the screen is rebuilt from the
events up to it), since a bus only goes forward.
"""

from __future__ import annotations

import asyncio
import contextlib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from groupchat.bus import EventBus
from groupchat.events import Event
from groupchat.transcripts.replay import DEFAULT_MAX_GAP, Replayer
from groupchat.tui.app import ChatApp
from groupchat.tui.commands import COMMANDS, Command, CommandError, parse_command
from groupchat.tui.palette import PaletteCommand
from groupchat.tui.replay import REPLAY_COMMANDS, SPEEDS, faster, slower, speed_label
from groupchat.tui.widgets.composer import ComposerBox
from groupchat.tui.widgets.conversation import WINDOW
from groupchat.tui.widgets.replay_bar import ReplayBar, ReplayState, Scrubber
from groupchat.tui.widgets.text import Clock, local_clock

__all__ = ["COMMAND_TABLE", "ReplayApp"]

COMMAND_TABLE: dict[str, Command] = {
    **REPLAY_COMMANDS,
    "export": COMMANDS["export"],
    "theme": COMMANDS["theme"],
}
"""What the replay's command line (``/``) understands."""

N = TypeVar("N", int, float)

_HINT = "Enter runs · /seek SEQ · /speed X · /step · Esc closes"


class ReplayApp(ChatApp):
    """Replays ``events`` (one chat's log, or a contiguous part of it) at ``speed``."""

    LABEL = "groupchat replay"
    LIVE = False
    AUTO_FOCUS = "#conversation"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "play_pause", "Play/Pause"),
        Binding("n", "step", "Step"),
        Binding("b", "back", "Back"),
        Binding("plus,equals_sign", "faster", "Faster"),
        Binding("minus", "slower", "Slower"),
        Binding("r", "restart", "Restart", show=False),
        Binding("e", "to_end", "End", show=False),
        Binding("slash,colon", "command_line", "Command"),
        Binding("escape", "close_command_line", "Close", show=False),
        Binding("q", "quit", "Quit", show=False),
    ]

    def __init__(
        self,
        events: Sequence[Event],
        *,
        speed: float = 1.0,
        max_gap: float | None = DEFAULT_MAX_GAP,
        paused: bool = False,
        clock: Clock = local_clock,
        window: int = WINDOW,
        animate: bool = True,
        quiet_gc: bool = False,
        prefs: Path | None = None,
    ) -> None:
        super().__init__(
            clock=clock, window=window, animate=animate, quiet_gc=quiet_gc, prefs=prefs
        )
        self.source = events
        self.replayer = Replayer(events, EventBus(), speed=speed, max_gap=max_gap, paused=paused)
        self._first = self.replayer.start
        self._message_seqs = [e.seq for e in events if e.type == "message_posted"]
        self._replaying: asyncio.Task[None] | None = None

    def compose_controls(self) -> ComposeResult:
        self.replay_bar = ReplayBar(id="replay-bar")
        self.command_line = ComposerBox(
            values=self.theme_values,
            commands=COMMAND_TABLE,
            hint=_HINT,
            blink=self.blink,
            id="composer-box",
        )
        yield self.replay_bar
        yield self.command_line

    def on_mount(self) -> None:
        self.restore_prefs(self.command_line)
        self.set_interval(0.5, self._look_below)
        box = self.command_line
        box.display = False
        box.set_title("replay command")
        self._start(self.replayer)
        self.set_interval(0.25, self._show_position)
        self.conversation.focus()
        self.quiet_collector()

    def _start(self, replayer: Replayer) -> None:
        self.replayer = replayer
        self.read(replayer.bus.subscribe(replayer.chat_id, start=replayer.position, maxsize=4096))
        self._replaying = asyncio.create_task(replayer.run())

    def transcript(self) -> list[Event]:
        r = self.replayer
        return list(self.source[: r.position - self._first])

    @property
    def finished(self) -> bool:
        """The replay was shown to its last event."""
        return self.replayer.done and self.replayer.position == self.replayer.end

    @property
    def state(self) -> ReplayState:
        r = self.replayer
        return ReplayState(
            playing=not r.paused and not r.done,
            done=r.done,
            speed=speed_label(r.speed),
            first=self._first,
            position=r.position,
            end=r.end,
            message=bisect_left(self._message_seqs, r.position),
            messages=len(self._message_seqs),
        )

    def _show_position(self) -> None:
        self.replay_bar.show(self.state)

    def sync_views(self) -> None:
        super().sync_views()
        self._show_position()

    # ------------------------------------------------------------------ controls

    async def seek(self, seq: int) -> None:
        """Show the chat as it was just before event ``seq`` (forward or back)."""
        seq = min(max(seq, self._first), self.replayer.end)
        if seq >= self.replayer.position:
            self.replayer.seek(seq)
            return
        new = self.replayer.restart(seq, history=True)
        self.stop_reading()
        old, self._replaying = self._replaying, None
        if old is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await old
        self.model.reset()
        await self.conversation.reset()
        self._start(new)
        self.changed()

    async def action_play_pause(self) -> None:
        r = self.replayer
        if r.done:
            await self.seek(self._first)
            self.replayer.resume()
        elif r.paused:
            r.resume()
        else:
            r.pause()
        self._show_position()

    def action_step(self) -> None:
        self.replayer.step()

    async def action_back(self) -> None:
        """Go back to just after the message before the last one shown."""
        seqs = self._message_seqs
        shown = bisect_left(seqs, self.replayer.position)
        target = seqs[shown - 2] + 1 if shown >= 2 else self._first
        self.replayer.pause()
        await self.seek(target)

    def _set_speed(self, speed: float) -> None:
        self.replayer.set_speed(speed)

    def action_faster(self) -> None:
        self.replayer.set_speed(faster(self.replayer.speed))
        self._show_position()

    def action_slower(self) -> None:
        self.replayer.set_speed(slower(self.replayer.speed))
        self._show_position()

    async def action_restart(self) -> None:
        await self.seek(self._first)

    async def action_to_end(self) -> None:
        await self.seek(self.replayer.end)

    async def on_scrubber_seek(self, message: Scrubber.Seek) -> None:
        span = self.replayer.end - self._first
        await self.seek(self._first + round(message.fraction * span))

    async def on_scrubber_nudge(self, message: Scrubber.Nudge) -> None:
        if message.step > 0:
            self.action_step()
        else:
            await self.action_back()

    def action_command_line(self) -> None:
        box = self.command_line
        box.display = True
        box.editor.load_text("/")
        box.editor.move_cursor(box.editor.document.end)
        box.editor.focus()

    def action_close_command_line(self) -> None:
        box = self.command_line
        if box.display:
            box.display = False
            self.conversation.focus()

    async def on_composer_box_submitted(self, message: ComposerBox.Submitted) -> None:
        text = message.text.strip()
        self.action_close_command_line()
        if not text:
            return
        try:
            command = parse_command(text if text.startswith("/") else f"/{text}", COMMAND_TABLE)
        except CommandError as exc:
            self.notice(str(exc), error=True)
            return
        if command is None or await self.run_shared_command(command):
            return
        try:
            await self._run(command.name, command.args)
        except ValueError as exc:
            self.notice(str(exc), error=True)
        self._show_position()

    async def _run(self, name: str, args: Sequence[str]) -> None:
        r = self.replayer
        if name == "pause":
            r.pause()
        elif name == "resume":
            r.resume()
        elif name == "step":
            r.step()
        elif name == "speed":
            r.set_speed(_number(args[0], float, "a speed"))
        elif name == "seek":
            await self.seek(_number(args[0], int, "an event number"))

    # ------------------------------------------------------------------ help and palette

    def help_commands(self) -> str | None:
        return None

    def help_keys(self) -> Sequence[tuple[str, str]]:
        return [
            ("Space", "play / pause (at the end: play again)"),
            ("n", "step to the next message"),
            ("b", "back one message"),
            ("+ / -", "faster / slower"),
            ("r / e", "back to the start / on to the end"),
            ("← / →", "back / step, on the scrubber; a click there seeks"),
            ("/", "command: /seek SEQ, /speed X, /step, /export [FORMAT] [FILE], /theme"),
            ("q", "quit"),
            *super().help_keys(),
        ]

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield ("Play or pause", "hold the replay or play on", self.action_play_pause)
        yield ("Step", "show up to the next message", self.action_step)
        yield ("Back", "one message back", self.action_back)
        yield ("Restart", "from the first event", self.action_restart)
        yield ("Jump to the end", "show everything", self.action_to_end)
        for speed in SPEEDS:
            yield (
                f"Speed {speed_label(speed)}",
                "replay speed",
                partial(self._set_speed, speed),
            )
        yield from super().palette_commands()

    async def on_unmount(self) -> None:
        self.replayer.stop()
        task, self._replaying = self._replaying, None
        await super().on_unmount()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _number(text: str, kind: Callable[[str], N], what: str) -> N:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{text!r} is not {what}") from None
