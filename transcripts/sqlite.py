"""The SQLite transcript store: every event of every chat in one file (WAL mode).

One row per event holds its canonical JSON (:func:`~groupchat.events.dump_event`); a ``chats`` row
per chat keeps a summary (title, team, participants, message count, status, usage, lineage) up to
date as events arrive; an FTS5 index covers the text of posted messages. :class:`SqliteStore`
opens the connection (pragmas, migrations: :mod:`~groupchat.transcripts.schema`) and joins the
write path (:mod:`~groupchat.transcripts.writer`) and the reads
(:mod:`~groupchat.transcripts.queries`) on it; it is a
:class:`~groupchat.transcripts.protocols.TranscriptStore`.

Other processes may read the file while one writes (WAL and ``busy_timeout``). Each chat should
have one writer at a time: the store keeps the summary of the chats it writes in memory.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import aiosqlite

from groupchat.transcripts.queries import SqliteQueries
from groupchat.transcripts.schema import SchemaVersionError, StoreError, migrate
from groupchat.transcripts.writer import SqliteWriter

__all__ = ["BUSY_TIMEOUT_MS", "PAGE_SIZE", "SqliteStore"]

BUSY_TIMEOUT_MS = 10_000
"""How long a connection waits for another process's write lock before failing."""

PAGE_SIZE = 16_384
"""Bytes per page of a new database: appending costs about a tenth less than with 4 KiB."""


def _create_private(path: str | Path) -> str:
    """Make the database file (and its folder) if missing, readable by its owner only, before
    SQLite touches it; SQLite gives the -wal and -shm files the same mode."""
    file = Path(path).expanduser()
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(file, os.O_RDWR | os.O_CREAT, 0o600))
    return str(file)


class SqliteStore(SqliteQueries, SqliteWriter):
    """A :class:`~groupchat.transcripts.protocols.TranscriptStore` in one SQLite file; open it
    with :meth:`open`, close it with :meth:`close` (or
    ``async with await SqliteStore.open(path) as store``)."""

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        durability: Literal["normal", "full"] = "normal",
        commit_interval: float = 0.05,
        busy_timeout: float | None = None,
    ) -> SqliteStore:
        """Open (creating it, mode 0600, and its folder) and migrate the database at ``path``.

        ``durability="full"`` fsyncs every commit (``synchronous=FULL``); ``"normal"`` is safe
        against a crash of the process, and loses at most the last commits on a power cut.
        ``busy_timeout`` is how many seconds a write waits for another connection's lock
        (default :data:`BUSY_TIMEOUT_MS`) before it fails with :class:`StoreError`.

        Raises :class:`SchemaVersionError` for a database of a newer release and
        :class:`StoreError` for a file that is not a usable database.
        """
        if durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', not {durability!r}")
        if commit_interval < 0:
            raise ValueError("commit_interval must not be negative")
        if busy_timeout is not None and busy_timeout < 0:
            raise ValueError("busy_timeout must not be negative")
        busy_ms = BUSY_TIMEOUT_MS if busy_timeout is None else round(busy_timeout * 1000)
        memory = str(path) == ":memory:"
        name = ":memory:" if memory else _create_private(path)
        db = await aiosqlite.connect(name, isolation_level=None)
        try:
            await db.execute(f"PRAGMA busy_timeout = {busy_ms}")
            await db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new file only
            if not memory:
                async with db.execute("PRAGMA journal_mode = WAL") as cur:
                    row = await cur.fetchone()
                if row is None or str(row[0]).lower() != "wal":
                    raise StoreError(f"{name}: cannot switch the database to WAL mode")
            await db.execute(f"PRAGMA synchronous = {durability.upper()}")
            await migrate(db, name=name)
        except SchemaVersionError:
            await db.close()
            raise
        except sqlite3.DatabaseError as exc:
            await db.close()
            raise StoreError(f"cannot open transcript database {name}: {exc}") from exc
        except BaseException:
            await db.close()
            raise
        return cls(db, name, commit_interval=commit_interval)

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Commit what is buffered and close the database. Safe to call twice."""
        if self._closed:
            return
        try:
            await self._stop_writing()
        finally:
            await self._db.close()

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a query after committing what is buffered, so reads see every appended event."""
        if self._closed:
            raise StoreError(f"{self.path} is closed")
        if self._problem is None:
            await self.flush()
        with self._db_errors("read"):
            async with self._lock, self._db.execute(sql, params) as cur:
                return list(await cur.fetchall())
