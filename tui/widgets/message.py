"""The views of conversation entries: a message (streamed Markdown), a note, a folded tool call.

A :class:`MessageView` streams by appending: new text goes to
:meth:`textual.widgets.Markdown.append`, which re-parses only the last block, and pieces that
arrive while an append is running are joined into the next one. Only a message whose posted
text differs from what streamed is rendered again from the start.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from typing import ClassVar

from markdown_it import MarkdownIt
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.events import Click
from textual.message import Message as TextualMessage
from textual.widgets import Markdown, Static

from groupchat.events import MANAGER
from groupchat.safe_text import safe_text
from groupchat.tui.model import MessageEntry, NoteEntry, ToolEntry
from groupchat.tui.widgets.text import Clock, plain, short, show, styled, tokens

__all__ = ["MAX_SHOWN", "MessageView", "NoteView", "ToolView", "prepare_markdown"]

MAX_SHOWN = 40_000
"""Characters of one message rendered at most; the rest stays in the transcript (/export)."""

_KIND_LABEL = {
    "interjection": "interjects",
    "plan": "plan",
    "instruction": "instruction",
    "answer": "answer",
}

_NOTE_ICON = {
    "selected": "→ ",
    "attempt": "↻ ",
    "handoff": "↪ ",
    "skipped": "⤼ ",
    "request": "? ",
    "joined": "+ ",
    "left": "− ",
    "paused": "⏸ ",
    "resumed": "▶ ",
    "error": "✗ ",
    "ended": "■ ",
    "started": "● ",
    "plan": "☰ ",
    "progress": "· ",
    "divider": "── ",
    "event": "◦ ",
}


_parsers = threading.local()


def _parser() -> MarkdownIt:
    """One Markdown parser per thread, made once (the widget would make one per append)."""
    parser: MarkdownIt | None = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = MarkdownIt("gfm-like")
    return parser


@cache
def prepare_markdown() -> None:
    """Parse one document with every kind of link before any Markdown widget exists.

    The Markdown widget parses in a worker thread as well as in the app's, and the URL caches
    of markdown-it are filled lazily without a lock: two first parses at once can read a cache
    half built. Filling them here, once, in the app's thread, avoids that.
    """
    _parser().parse(
        "[a](https://a.example/%20?q=1#x) <https://b.example> <c@d.example> www.e.example "
        "![f](g.png) [h][i]\n\n[i]: https://i.example\n\n| j |\n|---|\n| k |\n"
    )


class ToolView(Vertical, can_focus=True):
    """A tool call and its result, folded to one line; click or Enter opens it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,space", "fold", "Open/close", show=False)
    ]

    def __init__(self, tool: ToolEntry) -> None:
        super().__init__(classes="tool")
        self.tool = tool

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="tool-header")
        yield Static(self._body(), classes="tool-body")

    def _header(self) -> Content:
        tool = self.tool
        args = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in tool.arguments.items()
        )
        mark = "▾ " if self.has_class("-open") else "▸ "
        if tool.result is None:
            status: tuple[str, str] = ("  … running", "italic")
        elif tool.is_error:
            status = styled(f"  ✗ {short(tool.result, 60)}", "bold $text-error")
        else:
            status = styled(f"  ✓ {short(tool.result, 60)}", "$text-success")
        return Content.assemble(
            (mark, "dim"),
            ("⚙ ", ""),
            styled(tool.name, "bold"),
            styled(f"({short(args, 80)})", "dim"),
            status,
        )

    def _body(self) -> Content:
        tool = self.tool
        arguments = json.dumps(tool.arguments, indent=2, ensure_ascii=False)
        result = "(no result yet)" if tool.result is None else tool.result[:MAX_SHOWN]
        label = "error" if tool.is_error else "result"
        return Content.assemble(
            ("arguments\n", "bold"),
            safe_text(arguments),
            (f"\n{label}\n", "bold"),
            safe_text(result),
        )

    def refresh_tool(self) -> None:
        show(self.query_one(".tool-header", Static), self._header())
        show(self.query_one(".tool-body", Static), self._body())

    def action_fold(self) -> None:
        self.toggle_class("-open")
        self.refresh_tool()

    def on_click(self, event: Click) -> None:
        event.stop()
        self.action_fold()


class MessageView(Vertical):
    """One message: a header (speaker, time, tokens, marks), its Markdown, its tool calls.

    A message by ``me`` is marked "(you)"; ``mine`` (default: by ``me``) tints it as typed here.
    """

    class Opened(TextualMessage):
        """A click on the message: open its menu (where it is, how to fork there)."""

        def __init__(self, entry: MessageEntry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(
        self,
        entry: MessageEntry,
        colour: str,
        *,
        me: str | None,
        clock: Clock,
        mine: bool | None = None,
    ) -> None:
        super().__init__(classes="message")
        self.entry = entry
        self.colour = colour
        self.me = me
        self.clock = clock
        self._shown = 0  # characters of the entry given to the Markdown widget
        self._rewrites = entry.rewrites
        self._pending: list[str] = []
        self._appending = False
        self.styles.border_left = ("thick", colour)
        if entry.kind == "task" or entry.sender == MANAGER:
            self.add_class("-manager")
        if entry.sender == me if mine is None else mine:
            self.add_class("-mine")

    def compose(self) -> ComposeResult:
        entry = self.entry
        self._shown = min(entry.length, MAX_SHOWN)
        yield Static(self._header(), classes="message-header")
        yield Markdown(
            safe_text(entry.text[: self._shown]), open_links=False, parser_factory=_parser
        )
        yield Static(self._cut_note(), classes="message-cut")
        for tool in entry.tools:
            yield ToolView(tool)

    def _header(self) -> Content:
        entry = self.entry
        parts: list[str | tuple[str, str]] = []
        if entry.kind == "task":
            parts.append(("Task", "bold"))
        else:
            parts.append(styled(entry.sender, f"bold {self.colour}"))
            if entry.sender == self.me and entry.sender.lower() != "you":
                parts.append((" (you)", f"{self.colour}"))
        label = _KIND_LABEL.get(entry.kind)
        if label:
            parts.append((f" · {label}", "italic"))
        parts.append((f"  {self.clock(entry.time)}", "dim"))
        if entry.usage is not None and entry.usage.total_tokens:
            parts.append((f" · {tokens(entry.usage.total_tokens)}", "dim"))
        if entry.streaming:
            parts.append(("  ✎", f"{self.colour}"))
        if entry.interrupted:
            parts.append(("  ⚡ interrupted", "bold $text-warning"))
        return Content.assemble(*parts)

    def _cut_note(self) -> Content:
        length = self.entry.length
        self.set_class(length > MAX_SHOWN, "-cut")
        if length <= MAX_SHOWN:
            return Content("")
        return Content(
            f"… showing {MAX_SHOWN:,} of {length:,} characters; /export saves the whole message"
        )

    def refresh_entry(self) -> None:
        """Bring the view up to date with its entry: append new text, update marks and tools."""
        entry = self.entry
        show(self.query_one(".message-header", Static), self._header())
        if entry.rewrites != self._rewrites:
            self._rewrites = entry.rewrites
            self._shown = min(entry.length, MAX_SHOWN)
            self._pending.clear()
            self.query_one(Markdown).update(safe_text(entry.text[: self._shown]))
        elif entry.length > self._shown and self._shown < MAX_SHOWN:
            end = min(entry.length, MAX_SHOWN)
            self._feed(safe_text(entry.text[self._shown : end]))
            self._shown = end
        if entry.length > MAX_SHOWN:
            show(self.query_one(".message-cut", Static), self._cut_note())
        views = list(self.query(ToolView))
        for view in views:
            view.refresh_tool()
        if len(entry.tools) > len(views):
            self.mount_all([ToolView(tool) for tool in entry.tools[len(views) :]])

    def on_click(self, event: Click) -> None:
        if event.chain == 1:  # a double click selects text, as in any terminal app
            self.post_message(self.Opened(self.entry))

    def _feed(self, fragment: str) -> None:
        self._pending.append(fragment)
        if not self._appending:
            self._appending = True
            self.run_worker(self._append(), group="stream", exit_on_error=False)

    async def _append(self) -> None:
        markdown = self.query_one(Markdown)
        try:
            while self._pending:
                fragment = "".join(self._pending)
                self._pending.clear()
                await markdown.append(fragment)
        finally:
            self._appending = False

    @property
    def shown_chars(self) -> int:
        """Characters of the entry given to the Markdown widget so far."""
        return self._shown - sum(len(piece) for piece in self._pending)

    @property
    def settled(self) -> bool:
        """Everything the entry says has reached the Markdown widget."""
        return not self._appending and not self._pending


class NoteView(Static):
    """A one-line note (several for a plan): an icon, a name in its colour, the rest dim."""

    def __init__(self, entry: NoteEntry, colour: str | None, *, clock: Clock) -> None:
        super().__init__(classes=f"note -{entry.kind}")
        self.entry = entry
        self.colour = colour
        self.clock = clock

    def on_mount(self) -> None:
        self.refresh_entry()

    def refresh_entry(self) -> None:
        entry = self.entry
        parts: list[str | tuple[str, str] | Content] = [_NOTE_ICON.get(entry.kind, "· ")]
        if entry.who is not None:
            parts.append(styled(entry.who, f"bold {self.colour or ''}".strip()))
        parts.append(plain(entry.text))
        self.update(Content.assemble(*parts))
