"""The PostgreSQL store's location (a URL), its schema and its migrations.

A store is one PostgreSQL schema (``?schema=NAME`` in the URL, :data:`DEFAULT_SCHEMA` without
it) in the database the URL names; the tables live there, so several stores (or other
applications) share a database without meeting. The schema version lives in its ``meta``
table, as in SQLite; :data:`MIGRATIONS` lists every step, each applied in its own transaction
under an advisory lock, so two processes opening a new store do not both apply it, and a crash
mid-migration leaves the previous version. A store of a newer release is refused.

The password in the URL is for connecting only: the store is named everywhere by
:attr:`PgLocation.shown` (the URL without it, :func:`~groupchat.redact.shown_url`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from groupchat.redact import shown_url
from groupchat.transcripts.factory import is_postgres_url
from groupchat.transcripts.schema import Migration, refuse_newer

__all__ = [
    "DEFAULT_SCHEMA",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "PgLocation",
    "migrate",
    "schema_version",
]

DEFAULT_SCHEMA = "groupchat"
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


@dataclass(frozen=True)
class PgLocation:
    """A store's URL taken apart: what to connect to, which schema, how to name it."""

    dsn: str
    """The URL without ``schema=``, for the driver (the password stays in it)."""
    schema: str
    shown: str
    """The URL as it may be shown: no password."""

    @classmethod
    def parse(cls, url: str) -> PgLocation:
        """``ValueError`` for a URL that is not PostgreSQL's or a schema name that is not a
        plain identifier (letters, digits, ``_``)."""
        if not is_postgres_url(url):
            raise ValueError(f"not a PostgreSQL URL: {shown_url(url)}")
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schemas = [value for key, value in query if key == "schema"]
        schema = schemas[-1] if schemas else DEFAULT_SCHEMA
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(
                f"schema={schema!r}: a schema name is letters, digits and _ (at most 63)"
            )
        rest = urlencode([(key, value) for key, value in query if key != "schema"])
        return cls(urlunsplit(parts._replace(query=rest)), schema, shown_url(url))

    @property
    def quoted_schema(self) -> str:
        return f'"{self.schema}"'


_V1 = """
CREATE TABLE chats (
    n                 bigint GENERATED ALWAYS AS IDENTITY,  -- creation order among equal times
    id                text PRIMARY KEY,
    title             text NOT NULL DEFAULT '',
    team              text,
    spec_json         text,
    parent_id         text,
    fork_seq          bigint,
    created           double precision NOT NULL,   -- unix seconds, when the row was made
    started           double precision,            -- time of chat_started
    ended             double precision,            -- time of the last chat_ended (NULL: open)
    status            text,
    end_reason        text,
    usage_json        text,
    participants_json text NOT NULL DEFAULT '[]',
    message_count     bigint NOT NULL DEFAULT 0,
    last_seq          bigint NOT NULL DEFAULT -1,
    updated           double precision,            -- last write or heartbeat of a live writer
    writer            text                         -- 'host:pid' of that writer
);
CREATE INDEX chats_by_created ON chats (created DESC, n DESC);
CREATE INDEX chats_by_parent ON chats (parent_id) WHERE parent_id IS NOT NULL;

-- One row per event: its key and its canonical JSON (dump_event), as text: byte for byte.
-- The key refuses a second writer of a chat: its events collide with the first one's.
CREATE TABLE event_log (
    chat_id text NOT NULL,
    seq     bigint NOT NULL,
    json    text NOT NULL,
    PRIMARY KEY (chat_id, seq)
);

-- The posted messages with their words (see pg_search: folded in Python, not by the parser).
CREATE TABLE messages (
    chat_id text NOT NULL,
    seq     bigint NOT NULL,
    sender  text NOT NULL,
    content text NOT NULL,
    words   tsvector NOT NULL,
    PRIMARY KEY (chat_id, seq)
);
CREATE INDEX messages_by_words ON messages USING gin (words);
"""

MIGRATIONS: Sequence[Migration] = (
    Migration(1, "chats, events and full-text search over messages", _V1),
)
"""Every schema step in order; version ``n`` is ``MIGRATIONS[n - 1]``."""

SCHEMA_VERSION = len(MIGRATIONS)


async def schema_version(conn: asyncpg.Connection, schema: str) -> int:
    """The version recorded in ``schema`` (0 for none, e.g. a new schema)."""
    table = await conn.fetchval("SELECT to_regclass($1)", f'"{schema}".meta')
    if table is None:
        return 0
    value = await conn.fetchval(f"SELECT value FROM \"{schema}\".meta WHERE key = 'schema_version'")
    return 0 if value is None else int(value)


async def migrate(
    conn: asyncpg.Connection,
    location: PgLocation,
    *,
    migrations: Sequence[Migration] | None = None,
) -> int:
    """Create the schema if missing and bring it up to the last of ``migrations``.

    Needs the right to create a schema (or tables in it) only when there is something to
    create: a user with ``USAGE`` on a current schema and rights on its tables opens it.
    """
    steps = MIGRATIONS if migrations is None else migrations
    target = len(steps)
    schema, name = location.schema, location.quoted_schema
    current = await schema_version(conn, schema)
    refuse_newer(current, target, location.shown)
    while current < target:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"groupchat {schema}")
            if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
                await conn.execute(f"CREATE SCHEMA {name}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {name}.meta (key text PRIMARY KEY, value text)"
            )
            current = await schema_version(conn, schema)
            refuse_newer(current, target, location.shown)
            if current < target:
                step = steps[current]
                await conn.execute(f"SET LOCAL search_path TO {name}")
                await conn.execute(step.sql)
                await conn.execute(
                    f"INSERT INTO {name}.meta (key, value) VALUES ('schema_version', $1) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    str(step.version),
                )
                current = step.version
    return current
