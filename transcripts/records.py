"""What a transcript store hands back: the summary of a chat, a search hit, the lookup error.

These cross the store's boundary, so every backend returns the same models: a caller (the CLI,
resume and fork, the TUI) never sees a database row.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from groupchat.messages import Usage

__all__ = [
    "HOST",
    "LIVE_WINDOW",
    "SNIPPET_MARKS",
    "ChatLookupError",
    "ChatState",
    "ChatSummary",
    "SearchHit",
    "this_writer",
]

ChatState = Literal["running", "ended", "interrupted"]

LIVE_WINDOW = 5.0
"""Seconds after its writer's last write or heartbeat that an open chat still counts as running."""

SNIPPET_MARKS = ("[", "]")
"""What a store's ``search`` puts around each matched word in a snippet."""

HOST = socket.gethostname()
"""This machine's name, the first half of a writer's ``host:pid``."""


def this_writer() -> str:
    """``host:pid`` of this process, as a store records the live writer of a chat."""
    return f"{HOST}:{os.getpid()}"


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
        return self.state == "running" and self.writer != this_writer()


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
