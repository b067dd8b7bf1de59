"""The Textual app: a chat's events rendered as a conversation, participants and a status line.

:class:`ChatApp` is what live chats and replays share: it reads one chat's events from a bus
subscription, takes each into its :class:`~groupchat.tui.model.ChatScreenState`, and brings the
views up to date at most once per frame (so a fast stream costs a few renders a second, not one
per token). :class:`~groupchat.tui.live.LiveChatApp` adds the person's input and control of a
running chat; :class:`~groupchat.tui.replay_app.ReplayApp` adds replay controls. Both render
through the same model and widgets, because both are only events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer

from groupchat.bus import Subscription
from groupchat.events import Event
from groupchat.tui.commands import ParsedCommand
from groupchat.tui.export import ExportError, export_events, read_export_args
from groupchat.tui.memory import QuietCollector
from groupchat.tui.model import ChatScreenState
from groupchat.tui.palette import ChatCommands, PaletteCommand
from groupchat.tui.prefs import Prefs, load_prefs, save_prefs
from groupchat.tui.screens import HelpScreen
from groupchat.tui.widgets.composer import ComposerBox
from groupchat.tui.widgets.conversation import WINDOW, Conversation
from groupchat.tui.widgets.message import MessageView, prepare_markdown
from groupchat.tui.widgets.sidebar import Sidebar
from groupchat.tui.widgets.status import StatusBar, TitleBar
from groupchat.tui.widgets.text import Clock, local_clock

__all__ = ["FRAME", "ChatApp"]

FRAME = 1 / 30
"""Least time between two updates of the views."""

SLICE = 0.008
"""Longest the event reader runs before it lets the app handle keys and draw."""

FLOOD = 500
"""Events in one frame that mean a bulk catch-up (a replay seeking, a fast replay): the
conversation then waits for the flood to pass and mounts only where it ends."""


class ChatApp(App[None]):
    """The screen shared by live chats and replays; subclasses add their controls."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    COMMANDS = App.COMMANDS | {ChatCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("f3", "toggle_sidebar", "Sidebar", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]
    NARROW = 100
    """Terminal width under which the sidebar gets narrower."""
    LABEL = "groupchat"
    LIVE = True

    def __init__(
        self,
        *,
        me: str | None = None,
        clock: Clock = local_clock,
        window: int = WINDOW,
        animate: bool = True,
        quiet_gc: bool = False,
        prefs: Path | None = None,
    ) -> None:
        super().__init__()
        prepare_markdown()
        self.prefs_file = prefs
        """Where the input's history and the theme are kept between runs (``None``: not)."""
        self._prefs_box: ComposerBox | None = None
        self._typed_from = 0
        self._seen = 0  # messages there were when the reader last followed the chat
        self.model = ChatScreenState(me)
        self.clock = clock
        self.collector = QuietCollector() if quiet_gc else None
        self.window = window
        self.blink = animate
        if not animate:
            self.animation_level = "none"
        self._flush_queued = False
        self._last_flush = 0.0
        self._taken = 0  # events taken in since the views were last updated
        self._reader: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        # The views are kept here: while a dialog is open, ``query_one`` would search the dialog.
        self.title_bar = TitleBar(self.model, label=self.LABEL, id="title")
        self.conversation = Conversation(
            self.model, clock=self.clock, window=self.window, id="conversation"
        )
        self.sidebar = Sidebar(self.model, id="sidebar")
        self.status_bar = StatusBar(self.model, live=self.LIVE, id="status")
        yield self.title_bar
        with Horizontal(id="main"):
            yield self.conversation
            yield self.sidebar
        yield from self.compose_controls()
        yield self.status_bar
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        self.sidebar.set_class(event.size.width < self.NARROW, "-narrow")

    def action_toggle_sidebar(self) -> None:
        self.sidebar.display = not self.sidebar.display

    def compose_controls(self) -> ComposeResult:
        """The mode's own controls, between the conversation and the status line."""
        return iter(())

    # ------------------------------------------------------------------ events in

    def read(self, subscription: Subscription) -> None:
        """Show the events of ``subscription`` as they come (replacing any earlier one)."""
        self.stop_reading()
        self._subscription = subscription
        self._reader = asyncio.create_task(self._read(subscription))

    def stop_reading(self) -> None:
        """Stop reading: the subscription is closed, so a live chat is no longer held back."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None

    async def _read(self, subscription: Subscription) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + SLICE
        try:
            async for event in subscription:
                try:
                    self.take(event)
                except Exception as exc:  # one event the views cannot show stops nothing else
                    self.notice(f"could not show a {event.type} event: {exc}", error=True)
                if loop.time() >= until:
                    await asyncio.sleep(0)  # keys and drawing get their turn
                    until = loop.time() + SLICE
        finally:
            subscription.close()  # a reader that stops must not hold the chat back
        self.changed()

    def take(self, event: Event) -> None:
        """One event in: into the model now, onto the screen at the next frame."""
        if self.collector is not None:
            self.collector.active()
        self.model.apply(event)
        self._taken += 1
        self.on_chat_event(event)
        self.changed()

    def on_chat_event(self, event: Event) -> None:
        """What the mode does on an event besides showing it (e.g. answer a request)."""

    # ------------------------------------------------------------------ events out (to views)

    def changed(self) -> None:
        """Something to show: update the views at the next frame."""
        if self._flush_queued:
            return
        self._flush_queued = True
        wait = self._last_flush + FRAME - asyncio.get_running_loop().time()
        if wait > 0:
            self.set_timer(wait, self._update_views)
        else:
            self.call_later(self._update_views)

    async def _update_views(self) -> None:
        self._flush_queued = False
        if not self.conversation.is_attached:
            return  # the app is closing
        self._last_flush = asyncio.get_running_loop().time()
        flood, self._taken = self._taken > FLOOD, 0
        self.sync_views()
        if flood:
            self.changed()  # look again next frame; mount once the flood is over
        else:
            await self.conversation.sync()

    def sync_views(self) -> None:
        """Update every view but the conversation (which :meth:`_update_views` awaits)."""
        self.title_bar.sync()
        self.sidebar.sync()
        self._count_below()
        self.status_bar.sync()

    def _count_below(self) -> None:
        """How many messages arrived below while the reader is scrolled up (the status line
        says so; End follows the chat again)."""
        if self.conversation.following:
            self._seen = self.model.messages
            self.status_bar.below = 0
        else:
            self.status_bar.below = max(0, self.model.messages - self._seen)

    def _look_below(self) -> None:
        before = self.status_bar.below
        self._count_below()
        if self.status_bar.below != before:
            self.status_bar.sync()

    async def on_composer_box_jump(self, message: ComposerBox.Jump) -> None:
        if message.to == "start":
            await self.conversation.action_jump_start()
        else:
            await self.conversation.action_jump_end()
        self._look_below()

    @property
    def unread(self) -> int:
        """Events published to the chat that this app has not read yet."""
        return self._subscription.lag if self._subscription is not None else 0

    @property
    def shown(self) -> bool:
        """Everything taken in so far is on screen (nothing queued, no append running)."""
        return not (self._flush_queued or self.model.dirty) and self.conversation.settled

    # ------------------------------------------------------------------ commands

    def on_message_view_opened(self, message: MessageView.Opened) -> None:
        """A click on a message opens its menu: its number and seq, the fork commands."""
        from groupchat.tui.message_menu import MessageMenu

        if self.screen is self.screen_stack[0]:
            self.push_screen(MessageMenu(message.entry, self.model.chat_id))

    def notice(self, text: str, *, error: bool = False) -> None:
        """A short notice (toast); ``text`` may hold chat text, so it is never markup."""
        self.notify(text, markup=False, severity="error" if error else "information")

    def help_keys(self) -> Sequence[tuple[str, str]]:
        return [
            ("F1", "this help"),
            ("Ctrl+P", "command palette"),
            ("Home / End", "first / latest message (in the conversation)"),
            ("F3", "hide / show the sidebar"),
            ("PageUp / PageDown", "scroll the conversation"),
            ("Click a message", "its number and seq, and the command to fork there"),
            ("Ctrl+Q", "quit"),
        ]

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.help_keys(), commands=self.help_commands()))

    def help_commands(self) -> str | None:
        return "tui"

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield ("Help", "keys and commands", self.action_help)
        for fmt, label in (("md", "Markdown"), ("html", "HTML"), ("jsonl", "JSONL")):
            yield (
                f"Export as {label}",
                f"save the chat to groupchat-<id>.{fmt}",
                partial(self.export, (fmt,)),
            )
        yield (
            "First message",
            "jump to the start of the chat",
            self.conversation.action_jump_start,
        )
        yield ("Latest message", "jump to the end and follow", self.conversation.action_jump_end)

    def transcript(self) -> list[Event]:
        """Every event of the chat shown so far, in order (what ``/export`` saves)."""
        return []

    def export(self, args: Sequence[str]) -> None:
        events = self.transcript()
        try:
            fmt, path = read_export_args(args, self.model.chat_id)
            written = export_events(events, fmt, path)
        except ExportError as exc:
            self.notice(str(exc), error=True)
            return
        self.notice(f"saved {len(events):,} events to {written}")

    def quiet_collector(self) -> None:
        """With ``quiet_gc`` (a process that runs only this app): full garbage collections
        when the app is idle (see :mod:`groupchat.tui.memory`). Called once the chat is loaded."""
        collector = self.collector
        if collector is not None and not collector.running:
            collector.start()
            self.set_interval(collector.idle / 2, collector.tick)

    async def on_event(self, event: events.Event) -> None:
        if self.collector is not None and isinstance(event, events.Key):
            self.collector.active()
        await super().on_event(event)

    def set_theme(self, args: Sequence[str]) -> None:
        names = sorted(self.available_themes)
        if not args:
            listed = [f"{name} (current)" if name == self.theme else name for name in names]
            self.notice("themes: " + ", ".join(listed))
        elif args[0] in self.available_themes:
            self.theme = args[0]
        else:
            self.notice(f"no theme {args[0]!r}; themes: {', '.join(names)}", error=True)

    async def run_shared_command(self, command: ParsedCommand) -> bool:
        """Commands every mode has; ``False`` if ``command`` is not one of them."""
        if command.name == "help":
            self.action_help()
        elif command.name == "export":
            self.export(command.args)
        elif command.name == "theme":
            self.set_theme(command.args)
        elif command.name == "quit":
            await self.action_quit()
        else:
            return False
        return True

    def theme_values(self) -> dict[str, list[str]]:
        return {"THEME": sorted(self.available_themes)}

    def restore_prefs(self, box: ComposerBox | None) -> None:
        """Take up the theme and the input history of earlier runs (see :mod:`.prefs`)."""
        if self.prefs_file is None:
            return
        prefs = load_prefs(self.prefs_file)
        if prefs.theme is not None and prefs.theme in self.available_themes:
            self.theme = prefs.theme
        if box is not None:
            box.history[:0] = prefs.history
            self._typed_from = len(prefs.history)
        self._prefs_box = box

    def keep_prefs(self) -> None:
        """Keep the theme and what was typed here for the next run."""
        if self.prefs_file is None:
            return
        box = self._prefs_box
        typed = box.history[self._typed_from :] if box is not None else []
        save_prefs(self.prefs_file, Prefs(theme=self.theme), typed=typed)

    async def on_unmount(self) -> None:
        self.keep_prefs()
        if self.collector is not None:
            self.collector.stop()
        reader = self._reader
        self.stop_reading()
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await reader
