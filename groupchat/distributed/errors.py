"""What goes wrong with a chat on Redis; every message names the bus without its password."""

from __future__ import annotations

__all__ = [
    "BusUnavailableError",
    "ChatFencedError",
    "ChatRunningElsewhere",
    "HostingRefused",
    "WorkerLost",
]


class BusUnavailableError(RuntimeError):
    """Redis cannot be reached (or refused the credentials) at the URL the message names."""


class ChatRunningElsewhere(RuntimeError):
    """Another manager holds the chat's lease: the chat is running there."""


class ChatFencedError(RuntimeError):
    """This manager lost the chat's lease to another, which now writes the chat."""


class HostingRefused(RuntimeError):
    """A worker may not host a name: not an agent of the chat, or hosted by another worker."""


class WorkerLost(RuntimeError):
    """The worker running a turn stopped answering (no heartbeat in time)."""
