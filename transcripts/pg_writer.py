"""The write path of the PostgreSQL store: the buffer of :class:`BufferedWriter`, a batch as
one transaction of a ``COPY`` of its events, its posted messages and the changed summaries.

Recorders of different chats write concurrently (each its own connection and transaction);
a second writer of one chat is refused by the key of ``event_log``: its commit fails with a
:class:`~groupchat.transcripts.schema.StoreError` naming the chat, and nothing of that batch is
stored, so no event is ever overwritten.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import asyncpg

from groupchat.transcripts.pg_schema import PgLocation
from groupchat.transcripts.pg_search import index_words
from groupchat.transcripts.summary import ChatRowFold
from groupchat.transcripts.writer import BufferedWriter, Runs

__all__ = ["PgBatch", "PostgresWriter", "clean_text"]

PgBatch = tuple[
    list[tuple[str, int, str]],
    list[tuple[str, int, str, str, str]],
    list[tuple[Any, ...]],
]
"""Events ``(chat_id, seq, json)``, messages ``(chat_id, seq, sender, text, words)`` and the
summaries of a batch, as :meth:`PostgresWriter._write` sends them."""

_UPDATE_SUMMARY = (
    "UPDATE chats SET title = CASE WHEN title = '' THEN $2 ELSE title END, team = $3, "
    "started = $4, ended = $5, status = $6, end_reason = $7, usage_json = $8, "
    "participants_json = $9, message_count = $10, last_seq = $11, updated = $12, writer = $13 "
    "WHERE id = $1"
)
_ONE_STATEMENT = (
    "WITH events AS (INSERT INTO event_log (chat_id, seq, json) "
    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])), "
    "posted AS (INSERT INTO messages (chat_id, seq, sender, content, words) "
    "SELECT c, s, w, t, v::tsvector FROM unnest($4::text[], $5::bigint[], $6::text[], "
    "$7::text[], $8::text[]) AS x(c, s, w, t, v)) "
    "UPDATE chats SET title = CASE WHEN chats.title = '' THEN u.title ELSE chats.title END, "
    "team = u.team, started = u.started, ended = u.ended, status = u.status, "
    "end_reason = u.end_reason, usage_json = u.usage_json, "
    "participants_json = u.participants_json, message_count = u.message_count, "
    "last_seq = u.last_seq, updated = u.updated, writer = u.writer "
    "FROM unnest($9::text[], $10::text[], $11::text[], $12::float8[], $13::float8[], "
    "$14::text[], $15::text[], $16::text[], $17::text[], $18::bigint[], $19::bigint[], "
    "$20::float8[], $21::text[]) AS u(id, title, team, started, ended, status, end_reason, "
    "usage_json, participants_json, message_count, last_seq, updated, writer) "
    "WHERE chats.id = u.id"
)
"""A batch as one statement (one round trip, its own transaction): what a commit at every
posted message needs to be cheap."""
_COPY_FROM = 2_000
"""Events in a batch from which they go by ``COPY`` (in a transaction with the rest) instead."""
_KEY = re.compile(r"\(chat_id, seq\)=\((?P<chat>.*), (?P<seq>-?\d+)\)")


def clean_text(text: str) -> str:
    """``text`` as PostgreSQL stores it: a NUL character (which ``text`` cannot hold) as U+FFFD."""
    return text.replace("\x00", "\ufffd")


def describe(exc: BaseException) -> str:
    """A database error in words; a second writer of a chat says which chat it is."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        found = _KEY.search(exc.detail or "")
        if found and exc.table_name in ("event_log", "messages"):
            return (
                f"chat {found['chat']} already has event {found['seq']} in the database: "
                "another writer is recording this chat (a chat has one writer at a time)"
            )
    return f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)


class PostgresWriter(BufferedWriter):
    """The writes of a PostgreSQL store, on the connection
    :class:`~groupchat.transcripts.postgres.PostgresStore` opened (its ``search_path`` is the
    store's schema)."""

    _backend_errors = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)

    def __init__(
        self, conn: asyncpg.Connection, location: PgLocation, *, commit_interval: float
    ) -> None:
        self._conn = conn
        self.location = location
        super().__init__(location.shown, commit_interval=commit_interval)

    def _describe(self, exc: BaseException, chats: list[str]) -> str:
        return describe(exc)

    async def _store_chat(
        self,
        chat_id: str,
        title: str,
        spec_json: str | None,
        parent_id: str | None,
        fork_seq: int | None,
    ) -> None:
        await self._conn.execute(
            "INSERT INTO chats (id, title, spec_json, parent_id, fork_seq, created) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET "
            "title = CASE WHEN excluded.title <> '' THEN excluded.title ELSE chats.title END, "
            "spec_json = COALESCE(excluded.spec_json, chats.spec_json), "
            "parent_id = COALESCE(excluded.parent_id, chats.parent_id), "
            "fork_seq = COALESCE(excluded.fork_seq, chats.fork_seq)",
            chat_id,
            clean_text(title),
            spec_json,
            parent_id,
            fork_seq,
            time.time(),
        )

    def _prepare(
        self, rows: list[bytes], runs: Runs, dirty: list[ChatRowFold], now: float
    ) -> PgBatch:
        events: list[tuple[str, int, str]] = []
        for i, (chat, first_seq, start) in enumerate(runs):
            end = runs[i + 1][2] if i + 1 < len(runs) else len(rows)
            chat_id = chat.chat_id
            events += [
                (chat_id, first_seq + k, rows[start + k].decode()) for k in range(end - start)
            ]
        messages = [
            (chat.chat_id, seq, clean_text(sender), clean_text(text), index_words(text))
            for chat in dirty
            for seq, sender, text in chat.new_messages
        ]
        summaries = []
        for chat in dirty:
            s = chat.summary(now)
            summaries.append(
                (
                    chat.chat_id,
                    clean_text(s["title"]),
                    s["team"],
                    s["started"],
                    s["ended"],
                    s["status"],
                    s["end_reason"],
                    json.dumps(s["usage"]),
                    json.dumps(s["participants"]),
                    s["messages"],
                    s["last_seq"],
                    s["updated"],
                    s["writer"],
                )
            )
        return events, messages, summaries

    async def _write(self, batch: PgBatch) -> None:
        if len(batch[0]) < _COPY_FROM:
            await self._write_rows(batch)
            return
        async with self._conn.transaction():
            await self._write_rows(batch)

    async def _write_rows(self, batch: PgBatch) -> None:
        events, messages, summaries = batch
        conn = self._conn
        if len(events) < _COPY_FROM:
            columns: list[list[Any]] = [
                *_columns(events, 3),
                *_columns(messages, 5),
                *_columns(summaries, 13),
            ]
            await conn.execute(_ONE_STATEMENT, *columns)
            return
        if events:
            await conn.copy_records_to_table(
                "event_log",
                records=events,
                columns=("chat_id", "seq", "json"),
                schema_name=self.location.schema,
            )
        if messages:
            await conn.executemany(
                "INSERT INTO messages (chat_id, seq, sender, content, words) "
                "VALUES ($1, $2, $3, $4, $5::tsvector)",
                messages,
            )
        if summaries:
            await conn.executemany(_UPDATE_SUMMARY, summaries)

    async def _import(self, chat_id: str, title: str, spec_json: str | None, batch: Any) -> None:
        async with self._conn.transaction():
            made = await self._conn.fetchval(
                "INSERT INTO chats (id, title, spec_json, created) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (id) DO NOTHING RETURNING id",
                chat_id,
                clean_text(title),
                spec_json,
                time.time(),
            )
            if made is None:
                raise ValueError(f"chat {chat_id} is already in {self.path}")
            await self._write_rows(batch)

    async def _fetch_chat(self, chat_id: str) -> ChatRowFold:
        row = await self._conn.fetchrow(
            "SELECT id, team, started, ended, status, end_reason, usage_json, "
            "participants_json, message_count, "
            # The events are the record: a writer goes on from the last one stored.
            "coalesce((SELECT max(seq) FROM event_log WHERE chat_id = chats.id), -1) "
            "FROM chats WHERE id = $1",
            chat_id,
        )
        if row is None:
            await self._conn.execute(
                "INSERT INTO chats (id, created) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                chat_id,
                time.time(),
            )
            return ChatRowFold(chat_id)
        return ChatRowFold.from_row(tuple(row))


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """``rows`` as ``width`` column lists (for ``unnest``)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width
