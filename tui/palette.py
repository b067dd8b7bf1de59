"""The command palette's chat commands: whatever the running app offers right now.

The app lists them (:meth:`PaletteCommands.palette_commands`) as (title, help, callback), built
from the current participants and state, so the palette holds e.g. "Next speaker: critic".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["ChatCommands", "PaletteCommand", "PaletteCommands"]

PaletteCommand = tuple[str, str, Callable[[], Any]]


@runtime_checkable
class PaletteCommands(Protocol):
    def palette_commands(self) -> Iterable[PaletteCommand]: ...


class ChatCommands(Provider):
    """Commands of the chat app for Textual's command palette (Ctrl+P)."""

    def _commands(self) -> list[PaletteCommand]:
        app = self.app
        return list(app.palette_commands()) if isinstance(app, PaletteCommands) else []

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)
