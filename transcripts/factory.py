"""Where transcript stores are opened: a location in, a :class:`TranscriptStore` out.

The one place that names a backend: the command line opens every store here. A
``postgresql://`` URL opens the PostgreSQL store (its module, and asyncpg, load only then); any
other location is the path of a SQLite file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from groupchat.transcripts.protocols import TranscriptStore
from groupchat.transcripts.schema import StoreError
from groupchat.transcripts.sqlite import SqliteStore

__all__ = ["default_db_location", "default_db_path", "is_postgres_url", "open_store"]

_SCHEMES = ("postgresql", "postgres")


def is_postgres_url(location: object) -> bool:
    """Whether ``location`` is a ``postgresql://`` (or ``postgres://``) URL."""
    return isinstance(location, str) and location.partition("://")[0].lower() in _SCHEMES


def default_db_location() -> str | Path:
    """``$GROUPCHAT_DB`` as it is when it is a PostgreSQL URL, else :func:`default_db_path`."""
    explicit = os.environ.get("GROUPCHAT_DB", "")
    return explicit if is_postgres_url(explicit) else default_db_path()


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
    """Open the store at ``location``: a ``postgresql://user@host/db?schema=NAME`` URL (see
    :meth:`~groupchat.transcripts.postgres.PostgresStore.open`; ``durability`` and
    ``busy_timeout`` are SQLite's), or the path of a SQLite file (``":memory:"``: a database in
    memory), created with its folder if missing.

    The options are those of :meth:`~groupchat.transcripts.sqlite.SqliteStore.open`, which also
    says what it raises (:class:`~groupchat.transcripts.schema.StoreError` for a file that is not
    a usable database, :class:`~groupchat.transcripts.schema.SchemaVersionError` for one of a
    newer release).
    """
    if is_postgres_url(location):
        assert isinstance(location, str)
        try:
            from groupchat.transcripts.postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(
                "a PostgreSQL transcript store needs asyncpg: pip install 'groupchat[postgres]' "
                f"({exc})"
            ) from None
        return await PostgresStore.open(location, commit_interval=commit_interval)
    return await SqliteStore.open(
        location, durability=durability, commit_interval=commit_interval, busy_timeout=busy_timeout
    )
