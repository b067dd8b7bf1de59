"""The PostgreSQL transcript store: the chats of many machines in one database.

The same store as :class:`~groupchat.transcripts.sqlite.SqliteStore`, behind the same
:class:`~groupchat.transcripts.protocols.TranscriptStore` protocol, in the schema a
``postgresql://`` URL names (:mod:`~groupchat.transcripts.pg_schema`): events buffered and
committed in batches (:mod:`~groupchat.transcripts.pg_writer`), the reads of
:mod:`~groupchat.transcripts.pg_queries`. Each store holds one connection (asyncpg, the
``postgres`` extra); the recorders of different chats on different machines write at once,
and a second recorder of one chat is refused.

Faults: a database that cannot be reached when the store opens is a :class:`StoreError`
(the command line exits with status 2). Lost mid-chat, the commit that fails ends the store's
writing, as a failed commit of SQLite does: the chat goes on (its recorder stops, saying why),
and what was committed before stays; nothing is buffered beyond the failure. A statement that
runs longer than ``statement_timeout`` fails the same way rather than holding the chat's
recording forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

import asyncpg

from groupchat.transcripts.pg_queries import PostgresQueries
from groupchat.transcripts.pg_schema import PgLocation, migrate
from groupchat.transcripts.pg_writer import PostgresWriter, describe
from groupchat.transcripts.schema import SchemaVersionError, StoreError

__all__ = ["CONNECT_TIMEOUT", "STATEMENT_TIMEOUT", "PostgresStore"]

CONNECT_TIMEOUT = 10.0
"""Seconds to reach the database on open before giving up with :class:`StoreError`."""
STATEMENT_TIMEOUT = 60.0
"""Seconds a statement may run before the server cancels it (``statement_timeout``)."""


class PostgresStore(PostgresQueries, PostgresWriter):
    """A :class:`~groupchat.transcripts.protocols.TranscriptStore` in a PostgreSQL schema; open
    it with :meth:`open`, close it with :meth:`close` (or ``async with``)."""

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        commit_interval: float = 0.05,
        connect_timeout: float = CONNECT_TIMEOUT,
        statement_timeout: float = STATEMENT_TIMEOUT,
    ) -> PostgresStore:
        """Connect to the database ``url`` names, create its schema (``?schema=``, default
        ``groupchat``) if missing and migrate it.

        Raises :class:`StoreError` for a database that cannot be reached or used (the message
        names it without its password), :class:`SchemaVersionError` for a store of a newer
        release, ``ValueError`` for a URL that is not a PostgreSQL one.
        """
        if commit_interval < 0:
            raise ValueError("commit_interval must not be negative")
        location = PgLocation.parse(url)
        settings = {
            "search_path": location.quoted_schema,
            "statement_timeout": str(round(statement_timeout * 1000)),
            "application_name": "groupchat",
        }
        try:
            conn = await asyncpg.connect(
                location.dsn, timeout=connect_timeout, server_settings=settings
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StoreError(
                f"cannot connect to the transcript database {location.shown}: {describe(exc)}"
            ) from None
        try:
            await migrate(conn, location)
        except SchemaVersionError:
            await conn.close()
            raise
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            await conn.close()
            raise StoreError(
                f"cannot open the transcript database {location.shown}: {describe(exc)}"
            ) from exc
        except BaseException:
            await conn.close()
            raise
        return cls(conn, location, commit_interval=commit_interval)

    async def __aenter__(self) -> PostgresStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Commit what is buffered and close the connection. Safe to call twice."""
        if self._closed:
            return
        try:
            await self._stop_writing()
        finally:
            try:
                await self._conn.close(timeout=CONNECT_TIMEOUT)
            except Exception:  # a connection already lost: nothing to say goodbye to
                self._conn.terminate()

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a query after committing what is buffered, so reads see every appended event."""
        if self._closed:
            raise StoreError(f"{self.path} is closed")
        if self._problem is None:
            await self.flush()
        with self._db_errors("read"):
            async with self._lock:
                return list(await self._conn.fetch(sql, *params))
