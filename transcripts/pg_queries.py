"""The read side of the PostgreSQL store: a chat's events, the list of chats, search, a spec.

The same answers as :class:`~groupchat.transcripts.queries.SqliteQueries` (the rows become the
same models, through :func:`~groupchat.transcripts.queries.summary_from_row`); every query runs
after what is buffered is committed (the store's ``_read``). Search uses the ``messages`` table's
words (:mod:`~groupchat.transcripts.pg_search`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from groupchat.events import Event
from groupchat.transcripts.pg_search import search_query, snippet
from groupchat.transcripts.queries import SUMMARY_COLUMNS, parse_event_rows, summary_from_row
from groupchat.transcripts.records import ChatLookupError, ChatSummary, SearchHit

__all__ = ["PostgresQueries"]


class PostgresQueries:
    """The reads of :class:`~groupchat.transcripts.postgres.PostgresStore`, over its ``_read``."""

    path: str

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of ``sql``, after committing what is buffered (the store defines it)."""
        raise NotImplementedError

    async def events(self, chat_id: str, start: int = 0, end: int | None = None) -> list[Event]:
        """The stored events of ``chat_id`` with ``start <= seq < end``, in order.

        Raises :class:`ChatLookupError` for a chat the store does not have.
        """
        rows = await self._read(
            "SELECT json FROM event_log WHERE chat_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq",
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
            terms = search_query(search)
            if terms is None:
                return []
            sql += " WHERE id IN (SELECT chat_id FROM messages WHERE words @@ $1::tsquery)"
            params.append(terms.query)
        sql += " ORDER BY created DESC, n DESC"
        if limit is not None:
            params.append(limit)
            sql += f" LIMIT ${len(params)}"
        now = time.time()
        return [summary_from_row(row, now) for row in await self._read(sql, params)]

    async def chat(self, chat_id: str) -> ChatSummary:
        """The summary of the chat with id ``chat_id``, or of the only one whose id starts with
        it. Raises :class:`ChatLookupError` (a ``KeyError``) if none or several match."""
        return summary_from_row(await self._summary_row(chat_id, prefix=True), time.time())

    async def search(self, text: str, *, limit: int = 50) -> list[SearchHit]:
        """Posted messages containing every word of ``text`` (``word*``: a prefix), best match
        first. Only message text is searched; snippets mark matches with ``SNIPPET_MARKS``."""
        terms = search_query(text)
        if terms is None:
            return []
        rows = await self._read(
            "SELECT chat_id, seq, sender, content FROM messages, CAST($1 AS tsquery) AS q "
            "WHERE words @@ q ORDER BY ts_rank(words, q) DESC, chat_id, seq LIMIT $2",
            (terms.query, limit),
        )
        return [
            SearchHit(chat_id=c, seq=s, sender=w, snippet=snippet(t, terms)) for c, s, w, t in rows
        ]

    async def spec(self, chat_id: str) -> dict[str, Any] | None:
        """The team spec stored with the chat (secrets removed), or ``None``."""
        rows = await self._read("SELECT spec_json FROM chats WHERE id = $1", (chat_id,))
        if not rows:
            raise ChatLookupError(f"no chat {chat_id!r} in {self.path}")
        return None if rows[0][0] is None else json.loads(rows[0][0])

    async def _summary_row(self, chat_id: str, *, prefix: bool = False) -> Any:
        rows = await self._read(f"SELECT {SUMMARY_COLUMNS} FROM chats WHERE id = $1", (chat_id,))
        if rows:
            return rows[0]
        if prefix and chat_id:
            rows = await self._read(
                f"SELECT {SUMMARY_COLUMNS} FROM chats WHERE left(id, length($1)) = $1 "
                'ORDER BY id COLLATE "C" LIMIT 6',
                (chat_id,),
            )
            if len(rows) == 1:
                return rows[0]
            if rows:
                names = ", ".join(row[0] for row in rows[:5]) + (", …" if len(rows) > 5 else "")
                raise ChatLookupError(
                    f"chat id prefix {chat_id!r} is ambiguous: it matches {names}"
                )
        raise ChatLookupError(f"no chat {chat_id!r} in {self.path}")
