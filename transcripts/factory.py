"""Where transcript stores are opened: a location in, a :class:`TranscriptStore` out.

The one place that names a backend: the command line opens every store here, so a new backend
(PostgreSQL, by URL) is added by dispatching on the location, and nothing else changes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from groupchat.transcripts.protocols import TranscriptStore
from groupchat.transcripts.sqlite import SqliteStore

__all__ = ["default_db_path", "open_store"]


def default_db_path() -> Path:
    """``$GROUPCHAT_DB`` if set, else ``groupchat/chats.db`` in the user's data directory
    (``$XDG_DATA_HOME``, by default ``~/.local/share``)."""
    explicit = os.environ.get("GROUPCHAT_DB")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME", "")
    base = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    return base / "groupchat" / "chats.db"


async def open_store(
    location: str | Path,
    *,
    durability: Literal["normal", "full"] = "normal",
    commit_interval: float = 0.05,
    busy_timeout: float | None = None,
) -> TranscriptStore:
    """Open the store at ``location``: the path of a SQLite file (``":memory:"``: a database in
    memory), created with its folder if missing.

    The options are those of :meth:`~groupchat.transcripts.sqlite.SqliteStore.open`, which also
    says what it raises (:class:`~groupchat.transcripts.schema.StoreError` for a file that is not
    a usable database, :class:`~groupchat.transcripts.schema.SchemaVersionError` for one of a
    newer release).
    """
    return await SqliteStore.open(
        location, durability=durability, commit_interval=commit_interval, busy_timeout=busy_timeout
    )
