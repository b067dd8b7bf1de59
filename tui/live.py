"""The live chat: the person at the terminal takes part, and controls the running chat.

They are a participant like any other: when the policy picks them the input is focused and
highlighted (with a countdown if the turn has a time limit); a line sent at any other time is
posted at once. Escape twice interrupts whoever is speaking; Ctrl+N, ``/next`` or a click in the
sidebar picks the next speaker; a choice of speaker or an approval asked of them opens a
dialog. The chat runs in this app's event loop and ends when they stop it or quit.

With several people in the team, the person at the keyboard answers for each of them when
they are asked (the input and the dialogs name who is asked), and speaks out of turn as the
one seated (``/as NAME`` switches); see :mod:`groupchat.tui.seats`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult

from groupchat.events import ChatEnded, Event, HumanInputRequested, dump_event, parse_event
from groupchat.tui.asked import AskedApp
from groupchat.tui.claims import Claims
from groupchat.tui.commands import CommandError, ParsedCommand, parse_command, unescape
from groupchat.tui.control import ChatControl, ControlError
from groupchat.tui.palette import PaletteCommand
from groupchat.tui.screens import ChooseScreen
from groupchat.tui.seats import Seats
from groupchat.tui.widgets.composer import ComposerBox
from groupchat.tui.widgets.conversation import WINDOW
from groupchat.tui.widgets.sidebar import Sidebar
from groupchat.tui.widgets.text import Clock, local_clock

if TYPE_CHECKING:
    from groupchat.chat import ChatResult, GroupChat
    from groupchat.models.pricing import PriceTable
    from groupchat.participant import Participant

__all__ = ["LiveChatApp"]

STOP_WAIT = 5.0
"""Seconds quitting waits for a stopped chat to wind up before cancelling it."""


class LiveChatApp(AskedApp):
    """A running :class:`~groupchat.chat.GroupChat` with ``human`` at the keyboard.

    The person answers for every human of the chat when asked ("hot seat"), or only for
    ``humans`` if given; ``human`` (default: the first of ``humans``) is who they are when they
    speak out of turn, until ``/as NAME``. With neither, they only watch.

    ``history`` is what the chat said before this run (a resumed or forked chat), shown first.
    The people in ``claims`` answer from joined terminals (``groupchat join``) while claimed.
    With ``prices`` the status line shows what the chat has cost so far (marked partial when
    some tokens have no price), and the end of the chat says what it cost in all.
    """

    def __init__(
        self,
        chat: GroupChat,
        task: str | None = None,
        *,
        human: Participant | None = None,
        humans: Sequence[Participant] | None = None,
        history: Sequence[Event] = (),
        prices: PriceTable | None = None,
        claims: Claims | None = None,
        clock: Clock = local_clock,
        window: int = WINDOW,
        animate: bool = True,
        quiet_gc: bool = False,
        prefs: Path | None = None,
    ) -> None:
        seats = Seats(chat, human, people=humans, claims=claims)
        super().__init__(
            me=seats.me,
            clock=clock,
            window=window,
            animate=animate,
            quiet_gc=quiet_gc,
            prefs=prefs,
        )
        self.chat = chat
        self.chat_task = task
        self.seats = seats
        self.model.here = set(seats.names)
        self.history = list(history)
        self.control = ChatControl(chat, self.model.me)
        self.prices = prices
        self.result: ChatResult | None = None
        self.failure: BaseException | None = None
        self._runner: asyncio.Task[None] | None = None
        self._event_lines: list[str] = []
        seats.claims.listen(self._claimed)

    def compose_controls(self) -> ComposeResult:
        self.composer = ComposerBox(
            names=self.model.names,
            descriptions=self.model.descriptions,
            values=self._argument_values,
            blink=self.blink,
            id="composer-box",
        )
        yield self.composer

    def _argument_values(self) -> dict[str, list[str]]:
        """What command arguments complete to: themes, and the people one can speak as."""
        return {**self.theme_values(), "PERSON": self.seats.names}

    @property
    def human(self) -> Participant | None:
        """The person seated at this terminal (``/as NAME`` changes who)."""
        return self.seats.seated

    @property
    def runner(self) -> asyncio.Task[None] | None:
        """The task that runs the chat (once mounted)."""
        return self._runner

    @property
    def running(self) -> bool:
        return self._runner is not None and not self._runner.done()

    # ------------------------------------------------------------------ running the chat

    def on_mount(self) -> None:
        self.restore_prefs(self.composer)
        self.set_interval(0.5, self._look_below)
        chat = self.chat
        start = chat.bus.next_seq(chat.chat_id)
        self.history = [event for event in self.history if event.seq < start]
        for event in self.history:
            self.model.apply(event)
        if self.history:
            self.model.request = None  # the chat asks again what was left open
            self.model.state = "running"
            self.model.add_note(datetime.now(UTC), "divider", "the chat goes on from here")
        self.read(chat.bus.subscribe(chat.chat_id, start=start, maxsize=4096))
        self._runner = asyncio.create_task(self._run())
        self._start_asking()

    async def _run(self) -> None:
        try:
            self.result = await self.chat.run(self.chat_task)
        except Exception as exc:  # the chat could not even start
            self.failure = exc
            self.notice(f"the chat failed: {exc}", error=True)
        self.changed()

    async def action_quit(self) -> None:
        """Stop the chat (its current turn is cut short and kept), then leave."""
        runner = self._runner
        if runner is not None and not runner.done():
            await self.chat.stop("stopped", by=self.model.me)
            done, _ = await asyncio.wait((runner,), timeout=STOP_WAIT)
            if not done:
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
        self.exit()

    def _claimed(self, name: str, holder: str | None) -> None:
        """A joined terminal took ``name``'s seat, or gave it back: stop or start answering."""
        self.model.here = set(self.seats.names)
        self.model.away = set(self.seats.claims.names)
        if not self.is_running:
            return
        if holder is not None:
            self.notice(f"{name} answers from another terminal now")
        else:
            self.notice(f"{name} is back: you answer for them again")
        if self.model.my_request is not self._request:
            self._show_request()
        self.changed()

    # ------------------------------------------------------------------ requests to the person

    def transcript(self) -> list[Event]:
        return [*self.history, *(parse_event(line) for line in self._event_lines)]

    def on_chat_event(self, event: Event) -> None:
        # Kept as JSON text: a long chat's many streamed pieces then cost the garbage
        # collector nothing; /export reads them back.
        self._event_lines.append(dump_event(event))
        if event.type == "participant_joined":
            self.model.here = set(self.seats.names)
        elif isinstance(event, ChatEnded) and self.prices is not None:
            self._note_cost(event)
        if self.model.my_request is not self._request:
            self._show_request()

    def _note_cost(self, event: ChatEnded) -> None:
        """At the end, what the chat cost, and what the figure leaves out if it is partial."""
        from groupchat.models.pricing import models_in

        assert self.prices is not None
        cost = self.prices.chat_cost(event.usage_by, models_in(self.chat))
        self.model.add_note(event.time, "ended", cost.describe())

    def _set_idle_title(self) -> None:
        me = self.model.me
        if self.model.state == "ended" or (self._runner is not None and self._runner.done()):
            self._set_input("chat ended — /export saves it · Ctrl+Q quits")
        elif me is None:
            self._set_input("watching — commands only (/help)")
        else:
            voice = "" if me.lower() == "you" else f" as {me}"
            self._set_input(
                f"message{voice} — sent at once; the next speaker sees it",
                f"say something{voice}…" if len(self.model.here) > 1 else "",
            )

    def sync_views(self) -> None:
        if self.prices is not None:
            from groupchat.models.pricing import models_in

            self.status_bar.cost = self.prices.chat_cost(self.model.usage_by, models_in(self.chat))
        super().sync_views()

    def _still_open(self, request: HumanInputRequested) -> bool:
        return super()._still_open(request) and self.seats.waiting(request.participant)

    def _post_answer(self, request: HumanInputRequested, answer: str) -> None:
        self.seats.post(answer, request.participant)

    # ------------------------------------------------------------------ what the person does

    async def on_composer_box_submitted(self, message: ComposerBox.Submitted) -> None:
        text = message.text
        try:
            command = parse_command(text)
        except CommandError as exc:
            self.notice(str(exc), error=True)
            return
        if command is not None:
            await self.run_command(command)
            return
        if not self.running and not self.seats.watching:
            self.notice("the chat has ended; /export saves it, Ctrl+Q quits", error=True)
            return
        # Sent as whoever the input names: the person asked, else the one seated.
        request = self._request
        try:
            sent = self.seats.post(unescape(text), request.participant if request else None)
        except ControlError as exc:
            self.notice(str(exc), error=True)
            return
        if sent is not None:
            await self.conversation.action_jump_end()  # what you said, and what follows

    async def run_command(self, command: ParsedCommand) -> None:
        if await self.run_shared_command(command):
            return
        name, args, me, chat = command.name, command.args, self.model.me, self.chat
        try:
            if name in ("pause", "resume", "stop", "interrupt") and not self.running:
                raise ControlError("the chat is not running")
            if name == "pause":
                await chat.pause(by=me)
            elif name == "resume":
                await chat.resume(by=me)
            elif name == "interrupt":
                await self.action_interrupt()
            elif name == "stop":
                await chat.stop("stopped", by=me)
            elif name == "next":
                self.notice(self.control.steer(args[0]))
            elif name == "skip":
                self._skip()
            elif name == "as":
                self._sit(args)
            elif name == "who":
                self.notice(self._who())
            elif name == "kick":
                self.notice(await self.control.kick(args[0]))
            elif name == "invite":
                await self._invite(args)
        except ControlError as exc:
            self.notice(str(exc), error=True)

    def _skip(self) -> None:
        request = self.model.my_request
        if request is None or request.request != "turn":
            raise ControlError("there is no turn to pass: nobody here is asked to speak")
        self.seats.skip(request.participant)

    def _sit(self, args: Sequence[str]) -> None:
        """``/as NAME``: speak as NAME from now on; ``/as`` alone says who you are."""
        if not args:
            self.notice(self.seats.who())
            return
        said = self.seats.sit(args[0])
        self.model.me = self.control.me = self.seats.me
        self.model.changed = True
        if self._request is None:
            self._set_idle_title()  # an open request keeps naming who is asked
        self.changed()
        self.notice(said)

    async def _invite(self, args: Sequence[str]) -> None:
        if args:
            self.notice(await self.control.invite(args[0]))
            return
        self.notice(self.control.come_back())

    async def action_interrupt(self) -> None:
        if not self.running:
            return
        speaker = self.model.speaker
        if await self.chat.interrupt(by=self.model.me):
            self.notice(f"interrupted {speaker}" if speaker else "interrupted")
        else:
            self.notice("nobody is speaking")

    async def action_pause_resume(self) -> None:
        if not self.running:
            self.notice("the chat is not running")
        elif self.chat.paused:
            await self.chat.resume(by=self.model.me)
        else:
            await self.chat.pause(by=self.model.me)
            self.notice("paused: the chat holds after this turn (F2 resumes)")

    def action_choose_next(self) -> None:
        names = self.model.names()
        self.push_screen(
            ChooseScreen("Who speaks next?", names, prompt="Your pick overrides the policy once."),
            self._steer,
        )

    def _steer(self, name: str | None) -> None:
        if name is None:
            return
        try:
            self.notice(self.control.steer(name))
        except ControlError as exc:
            self.notice(str(exc), error=True)

    def on_sidebar_picked(self, message: Sidebar.Picked) -> None:
        """A click on a name answers "who speaks next?" when this terminal is asked it, and
        steers otherwise."""
        request = self.model.my_request
        if request is not None and request.request == "select_speaker":
            dialog = self._dialog
            if dialog is not None and dialog.is_attached:
                dialog.dismiss(None)  # the click is the answer
            self._post_answer(request, message.participant)
            return
        self._steer(message.participant)

    # ------------------------------------------------------------------ help and palette

    def palette_commands(self) -> Iterable[PaletteCommand]:
        yield from self._steering_commands("end it now (the app stays open)", self._stop)
        for name in self.model.names():
            if name != self.model.me:
                yield (f"Remove {name}", "kick them out of the chat", partial(self._kick, name))
        for name in self.control.invitable():
            yield (f"Invite {name}", "bring them back", partial(self._invite, (name,)))
        for name in self.seats.names:
            if name != self.model.me:
                yield (f"Speak as {name}", "what you type out of turn", partial(self._as, name))
        yield from super().palette_commands()

    def _as(self, name: str) -> None:
        try:
            self._sit((name,))
        except ControlError as exc:
            self.notice(str(exc), error=True)

    async def _stop(self) -> None:
        if self.running:
            await self.chat.stop("stopped", by=self.model.me)

    async def _kick(self, name: str) -> None:
        try:
            self.notice(await self.control.kick(name))
        except ControlError as exc:
            self.notice(str(exc), error=True)
