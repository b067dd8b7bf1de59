"""Waiting Redis out: a command is sent again until Redis answers it (it may be restarting,
or a pooled connection may have been closed by it), for a bounded time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from groupchat.distributed.errors import BusUnavailableError

__all__ = ["patiently"]

T = TypeVar("T")


async def patiently(call: Callable[[], Awaitable[T]], *, limit: float) -> T:
    """``call()`` until Redis answers it, trying again for at most ``limit`` seconds; then
    :class:`BusUnavailableError` (its message is the client's, which names no password)."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    since: float | None = None
    pause = 0.05
    while True:
        try:
            return await call()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            now = time.monotonic()
            since = now if since is None else since
            if now - since >= limit:
                raise BusUnavailableError(f"lost the bus for {limit:g} s: {exc}") from None
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)
