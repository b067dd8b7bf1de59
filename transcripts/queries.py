"""The read side of the SQLite store: a chat's events, the list of chats, search, a chat's spec.

Every query runs after what is buffered is committed (the store's ``_read``), so a read sees
every event appended before it. Rows become the models of :mod:`~groupchat.transcripts.records`
here; the events' canonical JSON is parsed in runs (:func:`parse_event_rows`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from groupchat._bulk import bulk_allocation
from groupchat.events import EVENT_ADAPTER, Event, event_list_adapter
from groupchat.messages import Usage
from groupchat.transcripts.records import (
    HOST,
    LIVE_WINDOW,
    SNIPPET_MARKS,
    ChatLookupError,
    ChatState,
    ChatSummary,
    SearchHit,
)

__all__ = ["SUMMARY_COLUMNS", "SqliteQueries", "parse_event_rows", "summary_from_row"]

_ROWS_AT_ONCE = 512
"""Rows parsed as one JSON array by :func:`parse_event_rows`."""

SUMMARY_COLUMNS = (  # what summary_from_row reads, in order
    # A fork started when it was made: its first events (the parent's) tell of the parent.
    "id, title, team, parent_id, fork_seq, "
    "CASE WHEN parent_id IS NULL THEN started ELSE created END, "
    "ended, status, end_reason, usage_json, "
    "participants_json, message_count, last_seq, updated, writer"
)


def parse_event_rows(rows: Sequence[str | bytes]) -> list[Event]:
    """Parse canonical JSON events, out of the garbage collector's way (see
    :func:`~groupchat._bulk.bulk_allocation`: for 400,000 events its walks otherwise cost
    more than the parsing itself).

    Rows are validated :data:`_ROWS_AT_ONCE` at a time as one JSON array, about a fifth faster
    than row by row (a whole chat as one array is slower again: its parse tree no longer fits
    the processor's caches). A run that fails is validated row by row, so an error is the bad
    row's own.
    """
    validate = EVENT_ADAPTER.validate_json
    validate_many = event_list_adapter().validate_json
    events: list[Event] = []
    with bulk_allocation():
        for start in range(0, len(rows), _ROWS_AT_ONCE):
            run = rows[start : start + _ROWS_AT_ONCE]
            try:
                if isinstance(run[0], bytes):
                    parsed = validate_many(b"[%b]" % b",".join(run))  # type: ignore[arg-type]
                else:
                    parsed = validate_many("[" + ",".join(run) + "]")  # type: ignore[arg-type]
            except ValidationError:
                parsed = []
            if len(parsed) != len(run):  # a bad row, or one holding more than one event
                parsed = [validate(row) for row in run]
            events += parsed
    return events


def _fts_query(text: str) -> str | None:
    """Words as FTS5 phrases (all must match; a trailing ``*`` matches a prefix), so quotes,
    dashes or ``AND`` in what a person types are searched for, not interpreted."""
    terms = []
    for word in text.split():
        prefix = word.endswith("*") and len(word) > 1
        core = word[:-1] if prefix else word
        terms.append('"' + core.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms) or None


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _writer_alive(writer: str | None) -> bool:
    """Whether the process ``host:pid`` still runs; ``True`` when that cannot be told here."""
    if not writer or os.name != "posix":
        return True
    host, _, pid_text = writer.rpartition(":")
    if host != HOST or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class SqliteQueries:
    """The reads of :class:`~groupchat.transcripts.sqlite.SqliteStore`, over its ``_read``."""

    path: str

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of ``sql``, after committing what is buffered (the store defines it)."""
        raise NotImplementedError

    async def events(self, chat_id: str, start: int = 0, end: int | None = None) -> list[Event]:
        """The stored events of ``chat_id`` with ``start <= seq < end``, in order.

        Raises :class:`ChatLookupError` for a chat the store does not have.
        """
        rows = await self._read(
            "SELECT json FROM event_log WHERE chat_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
            (chat_id, start, (1 << 63) - 1 if end is None else end),
        )
        if not rows:
            await self._summary_row(chat_id)  # raises if there is no such chat
            return []
        return parse_event_rows([row[0] for row in rows])

    async def chats(
        self, *, search: str | None = None, limit: int | None = None
    ) -> list[ChatSummary]:
        """Summaries of the stored chats, newest first; ``search`` keeps the chats with a
        message matching it (every word, see :meth:`search`)."""
        sql = f"SELECT {SUMMARY_COLUMNS} FROM chats"
        params: list[Any] = []
        if search is not None:
            query = _fts_query(search)
            if query is None:
                return []
            sql += " WHERE id IN (SELECT chat_id FROM messages_fts WHERE messages_fts MATCH ?)"
            params.append(query)
        sql += " ORDER BY created DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        now = time.time()
        return [summary_from_row(row, now) for row in await self._read(sql, params)]

    async def chat(self, chat_id: str) -> ChatSummary:
        """The summary of the chat with id ``chat_id``, or of the only one whose id starts with
        it. Raises :class:`ChatLookupError` (a ``KeyError``) if none or several match."""
        return summary_from_row(await self._summary_row(chat_id, prefix=True), time.time())

    async def search(self, text: str, *, limit: int = 50) -> list[SearchHit]:
        """Posted messages containing every word of ``text`` (``word*``: a prefix), best match
        first. Only message text is searched; snippets mark matches with :data:`SNIPPET_MARKS`."""
        query = _fts_query(text)
        if query is None:
            return []
        start, end = SNIPPET_MARKS
        rows = await self._read(
            "SELECT chat_id, seq, sender, snippet(messages_fts, 0, ?, ?, '…', 12) "
            "FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rank, chat_id, seq LIMIT ?",
            (start, end, query, limit),
        )
        return [SearchHit(chat_id=c, seq=s, sender=w, snippet=t) for c, s, w, t in rows]

    async def spec(self, chat_id: str) -> dict[str, Any] | None:
        """The team spec stored with the chat (secrets removed), or ``None``."""
        rows = await self._read("SELECT spec_json FROM chats WHERE id = ?", (chat_id,))
        if not rows:
            raise ChatLookupError(f"no chat {chat_id!r} in {self.path}")
        return None if rows[0][0] is None else json.loads(rows[0][0])

    async def _summary_row(self, chat_id: str, *, prefix: bool = False) -> Any:
        sql = f"SELECT {SUMMARY_COLUMNS} FROM chats WHERE id = ?"
        rows = await self._read(sql, (chat_id,))
        if rows:
            return rows[0]
        if prefix and chat_id:
            rows = await self._read(
                f"SELECT {SUMMARY_COLUMNS} FROM chats WHERE id > ? AND id < ? ORDER BY id LIMIT 6",
                (chat_id, chat_id + "\U0010ffff"),
            )
            rows = [row for row in rows if row[0].startswith(chat_id)]
            if len(rows) == 1:
                return rows[0]
            if rows:
                names = ", ".join(row[0] for row in rows[:5]) + (", …" if len(rows) > 5 else "")
                raise ChatLookupError(
                    f"chat id prefix {chat_id!r} is ambiguous: it matches {names}"
                )
        raise ChatLookupError(f"no chat {chat_id!r} in {self.path}")


def summary_from_row(row: Any, now: float) -> ChatSummary:
    """The :class:`ChatSummary` of a row of :data:`SUMMARY_COLUMNS` read at time ``now``."""
    (
        chat_id,
        title,
        team,
        parent_id,
        fork_seq,
        started,
        ended,
        status,
        reason,
        usage,
        names,
        count,
        last_seq,
        updated,
        writer,
    ) = row
    state: ChatState
    if ended is not None:
        state = "ended"
    elif updated is None or now - updated > LIVE_WINDOW or not _writer_alive(writer):
        state = "interrupted"
    else:
        state = "running"
    return ChatSummary(
        id=chat_id,
        title=title,
        team=team,
        participants=tuple(json.loads(names or "[]")),
        messages=count,
        started=_time(started),
        ended=_time(ended),
        state=state,
        status=status,
        end_reason=reason,
        usage=Usage.model_validate_json(usage) if usage else Usage(),
        parent_id=parent_id,
        fork_seq=fork_seq,
        last_seq=last_seq,
        writer=writer,
    )
