"""What the Markdown and the HTML export share: text made visible (control characters shown
as symbols), one-line summaries, times, token counts and the per-participant rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from groupchat.messages import Usage
from groupchat.transcripts.digest import (
    Digest,
    Tool,
)

__all__ = [
    "ICONS",
    "SUMMARY_LIMIT",
    "arguments",
    "clock",
    "one_line",
    "rows",
    "stamp",
    "tokens",
    "total_usage",
    "visible",
]


_CONTROL: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_CONTROL[0x7F] = "\u2421"
_CONTROL.update(dict.fromkeys(range(0x80, 0xA0), "\ufffd"))
_CONTROL.update(dict.fromkeys((0x202A, 0x202B, 0x202C, 0x202D, 0x202E), "\ufffd"))
_CONTROL.update(dict.fromkeys((0x2066, 0x2067, 0x2068, 0x2069), "\ufffd"))
_CONTROL.update(dict.fromkeys(range(0xD800, 0xE000), "\ufffd"))  # lone surrogates: not text

ICONS = {
    "selected": "→",
    "skipped": "⤼",
    "joined": "+",
    "left": "−",
    "input": "⌨",
    "paused": "⏸",
    "resumed": "▶",
    "handoff": "↪",
    "attempt": "?",
    "event": "·",
}

SUMMARY_LIMIT = 160
"""Characters of a tool's arguments or result shown in a one-line summary."""


def visible(text: str) -> str:
    """Control characters as visible symbols (NUL -> ␀, ESC -> ␛); newlines and tabs kept; a
    lone surrogate (not text, e.g. an undecodable byte) as U+FFFD."""
    return text.replace("\r\n", "\n").translate(_CONTROL)


def one_line(text: str, limit: int | None = None) -> str:
    """``visible`` on one line: newlines shown as ⏎, cut to ``limit`` characters."""
    one = visible(text).replace("\n", " ⏎ ").replace("\t", " ").strip()
    if limit is not None and len(one) > limit:
        one = one[: limit - 1].rstrip() + "…"
    return one


def clock(time: datetime) -> str:
    return time.astimezone(UTC).strftime("%H:%M:%S")


def stamp(time: datetime) -> str:
    return time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def tokens(usage: Usage) -> str:
    return f"{usage.input_tokens} in / {usage.output_tokens} out"


def arguments(tool: Tool) -> str:
    return json.dumps(tool.arguments, ensure_ascii=False, sort_keys=True)


def rows(d: Digest) -> list[str]:
    """Who the per-speaker table lists: participants, then the manager and the selector."""
    extra = [name for name in d.stats if name not in d.people]
    return d.speakers + extra


def total_usage(d: Digest) -> Usage:
    if d.end is not None:
        return d.end.usage
    total = Usage()
    for stats in d.stats.values():
        total = total + stats.usage
    return total
