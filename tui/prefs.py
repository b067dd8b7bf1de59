"""What the terminal app remembers between runs: the input's history and the colour theme.

Kept in ``groupchat/tui.json`` in the user's data directory (``$XDG_DATA_HOME``, by default
``~/.local/share``), readable by the user only (0600): a typed line can hold anything. Several
apps at once each add what was typed in them; a file that cannot be read is started over,
never a reason not to run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["HISTORY_KEPT", "Prefs", "load_prefs", "prefs_path", "save_prefs"]

HISTORY_KEPT = 500
"""Lines of input history kept."""


class Prefs(BaseModel):
    model_config = ConfigDict(extra="ignore")

    theme: str | None = None
    history: list[str] = Field(default_factory=list)


def prefs_path() -> Path:
    data_home = os.environ.get("XDG_DATA_HOME", "")
    base = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    return base / "groupchat" / "tui.json"


def load_prefs(path: Path) -> Prefs:
    try:
        return Prefs.model_validate_json(path.read_bytes())
    except (OSError, ValueError, ValidationError):
        return Prefs()


def save_prefs(path: Path, prefs: Prefs, *, typed: Sequence[str] = ()) -> None:
    """Write ``prefs`` with ``typed`` (the lines typed in this app) added to the history the
    file holds now, atomically and 0600; a failure to write loses nothing but the memory."""
    current = load_prefs(path)
    history = [*current.history, *typed] if typed else current.history
    merged = Prefs(theme=prefs.theme or current.theme, history=history[-HISTORY_KEPT:])
    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tui-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp makes it 0600
                out.write(merged.model_dump_json())
            os.replace(temp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
