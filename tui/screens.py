"""Dialogs over the chat: help (F1), choosing a speaker, approving a plan or a tool call.

Each dialog returns what the person decided (``None``: closed without deciding); the app turns
that into input for the chat. Chat text in them is plain text or Markdown, never markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.css.scalar import Scalar
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from groupchat.safe_text import safe_text
from groupchat.tui.commands import COMMANDS, Command
from groupchat.tui.widgets.text import plain

__all__ = ["ApprovalScreen", "ChooseScreen", "FittedScreen", "HelpScreen"]

ResultType = TypeVar("ResultType")

APPROVE = "yes"
REJECT = "no"


_NOTES = (
    "\n  @name mentions a participant · // at the start sends a literal /\n"
    "  A line sent on your turn is your message; at any other time it is posted at\n"
    "  once and the next speaker sees it. With several people in the team you answer\n"
    "  for whoever of them is asked (the input names them); /as NAME picks who you\n"
    "  are the rest of the time."
)


class FittedScreen(ModalScreen[ResultType]):
    """A dialog that fits the terminal: its ``.dialog-shrink`` part (the plan, the choices) gives
    up rows so the input, the buttons and the key hints stay on screen; when even that is not
    enough the dialog itself scrolls (``.dialog`` has ``overflow-y: auto``)."""

    MOST_ROWS = 16
    """The most rows the shrinking part takes (it scrolls beyond)."""
    MIN_ROWS = 2
    """The fewest it keeps."""

    def on_mount(self) -> None:
        self.call_after_refresh(self._fit)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        parts = self.query(".dialog-shrink")
        if not parts or not self.query(".dialog"):
            return
        dialog, part = self.query_one(".dialog"), parts.first()
        limit = dialog.styles.max_height
        room = int(limit.resolve(self.size, self.size)) if limit is not None else self.size.height
        rest = dialog.gutter.height + sum(
            child.outer_size.height + child.styles.margin.height
            for child in dialog.children
            if child is not part and child.display
        )
        rows = max(self.MIN_ROWS, min(self.MOST_ROWS, room - rest))
        if part.styles.max_height != Scalar.from_number(rows):
            part.styles.max_height = rows


class HelpScreen(ModalScreen[None]):
    """Keys and commands of the current mode."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]

    def __init__(
        self,
        keys: Sequence[tuple[str, str]],
        *,
        commands: str | None = "tui",
        table: Mapping[str, Command] | None = None,
        notes: str | None = None,
    ) -> None:
        """``commands`` names the front-end whose commands are listed; ``table`` lists exactly
        these commands instead (with ``notes`` under them), e.g. a joined terminal's."""
        super().__init__()
        self.keys = keys
        self.frontend = commands
        self.table = table
        self.notes = notes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Static(Content("Keys and commands"), classes="dialog-title")
            with VerticalScroll():
                yield Static(self._text())
            yield Static(
                Content("Esc or F1 closes · Ctrl+P opens the command palette"),
                classes="dialog-hint",
            )

    def _text(self) -> Content:
        parts: list[str | tuple[str, str]] = [("Keys\n", "bold")]
        width = max((len(k) for k, _ in self.keys), default=0)
        for key, what in self.keys:
            parts += [(f"  {key.ljust(width)}", "bold $accent"), f"  {what}\n"]
        if self.table is not None:
            shown = list(self.table.values())
        elif self.frontend is not None:
            shown = [c for c in COMMANDS.values() if self.frontend in c.where]
        else:
            shown = []
        if shown:
            usage = [f"/{c.name} {c.args}".rstrip() for c in shown]
            width = max(len(u) for u in usage)
            parts.append(("\nCommands (type them in the input)\n", "bold"))
            for command, line in zip(shown, usage, strict=True):
                parts += [(f"  {line.ljust(width)}", "bold $accent"), f"  {command.help}\n"]
            parts.append(self.notes if self.notes is not None else _NOTES)
        return Content.assemble(*parts)


class ChooseScreen(FittedScreen[str | None]):
    """Pick one participant (who speaks next)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close")]
    MOST_ROWS = 12

    def __init__(self, title: str, choices: Sequence[str], *, prompt: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog choose"):
            yield Static(Content(self.title_text), classes="dialog-title")
            if self.prompt:
                yield Static(plain(self.prompt), classes="dialog-prompt")
            yield OptionList(
                *(Option(plain(c), id=c) for c in self.choices),
                id="choices",
                classes="dialog-shrink",
            )
            yield Static(Content("Enter picks · Esc closes"), classes="dialog-hint")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)


class ApprovalScreen(FittedScreen[str | None]):
    """Approve, revise (with text) or reject what a participant asks to do.

    The answer is worded for the request's ``choices``: a plan review (``approve``, ``revise``,
    ``reject``) gets ``approve``, ``revise: TEXT`` or ``reject[: TEXT]``; a yes/no question (a
    tool call) gets ``yes``, the revision's text, or ``no`` (the text, if any, says why).
    ``None``: closed, to answer later.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Later"),
        Binding("ctrl+y", "approve", "Approve"),
        Binding("ctrl+r", "reject", "Reject"),
    ]

    def __init__(
        self,
        title: str,
        prompt: str,
        *,
        choices: Sequence[str] = (),
        plan: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.choices = {choice.lower() for choice in choices}
        self.plan = list(plan)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog approval"):
            yield Static(Content(self.title_text), classes="dialog-title")
            with VerticalScroll(classes="dialog-body dialog-shrink"):
                if self.plan:
                    steps = "\n".join(f"{n}. {step}" for n, step in enumerate(self.plan, 1))
                    yield Markdown(safe_text(steps), open_links=False, classes="dialog-plan")
                yield Markdown(safe_text(self.prompt), open_links=False)
            yield Input(placeholder="to revise: say what to change, then Enter", id="revision")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Approve", variant="success", id="approve")
                yield Button("Revise", variant="primary", id="revise")
                yield Button("Reject", variant="error", id="reject")
            yield Static(
                Content("Enter revises, or approves if empty · Ctrl+R reject · Esc later"),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#revision", Input).focus()  # typing says what to change

    @property
    def _text(self) -> str:
        return self.query_one("#revision", Input).value.strip()

    def action_approve(self) -> None:
        self.dismiss("approve" if "approve" in self.choices else APPROVE)

    def action_reject(self) -> None:
        text = self._text
        if "reject" in self.choices:
            self.dismiss(f"reject: {text}" if text else "reject")
        else:
            self.dismiss(text or REJECT)

    def _revise(self) -> None:
        text = self._text
        if not text:
            self.query_one("#revision", Input).focus()
            self.notify("Say what to change first.", severity="warning")
            return
        self.dismiss(f"revise: {text}" if "revise" in self.choices else text)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "approve":
            self.action_approve()
        elif event.button.id == "reject":
            self.action_reject()
        else:
            self._revise()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the box: revise with what it says, or approve when it is empty."""
        event.stop()
        if self._text:
            self._revise()
        else:
            self.action_approve()
