"""Agent and user text as widget content: always plain text, never markup or control codes.

Every string that came from a chat (names, messages, reasons, tool arguments) reaches a widget
through :func:`plain` or :func:`styled`, which neutralise terminal control sequences and build
:class:`~textual.content.Content` directly, so ``[bold]`` stays literally ``[bold]``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual.content import Content
from textual.widgets import Static

from groupchat.safe_text import one_line, safe_text

__all__ = [
    "SPEAKER_COLOURS",
    "Clock",
    "colour_of",
    "local_clock",
    "plain",
    "short",
    "show",
    "styled",
    "tokens",
]

SPEAKER_COLOURS = (
    "#4fa3e0",
    "#d17fd6",
    "#3fb37f",
    "#d9a43a",
    "#e06c75",
    "#35b5c5",
    "#9d86e9",
    "#b5bd3c",
)
"""One colour per participant, in order of appearance; readable on dark and light themes."""

Clock = Callable[[datetime], str]


def local_clock(time: datetime) -> str:
    """An event's time as the reader's local wall-clock time."""
    return time.astimezone().strftime("%H:%M:%S")


def colour_of(index: int) -> str:
    return SPEAKER_COLOURS[index % len(SPEAKER_COLOURS)]


def plain(text: str) -> Content:
    """Chat text as content: shown as is, control sequences made visible."""
    return Content(safe_text(text))


def styled(text: str, style: str) -> tuple[str, str]:
    """A part for ``Content.assemble``: chat text with one style."""
    return (safe_text(text), style)


def short(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, safe to show."""
    line = one_line(text)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def tokens(count: int) -> str:
    return f"{count:,} token" + ("" if count == 1 else "s")


def show(widget: Static, content: Content) -> None:
    """Put ``content`` in ``widget`` unless it already shows exactly that.

    An update lays the screen out again; the views call this every frame while text streams,
    and most of the time nothing in them changed.
    """
    key = (content.plain, tuple(content.spans))
    if getattr(widget, "_groupchat_shown", None) != key:
        # Kept on the widget itself (any Static, not a class of ours): the stubs know no such
        # attribute, and a side table would cost a lookup a frame.
        widget._groupchat_shown = key  # type: ignore[attr-defined]
        widget.update(content)
