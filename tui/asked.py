"""The part of the app where the person at the keyboard is asked things.

Shared by the live app (the chat runs here) and the joined app (``groupchat join``: it runs in
another terminal). When someone at this keyboard is asked (see
:attr:`~groupchat.tui.model.ChatScreenState.my_request`), the input's title says who and how to
answer; a choice of speaker or an approval opens a dialog (Ctrl+O reopens it); a time limit
counts down in the input and the status line. Subclasses say what idle looks like and where an
answer goes.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import ModalScreen

from groupchat.events import HumanInputRequested
from groupchat.tui.app import ChatApp
from groupchat.tui.palette import PaletteCommand
from groupchat.tui.screens import ApprovalScreen, ChooseScreen
from groupchat.tui.seats import addressed
from groupchat.tui.widgets.composer import ComposerBox
from groupchat.tui.widgets.text import styled

__all__ = ["AskedApp"]

ESCAPE_AGAIN_S = 2.0
"""Esc interrupts the speaker only when pressed again within this many seconds."""

_WHAT = {"turn": "your turn", "approval": "approval asked", "select_speaker": "your choice"}


class AskedApp(ChatApp):
    """A chat app with a person at the keyboard who is asked for turns, choices and approvals.

    Subclasses compose a :class:`~groupchat.tui.widgets.composer.ComposerBox` as
    ``self.composer``, call :meth:`_show_request` whenever ``model.my_request`` may have changed,
    and implement :meth:`_set_idle_title` and :meth:`_post_answer`.
    """

    AUTO_FOCUS = "#composer"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "escape", "Interrupt"),
        Binding("f2", "pause_resume", "Pause/Resume"),
        Binding("ctrl+n", "choose_next", "Next speaker"),
        Binding("ctrl+o", "answer", "Answer"),
    ]
    NOBODY_ASKED = "nothing is asked of anyone here right now"
    ENTER_HELP = "send (on your turn: your answer; empty passes)"
    composer: ComposerBox

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._request: HumanInputRequested | None = None
        self._dialog: ModalScreen[str | None] | None = None
        self._escaped_at: float | None = None
        self.clock_s: Callable[[], float] = time.monotonic
        """Seconds for the Esc-twice window (a test sets its own)."""

    # ------------------------------------------------------------------ for subclasses

    def _set_idle_title(self) -> None:
        """Title the input for when nobody here is asked."""
        raise NotImplementedError

    def _post_answer(self, request: HumanInputRequested, answer: str) -> None:
        """Send ``answer`` to the chat as the answer to ``request``."""
        raise NotImplementedError

    def action_interrupt(self) -> object:
        """Cut whoever is speaking short."""
        raise NotImplementedError

    def action_pause_resume(self) -> object:
        """Hold the chat after this turn, or let it go on."""
        raise NotImplementedError

    async def action_escape(self) -> None:
        """Esc: the first press says a second one interrupts; a second press within
        :data:`ESCAPE_AGAIN_S` does (a stray Esc, say one after closing the suggestions, never
        cuts anyone short)."""
        now = self.clock_s()
        speaker = self.model.speaker
        armed = self._escaped_at is not None and now - self._escaped_at <= ESCAPE_AGAIN_S
        if speaker is None or armed:
            self._escaped_at = None
            done = self.action_interrupt()
            if inspect.isawaitable(done):
                await done
            return
        self._escaped_at = now
        self.notice(f"Esc again to interrupt {speaker}")

    def _steer(self, name: str | None) -> None:
        """Make ``name`` the next speaker, once (``None``: nobody was picked)."""
        raise NotImplementedError

    def _still_open(self, request: HumanInputRequested) -> bool:
        """Whether ``request`` can still be answered from here."""
        return self.model.my_request is request

    # ------------------------------------------------------------------ showing what is asked

    def _start_asking(self) -> None:
        """Once mounted and reading the chat: show what is asked now, and tick the countdown."""
        self.set_interval(1.0, self._tick)
        self.composer.editor.focus()
        self._show_request()
        self.changed()
        self.quiet_collector()

    def _show_request(self) -> None:
        request = self._request = self.model.my_request
        dialog, self._dialog = self._dialog, None
        if dialog is not None and dialog.is_attached and dialog is self.screen:
            dialog.dismiss(None)
        if request is None:
            self._set_idle_title()
            return
        if request.request == "turn":
            self._set_turn_title()
            self.composer.editor.focus()
        else:
            self._open_dialog(request)

    def _open_dialog(self, request: HumanInputRequested) -> None:
        who = request.participant
        if request.request == "approval":
            review = "approve" in request.choices
            plan = self.model.plan
            dialog: ModalScreen[str | None] = ApprovalScreen(
                addressed(who, "Review the plan" if review else "Approval needed"),
                request.prompt,
                choices=request.choices,
                plan=plan.steps if review and plan is not None else (),
            )
            title = addressed(who, "approval asked — Ctrl+O to answer, or type your answer")
            answers = "approve, revise: what to change, or reject" if review else "yes or no"
            hint = addressed(who, f"Your answer: {answers}")
        else:
            choices = request.choices or tuple(self.model.names())
            dialog = ChooseScreen(
                addressed(who, "Who speaks next?"), choices, prompt=request.prompt
            )
            title = addressed(who, "choose who speaks next — Ctrl+O, or type a name")
            hint = addressed(who, "Who speaks next? Type a name or a number")
        self._set_input(title, hint, turn=True)
        self._dialog = dialog
        self.push_screen(dialog, lambda answer: self._answer(request, answer))

    def _answer(self, request: HumanInputRequested, answer: str | None) -> None:
        if self._dialog is not None and not self._dialog.is_attached:
            self._dialog = None
        if answer is None:
            return  # closed to answer later: Ctrl+O reopens it, or type the answer
        if not self._still_open(request):
            self.notice("that question is no longer open")
            return
        self._post_answer(request, answer)

    def action_answer(self) -> None:
        request = self.model.my_request
        if request is None:
            self.notice(self.NOBODY_ASKED)
        elif request.request == "turn":
            self.composer.editor.focus()
        elif not isinstance(self.screen, ModalScreen):
            self._open_dialog(request)

    def _set_turn_title(self) -> None:
        left = self._seconds_left()
        limit = f" · {left} s left" if left is not None else ""
        who = self._request.participant if self._request is not None else (self.model.me or "")
        sends = "Enter sends" if who.lower() == "you" else f"Enter sends as {who}"
        self._set_input(
            addressed(who, f"your turn{limit} — {sends} · empty Enter passes"),
            addressed(who, "your turn: type your reply, or Enter to pass"),
            turn=True,
        )

    def _set_input(self, title: str, placeholder: str = "", *, turn: bool = False) -> None:
        """The input's border title and what it shows while empty: who a line is sent as."""
        self.composer.set_title(title, turn=turn)
        self.composer.editor.placeholder = Content(placeholder)

    def _seconds_left(self) -> int | None:
        """What the countdown shows: counted from when the turn was asked (which may be before
        it got here), stopped while the chat is paused (see :mod:`.turn_clock`)."""
        clock = self.model.turn_clock
        if self._request is None or clock.request is not self._request:
            return None
        left = clock.left(datetime.now(UTC))
        return None if left is None else round(left)

    def _tick(self) -> None:
        request = self._request
        if request is not None and request.request == "turn" and request.timeout:
            self._set_turn_title()
            self.sync_views()

    def sync_views(self) -> None:
        self.status_bar.activity = self._activity()
        super().sync_views()
        if self._request is None and self.model.my_request is None:
            self._set_idle_title()

    def _activity(self) -> Content:
        request = self._request
        if request is None:
            return Content("")
        left = self._seconds_left()
        limit = f" · {left} s" if left is not None else ""
        asked = addressed(request.participant, _WHAT[request.request])
        return Content.assemble(styled(f"⌛ {asked}{limit}", "bold $accent"))

    # ------------------------------------------------------------------ commands, help, palette

    def _who(self) -> str:
        """Each participant and what they are doing, for ``/who``."""
        me = self.model.me
        return "; ".join(
            f"{m.name}{' (you)' if m.name == me else ''}"
            f"{' (person)' if m.human and m.name != me else ''}: {m.state}"
            for m in self.model.members.values()
        )

    def _steering_commands(
        self, stop_what: str, stop: Callable[[], object]
    ) -> Iterator[PaletteCommand]:
        """The palette's commands that steer the chat: pause, interrupt, stop, next speaker."""
        yield (
            "Pause or resume",
            "hold the chat after this turn, or go on",
            self.action_pause_resume,
        )
        yield ("Interrupt", "cut the current speaker short", self.action_interrupt)
        yield ("Stop the chat", stop_what, stop)
        for name in self.model.names():
            yield (
                f"Next speaker: {name}",
                "override the policy once",
                partial(self._steer, name),
            )

    def help_keys(self) -> Sequence[tuple[str, str]]:
        return [
            ("Enter", self.ENTER_HELP),
            ("Ctrl+J", "new line (also Shift+Enter, Alt+Enter)"),
            ("↑ / ↓", "what you sent before"),
            ("Tab", "complete @names and /commands"),
            ("Esc", "twice: interrupt whoever is speaking (once closes suggestions)"),
            ("F2", "pause / resume the chat"),
            ("Ctrl+N", "choose who speaks next (also: click a name)"),
            ("Ctrl+O", "answer what you were asked"),
            *super().help_keys(),
        ]

    def on_key(self, event: events.Key) -> None:
        """Typing while the conversation or the sidebar has the focus goes to the input."""
        editor = self.composer.editor
        main = self.screen is self.screen_stack[0]
        if event.is_printable and event.character and main and not editor.has_focus:
            event.stop()
            editor.focus()
            editor.insert(event.character)
