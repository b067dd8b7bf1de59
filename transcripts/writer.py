"""The write path of a transcript store: events buffered in memory, committed in batches.

Writes are buffered and committed by a background task: at the latest ``commit_interval`` seconds
after the first buffered event, and at once after every ``message_posted`` and ``chat_ended``, so
a killed process loses no committed message and at most ``commit_interval`` of streamed deltas.
:class:`BufferedWriter` is that, whatever the database; :class:`SqliteWriter` sends a batch to
SQLite as the statements of :mod:`~groupchat.transcripts.batch`: one statement, one transaction,
unpacked inside SQLite, so the store neither stalls the chat's own task nor waits for it (the
PostgreSQL store: :mod:`~groupchat.transcripts.pg_writer`). More than :data:`MAX_PENDING`
buffered events make ``append`` wait for a commit.

Each chat should have one writer at a time: the writer keeps the summary of the chats it writes
in memory (:class:`~groupchat.transcripts.summary.ChatRowFold`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import Any

import aiosqlite
from pydantic_core import PydanticSerializationError

from groupchat.events import Event
from groupchat.redact import redact_spec
from groupchat.transcripts.batch import (
    INGEST,
    Statement,
    ingest_statements,
    stored_row,
    unicode_text,
)
from groupchat.transcripts.schema import StoreError
from groupchat.transcripts.summary import ChatRowFold

__all__ = ["MAX_PENDING", "BufferedWriter", "SqliteWriter"]

MAX_PENDING = 50_000
"""Buffered events at which :meth:`SqliteWriter.append` waits for a commit (backpressure)."""

_URGENT = frozenset({"message_posted", "chat_ended"})
_SUMMARY_KINDS = frozenset(
    {"chat_started", "participant_joined", "participant_left", "message_posted", "chat_ended"}
)


Runs = list[tuple[ChatRowFold, int, int]]
"""``(chat, first seq, index of its first row)`` for each run of consecutive events of a chat."""


class BufferedWriter:
    """The buffer, the background committer and the bookkeeping of every write, whatever the
    database: a backend says how a batch, an import, a new chat and a loaded chat are written
    (the ``_prepare``, ``_write``, ``_import``, ``_store_chat`` and ``_fetch_chat`` hooks) and
    which of its exceptions are database errors (``_backend_errors``)."""

    _backend_errors: tuple[type[BaseException], ...] = ()
    """Exceptions of the driver that become :class:`StoreError` naming the store."""

    def __init__(self, path: str, *, commit_interval: float) -> None:
        self.path = path
        self._interval = commit_interval
        self._lock = asyncio.Lock()  # one transaction (or read) at a time on the connection
        self._chats: dict[str, ChatRowFold] = {}
        # The buffer: canonical JSON rows, the runs they form, the chats whose summary changed.
        self._rows: list[bytes] = []
        self._runs: list[tuple[ChatRowFold, int, int]] = []
        self._run_chat: ChatRowFold | None = None
        self._dirty: list[ChatRowFold] = []
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._waiters: list[tuple[str, int, asyncio.Future[None]]] = []
        self._problem: BaseException | None = None
        self._problem_text = ""  # what went wrong, in words, once self._problem is set
        self._closed = False
        self._flusher = self._loop.create_task(self._flush_loop(), name=f"store flusher {path}")

    # ------------------------------------------------------------------ writing

    async def create_chat(
        self,
        chat_id: str,
        *,
        title: str = "",
        spec: dict[str, Any] | None = None,
        parent_id: str | None = None,
        fork_seq: int | None = None,
    ) -> None:
        """Create the chat's row; for a chat that exists, set what is given (a non-empty title,
        a spec, lineage) and keep the rest. The spec is stored without secrets."""
        if not chat_id:
            raise ValueError("a chat needs an id")
        spec_json = None if spec is None else json.dumps(redact_spec(spec))
        self._check_writable()
        with self._db_errors("write to"):
            async with self._lock:
                await self._store_chat(chat_id, unicode_text(title), spec_json, parent_id, fork_seq)

    # ------------------------------------------------------------------ the backend's hooks

    async def _store_chat(
        self,
        chat_id: str,
        title: str,
        spec_json: str | None,
        parent_id: str | None,
        fork_seq: int | None,
    ) -> None:
        """Create the chat's row or set what is given (``_lock`` held)."""
        raise NotImplementedError

    def _prepare(self, rows: list[bytes], runs: Runs, dirty: list[ChatRowFold], now: float) -> Any:
        """What :meth:`_write` or :meth:`_import` sends for a batch, taken now: the summaries and
        new messages of ``dirty`` change once it returns."""
        raise NotImplementedError

    async def _write(self, batch: Any) -> None:
        """Write a prepared batch in one transaction (``_lock`` held)."""
        raise NotImplementedError

    async def _import(self, chat_id: str, title: str, spec_json: str | None, batch: Any) -> None:
        """Store a new chat's row and its prepared batch in one transaction, or nothing;
        ``ValueError`` if the chat is already stored (``_lock`` held)."""
        raise NotImplementedError

    async def _fetch_chat(self, chat_id: str) -> ChatRowFold:
        """The summary of a stored chat, or a new chat's row created (``_lock`` held)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ writing, continued

    async def append(self, event: Event) -> None:
        """Buffer ``event``; it is committed within ``commit_interval`` (a posted message or the
        end of a chat: at once). Raises ``ValueError`` for a sequence number already stored."""
        while not self.append_nowait(event):
            if len(self._rows) >= MAX_PENDING:
                await self.flush()  # backpressure: wait for the writer to catch up
            else:
                await self._writable_chat(event.chat_id)  # raises if closed or failed

    def append_nowait(self, event: Event) -> bool:
        """Buffer ``event`` if that needs no waiting (the usual case) and return ``True``;
        return ``False``, having done nothing, if it does: then ``await append(event)``."""
        chat = self._chats.get(event.chat_id)
        if chat is None or self._problem is not None or len(self._rows) >= MAX_PENDING:
            return False
        self._add(chat, event)
        if event.type in _URGENT:
            self._wake.set()
        elif self._timer is None:
            self._timer = self._loop.call_later(self._interval, self._wake.set)
        return True

    async def append_many(self, events: Sequence[Event]) -> None:
        """Buffer several events (of any chats), in order; see :meth:`append`."""
        urgent = False
        for event in events:
            chat = self._chats.get(event.chat_id)
            if chat is None or self._problem is not None:
                chat = await self._writable_chat(event.chat_id)
            self._add(chat, event)
            urgent = urgent or event.type in _URGENT
            if len(self._rows) >= MAX_PENDING:
                await self.flush()
        if urgent:
            self._wake.set()
        elif self._rows and self._timer is None:
            self._timer = self._loop.call_later(self._interval, self._wake.set)

    def _add(self, chat: ChatRowFold, event: Any) -> None:
        seq = event.seq
        if seq <= chat.last_seq:
            raise ValueError(
                f"chat {chat.chat_id} already has event {seq} (its last is {chat.last_seq})"
            )
        if event.type in _SUMMARY_KINDS or chat.ended is not None:
            row = stored_row(chat, event, True)
        else:  # the hot path (deltas above all): no call
            try:
                row = event.__pydantic_serializer__.to_json(event)
            except PydanticSerializationError:
                row = stored_row(chat, event, False)
        if chat is not self._run_chat or seq != chat.last_seq + 1:
            self._runs.append((chat, seq, len(self._rows)))
            self._run_chat = chat
            if not chat.dirty:
                chat.dirty = chat.live = True
                self._dirty.append(chat)
        chat.last_seq = seq
        self._rows.append(row)

    async def heartbeat(self, chat_id: str, *, alive: bool = True) -> None:
        """Say that a live writer holds the chat (``alive``), or that it has let go.

        While heartbeats arrive at least every :data:`LIVE_WINDOW` seconds, an open chat is
        listed as ``running``; after that, or once let go, as ``interrupted``.
        """
        chat = self._chats.get(chat_id)
        if chat is None or self._problem is not None:
            chat = await self._writable_chat(chat_id)
        chat.live = alive
        if not chat.dirty:
            chat.dirty = True
            self._dirty.append(chat)
        self._wake.set()  # rare, and it must not wait for a long commit_interval

    async def flush(self) -> None:
        """Commit everything buffered now (a caller cancelled meanwhile does not stop it)."""
        self._check_writable()
        await asyncio.shield(self._locked_commit())

    async def _locked_commit(self) -> None:
        async with self._lock:
            # A commit that failed while this one waited for the lock: what this one was to
            # commit went with it.
            self._check_failed()
            await self._commit()

    async def wait_committed(self, chat_id: str, seq: int) -> None:
        """Wait until event ``seq`` of ``chat_id`` (a chat this store writes) is committed,
        without forcing a commit: e.g. to show only what a crash would not lose. Raises
        :class:`StoreError` if the store fails or is closed first."""
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = await self._writable_chat(chat_id)
        if chat.committed_seq >= seq:
            return
        self._check_writable()  # after a failed commit, nothing more will be committed
        future: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append((chat_id, seq, future))
        await future

    def committed_seq(self, chat_id: str) -> int:
        """The last sequence number of ``chat_id`` known to be committed (-1: none or unknown)."""
        chat = self._chats.get(chat_id)
        return -1 if chat is None else chat.committed_seq

    async def import_events(
        self, events: Sequence[Event], *, spec: dict[str, Any] | None = None, title: str = ""
    ) -> str:
        """Store a whole chat in one transaction and return its id: all of it, or nothing.

        The events must belong to one chat, in increasing sequence order. Raises ``ValueError``
        if the chat id is already in the store.
        """
        if not events:
            raise ValueError("there are no events to import")
        chat_id = events[0].chat_id
        chat = ChatRowFold(chat_id)
        rows: list[bytes] = []
        runs: list[tuple[ChatRowFold, int, int]] = []
        for event in events:
            if event.chat_id != chat_id:
                raise ValueError(
                    f"events of more than one chat: {chat_id} and {event.chat_id} (seq {event.seq})"
                )
            if event.seq <= chat.last_seq:
                raise ValueError(
                    f"chat {chat_id}: event {event.seq} follows {chat.last_seq}; "
                    "sequence numbers must increase"
                )
            if event.seq != chat.last_seq + 1 or not runs:
                runs.append((chat, event.seq, len(rows)))
            rows.append(stored_row(chat, event, True))
            chat.last_seq = event.seq
        batch = self._prepare(rows, runs, [chat], time.time())
        spec_json = None if spec is None else json.dumps(redact_spec(spec))
        self._check_writable()
        with self._db_errors("write to"):
            async with self._lock:
                await self._import(chat_id, unicode_text(title), spec_json, batch)
        return chat_id

    async def _stop_writing(self) -> None:
        """Commit what is buffered, tell that no writer holds the chats, stop committing; the
        connection stays open (the store closes it)."""
        self._closed = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await self._flusher
        try:
            if self._problem is None:
                for chat in self._chats.values():  # no writer holds them any more
                    if chat.live:
                        chat.live = False
                        if not chat.dirty:
                            chat.dirty = True
                            self._dirty.append(chat)
                await asyncio.shield(self._locked_commit())
        finally:
            self._chats.clear()  # later writes take the slow path, which refuses them
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._release_waiters(StoreError(f"{self.path} was closed"))

    # ------------------------------------------------------------------ internals

    @contextlib.contextmanager
    def _db_errors(self, doing: str) -> Iterator[None]:
        """Raise the database's errors as :class:`StoreError` naming the store and what failed."""
        try:
            yield
        except self._backend_errors as exc:
            raise StoreError(f"cannot {doing} {self.path}: {self._describe(exc, [])}") from exc

    def _describe(self, exc: BaseException, chats: list[str]) -> str:
        """What a database error says, for the message of a :class:`StoreError`; ``chats``: the
        chats whose events the failed write held."""
        return str(exc)

    def _check_writable(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path} is closed")
        self._check_failed()

    def _check_failed(self) -> None:
        if self._problem is not None:
            problem = self._problem_text or self._describe(self._problem, [])
            raise StoreError(f"writing to {self.path} failed: {problem}") from self._problem

    async def _writable_chat(self, chat_id: str) -> ChatRowFold:
        """The in-memory summary of ``chat_id``, loaded from (or created in) the database."""
        self._check_writable()
        chat = self._chats.get(chat_id)
        if chat is not None:
            return chat
        with self._db_errors("write to"):
            return await self._load_chat(chat_id)

    async def _load_chat(self, chat_id: str) -> ChatRowFold:
        async with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                chat = self._chats[chat_id] = await self._fetch_chat(chat_id)
            return chat

    async def _flush_loop(self) -> None:
        """Commit whenever woken: by a timer after the first buffered event, or at once."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._closed:
                return
            try:
                await self._locked_commit()
            except Exception:
                return  # recorded in self._problem: the next write raises it

    async def _commit(self) -> None:
        """Write what is buffered in one transaction (hold ``_lock``)."""
        if not self._dirty:
            return
        dirty, rows, runs = self._dirty, self._rows, self._runs
        batch = self._prepare(rows, runs, dirty, time.time())
        committed = [(chat, chat.last_seq) for chat, _, _ in runs]
        self._rows, self._runs, self._run_chat, self._dirty = [], [], None, []
        for chat in dirty:
            chat.dirty = False
            chat.new_messages = []
        try:
            await self._write(batch)
        except BaseException as exc:
            self._problem = exc
            self._problem_text = self._describe(exc, sorted({c.chat_id for c, _, _ in runs}))
            error = StoreError(f"writing to {self.path} failed: {self._problem_text}")
            self._release_waiters(error)
            if isinstance(exc, self._backend_errors):
                raise error from exc
            raise
        for chat, seq in committed:
            chat.committed_seq = max(chat.committed_seq, seq)
        if self._waiters:
            self._release_waiters(None)

    def _release_waiters(self, error: BaseException | None) -> None:
        """Wake :meth:`wait_committed` callers whose event is committed (or all, with ``error``)."""
        keep = []
        for chat_id, seq, future in self._waiters:
            if future.done():
                continue
            if error is not None:
                future.set_exception(error)
            elif self.committed_seq(chat_id) >= seq:
                future.set_result(None)
            else:
                keep.append((chat_id, seq, future))
        self._waiters = keep


class SqliteWriter(BufferedWriter):
    """The writes of a SQLite store, on a connection in autocommit mode that
    :class:`~groupchat.transcripts.sqlite.SqliteStore` opened: a batch as the statements of
    :mod:`~groupchat.transcripts.batch`."""

    _backend_errors = (sqlite3.Error,)

    def _describe(self, exc: BaseException, chats: list[str]) -> str:
        if isinstance(exc, sqlite3.IntegrityError) and "event_log" in str(exc) and chats:
            return (
                f"an event of chat {', '.join(chats)} is already stored: another writer is "
                f"recording it (a chat has one writer at a time; {exc})"
            )
        return str(exc)

    def __init__(self, db: aiosqlite.Connection, path: str, *, commit_interval: float) -> None:
        """Use :meth:`SqliteStore.open <groupchat.transcripts.sqlite.SqliteStore.open>`."""
        self._db = db
        super().__init__(path, commit_interval=commit_interval)

    async def _store_chat(
        self,
        chat_id: str,
        title: str,
        spec_json: str | None,
        parent_id: str | None,
        fork_seq: int | None,
    ) -> None:
        await self._db.execute(
            "INSERT INTO chats (id, title, spec_json, parent_id, fork_seq, created) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "title = CASE WHEN excluded.title != '' THEN excluded.title ELSE title END, "
            "spec_json = COALESCE(excluded.spec_json, spec_json), "
            "parent_id = COALESCE(excluded.parent_id, parent_id), "
            "fork_seq = COALESCE(excluded.fork_seq, fork_seq)",
            (chat_id, title, spec_json, parent_id, fork_seq, time.time()),
        )

    def _prepare(
        self, rows: list[bytes], runs: Runs, dirty: list[ChatRowFold], now: float
    ) -> list[Statement]:
        return ingest_statements(rows, runs, dirty, now)

    async def _write(self, batch: list[Statement]) -> None:
        db = self._db
        if len(batch) == 1:
            await db.execute(INGEST, batch[0])  # one statement: its own transaction
            return
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.executemany(INGEST, batch)
            await db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await db.execute("ROLLBACK")
            raise

    async def _import(
        self, chat_id: str, title: str, spec_json: str | None, batch: list[Statement]
    ) -> None:
        db = self._db
        await db.execute("BEGIN IMMEDIATE")
        try:
            async with db.execute("SELECT 1 FROM chats WHERE id = ?", (chat_id,)) as cur:
                if await cur.fetchone() is not None:
                    raise ValueError(f"chat {chat_id} is already in {self.path}")
            await db.execute(
                "INSERT INTO chats (id, title, spec_json, created) VALUES (?, ?, ?, ?)",
                (chat_id, title, spec_json, time.time()),
            )
            await db.executemany(INGEST, batch)
            await db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await db.execute("ROLLBACK")
            raise

    async def _fetch_chat(self, chat_id: str) -> ChatRowFold:
        async with self._db.execute(
            "SELECT id, team, started, ended, status, end_reason, usage_json, "
            "participants_json, message_count, "
            # The events are the record: a writer goes on from the last one stored,
            # whatever the summary row says (a commit cut short can leave it ahead).
            "coalesce((SELECT max(seq) FROM event_log WHERE chat_id = id), -1) "
            "FROM chats WHERE id = ?",
            (chat_id,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            await self._db.execute(
                "INSERT INTO chats (id, created) VALUES (?, ?)", (chat_id, time.time())
            )
            return ChatRowFold(chat_id)
        return ChatRowFold.from_row(row)
