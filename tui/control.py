"""What a person's commands do to a live chat, shared by the TUI and the plain console.

Each method acts on the :class:`~groupchat.chat.GroupChat` and returns a line that says what
happened; a request that cannot be done raises :class:`ControlError` with a line that says why.
Whoever leaves (kicked here, or removed elsewhere) can be invited back, as the same participant:
the chat remembers them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from groupchat.chat import GroupChat

__all__ = ["ChatControl", "ControlError"]


class ControlError(ValueError):
    """A command that cannot be done; the message says why."""


class ChatControl:
    """Kick, invite and steer in ``chat`` on behalf of ``me`` (``None``: someone watching)."""

    def __init__(self, chat: GroupChat, me: str | None = None) -> None:
        self.chat = chat
        self.me = me

    def resolve(self, name: str) -> str:
        """The participant ``name`` refers to (any case, with or without ``@``)."""
        wanted = name.lstrip("@").lower()
        for candidate in self.chat.participants:
            if candidate.lower() == wanted:
                return candidate
        names = ", ".join(self.chat.participants)
        raise ControlError(f"no participant {name.lstrip('@')!r} in this chat ({names})")

    def steer(self, name: str) -> str:
        target = self.resolve(name)
        self.chat.steer(target, by=self.me)
        return f"{target} speaks next"

    async def kick(self, name: str, *, reason: str = "") -> str:
        target = self.resolve(name)
        if target == self.me:
            raise ControlError("you cannot remove yourself; /quit leaves the chat")
        reason = reason or (f"removed by {self.me}" if self.me else "removed")
        await self.chat.remove(target, reason=reason, by=self.me)
        return f"{target} was removed; /invite {target} brings them back"

    def invitable(self) -> list[str]:
        """Who was here and left, and so can be invited back."""
        return self.chat.departed

    def come_back(self) -> str:
        """What ``/invite`` alone says: who can come back."""
        names = self.invitable()
        return "can come back: " + ", ".join(names) if names else "nobody has left"

    async def invite(self, name: str) -> str:
        wanted = name.lstrip("@").lower()
        if any(present.lower() == wanted for present in self.chat.participants):
            raise ControlError(f"{name.lstrip('@')} is already in the chat")
        for candidate in self.invitable():
            if candidate.lower() == wanted:
                await self.chat.invite(candidate, by=self.me)
                return f"{candidate} is back in the chat"
        can = ", ".join(self.invitable()) or "nobody has left"
        raise ControlError(
            f"cannot invite {name.lstrip('@')!r}: only who left can come back ({can})"
        )
