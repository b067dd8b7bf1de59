"""The menu a message opens (a click on it): where it is in the chat, and how to fork there.

It shows the message's number and the seq of its ``message_posted`` event, the two ways
``groupchat fork`` names a point (``--message N``, ``--at SEQ``), and copies either command.
A message not posted (still streaming, or cut off) has no number yet: the menu says so.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from groupchat.safe_text import one_line
from groupchat.tui.model import MessageEntry
from groupchat.tui.screens import FittedScreen
from groupchat.tui.widgets.text import plain

__all__ = ["MessageMenu", "fork_commands", "where"]


def where(entry: MessageEntry) -> str:
    """``researcher · message #3 · seq 36``, or that it was not posted."""
    who = "Task" if entry.kind == "task" else one_line(entry.sender)
    if entry.number is None or entry.seq is None:
        return f"{who} · not posted: no message number or seq yet"
    return f"{who} · message #{entry.number} · seq {entry.seq}"


def fork_commands(entry: MessageEntry, chat_id: str) -> list[str]:
    """The commands that fork the chat right after ``entry`` (none before it is posted)."""
    if entry.number is None or entry.seq is None or not chat_id:
        return []
    chat = one_line(chat_id)
    return [
        f"groupchat fork {chat} --message {entry.number}",
        f"groupchat fork {chat} --at {entry.seq}",
    ]


class MessageMenu(FittedScreen[None]):
    """A message's place in the chat, and the fork commands to copy."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss(None)", "Close")]
    MOST_ROWS = 6

    def __init__(self, entry: MessageEntry, chat_id: str) -> None:
        super().__init__()
        self.entry = entry
        self.commands = fork_commands(entry, chat_id)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog choose message-menu"):
            yield Static(plain(where(self.entry)), classes="dialog-title")
            if self.commands:
                yield Static(
                    Content("Fork here (the new chat shares everything up to this message):"),
                    classes="dialog-prompt",
                )
            options = [Option(plain(f"Copy: {c}"), id=str(i)) for i, c in enumerate(self.commands)]
            yield OptionList(*options, Option("Close", id="close"), classes="dialog-shrink")
            yield Static(Content("Enter picks · Esc closes"), classes="dialog-hint")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id != "close":
            command = self.commands[int(event.option.id or 0)]
            self.app.copy_to_clipboard(command)
            self.app.notify(f"copied: {command}", markup=False)
        self.dismiss(None)
