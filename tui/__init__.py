"""Front-ends: the plain console (rich + prompt-toolkit) and shared display helpers.

Nothing here is imported by ``import groupchat``; the CLI loads it when a front-end runs.
"""

from __future__ import annotations

__all__: list[str] = []
