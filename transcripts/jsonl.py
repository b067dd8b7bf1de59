"""JSONL: one canonical event per line, the lossless format of a chat."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from groupchat.events import EVENT_ADAPTER, Event, dump_event

__all__ = ["JsonlError", "read_jsonl", "write_jsonl"]


class JsonlError(ValueError):
    """A line that is not a valid event; the message names the source, line and field."""

    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(message)
        self.line = line


async def write_jsonl(events: AsyncIterable[Event], out: IO[str], *, flush: bool = True) -> int:
    """Write events as they arrive, one JSON line each; returns how many were written."""
    count = 0
    async for event in events:
        out.write(dump_event(event))
        out.write("\n")
        if flush:
            out.flush()
        count += 1
    return count


def read_jsonl(source: str | Path | Iterable[str], *, name: str | None = None) -> list[Event]:
    """Parse JSONL events (a path or lines); blank lines are skipped.

    Raises :class:`JsonlError` at the first bad line, naming it and the offending field.
    """
    if isinstance(source, (str, Path)):
        name = name or str(source)
        with open(source, encoding="utf-8") as fh:
            return _parse(fh, name)
    return _parse(source, name or "<jsonl>")


def _parse(lines: Iterable[str], name: str) -> list[Event]:
    events: list[Event] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(EVENT_ADAPTER.validate_json(line))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            field = ".".join(str(p) for p in err["loc"]) or "(event)"
            if err["type"] == "json_invalid":
                problem = f"invalid JSON: {err['msg']}"
            else:
                problem = f"{field}: {err['msg']}"
            raise JsonlError(f"{name}: line {number}: {problem}", line=number) from None
    return events
