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

__all__ = [
    "JsonlError",
    "TranscriptError",
    "read_jsonl",
    "read_transcript",
    "to_html",
    "to_jsonl",
    "to_markdown",
    "validate_transcript",
    "write_jsonl",
]
