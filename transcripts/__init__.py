"""Transcripts: chats as files of canonical events (JSONL), written as they happen and read back."""

from __future__ import annotations

from groupchat.transcripts.jsonl import JsonlError, read_jsonl, write_jsonl

__all__ = ["JsonlError", "read_jsonl", "write_jsonl"]
