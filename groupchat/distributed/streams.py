"""The few stream commands the distributed chat uses, with the types the client returns
(``redis`` types its answers loosely): entries are ``(id, {field: value})`` in bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "Entries",
    "cancelled_since",
    "last_id",
    "listed_chats",
    "matching",
    "text",
    "xrange",
    "xread",
]

Entries = list[tuple[bytes, dict[bytes, bytes]]]


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def xread(
    client: Redis, positions: Mapping[str, bytes | str], *, count: int, block: int
) -> list[tuple[str, Entries]]:
    """New entries of each stream after its position, waiting up to ``block`` ms for one."""
    task = asyncio.current_task()
    cancels = task.cancelling() if task is not None else 0
    try:
        answer = await cast(Any, client).xread(dict(positions), count=count, block=block)
    except Exception:
        if cancelled_since(cancels):
            raise asyncio.CancelledError from None
        raise
    if cancelled_since(cancels):
        raise asyncio.CancelledError
    return [(text(stream), entries) for stream, entries in (answer or [])]


def cancelled_since(cancels: int) -> bool:
    """Whether the running task was told to stop since it counted ``cancels`` requests.

    The client may turn a cancel that lands during a blocking read into a lost connection,
    or swallow one that lands as its read completes; either way it must not be lost, or a
    reader told to stop would go on reading (and a retry on a lost connection, for ever)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > cancels


async def xrange(
    client: Redis, key: str, low: str, high: str, *, count: int | None = None
) -> Entries:
    return cast(Entries, await cast(Any, client).xrange(key, min=low, max=high, count=count))


async def listed_chats(client: Redis) -> list[str]:
    """The ids of the chats on the bus's list of running chats, sorted."""
    from groupchat.distributed import keys

    return sorted(text(raw) for raw in await cast(Any, client).hkeys(keys.CHATS))


def matching(ident: str, ids: list[str]) -> list[str]:
    """The ids ``ident`` names: itself if it is one, else those it is the start of."""
    return [i for i in ids if i == ident] or [i for i in ids if i.startswith(ident)]


async def last_id(client: Redis, key: str) -> bytes | None:
    """The id of the stream's last entry (``None``: the stream is empty or missing)."""
    entries = cast(Entries, await cast(Any, client).xrevrange(key, count=1))
    return entries[0][0] if entries else None
