"""Record and replay model calls in SQLite, so a chat can be re-run exactly without a network.

A call's key is a hash of the model's name, the request and how many times that same request
was made before through this cache (so a repeated request replays its own answer). Modes:

* ``record``: always call the model, and store the answer (replacing an older one);
* ``replay``: never call the model; a request with no stored answer raises :class:`CacheMiss`;
* ``auto``: replay what is stored, call the model (and store the answer) for the rest.

The streamed pieces are stored too, so a replayed chat streams the same text deltas. Failed
calls are not stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias

from groupchat.models.base import (
    CacheMiss,
    ChatModel,
    Completed,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    TextChunk,
    ToolCallChunk,
)

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["CacheMode", "CachedModel", "ModelCache"]

CacheMode: TypeAlias = Literal["record", "replay", "auto"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS model_calls (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    pieces TEXT NOT NULL,
    response TEXT NOT NULL,
    recorded TEXT NOT NULL DEFAULT (datetime('now'))
)
"""


def _create_private(path: Path) -> None:
    """Make the file (and its folder) if missing, readable by its owner only, before SQLite
    opens it: recorded calls hold whatever the chat said. SQLite's journal takes its mode."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


class ModelCache:
    """One SQLite file of recorded model calls, shared by the models it wraps.

    Occurrences of a request are counted per cache object: use a new one for each run (a spec's
    ``model_cache`` does), or call :meth:`reset`.
    """

    def __init__(self, path: str | Path, mode: CacheMode = "auto") -> None:
        if mode not in ("record", "replay", "auto"):
            raise ValueError(f"cache mode must be record, replay or auto, not {mode!r}")
        self.path = Path(path)
        self.mode: CacheMode = mode
        self._seen: dict[str, int] = {}
        self._ready = False
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"ModelCache({str(self.path)!r}, mode={self.mode!r})"

    def wrap(self, model: ChatModel) -> CachedModel:
        """``model`` with its calls going through this cache."""
        return CachedModel(model, self)

    def reset(self) -> None:
        """Count occurrences of requests from zero again (a new run)."""
        self._seen.clear()

    def key(self, model: str, request: ModelRequest) -> str:
        """The key of the next occurrence of ``request`` to ``model``."""
        body = json.dumps(
            {"model": model, "request": request.model_dump(mode="json")},
            sort_keys=True,
            separators=(",", ":"),
        )
        digest = hashlib.sha256(body.encode()).hexdigest()
        occurrence = self._seen.get(digest, 0)
        self._seen[digest] = occurrence + 1
        return f"{digest}:{occurrence}"

    async def _connect(self) -> aiosqlite.Connection:
        import aiosqlite

        db = await aiosqlite.connect(self.path, timeout=30)
        if not self._ready:
            await db.execute(_SCHEMA)
            await db.commit()
            self._ready = True
        return db

    async def load(self, key: str) -> tuple[list[str], ModelResponse] | None:
        """The stored pieces and response of ``key``, if any."""
        if not self.path.exists():
            return None
        db = await self._connect()
        try:
            async with db.execute(
                "SELECT pieces, response FROM model_calls WHERE key = ?", (key,)
            ) as cursor:
                row = await cursor.fetchone()
        finally:
            await db.close()
        if row is None:
            return None
        return json.loads(row[0]), ModelResponse.model_validate_json(row[1])

    async def store(
        self,
        key: str,
        model: str,
        request: ModelRequest,
        pieces: list[str],
        response: ModelResponse,
    ) -> None:
        _create_private(self.path)
        db = await self._connect()
        try:
            await db.execute(
                "INSERT OR REPLACE INTO model_calls (key, model, request, pieces, response) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    key,
                    model,
                    request.model_dump_json(),
                    json.dumps(pieces),
                    response.model_dump_json(),
                ),
            )
            await db.commit()
        finally:
            await db.close()


class CachedModel:
    """A model whose calls are recorded to, or replayed from, a :class:`ModelCache`."""

    def __init__(self, model: ChatModel, cache: ModelCache) -> None:
        self.model = model
        self.cache = cache

    @property
    def name(self) -> str:
        return self.model.name

    def __repr__(self) -> str:
        return f"CachedModel({self.model!r}, {self.cache!r})"

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        cache = self.cache
        key = cache.key(self.name, request)
        if cache.mode != "record":
            stored = await cache.load(key)
            if stored is not None:
                cache.hits += 1
                recorded, response = stored
                for piece in recorded:
                    yield TextChunk(piece)
                for call in response.tool_calls:
                    yield ToolCallChunk(call)
                yield Completed(response)
                return
            if cache.mode == "replay":
                raise CacheMiss(
                    f"{self.name}: no recorded answer for this request in {cache.path} "
                    f"(key {key[:12]}…); record it with cache mode 'record' or 'auto'"
                )
        cache.misses += 1
        pieces: list[str] = []
        async for event in self.model.stream(request):
            if type(event) is TextChunk:
                pieces.append(event.text)
            elif type(event) is Completed:
                await cache.store(key, self.name, request, pieces, event.response)
            yield event
