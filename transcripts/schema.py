"""The transcript database's schema and its migrations, applied in order on open.

The schema version lives in ``meta`` (key ``schema_version``). :data:`MIGRATIONS` lists every step
from an empty file to the current schema; opening a database applies the steps it lacks, each in
its own transaction together with the new version number, so a crash mid-migration leaves the
previous version intact. A database written by a newer release (a version this code does not
know) is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "SchemaVersionError",
    "StoreError",
    "migrate",
    "refuse_newer",
    "schema_version",
]


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: the SQL that takes version ``version - 1`` to ``version``."""

    version: int
    description: str
    sql: str


class StoreError(RuntimeError):
    """The transcript database cannot be opened or written (the message says which file and why)."""


class SchemaVersionError(StoreError):
    """The database's schema is newer than this release understands."""


_V1 = """
CREATE TABLE chats (
    id                TEXT PRIMARY KEY,
    title             TEXT NOT NULL DEFAULT '',
    team              TEXT,
    spec_json         TEXT,
    parent_id         TEXT,
    fork_seq          INTEGER,
    created           REAL NOT NULL,          -- unix seconds, when the row was made
    started           REAL,                   -- time of chat_started
    ended             REAL,                   -- time of the last chat_ended (NULL while open)
    status            TEXT,
    end_reason        TEXT,
    usage_json        TEXT,
    participants_json TEXT NOT NULL DEFAULT '[]',
    message_count     INTEGER NOT NULL DEFAULT 0,
    last_seq          INTEGER NOT NULL DEFAULT -1,
    updated           REAL,                   -- last write or heartbeat of a live writer
    writer            TEXT                    -- 'host:pid' of that writer
);
CREATE INDEX chats_by_created ON chats (created);
CREATE INDEX chats_by_parent ON chats (parent_id) WHERE parent_id IS NOT NULL;

-- One row per event: its key and its canonical JSON (dump_event).
CREATE TABLE event_log (
    chat_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    json    TEXT NOT NULL,
    PRIMARY KEY (chat_id, seq)
) WITHOUT ROWID;

-- The events with their type, sender and time (ISO 8601) read from the JSON when a query asks
-- for them. A view rather than generated columns: SQLite computes even VIRTUAL columns on
-- insert, which made appending a third slower.
CREATE VIEW events (chat_id, seq, type, sender, time, json) AS
SELECT chat_id, seq, json_extract(json, '$.type'), json_extract(json, '$.sender'),
       json_extract(json, '$.time'), json
FROM event_log;

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    content,
    chat_id UNINDEXED,
    seq UNINDEXED,
    sender UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- A batch of writes as ONE statement, so one transaction that SQLite runs without returning to
-- Python in between. Each row inserted into this view carries, for one chat:
--   events     a JSON array of canonical events with consecutive seqs from first_seq
--   messages   a JSON array of [seq, sender, text] of its message_posted events, to index
--   summary    NULL, or a JSON object with the chats columns below (keys as in the UPDATE)
CREATE VIEW ingest (chat_id, first_seq, events, messages, summary)
AS SELECT NULL, NULL, NULL, NULL, NULL;

CREATE TRIGGER ingest_batch INSTEAD OF INSERT ON ingest BEGIN
    INSERT INTO event_log (chat_id, seq, json)
    SELECT new.chat_id, new.first_seq + key, value FROM json_each(new.events);
    INSERT INTO messages_fts (content, chat_id, seq, sender)
    SELECT json_extract(value, '$[2]'), new.chat_id, json_extract(value, '$[0]'),
           json_extract(value, '$[1]')
    FROM json_each(new.messages);
    UPDATE chats SET
        title = CASE WHEN title = '' THEN json_extract(new.summary, '$.title') ELSE title END,
        team = json_extract(new.summary, '$.team'),
        started = json_extract(new.summary, '$.started'),
        ended = json_extract(new.summary, '$.ended'),
        status = json_extract(new.summary, '$.status'),
        end_reason = json_extract(new.summary, '$.end_reason'),
        usage_json = json_extract(new.summary, '$.usage'),
        participants_json = json_extract(new.summary, '$.participants'),
        message_count = json_extract(new.summary, '$.messages'),
        last_seq = json_extract(new.summary, '$.last_seq'),
        updated = json_extract(new.summary, '$.updated'),
        writer = json_extract(new.summary, '$.writer')
    WHERE id = new.chat_id AND new.summary IS NOT NULL;
END;
"""

MIGRATIONS: Sequence[Migration] = (
    Migration(1, "chats, events and full-text search over messages", _V1),
)
"""Every schema step in order; version ``n`` is ``MIGRATIONS[n - 1]``."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The version this release writes."""


async def schema_version(db: aiosqlite.Connection) -> int:
    """The version recorded in ``db`` (0 for a database without one, e.g. a new file)."""
    async with db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ) as cur:
        if await cur.fetchone() is None:
            return 0
    async with db.execute("SELECT value FROM meta WHERE key = 'schema_version'") as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def migrate(
    db: aiosqlite.Connection, *, migrations: Sequence[Migration] | None = None, name: str = ""
) -> int:
    """Bring ``db`` (in autocommit mode) up to the last of ``migrations``; return that version.

    Each missing step runs in a ``BEGIN IMMEDIATE`` transaction that re-reads the version first,
    so two processes opening the same new file do not both apply it.
    """
    steps = MIGRATIONS if migrations is None else migrations
    target = len(steps)
    for index, step in enumerate(steps, 1):
        if step.version != index:
            raise ValueError(f"migration {index} is numbered {step.version}")
    current = await schema_version(db)
    refuse_newer(current, target, name)
    while current < target:
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            current = await schema_version(db)
            refuse_newer(current, target, name)
            if current < target:
                step = steps[current]
                for statement in _statements(step.sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(step.version),),
                )
                current = step.version
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
    return current


def refuse_newer(found: int, known: int, name: str) -> None:
    """Raise :class:`SchemaVersionError` for a store at a version newer than ``known``."""
    if found > known:
        where = f"{name} " if name else "the database "
        raise SchemaVersionError(
            f"{where}has transcript schema version {found}, but this groupchat knows only up to "
            f"version {known}; open it with a newer groupchat (or use another --db)"
        )


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (``executescript`` would commit first)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        if not current and not line.strip():
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement in migration: {current.strip()[:60]!r}")
    return statements
