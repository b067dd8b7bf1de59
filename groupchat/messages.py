"""Chat messages: Markdown text plus optional structured parts, token usage and parsed @mentions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from groupchat.frozen import FrozenDict

__all__ = [
    "Message",
    "MessageKind",
    "Part",
    "ToolCallPart",
    "ToolResultPart",
    "Usage",
    "parse_mentions",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Usage(BaseModel):
    """Token counts of one model call, a message, a participant or a whole chat."""

    model_config = _FROZEN

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class ToolCallPart(BaseModel):
    """A request by a participant to run a tool; ``arguments`` are read-only (see
    :class:`~groupchat.frozen.FrozenDict`)."""

    model_config = _FROZEN

    kind: Literal["tool_call"] = "tool_call"
    call_id: str
    name: str
    arguments: FrozenDict[str, Any] = FrozenDict()


class ToolResultPart(BaseModel):
    """The outcome of a tool call; ``is_error`` marks a tool that raised or was refused."""

    model_config = _FROZEN

    kind: Literal["tool_result"] = "tool_result"
    call_id: str
    name: str
    content: str
    is_error: bool = False


Part = Annotated[ToolCallPart | ToolResultPart, Field(discriminator="kind")]

MessageKind = Literal["task", "turn", "interjection", "plan", "instruction", "answer"]


class Message(BaseModel):
    """One posted message.

    ``kind`` says how it entered the chat: the task that started it, a participant's turn, or a
    human speaking out of turn; a manager that conducts the chat (the magentic manager) also
    posts its ``plan``, an ``instruction`` to the next speaker and the final ``answer``.
    ``interrupted`` marks a turn cut short; its text is what had streamed by then.
    """

    model_config = _FROZEN

    id: str
    sender: str
    content: str
    kind: MessageKind = "turn"
    parts: tuple[Part, ...] = ()
    mentions: tuple[str, ...] = ()
    interrupted: bool = False
    usage: Usage | None = None


_MENTION = re.compile(r"(?<![\w@])@([A-Za-z_][\w-]*)")


def parse_mentions(text: str, names: Iterable[str]) -> tuple[str, ...]:
    """Return the participants ``@mentioned`` in ``text``, in order of first mention.

    Matching is case-insensitive and the result uses the participants' own spelling; an
    ``@word`` that names nobody is ignored.
    """
    if "@" not in text:
        return ()
    exact = set(names)
    by_lower = {name.lower(): name for name in exact}
    found: list[str] = []
    for match in _MENTION.finditer(text):
        raw = match.group(1)
        token = raw.lower()
        name = raw if raw in exact else by_lower.get(token) or by_lower.get(token.rstrip("-_"))
        if name is not None and name not in found:
            found.append(name)
    return tuple(found)
