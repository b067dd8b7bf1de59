"""Transcripts: chats as files of canonical events (JSONL), written as they happen and read back."""

from __future__ import annotations

from groupchat.transcripts.export import to_html, to_markdown
from groupchat.transcripts.jsonl import (
    JsonlError,
    TranscriptError,
    read_jsonl,
    read_transcript,
    to_jsonl,
    validate_transcript,
    write_jsonl,
)
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.replay import (
    Replayer,
    ReplayError,
    SeekError,
    list_samples,
    read_events,
    sample_path,
)
from groupchat.transcripts.store import (
    Catalogue,
    ChatLookupError,
    ChatSummary,
    EventLog,
    SchemaVersionError,
    SearchHit,
    SqliteStore,
    StoreError,
    TranscriptStore,
    default_db_path,
    open_store,
    redact_spec,
)

__all__ = [
    "Catalogue",
    "ChatLookupError",
    "ChatSummary",
    "EventLog",
    "JsonlError",
    "ReplayError",
    "Replayer",
    "SchemaVersionError",
    "SearchHit",
    "SeekError",
    "SqliteStore",
    "StoreError",
    "StoreRecorder",
    "TranscriptError",
    "TranscriptStore",
    "default_db_path",
    "list_samples",
    "open_store",
    "read_events",
    "read_jsonl",
    "read_transcript",
    "redact_spec",
    "sample_path",
    "to_html",
    "to_jsonl",
    "to_markdown",
    "validate_transcript",
    "write_jsonl",
]
