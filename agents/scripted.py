"""A participant that says what it is told: fixed lines or a function of the chat.

Deterministic and free, it stands in for a model in tests, demos and benchmarks, and can stream
its text word by word with a delay so it looks and behaves like a real one.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Literal, TypeAlias

from groupchat.messages import Usage
from groupchat.participant import ChatView, EndChat, Pass, Reply, TurnItem

__all__ = ["ScriptFn", "ScriptedAgent"]

Line: TypeAlias = str | Reply | Pass | EndChat
ScriptFn: TypeAlias = Callable[[ChatView], "Line | Awaitable[Line | None] | None"]
_WORDS = re.compile(r"\s*\S+\s*|\s+")


class ScriptedAgent:
    """Says ``script``'s lines in order, or what ``script(view)`` returns each turn.

    A line may be text, or a :class:`Reply`, :class:`Pass` or :class:`EndChat`; a function may
    also return ``None`` to pass. When the lines run out the agent passes (``when_done="pass"``),
    starts over (``"cycle"``) or ends the chat (``"end"``).

    ``chunk`` sets how text streams: ``"line"`` (one piece), ``"word"``, ``"char"`` or a number
    of characters; ``delay`` waits that many seconds before each piece. ``report_usage`` reports
    one output token per word, so token budgets can be tested.
    """

    kind = "scripted"

    def __init__(
        self,
        name: str,
        script: Sequence[Line] | ScriptFn,
        *,
        description: str = "",
        chunk: Literal["line", "word", "char"] | int = "line",
        delay: float = 0.0,
        when_done: Literal["pass", "cycle", "end"] = "pass",
        report_usage: bool = False,
    ) -> None:
        if isinstance(script, str):
            raise TypeError("script must be a list of lines or a function, not a single string")
        if isinstance(chunk, int) and chunk < 1:
            raise ValueError("chunk size must be at least 1")
        if chunk not in ("line", "word", "char") and not isinstance(chunk, int):
            raise ValueError(f"chunk must be 'line', 'word', 'char' or a size, not {chunk!r}")
        if delay < 0:
            raise ValueError("delay must not be negative")
        if when_done not in ("pass", "cycle", "end"):
            raise ValueError("when_done must be 'pass', 'cycle' or 'end'")
        self.name = name
        self.description = description or f"Scripted participant {name}."
        self._fn: ScriptFn | None = script if callable(script) else None
        self._lines: tuple[Line, ...] = () if callable(script) else tuple(script)
        if self._fn is None and not self._lines:
            raise ValueError("a scripted agent needs at least one line")
        self.chunk = chunk
        self.delay = delay
        self.when_done = when_done
        self.report_usage = report_usage
        self._index: int | None = None

    def _next_line(self, view: ChatView) -> Line:
        if self._index is None:
            # Continue where a resumed chat left off: one line per message already posted.
            self._index = sum(
                1 for m in view.messages if m.sender == self.name and m.kind == "turn"
            )
        index = self._index
        self._index = index + 1
        lines = self._lines
        if index < len(lines):
            return lines[index]
        if self.when_done == "cycle":
            return lines[index % len(lines)]
        if self.when_done == "end":
            return EndChat("script finished")
        return Pass("script finished")

    def _pieces(self, text: str) -> list[str]:
        chunk = self.chunk
        if chunk == "line":
            return [text]
        if chunk == "word":
            return _WORDS.findall(text)
        size = 1 if chunk == "char" else int(chunk)
        return [text[i : i + size] for i in range(0, len(text), size)]

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        line: Line
        if self._fn is not None:
            said = self._fn(view)
            if inspect.isawaitable(said):
                said = await said
            line = Pass() if said is None else said
        else:
            line = self._next_line(view)
        if isinstance(line, (Pass, EndChat)):
            yield line
            return
        text = line.content if isinstance(line, Reply) else line
        if text is None:
            yield line  # a Reply carrying only parts
            return
        if not self.delay and self.chunk == "line" and not self.report_usage:
            yield text if isinstance(line, str) else line
            return
        for piece in self._pieces(text):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield piece
        usage = Usage(output_tokens=len(text.split())) if self.report_usage else None
        if isinstance(line, Reply):
            yield Reply(line.content, line.parts, line.usage or usage)
        elif usage is not None:
            yield Reply(usage=usage)
