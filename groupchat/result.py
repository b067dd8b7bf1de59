"""How a run of a chat ended: its ``chat_ended`` event, with what was said."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from groupchat.events import ChatEnded, EndStatus
from groupchat.frozen import FrozenDict
from groupchat.messages import Message, Usage

__all__ = ["ChatResult"]


class ChatResult(BaseModel):
    """How a run ended and what was said.

    ``ended`` is the run's ``chat_ended`` event (as published, or as it would have been when
    the bus could no longer take it); status, reason and token totals are read from it.
    """

    model_config = ConfigDict(frozen=True)

    ended: ChatEnded
    messages: tuple[Message, ...]
    turns: int
    error: str | None = None

    @property
    def chat_id(self) -> str:
        return self.ended.chat_id

    @property
    def status(self) -> EndStatus:
        return self.ended.status

    @property
    def reason(self) -> str:
        return self.ended.reason

    @property
    def usage(self) -> Usage:
        return self.ended.usage

    @property
    def usage_by(self) -> FrozenDict[str, Usage]:
        """Token totals per participant (read-only); selection calls count under ``selector``
        (the magentic manager's under ``manager``)."""
        return self.ended.usage_by
