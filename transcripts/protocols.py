"""What a transcript store is to its callers, whatever keeps the data.

Two faces, each what one kind of caller uses and nothing more:

* :class:`EventLog`: what records a chat and what resumes, forks or shows one live needs:
  begin a chat, append its events, commit them and wait for that, read them back.
* :class:`Catalogue`: what the commands that look after stored chats need: list, search, one
  chat's summary and team spec, import a whole chat.

:class:`TranscriptStore` is both, and closes: what a backend implements (SQLite today,
:class:`~groupchat.transcripts.sqlite.SqliteStore`) and what
:func:`~groupchat.transcripts.factory.open_store` returns.

The words the contracts use:

* **committed**: in the store for good, as one transaction: a crash of this process no longer
  loses it, and every reader (another process too) sees it. What is appended but not yet
  committed is *buffered*: this store's own reads see it (they commit first); nothing else does.
* **one writer per chat**: a store keeps the summary of the chats it writes in memory, so a chat
  has one writing store at a time. The store does not lock a chat: a second writer's events
  collide with the first's, and one of them fails with :class:`StoreError` on commit. Who writes
  to a stored chat (``resume``) first checks :attr:`ChatSummary.running_elsewhere` and refuses
  a chat that another process still runs.

Errors: :class:`~groupchat.transcripts.schema.StoreError` when the store cannot be read or
written (its message names the store and why), also for every call after :meth:`close` and for
every write after a failed commit; :class:`~groupchat.transcripts.records.ChatLookupError` (a
``KeyError``) for a chat it does not have; ``ValueError`` for a call that is wrong whatever the
store holds (an empty chat id, a sequence number already stored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from groupchat.events import Event
from groupchat.transcripts.records import ChatLookupError, ChatSummary, SearchHit
from groupchat.transcripts.schema import StoreError

__all__ = ["Catalogue", "ChatLookupError", "EventLog", "StoreError", "TranscriptStore"]


@runtime_checkable
class EventLog(Protocol):
    """Every chat as its ordered events: appended as they happen, committed in batches.

    Events of one chat are appended in increasing sequence order (gaps are allowed: a resumed
    chat goes on from the next one); events of several chats may interleave. Appends are
    buffered and committed by the store itself within a bounded delay (SQLite: its
    ``commit_interval``, 0.05 s by default); a ``message_posted`` or ``chat_ended`` is committed
    at once, so a crash loses no posted message and at most that delay of streamed deltas.
    Commits keep the order of the appends: when event ``n`` of a chat is committed, so is every
    earlier one.
    """

    async def create_chat(
        self,
        chat_id: str,
        *,
        title: str = "",
        spec: dict[str, Any] | None = None,
        parent_id: str | None = None,
        fork_seq: int | None = None,
    ) -> None:
        """Begin a chat: create its entry, or for one that exists set what is given (a non-empty
        title, a spec, the lineage of a fork: ``parent_id`` and the ``fork_seq`` it shares up to)
        and keep the rest. The spec is stored without secrets. ``ValueError`` for an empty id."""
        ...

    async def append(self, event: Event) -> None:
        """Buffer ``event`` for commit (see the class). Waits while the store holds too many
        buffered events (SQLite: ``MAX_PENDING``) until a commit makes room: a writer faster
        than the disk slows down instead of growing without bound. ``ValueError`` for a
        sequence number the chat already has (its last one or earlier); :class:`StoreError` if
        the store is closed or a commit failed."""
        ...

    def append_nowait(self, event: Event) -> bool:
        """Buffer ``event`` if that needs no waiting (the usual case) and return ``True``;
        return ``False``, having done nothing, if it does: then ``await append(event)``.
        ``ValueError`` as for :meth:`append`."""
        ...

    async def append_many(self, events: Sequence[Event]) -> None:
        """Buffer several events (of any chats) in order, as :meth:`append` one by one would."""
        ...

    async def heartbeat(self, chat_id: str, *, alive: bool = True) -> None:
        """Say that a live writer holds the chat (``alive``), or that it has let go (finish it).

        While heartbeats (or appends) come at least every
        :data:`~groupchat.transcripts.records.LIVE_WINDOW` seconds, an open chat is listed as
        ``running`` with this process as its ``writer``; after that, or once let go, as
        ``interrupted`` (``ended`` once it has a ``chat_ended``). Committed without waiting for
        the commit delay."""
        ...

    async def flush(self) -> None:
        """Commit everything buffered now; when it returns, every event appended before the call
        is committed. A caller cancelled meanwhile does not stop the commit. Raises
        :class:`StoreError` if the store is closed or a commit failed."""
        ...

    async def wait_committed(self, chat_id: str, seq: int) -> None:
        """Wait until event ``seq`` of ``chat_id`` (a chat this store writes) is committed,
        without forcing a commit: e.g. to show only what a crash would not lose. Raises
        :class:`StoreError` if the store fails or is closed first."""
        ...

    def committed_seq(self, chat_id: str) -> int:
        """The last sequence number of ``chat_id`` known to be committed by this store (-1: none,
        or a chat this store does not write)."""
        ...

    async def events(self, chat_id: str, start: int = 0, end: int | None = None) -> list[Event]:
        """The events of ``chat_id`` with ``start <= seq < end`` (``end=None``: to the last), in
        sequence order, each as it was appended (secrets removed). What this store has buffered
        is committed first, so the read sees every event appended before it. Raises
        :class:`ChatLookupError` for a chat the store does not have (a chat without events
        gives ``[]``)."""
        ...


@runtime_checkable
class Catalogue(Protocol):
    """The stored chats as a whole: list, find and search them, import one."""

    async def chats(
        self, *, search: str | None = None, limit: int | None = None
    ) -> list[ChatSummary]:
        """Summaries of the stored chats, the newest (by when each was created) first, at most
        ``limit``; ``search`` keeps the chats with a message matching it (see :meth:`search`)."""
        ...

    async def chat(self, chat_id: str) -> ChatSummary:
        """The summary of the chat with id ``chat_id``, or of the only one whose id starts with
        it. Raises :class:`ChatLookupError` if none or several match (the message names up to
        five of them). Its ``state`` and ``writer`` tell whether another process runs it."""
        ...

    async def search(self, text: str, *, limit: int = 50) -> list[SearchHit]:
        """Posted messages containing every word of ``text`` (``word*``: a prefix), best match
        first, at most ``limit``. Only message text is searched, and what a person types is
        searched for, never interpreted as query syntax; snippets mark matched words with
        :data:`~groupchat.transcripts.records.SNIPPET_MARKS`. No words: ``[]``."""
        ...

    async def spec(self, chat_id: str) -> dict[str, Any] | None:
        """The team spec stored with the chat (secrets removed), or ``None`` if it has none.
        Raises :class:`ChatLookupError` for a chat the store does not have (an exact id)."""
        ...

    async def import_events(
        self, events: Sequence[Event], *, spec: dict[str, Any] | None = None, title: str = ""
    ) -> str:
        """Store a whole chat in one transaction and return its id: all of it, or nothing.

        The events must belong to one chat, in increasing sequence order. Raises ``ValueError``
        for no events, events of several chats or out of order, and a chat id already stored.
        """
        ...


@runtime_checkable
class TranscriptStore(EventLog, Catalogue, Protocol):
    """A transcript store: the :class:`EventLog` and the :class:`Catalogue` of one backend."""

    async def close(self) -> None:
        """Commit what is buffered, let go of the chats this store holds (they are listed as
        ``interrupted`` unless ended) and release the backend. Safe to call twice; afterwards
        every read and write raises :class:`StoreError`."""
        ...
