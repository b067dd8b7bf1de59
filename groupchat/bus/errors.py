"""What a bus raises to its users: part of the :class:`~groupchat.bus.protocol.Bus` contract."""

from __future__ import annotations

__all__ = [
    "ChatClosedError",
    "EventsUnavailableError",
    "SubscriberLagged",
    "SubscriberStalled",
]


class ChatClosedError(RuntimeError):
    """Raised when publishing to a chat that has been closed."""


class EventsUnavailableError(LookupError):
    """Raised when subscribing from a sequence number the bus no longer retains."""


class SubscriberStalled(RuntimeError):
    """Raised to a durable subscriber that was let go because it stopped reading for longer
    than its ``stall_timeout`` while the chat waited for it."""

    def __init__(self, cursor: int) -> None:
        super().__init__(
            f"this subscriber stopped reading at seq {cursor} and was let go; "
            "events after that were not delivered to it"
        )
        self.cursor = cursor


class SubscriberLagged(RuntimeError):
    """Raised to a non-durable subscriber whose unread events were trimmed from the log."""

    def __init__(self, chat_id: str, wanted: int, oldest: int) -> None:
        super().__init__(
            f"subscriber of chat {chat_id} fell behind: events {wanted}..{oldest - 1} were trimmed"
        )
        self.wanted = wanted
        self.oldest = oldest
