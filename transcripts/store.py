"""The transcript store's public names in one place, wherever they are defined.

The store is split by job: :mod:`~groupchat.transcripts.records` (what it returns),
:mod:`~groupchat.transcripts.protocols` (:class:`EventLog`, :class:`Catalogue` and
:class:`TranscriptStore`: what callers may rely on), :mod:`~groupchat.transcripts.summary` (the
per-chat summary folded from events), :mod:`~groupchat.transcripts.schema`,
:mod:`~groupchat.transcripts.batch`, :mod:`~groupchat.transcripts.writer` and
:mod:`~groupchat.transcripts.queries` (the SQLite backend's parts),
:mod:`~groupchat.transcripts.sqlite` (:class:`SqliteStore`, which joins them) and
:mod:`~groupchat.transcripts.factory` (:func:`open_store`, where stores are opened).
"""

from __future__ import annotations

from groupchat.redact import redact_spec
from groupchat.transcripts.factory import default_db_path, open_store
from groupchat.transcripts.protocols import Catalogue, EventLog, TranscriptStore
from groupchat.transcripts.queries import parse_event_rows
from groupchat.transcripts.records import (
    LIVE_WINDOW,
    SNIPPET_MARKS,
    ChatLookupError,
    ChatState,
    ChatSummary,
    SearchHit,
)
from groupchat.transcripts.schema import SchemaVersionError, StoreError
from groupchat.transcripts.sqlite import SqliteStore

__all__ = [
    "LIVE_WINDOW",
    "SNIPPET_MARKS",
    "Catalogue",
    "ChatLookupError",
    "ChatState",
    "ChatSummary",
    "EventLog",
    "SchemaVersionError",
    "SearchHit",
    "SqliteStore",
    "StoreError",
    "TranscriptStore",
    "default_db_path",
    "open_store",
    "parse_event_rows",
    "redact_spec",
]
