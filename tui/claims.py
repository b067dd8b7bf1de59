"""Which people of a chat answer from another terminal (``groupchat join``).

The terminal that runs a chat answers for every person of the team ("hot seat",
:mod:`groupchat.tui.seats`) except those claimed here: a joined terminal claims a person, and
from then on only it answers for them. Claims are taken and given back in the event loop, one
at a time, so two terminals never both answer one request.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ClaimError", "Claims"]

Listener = Callable[[str, str | None], None]
"""``listener(name, holder)``: ``name`` was claimed by ``holder``, or given back (``None``)."""


class ClaimError(ValueError):
    """A person who cannot be claimed; the message says why."""


class Claims:
    """The people claimed by joined terminals, each with a label for who holds them."""

    def __init__(self) -> None:
        self._held: dict[str, str] = {}
        self._listeners: list[Listener] = []
        self.home: Callable[[], str | None] | None = None
        """Who the terminal running the chat is seated as (a joiner takes someone else first)."""

    def __contains__(self, name: object) -> bool:
        return name in self._held

    @property
    def names(self) -> list[str]:
        return list(self._held)

    def holder(self, name: str) -> str | None:
        return self._held.get(name)

    def claim(self, name: str, holder: str) -> None:
        """``holder`` answers for ``name`` from now on; raises :class:`ClaimError` if taken."""
        if name in self._held:
            raise ClaimError(f"{name} already answers from another terminal")
        self._held[name] = holder
        self._tell(name, holder)

    def release(self, name: str, holder: str) -> None:
        """``holder`` gives ``name`` back (nothing happens if they do not hold them)."""
        if self._held.get(name) == holder:
            del self._held[name]
            self._tell(name, None)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every change; returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _tell(self, name: str, holder: str | None) -> None:
        for listener in list(self._listeners):
            listener(name, holder)
