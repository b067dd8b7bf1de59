"""Buffered events as the statements the schema's ``ingest`` view takes.

A batch goes to SQLite as one JSON array per run of consecutive events of one chat (at most
:data:`_ROWS_PER_STATEMENT` rows each), with that chat's new messages and summary on its last
run: one ``INSERT`` per run, unpacked inside SQLite, so the worker thread takes the GIL back once
per batch instead of once per row.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic_core import PydanticSerializationError

from groupchat.events import without_surrogates
from groupchat.transcripts.summary import ChatRowFold

__all__ = ["INGEST", "Statement", "ingest_statements", "stored_row", "unicode_text"]

_ROWS_PER_STATEMENT = 10_000
"""Rows of one run in one statement at most: a longer run is split into several."""

INGEST = "INSERT INTO ingest (chat_id, first_seq, events, messages, summary) VALUES (?, ?, ?, ?, ?)"
"""One run of events of one chat in one statement: see the ``ingest`` view in the schema."""

Statement = tuple[str, int, str, str, str | None]
"""The parameters of :data:`INGEST`."""


def _json_array(rows: list[bytes]) -> str:
    return (b"[" + b",".join(rows) + b"]").decode()


def unicode_text(text: str) -> str:
    """``text`` with each lone surrogate (not text: SQLite cannot store it) as U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def stored_row(chat: ChatRowFold, event: Any, apply: bool) -> bytes:
    """The bytes of :func:`~groupchat.events.dump_event` for ``event`` (the same serializer,
    without decoding to ``str``: a batch is joined as bytes and decoded once). With ``apply``
    the event also updates ``chat``'s summary, which may remove secrets from it.

    Text that is not valid Unicode is stored with U+FFFD in its place, as
    :func:`~groupchat.events.dump_event` writes it: the summary and the search index see the
    same text.
    """
    try:
        row: bytes = event.__pydantic_serializer__.to_json(event)
    except PydanticSerializationError:
        event = without_surrogates(event)
        row = event.__pydantic_serializer__.to_json(event)
    if apply:
        applied = chat.apply(event)
        if applied is not event:
            row = applied.__pydantic_serializer__.to_json(applied)
    return row


def ingest_statements(
    rows: list[bytes],
    runs: list[tuple[ChatRowFold, int, int]],
    dirty: list[ChatRowFold],
    now: float,
) -> list[Statement]:
    """What to insert into ``ingest`` for buffered ``rows``.

    ``runs`` holds ``(chat, first seq, index of its first row)`` for each run of consecutive
    events of one chat, in order. A chat's messages and summary go with its last run; a chat in
    ``dirty`` with no events (a heartbeat) gets a statement of its own.
    """
    last_run = {chat.chat_id: i for i, (chat, _, _) in enumerate(runs)}
    out: list[Statement] = []
    for i, (chat, first_seq, start) in enumerate(runs):
        end = runs[i + 1][2] if i + 1 < len(runs) else len(rows)
        final = last_run[chat.chat_id] == i
        for piece in range(start, end, _ROWS_PER_STATEMENT):
            stop = min(piece + _ROWS_PER_STATEMENT, end)
            whole = final and stop == end
            out.append(
                (
                    chat.chat_id,
                    first_seq + piece - start,
                    _json_array(rows[piece:stop]),
                    json.dumps(chat.new_messages) if whole else "[]",
                    json.dumps(chat.summary(now)) if whole else None,
                )
            )
    for chat in dirty:
        if chat.chat_id not in last_run:
            out.append((chat.chat_id, 0, "[]", "[]", json.dumps(chat.summary(now))))
    return out
