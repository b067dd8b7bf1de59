"""Waiting Redis out: a command is sent again until Redis answers it (it may be restarting,
or a pooled connection may have been closed by it), for a bounded time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from groupchat.distributed.errors import BusUnavailableError
from groupchat.distributed.streams import cancelled_since

__all__ = ["patiently"]

T = TypeVar("T")


async def patiently(
    call: Callable[[], Awaitable[T]],
    *,
    limit: float,
    lost: Callable[[Exception], str] | None = None,
) -> T:
    """``call()`` until Redis answers it, trying again for at most ``limit`` seconds; then
    :class:`BusUnavailableError`, saying ``lost(error)`` (default: the client's message, which
    names no password)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    task = asyncio.current_task()
    cancels = task.cancelling() if task is not None else 0
    since: float | None = None
    pause = 0.05
    while True:
        try:
            return await call()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            if cancelled_since(cancels):  # a cancel the client took for a lost connection
                raise asyncio.CancelledError from None
            now = time.monotonic()
            since = now if since is None else since
            if now - since >= limit:
                text = lost(exc) if lost is not None else f"lost the bus for {limit:g} s: {exc}"
                raise BusUnavailableError(text) from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
