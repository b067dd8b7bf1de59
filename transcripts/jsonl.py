"""JSONL: one canonical event per line, the lossless format of a chat, and the checks on reading it.

``read_jsonl`` parses; ``read_transcript`` parses *and* checks that the events form one chat's
ordered log, reading every line before it returns, so an importer gets all the events or an
error and never a partial list. Every error names the source, the line and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from groupchat.events import EVENT_ADAPTER, Event, dump_event

__all__ = [
    "JsonlError",
    "TranscriptError",
    "read_jsonl",
    "read_transcript",
    "to_jsonl",
    "validate_transcript",
    "write_jsonl",
]

_JSON_LINE = re.compile(r"at line 1 column")  # one JSONL line is one line: the column is enough

Source = str | Path | Iterable[str] | Iterable[bytes]
"""A path, or the lines themselves (text or UTF-8 bytes)."""


class JsonlError(ValueError):
    """A line that is not a valid event; the message names the source, line and field.

    ``line`` is the 1-based line (0 when the problem is the whole input, e.g. no events);
    ``field`` the dotted field path when one field is to blame.
    """

    def __init__(
        self, message: str, *, line: int, field: str | None = None, source: str | None = None
    ) -> None:
        super().__init__(message)
        self.line = line
        self.field = field
        self.source = source


class TranscriptError(JsonlError):
    """Events that parse one by one but do not form one chat's log (chat id, order, start)."""


# ---------------------------------------------------------------- writing


async def write_jsonl(
    events: AsyncIterable[Event] | Iterable[Event], out: IO[str], *, flush: bool = True
) -> int:
    """Write events as they arrive (or from a list), one JSON line each; returns the count."""
    count = 0
    if isinstance(events, AsyncIterable):
        async for event in events:
            _write_line(out, event, flush)
            count += 1
    else:
        for event in events:
            _write_line(out, event, flush)
            count += 1
    return count


def _write_line(out: IO[str], event: Event, flush: bool) -> None:
    out.write(dump_event(event))
    out.write("\n")
    if flush:
        out.flush()


def to_jsonl(events: Iterable[Event]) -> str:
    """The events as one JSONL document: the lossless export that ``read_transcript`` reads."""
    return "".join(dump_event(event) + "\n" for event in events)


# ---------------------------------------------------------------- reading


def read_jsonl(source: Source, *, name: str | None = None) -> list[Event]:
    """Parse JSONL events (a path or lines); blank lines are skipped.

    Raises :class:`JsonlError` at the first bad line, naming it and the offending field. It does
    not check how the events fit together; :func:`read_transcript` does.
    """
    return [event for _, event in _numbered(source, name)]


def read_transcript(
    source: Source, *, name: str | None = None, partial: bool = False
) -> list[Event]:
    """Parse and check a whole transcript (a path or lines); blank lines are skipped.

    The rules are those of :func:`validate_transcript`; errors name the line of the file. Every
    line is read and checked before the events are returned.
    """
    label = _label(source, name)
    check = _Checker(label, partial=partial, unit="line")
    events: list[Event] = []
    for number, event in _numbered(source, name):
        check(number, event)
        events.append(event)
    check.finish()
    return events


def validate_transcript(
    events: Sequence[Event],
    *,
    source: str = "<events>",
    partial: bool = False,
    lines: Sequence[int] | None = None,
) -> None:
    """Check that ``events`` are one chat's complete, ordered log; raise :class:`TranscriptError`.

    Rules (all true of every chat the manager records):

    * every event has the chat id of the first;
    * sequence numbers go up by one: no gap, no duplicate, nothing out of order;
    * the first event is ``chat_started`` with seq 0, and there is no other ``chat_started``.
      A continued chat (``GroupChat.run`` again) adds a task message and later another
      ``chat_ended`` without a new start, so several ``chat_ended`` are allowed; the log does not
      mark where a run begins, so "one per run" is not a checkable rule (a run stopped before its
      first turn even puts two ``chat_ended`` next to each other);
    * a posted message's sender is the event's sender (the bus stamps it; nobody posts as
      someone else).

    ``partial=True`` accepts a slice of a log, as a non-durable subscriber or a bounded bus sees
    it: it may start at any seq (then without ``chat_started``), the other rules still hold.
    Errors say "event N" (1-based position), or "line N" with ``lines`` giving each event's line.
    """
    if lines is not None and len(lines) != len(events):
        raise ValueError("lines must give one line number per event")
    check = _Checker(source, partial=partial, unit="line" if lines is not None else "event")
    for index, event in enumerate(events):
        check(lines[index] if lines is not None else index + 1, event)
    check.finish()


def _label(source: Source, name: str | None) -> str:
    if name is not None:
        return name
    return str(source) if isinstance(source, (str, Path)) else "<jsonl>"


def _numbered(source: Source, name: str | None) -> Iterable[tuple[int, Event]]:
    """Yield ``(line number, event)`` for each non-blank line; raise on the first bad one."""
    label = _label(source, name)
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            yield from _parse(fh, label)
    else:
        yield from _parse(source, label)


def _parse(lines: Iterable[str | bytes], name: str) -> Iterable[tuple[int, Event]]:
    for number, raw in enumerate(lines, 1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise JsonlError(
                    f"{name}: line {number}: not UTF-8 text (byte {exc.start})",
                    line=number,
                    source=name,
                ) from None
        else:
            line = raw
        if not line.strip():
            continue
        try:
            event = EVENT_ADAPTER.validate_json(line)
        except ValidationError as exc:
            field, problem = _describe(exc, line)
            raise JsonlError(
                f"{name}: line {number}: {problem}", line=number, field=field, source=name
            ) from None
        yield number, event


def _describe(exc: ValidationError, line: str) -> tuple[str | None, str]:
    """The field path and a one-line problem for the first error of a line."""
    errors = exc.errors(include_url=False)
    err = errors[0]
    kind = err["type"]
    if kind == "json_invalid":
        detail = _JSON_LINE.sub("at column", err["msg"].removeprefix("Invalid JSON: "))
        return None, f"invalid JSON: {detail}"
    try:
        data: Any = json.loads(line)
    except ValueError:  # valid for pydantic's parser but not the stdlib's: keep pydantic's path
        data = None
    path = _field_path(err["loc"], data)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if not path and kind in ("dict_type", "model_type", "model_attributes_type"):
        return None, "not a JSON object"
    if not path and kind == "union_tag_not_found":
        return "type", "type: missing event type"
    if not path and kind == "union_tag_invalid":
        tag = (err.get("ctx") or {}).get("tag", "")
        return "type", f"type: unknown event type {tag!r}"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx") or {}
        key = str(ctx.get("discriminator", "")).strip("'")
        field = f"{path}.{key}" if key else path
        return field, f"{field}: unknown value {ctx.get('tag', '')!r}{more}"
    return path or None, f"{path or '(event)'}: {err['msg']}{more}"


def _field_path(loc: tuple[int | str, ...], data: Any) -> str:
    """The dotted path of ``loc`` in the input, without the union tags pydantic inserts.

    A discriminated union adds the chosen tag (``message_posted``, ``tool_call``) to the path;
    such a step is no key of the input but the value of its ``type`` or ``kind`` key.
    """
    steps: list[str] = []
    node = data
    for step in loc:
        if isinstance(node, dict) and isinstance(step, str) and step not in node:
            if step in (node.get("type"), node.get("kind")):
                continue
            node = None
        elif isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            node = None
        steps.append(str(step))
    return ".".join(steps)


# ---------------------------------------------------------------- rules


class _Checker:
    """Checks events one at a time against the rules of :func:`validate_transcript`."""

    def __init__(self, source: str, *, partial: bool, unit: str) -> None:
        self.source = source
        self.partial = partial
        self.unit = unit
        self.chat_id: str | None = None
        self.first_seq = 0
        self.last_seq = -1
        self.first_line = 0
        self.lines: list[int] = []  # the line of each seq from first_seq on

    def fail(self, line: int, field: str | None, problem: str) -> TranscriptError:
        return TranscriptError(
            f"{self.source}: {self.unit} {line}: {problem}",
            line=line,
            field=field,
            source=self.source,
        )

    def __call__(self, line: int, event: Event) -> None:
        if self.chat_id is None:
            self._first(line, event)
        else:
            self._next(line, event)
        if event.type == "message_posted" and event.message.sender != event.sender:
            raise self.fail(
                line,
                "message.sender",
                f"message.sender: {event.message.sender!r} is not the event's sender "
                f"{event.sender!r}",
            )
        self.lines.append(line)
        self.last_seq = event.seq

    def _first(self, line: int, event: Event) -> None:
        if not self.partial and event.type != "chat_started":
            raise self.fail(
                line, "type", f"type: the first event must be chat_started, not {event.type!r}"
            )
        if not self.partial and event.seq != 0:
            raise self.fail(line, "seq", f"seq: a transcript starts at seq 0, not {event.seq}")
        if event.type == "chat_started" and event.seq != 0:
            raise self.fail(line, "seq", f"seq: chat_started has seq {event.seq}, not 0")
        self.chat_id = event.chat_id
        self.first_seq = event.seq
        self.first_line = line

    def _next(self, line: int, event: Event) -> None:
        if event.chat_id != self.chat_id:
            raise self.fail(
                line,
                "chat_id",
                f"chat_id: {event.chat_id!r} is not this transcript's chat {self.chat_id!r} "
                f"({self.unit} {self.first_line})",
            )
        seq, last = event.seq, self.last_seq
        if seq > last + 1:
            raise self.fail(line, "seq", f"seq {seq} follows seq {last} (gap)")
        if seq <= last:
            if seq >= self.first_seq:
                where = f"{self.unit} {self.lines[seq - self.first_seq]}"
                raise self.fail(line, "seq", f"seq {seq} follows seq {last} (duplicate of {where})")
            raise self.fail(line, "seq", f"seq {seq} follows seq {last} (out of order)")
        if event.type == "chat_started":
            raise self.fail(line, "type", f"type: chat_started at seq {seq} (a chat starts once)")

    def finish(self) -> None:
        if self.chat_id is None:
            raise TranscriptError(
                f"{self.source}: no events", line=0, field=None, source=self.source
            )
