"""What a :class:`~groupchat.timeline.Timeline` is made of: members, messages with their
tools, notes, and which events answer an open request to a person. Plain records, shared by
every front-end that follows a chat."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeAlias

from groupchat.events import EventBase, MessagePosted
from groupchat.messages import Message, Usage

__all__ = [
    "Item",
    "Member",
    "MemberState",
    "MessageEntry",
    "Note",
    "NoteKind",
    "Status",
    "ToolEntry",
    "ends_request",
]

MemberState: TypeAlias = Literal[
    "waiting", "thinking", "speaking", "tool", "asked", "choosing", "approval", "left", "unknown"
]
"""What a participant is doing: ``tool`` is running :attr:`Member.detail`; ``asked`` is asked
for their turn; ``choosing`` the next speaker; ``approval`` waits for :attr:`Member.detail` to
approve; ``unknown`` when the chat can no longer be followed."""

Status: TypeAlias = Literal["waiting", "running", "paused", "ended", "lost"]

NoteKind: TypeAlias = Literal[
    "started",
    "joined",
    "left",
    "selected",
    "attempt",
    "request",
    "handoff",
    "skipped",
    "paused",
    "resumed",
    "error",
    "seat",
    "ended",
]

_KEEPS_REQUEST = frozenset(
    {
        "text_delta",
        "paused",
        "resumed",
        "participant_joined",
        "tool_call",
        "handoff",
        "human_input",
        "control",
        "seat_claimed",
        "seat_released",
    }
)
"""Event types that leave an open request to a person open; every other one answers or ends it."""


def ends_request(event: EventBase) -> bool:
    """Whether ``event`` answers or ends a request to a person that was open before it."""
    kind = getattr(event, "type", "")
    if kind in _KEEPS_REQUEST:
        return False
    return not (isinstance(event, MessagePosted) and event.message.kind == "interjection")


@dataclass(slots=True, eq=False)
class Member:
    """A participant; ``colour`` is its place in order of appearance."""

    name: str
    description: str = ""
    kind: str = "agent"
    human: bool = False
    colour: int = 0
    state: MemberState = "waiting"
    detail: str = ""
    """The tool being used (``tool``), or who is asked to approve (``approval``)."""
    left: bool = False


@dataclass(slots=True, eq=False)
class ToolEntry:
    call_id: str
    name: str
    arguments: dict[str, Any]
    result: str | None = None
    is_error: bool = False


@dataclass(slots=True, eq=False)
class MessageEntry:
    """A message, streamed or posted whole; ``message`` is the posted one (``None`` while only
    streamed text exists: still being written, or cut off for good).

    The text grows by appending pieces (joined only when read); ``rewrites`` counts the times
    the posted text replaced, rather than extended, what had streamed. ``index`` is the place a
    consumer gives it in its own list (the timeline does not use it).
    """

    message_id: str
    sender: str
    time: datetime
    index: int = -1
    kind: str = "turn"
    streaming: bool = True
    interrupted: bool = False
    usage: Usage | None = None
    tools: list[ToolEntry] = field(default_factory=list)
    rewrites: int = 0
    length: int = 0
    message: Message | None = None
    streamed: bool = False
    """Whether any of its text streamed before the message was posted."""
    seq: int | None = None
    """The seq of its ``message_posted`` (what ``fork --at`` takes), once posted."""
    number: int | None = None
    """Its place among the chat's posted messages, from 1 (what ``fork --message`` takes)."""
    _chunks: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        chunks = self._chunks
        if len(chunks) > 1:
            chunks[:] = ["".join(chunks)]
        return chunks[0] if chunks else ""

    def extend(self, piece: str) -> None:
        if piece:
            self._chunks.append(piece)
            self.length += len(piece)

    def replace(self, text: str) -> None:
        self._chunks[:] = [text]
        self.length = len(text)
        self.rewrites += 1

    def tool(self, call_id: str) -> ToolEntry | None:
        for tool in self.tools:
            if tool.call_id == call_id:
                return tool
        return None


@dataclass(slots=True, eq=False)
class Note:
    """Something that happened besides a message, for a consumer to word: ``event`` says what
    exactly; ``who`` is whom it is about; ``entry`` the message a skipped turn cut off."""

    kind: NoteKind
    event: Any
    who: str | None = None
    entry: MessageEntry | None = None

    @property
    def time(self) -> datetime:
        return self.event.time  # type: ignore[no-any-return]


Item: TypeAlias = MessageEntry | Note
