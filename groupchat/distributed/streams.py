"""The few stream commands the distributed chat uses, with the types the client returns
(``redis`` types its answers loosely): entries are ``(id, {field: value})`` in bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Entries", "last_id", "text", "xrange", "xread"]

Entries = list[tuple[bytes, dict[bytes, bytes]]]


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def xread(
    client: Redis, positions: Mapping[str, bytes | str], *, count: int, block: int
) -> list[tuple[str, Entries]]:
    """New entries of each stream after its position, waiting up to ``block`` ms for one."""
    task = asyncio.current_task()
    cancels = task.cancelling() if task is not None else 0
    answer = await cast(Any, client).xread(dict(positions), count=count, block=block)
    if task is not None and task.cancelling() > cancels:
        # The client may swallow a cancel that lands as its read completes; it must not be
        # lost, or a reader told to stop would go on reading.
        raise asyncio.CancelledError
    return [(text(stream), entries) for stream, entries in (answer or [])]


async def xrange(
    client: Redis, key: str, low: str, high: str, *, count: int | None = None
) -> Entries:
    return cast(Entries, await cast(Any, client).xrange(key, min=low, max=high, count=count))


async def last_id(client: Redis, key: str) -> bytes | None:
    """The id of the stream's last entry (``None``: the stream is empty or missing)."""
    entries = cast(Entries, await cast(Any, client).xrevrange(key, count=1))
    return entries[0][0] if entries else None
