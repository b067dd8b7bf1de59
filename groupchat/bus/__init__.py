"""The event bus: one ordered log per chat, many publishers and subscribers per chat.

:mod:`~groupchat.bus.protocol` says what a bus is (:class:`Bus`, :class:`Publisher`,
:class:`Subscription`) and :mod:`~groupchat.bus.errors` what it raises; :class:`EventBus`
(:mod:`~groupchat.bus.memory`) is the in-process implementation and the default. The log of a
chat is :mod:`~groupchat.bus.log`, its in-process readers :mod:`~groupchat.bus.readers`.
"""

from __future__ import annotations

from groupchat.bus.errors import (
    ChatClosedError,
    EventsUnavailableError,
    SubscriberLagged,
    SubscriberStalled,
)
from groupchat.bus.memory import DEFAULT_RETAIN, EventBus
from groupchat.bus.protocol import Bus, Publisher, Subscription

__all__ = [
    "DEFAULT_RETAIN",
    "Bus",
    "ChatClosedError",
    "EventBus",
    "EventsUnavailableError",
    "Publisher",
    "SubscriberLagged",
    "SubscriberStalled",
    "Subscription",
]
