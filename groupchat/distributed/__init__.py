"""Chats across processes and machines on Redis Streams.

A chat on Redis has one writer, its manager, which holds the chat's lease and appends every
event to the chat's stream (:class:`RedisBus`); workers host participants and people join from
other machines by reading that stream and sending requests to the manager, which checks and
publishes them. The ``redis`` package is an optional extra (``groupchat[redis]``): nothing here
is imported by ``import groupchat``.
"""

from __future__ import annotations

from groupchat.distributed.errors import (
    BusUnavailableError,
    ChatFencedError,
    ChatRunningElsewhere,
    HostingRefused,
    WorkerLost,
)
from groupchat.distributed.url import BusURL, bus_url_from

__all__ = [
    "BusURL",
    "BusUnavailableError",
    "ChatFencedError",
    "ChatRunningElsewhere",
    "HostingRefused",
    "WorkerLost",
    "bus_url_from",
]
