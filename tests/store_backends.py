"""The transcript store's backends for the tests that hold for both: where a store lives, how to
open another store on it, and how to look at what it holds directly (as another program would).

The ``backend`` fixture of ``tests/conftest.py`` gives one of these per test, for SQLite and for
PostgreSQL (the server the tests start, a schema of its own per test).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from groupchat.transcripts.factory import open_store
from groupchat.transcripts.pg_schema import PgLocation
from groupchat.transcripts.protocols import TranscriptStore

__all__ = ["Backend", "PostgresBackend", "SqliteBackend"]


class Backend:
    """One store's location, with what the tests do to it from outside."""

    name: str
    location: str
    driver_error: type[BaseException]
    """The error a failing statement of the driver raises."""

    async def open(self, **options: Any) -> TranscriptStore:
        """Another store on the same location (``commit_interval`` as :func:`open_store`)."""
        return await open_store(self.location, **options)

    @contextlib.asynccontextmanager
    async def opened(self, **options: Any) -> AsyncIterator[TranscriptStore]:
        """:meth:`open`, closed at the end of the block."""
        store = await self.open(**options)
        try:
            yield store
        finally:
            await store.close()

    async def raw(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` (``?`` placeholders) directly on the database; its rows as tuples."""
        raise NotImplementedError

    async def fail_inserts(self, chat_id: str, seq: int, message: str) -> None:
        """Make the insert of event ``seq`` of ``chat_id`` fail with ``message``."""
        raise NotImplementedError

    async def stored_bytes(self) -> bytes:
        """Everything the database holds, as bytes (to look for what must not be there)."""
        raise NotImplementedError


class SqliteBackend(Backend):
    name = "sqlite"
    driver_error = sqlite3.Error

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)

    async def raw(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path) as db:
            rows = db.execute(sql, params).fetchall()
        db.close()
        return rows

    async def fail_inserts(self, chat_id: str, seq: int, message: str) -> None:
        await self.raw(
            f"CREATE TRIGGER fail_row BEFORE INSERT ON event_log "
            f"WHEN new.chat_id = '{chat_id}' AND new.seq = {seq} "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )

    async def stored_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in sorted(self.path.parent.iterdir()) if p.is_file())


class PostgresBackend(Backend):
    name = "postgres"
    driver_error = asyncpg.PostgresError

    def __init__(self, url: str) -> None:
        self.location = url
        self.place = PgLocation.parse(url)

    async def raw(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        count = 0

        def number(_: re.Match[str]) -> str:
            nonlocal count
            count += 1
            return f"${count}"

        conn = await asyncpg.connect(
            self.place.dsn, server_settings={"search_path": self.place.quoted_schema}
        )
        try:
            return [tuple(row) for row in await conn.fetch(re.sub(r"\?", number, sql), *params)]
        finally:
            await conn.close()

    async def fail_inserts(self, chat_id: str, seq: int, message: str) -> None:
        await self.raw(
            "CREATE FUNCTION fail_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF new.chat_id = '{chat_id}' AND new.seq = {seq} THEN "
            f"RAISE EXCEPTION '{message}'; END IF; RETURN new; END $$"
        )
        await self.raw(
            "CREATE TRIGGER fail_row BEFORE INSERT ON event_log "
            "FOR EACH ROW EXECUTE FUNCTION fail_row()"
        )

    async def stored_bytes(self) -> bytes:
        rows = await self.raw(
            "SELECT string_agg(t::text, E'\\n') FROM (SELECT c::text AS t FROM chats c "
            "UNION ALL SELECT e::text FROM event_log e UNION ALL SELECT m::text FROM messages m) x"
        )
        return (rows[0][0] or "").encode()
