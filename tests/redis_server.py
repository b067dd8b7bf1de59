"""A real ``redis-server`` for tests (:mod:`groupchat.distributed.local_server`), and a bounded
wait on state held outside this process.

Tests that need a server take the ``redis_server`` fixture (see ``tests/conftest.py``); it is
skipped nowhere: CI installs ``redis-server`` when the machine lacks it.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from groupchat.distributed.local_server import RedisServer, free_port

__all__ = ["RedisServer", "free_port", "until"]


async def until(
    check: Callable[[], Awaitable[bool] | bool], *, timeout: float = 20.0, every: float = 0.01
) -> None:
    """Poll state held outside this process (Redis, another process) until ``check()`` holds;
    fails after ``timeout`` seconds."""
    for _ in range(max(1, int(timeout / every))):
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        await asyncio.sleep(every)
    raise AssertionError(f"not reached within {timeout:g} s")
