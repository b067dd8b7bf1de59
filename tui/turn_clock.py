"""The clock of a person's turn, from the chat's events alone: it stops while the chat is paused.

A turn asked with a time limit (``human_input_requested`` with ``timeout``) runs from the time
it was asked; a ``paused`` stops it and a ``resumed`` starts it again with the time that was
left, as the manager's own timer does (see :meth:`~groupchat.channel.InputChannel.hold`). The
app's countdown and the console's notes read it, so all of them agree with the manager.
"""

from __future__ import annotations

from datetime import datetime

from groupchat.events import EventBase, HumanInputRequested, Paused, Resumed
from groupchat.timeline_entries import ends_request

__all__ = ["TurnClock"]


class TurnClock:
    """The time left of the open timed request, if any; see the module docstring."""

    __slots__ = ("_left", "_since", "request")

    def __init__(self) -> None:
        self.request: HumanInputRequested | None = None
        self._left = 0.0
        self._since: datetime | None = None
        """When the clock last started running; ``None`` while it is stopped (paused)."""

    @property
    def running(self) -> bool:
        return self.request is not None and self._since is not None

    def apply(self, event: EventBase) -> None:
        if isinstance(event, HumanInputRequested):
            if event.timeout:
                self.request, self._left, self._since = event, event.timeout, event.time
            else:
                self.request = None
        elif self.request is None:
            return
        elif isinstance(event, Paused):
            if self._since is not None:
                self._left -= (event.time - self._since).total_seconds()
                self._since = None
        elif isinstance(event, Resumed):
            if self._since is None:
                self._since = event.time
        elif ends_request(event):
            self.request = None

    def left(self, now: datetime) -> float | None:
        """Seconds left at ``now`` (never below 0), or ``None`` if no timed request is open."""
        if self.request is None:
            return None
        left = self._left
        if self._since is not None:
            left -= (now - self._since).total_seconds()
        return max(0.0, left)
