"""The TUI's widgets, each built from the
:class:`~groupchat.tui.model.ChatScreenState` it shows.
"""

from __future__ import annotations

__all__: list[str] = []
