"""The summary of one chat folded from its events as they are stored: what its ``chats`` row says.

A store keeps one :class:`ChatRowFold` per chat it writes and applies every event to it before the
event is stored (:meth:`ChatRowFold.apply` also removes secrets from a ``chat_started``'s metadata);
the summary goes to the database with the batch that changed it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

from groupchat.frozen import FrozenDict
from groupchat.messages import Usage
from groupchat.redact import redact_spec
from groupchat.timeline import Member, Timeline
from groupchat.transcripts.records import HOST as _HOST

__all__ = ["ChatRowFold"]


class ChatRowFold:
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
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> ChatRowFold:
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
