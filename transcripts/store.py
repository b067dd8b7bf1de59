"""The durable transcript store: every event of every chat in one SQLite file (WAL mode).

One row per event holds its canonical JSON (:func:`~groupchat.events.dump_event`); a ``chats`` row
per chat keeps a summary (title, team, participants, message count, status, usage, lineage) up to
date as events arrive; an FTS5 index covers the text of posted messages.

Writes are buffered and committed by a background task: at the latest ``commit_interval`` seconds
after the first buffered event, and at once after every ``message_posted`` and ``chat_ended``, so
a killed process loses no committed message and at most ``commit_interval`` of streamed deltas.
A batch goes to SQLite as one JSON array per run of consecutive events, inserted into the schema's
``ingest`` view: one statement, one transaction, unpacked inside SQLite. The worker thread then
takes the GIL back once per batch instead of once per row, so the store neither stalls the
chat's own task nor waits for it.

Other processes may read the file while one writes (WAL and ``busy_timeout``). Each chat should
have one writer at a time: the store keeps the summary of the chats it writes in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, runtime_checkable

import aiosqlite
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticSerializationError

from groupchat._bulk import bulk_allocation
from groupchat.events import EVENT_ADAPTER, Event, event_list_adapter, without_surrogates
from groupchat.frozen import FrozenDict
from groupchat.messages import Usage
from groupchat.redact import redact_spec
from groupchat.timeline import Member, Timeline
from groupchat.transcripts.schema import SchemaVersionError, StoreError, migrate

__all__ = [
    "LIVE_WINDOW",
    "SNIPPET_MARKS",
    "ChatLookupError",
    "ChatState",
    "ChatSummary",
    "SchemaVersionError",
    "SearchHit",
    "SqliteStore",
    "StoreError",
    "TranscriptStore",
    "default_db_path",
    "parse_event_rows",
    "redact_spec",
]

ChatState = Literal["running", "ended", "interrupted"]

LIVE_WINDOW = 5.0
"""Seconds after its writer's last write or heartbeat that an open chat still counts as running."""

SNIPPET_MARKS = ("[", "]")
"""What :meth:`SqliteStore.search` puts around each matched word in a snippet."""

BUSY_TIMEOUT_MS = 10_000
"""How long a connection waits for another process's write lock before failing."""

PAGE_SIZE = 16_384
"""Bytes per page of a new database: appending costs about a tenth less than with 4 KiB."""

MAX_PENDING = 50_000
"""Buffered events at which :meth:`SqliteStore.append` waits for a commit (backpressure)."""

_ROWS_PER_STATEMENT = 10_000
_URGENT = frozenset({"message_posted", "chat_ended"})
_SUMMARY_KINDS = frozenset(
    {"chat_started", "participant_joined", "participant_left", "message_posted", "chat_ended"}
)
_HOST = socket.gethostname()


class ChatSummary(BaseModel):
    """What a list of chats shows about one of them, kept current as its events are stored.

    ``state`` is ``ended`` after a ``chat_ended`` (and until the chat continues), ``running`` while
    a live writer (a :class:`~groupchat.transcripts.recorder.StoreRecorder`) holds it, and
    ``interrupted`` otherwise: the writer stopped or crashed before the chat ended.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    team: str | None
    participants: tuple[str, ...]
    messages: int
    started: datetime | None
    ended: datetime | None
    state: ChatState
    status: str | None
    end_reason: str | None
    usage: Usage
    parent_id: str | None
    fork_seq: int | None
    last_seq: int
    writer: str | None = None
    """``host:pid`` of the live writer that holds the chat, if one does."""

    @property
    def running_elsewhere(self) -> bool:
        """Whether another process (not this one) is running the chat."""
        return self.state == "running" and self.writer != f"{_HOST}:{os.getpid()}"


class SearchHit(BaseModel):
    """A posted message whose text matches a search; ``snippet`` marks the matched words."""

    model_config = ConfigDict(frozen=True)

    chat_id: str
    seq: int
    sender: str
    snippet: str


class ChatLookupError(KeyError):
    """No chat, or more than one, answers to an id or id prefix. ``str()`` is the plain message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "chat not found"


@runtime_checkable
class TranscriptStore(Protocol):
    """Where chats are kept: append events as they happen, list, search and read them back."""

    async def create_chat(
        self,
        chat_id: str,
        *,
        title: str = "",
        spec: dict[str, Any] | None = None,
        parent_id: str | None = None,
        fork_seq: int | None = None,
    ) -> None: ...

    async def append(self, event: Event) -> None: ...

    def append_nowait(self, event: Event) -> bool: ...

    async def append_many(self, events: Sequence[Event]) -> None: ...

    async def heartbeat(self, chat_id: str, *, alive: bool = True) -> None: ...

    async def flush(self) -> None: ...

    async def events(self, chat_id: str, start: int = 0, end: int | None = None) -> list[Event]: ...

    async def chats(
        self, *, search: str | None = None, limit: int | None = None
    ) -> list[ChatSummary]: ...

    async def chat(self, chat_id: str) -> ChatSummary: ...

    async def search(self, text: str, *, limit: int = 50) -> list[SearchHit]: ...

    async def spec(self, chat_id: str) -> dict[str, Any] | None: ...

    async def import_events(
        self, events: Sequence[Event], *, spec: dict[str, Any] | None = None, title: str = ""
    ) -> str: ...

    async def close(self) -> None: ...


# ---------------------------------------------------------------------------------- helpers


def default_db_path() -> Path:
    """``$GROUPCHAT_DB`` if set, else ``groupchat/chats.db`` in the user's data directory
    (``$XDG_DATA_HOME``, by default ``~/.local/share``)."""
    explicit = os.environ.get("GROUPCHAT_DB")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME", "")
    base = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    return base / "groupchat" / "chats.db"


def _json_array(rows: Sequence[bytes]) -> str:
    return (b"[" + b",".join(rows) + b"]").decode()


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


_ROWS_AT_ONCE = 512


def _fts_query(text: str) -> str | None:
    """Words as FTS5 phrases (all must match; a trailing ``*`` matches a prefix), so quotes,
    dashes or ``AND`` in what a person types are searched for, not interpreted."""
    terms = []
    for word in text.split():
        prefix = word.endswith("*") and len(word) > 1
        core = word[:-1] if prefix else word
        terms.append('"' + core.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms) or None


def _create_private(path: str | Path) -> str:
    """Make the database file (and its folder) if missing, readable by its owner only, before
    SQLite touches it; SQLite gives the -wal and -shm files the same mode."""
    file = Path(path).expanduser()
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(file, os.O_RDWR | os.O_CREAT, 0o600))
    return str(file)


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _writer_alive(writer: str | None) -> bool:
    """Whether the process ``host:pid`` still runs; ``True`` when that cannot be told here."""
    if not writer or os.name != "posix":
        return True
    host, _, pid_text = writer.rpartition(":")
    if host != _HOST or not pid_text.isdigit():
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


# ---------------------------------------------------------------------------------- SQL

_SUMMARY_COLUMNS = (
    "id, title, team, parent_id, fork_seq, started, ended, status, end_reason, usage_json, "
    "participants_json, message_count, last_seq, updated, writer"
)
_INGEST = (
    "INSERT INTO ingest (chat_id, first_seq, events, messages, summary) VALUES (?, ?, ?, ?, ?)"
)
"""One run of events of one chat in one statement: see the ``ingest`` view in the schema."""


class _Chat:
    """The summary of one chat as its events go by: what the ``chats`` row will say.

    Who takes part, how many messages and the token totals come from a summary
    :class:`~groupchat.timeline.Timeline` (the fold the front-ends use, keeping no message);
    the times, the title and the team are the store's own.
    """

    __slots__ = (
        "chat_id",
        "committed_seq",
        "dirty",
        "end_reason",
        "ended",
        "last_seq",
        "live",
        "new_messages",
        "started",
        "status",
        "team",
        "timeline",
        "title_hint",
    )

    def __init__(self, chat_id: str) -> None:
        self.chat_id = chat_id
        self.timeline = Timeline(messages=False)
        self.title_hint = ""
        self.team: str | None = None
        self.started: float | None = None
        self.ended: float | None = None
        self.status: str | None = None
        self.end_reason: str | None = None
        self.last_seq = -1
        self.committed_seq = -1
        self.live = False  # a writer holds the chat (see SqliteStore.heartbeat)
        self.dirty = False  # the summary changed since the last commit
        self.new_messages: list[tuple[int, str, str]] = []  # posted since the last commit

    @property
    def participants(self) -> list[str]:
        return self.timeline.names()

    @property
    def messages(self) -> int:
        return self.timeline.messages

    @property
    def usage(self) -> Usage:
        return self.timeline.usage

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> _Chat:
        (chat_id, team, started, ended, status, reason, usage, names, count, last_seq) = row
        chat = cls(chat_id)
        chat.team, chat.started, chat.ended = team, started, ended
        chat.status, chat.end_reason = status, reason
        timeline = chat.timeline
        timeline.chat.usage = Usage.model_validate_json(usage) if usage else Usage()
        for name in json.loads(names or "[]"):
            timeline.members[name] = Member(name, colour=len(timeline.members))
        timeline.messages, chat.last_seq = count, last_seq
        chat.committed_seq = last_seq
        return chat

    def apply(self, event: Any) -> Any:
        """Update the summary from ``event``; return the event to store (secrets removed)."""
        kind = event.type
        if self.ended is not None and kind != "chat_ended":
            self.ended = self.status = self.end_reason = None  # the chat goes on
        self.timeline.apply(event)
        if kind == "message_posted":
            self.new_messages.append((event.seq, event.sender, event.message.content))
        elif kind == "chat_started":
            if self.started is None:
                self.started = event.time.timestamp()
            team = event.metadata.get("team")
            if isinstance(team, str):
                self.team = team
            task = (event.task or "").strip()
            if task and not self.title_hint:
                self.title_hint = task.splitlines()[0][:80]
            if event.metadata:
                clean = redact_spec(event.metadata)
                if clean != event.metadata:
                    event = event.model_copy(update={"metadata": FrozenDict(clean)})
        elif kind == "chat_ended":
            self.ended = event.time.timestamp()
            self.status = event.status
            self.end_reason = event.reason
        return event

    def summary(self, now: float) -> dict[str, Any]:
        """The summary as the ``ingest`` view takes it."""
        return {
            "id": self.chat_id,
            "title": self.title_hint,
            "team": self.team,
            "started": self.started,
            "ended": self.ended,
            "status": self.status,
            "end_reason": self.end_reason,
            "usage": self.usage.model_dump(),
            "participants": self.participants,
            "messages": self.messages,
            "last_seq": self.last_seq,
            "updated": now if self.live else None,
            "writer": f"{_HOST}:{os.getpid()}" if self.live else None,
        }


def _unicode(text: str) -> str:
    """``text`` with each lone surrogate (not text: SQLite cannot store it) as U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _stored_row(chat: _Chat, event: Any, apply: bool) -> bytes:
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


_Statement = tuple[str, int, str, str, str | None]
"""The parameters of :data:`_INGEST`."""


def _statements(
    rows: list[bytes], runs: list[tuple[_Chat, int, int]], dirty: list[_Chat], now: float
) -> list[_Statement]:
    """What to insert into ``ingest`` for buffered ``rows``.

    ``runs`` holds ``(chat, first seq, index of its first row)`` for each run of consecutive
    events of one chat, in order. A chat's messages and summary go with its last run; a chat in
    ``dirty`` with no events (a heartbeat) gets a statement of its own.
    """
    last_run = {chat.chat_id: i for i, (chat, _, _) in enumerate(runs)}
    out: list[_Statement] = []
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


# ---------------------------------------------------------------------------------- the store


class SqliteStore:
    """A :class:`TranscriptStore` in one SQLite file; open it with :meth:`open`, close it with
    :meth:`close` (or ``async with await SqliteStore.open(path) as store``)."""

    def __init__(self, db: aiosqlite.Connection, path: str, *, commit_interval: float) -> None:
        """Use :meth:`open`."""
        self._db = db
        self.path = path
        self._interval = commit_interval
        self._lock = asyncio.Lock()  # one transaction (or read) at a time on the connection
        self._chats: dict[str, _Chat] = {}
        # The buffer: canonical JSON rows, the runs they form, the chats whose summary changed.
        self._rows: list[bytes] = []
        self._runs: list[tuple[_Chat, int, int]] = []
        self._run_chat: _Chat | None = None
        self._dirty: list[_Chat] = []
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._waiters: list[tuple[str, int, asyncio.Future[None]]] = []
        self._problem: BaseException | None = None
        self._closed = False
        self._flusher = self._loop.create_task(self._flush_loop(), name=f"store flusher {path}")

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
        with self._sqlite_errors("write to"):
            await self._create_chat(chat_id, _unicode(title), spec_json, parent_id, fork_seq)

    async def _create_chat(
        self,
        chat_id: str,
        title: str,
        spec_json: str | None,
        parent_id: str | None,
        fork_seq: int | None,
    ) -> None:
        async with self._lock:
            await self._db.execute(
                "INSERT INTO chats (id, title, spec_json, parent_id, fork_seq, created) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "title = CASE WHEN excluded.title != '' THEN excluded.title ELSE title END, "
                "spec_json = COALESCE(excluded.spec_json, spec_json), "
                "parent_id = COALESCE(excluded.parent_id, parent_id), "
                "fork_seq = COALESCE(excluded.fork_seq, fork_seq)",
                (chat_id, title, spec_json, parent_id, fork_seq, time.time()),
            )

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

    def _add(self, chat: _Chat, event: Any) -> None:
        seq = event.seq
        if seq <= chat.last_seq:
            raise ValueError(
                f"chat {chat.chat_id} already has event {seq} (its last is {chat.last_seq})"
            )
        if event.type in _SUMMARY_KINDS or chat.ended is not None:
            row = _stored_row(chat, event, True)
        else:  # the hot path (deltas above all): no call
            try:
                row = event.__pydantic_serializer__.to_json(event)
            except PydanticSerializationError:
                row = _stored_row(chat, event, False)
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
        chat = _Chat(chat_id)
        rows: list[bytes] = []
        runs: list[tuple[_Chat, int, int]] = []
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
            rows.append(_stored_row(chat, event, True))
            chat.last_seq = event.seq
        statements = _statements(rows, runs, [chat], time.time())
        spec_json = None if spec is None else json.dumps(redact_spec(spec))
        self._check_writable()
        with self._sqlite_errors("write to"):
            await self._import(chat_id, _unicode(title), spec_json, statements)
        return chat_id

    async def _import(
        self, chat_id: str, title: str, spec_json: str | None, statements: list[_Statement]
    ) -> None:
        async with self._lock:
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
                await db.executemany(_INGEST, statements)
                await db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        """Commit what is buffered and close the database. Safe to call twice."""
        if self._closed:
            return
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
            await self._db.close()

    # ------------------------------------------------------------------ reading

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
        sql = f"SELECT {_SUMMARY_COLUMNS} FROM chats"
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
        return [_summary(row, now) for row in await self._read(sql, params)]

    async def chat(self, chat_id: str) -> ChatSummary:
        """The summary of the chat with id ``chat_id``, or of the only one whose id starts with
        it. Raises :class:`ChatLookupError` (a ``KeyError``) if none or several match."""
        return _summary(await self._summary_row(chat_id, prefix=True), time.time())

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
        return None if rows[0][0] is None else json.loads(rows[0][0])  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ internals

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a query after committing what is buffered, so reads see every appended event."""
        if self._closed:
            raise StoreError(f"{self.path} is closed")
        if self._problem is None:
            await self.flush()
        with self._sqlite_errors("read"):
            async with self._lock, self._db.execute(sql, params) as cur:
                return list(await cur.fetchall())

    @contextlib.contextmanager
    def _sqlite_errors(self, doing: str) -> Iterator[None]:
        """Raise SQLite's errors as :class:`StoreError` naming the file and what failed."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"cannot {doing} {self.path}: {exc}") from exc

    async def _summary_row(self, chat_id: str, *, prefix: bool = False) -> Any:
        sql = f"SELECT {_SUMMARY_COLUMNS} FROM chats WHERE id = ?"
        rows = await self._read(sql, (chat_id,))
        if rows:
            return rows[0]
        if prefix and chat_id:
            rows = await self._read(
                f"SELECT {_SUMMARY_COLUMNS} FROM chats WHERE id > ? AND id < ? ORDER BY id LIMIT 6",
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

    def _check_writable(self) -> None:
        if self._closed:
            raise StoreError(f"{self.path} is closed")
        if self._problem is not None:
            raise StoreError(f"writing to {self.path} failed: {self._problem}") from self._problem

    async def _writable_chat(self, chat_id: str) -> _Chat:
        """The in-memory summary of ``chat_id``, loaded from (or created in) the database."""
        self._check_writable()
        chat = self._chats.get(chat_id)
        if chat is not None:
            return chat
        with self._sqlite_errors("write to"):
            return await self._load_chat(chat_id)

    async def _load_chat(self, chat_id: str) -> _Chat:
        async with self._lock:
            chat = self._chats.get(chat_id)
            if chat is not None:
                return chat
            async with self._db.execute(
                "SELECT id, team, started, ended, status, end_reason, usage_json, "
                "participants_json, message_count, "
                "max(last_seq, coalesce((SELECT max(seq) FROM event_log WHERE chat_id = id), -1)) "
                "FROM chats WHERE id = ?",
                (chat_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                await self._db.execute(
                    "INSERT INTO chats (id, created) VALUES (?, ?)", (chat_id, time.time())
                )
                chat = _Chat(chat_id)
            else:
                chat = _Chat.from_row(row)
            self._chats[chat_id] = chat
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
        statements = _statements(rows, runs, dirty, time.time())
        committed = [(chat, chat.last_seq) for chat, _, _ in runs]
        self._rows, self._runs, self._run_chat, self._dirty = [], [], None, []
        for chat in dirty:
            chat.dirty = False
            chat.new_messages = []
        db = self._db
        try:
            if len(statements) == 1:
                await db.execute(_INGEST, statements[0])  # one statement: its own transaction
            else:
                await db.execute("BEGIN IMMEDIATE")
                try:
                    await db.executemany(_INGEST, statements)
                    await db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        await db.execute("ROLLBACK")
                    raise
        except BaseException as exc:
            self._problem = exc
            error = StoreError(f"writing to {self.path} failed: {exc}")
            self._release_waiters(error)
            if isinstance(exc, sqlite3.Error):
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


def _summary(row: Any, now: float) -> ChatSummary:
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
