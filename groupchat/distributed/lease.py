"""One manager per chat: a lease in Redis with a fencing token.

The lease is a key holding ``TOKEN OWNER`` with an expiry; the token is a counter that grows
with every lease of the chat, so an old manager that comes back after its lease expired holds a
token that no longer matches. The manager renews the lease while it runs, and every append to
the chat's stream checks the lease in the same Lua script (see :data:`APPEND`): an append by a
manager that lost its lease is refused by Redis itself.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import TYPE_CHECKING

from groupchat.distributed import keys
from groupchat.distributed.errors import ChatFencedError, ChatRunningElsewhere

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["APPEND", "LEASE_TTL", "Lease", "owner_name"]

LEASE_TTL = 10.0
"""Seconds a lease lasts unless renewed; the manager renews it three times as often."""

ACQUIRE = """
local held = redis.call('GET', KEYS[1])
if held then return {0, held, redis.call('PTTL', KEYS[1])} end
local token = redis.call('INCR', KEYS[2])
local value = token .. ' ' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return {1, value, tonumber(ARGV[2])}
"""

RENEW = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not held and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
"""Extend the lease; one that ran out while Redis could not be reached is taken again if no
other manager has taken the chat since (the epoch is still this lease's token)."""

RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

APPEND = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return redis.error_reply('FENCED the lease of this chat is held by another manager')
end
for i = 2, #ARGV, 2 do
  redis.call('XADD', KEYS[1], ARGV[i], 'e', ARGV[i + 1])
end
return (#ARGV - 1) / 2
"""
"""Append events to a chat's stream if the caller holds the lease: ``KEYS`` the stream and
the lease, ``ARGV`` the lease's value then entry IDs and event JSON in turn."""


def owner_name() -> str:
    """Who holds a lease: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease:
    """The lease of one chat, held by this process once :meth:`acquire` returns."""

    def __init__(self, client: Redis, chat_id: str, *, ttl: float = LEASE_TTL) -> None:
        self.client = client
        self.chat_id = chat_id
        self.ttl = ttl
        self.value: str | None = None
        self._lock = asyncio.Lock()
        self._acquire = client.register_script(ACQUIRE)
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)

    @property
    def token(self) -> int | None:
        return None if self.value is None else int(self.value.split(" ", 1)[0])

    async def try_acquire(self) -> tuple[bool, str, float]:
        """Take the lease if nobody holds it: ``(taken, value, seconds left)``."""
        got, value, pttl = await self._acquire(
            keys=[keys.lease(self.chat_id), keys.epoch(self.chat_id)],
            args=[owner_name(), int(self.ttl * 1000)],
        )
        text = value.decode() if isinstance(value, bytes) else str(value)
        if got:
            self.value = text
        return bool(got), text, max(0.0, int(pttl) / 1000)

    async def acquire(self, *, wait: float = 0.0) -> None:
        """Take the lease, waiting up to ``wait`` seconds for a holder's lease to run out (a
        manager that died); raises :class:`ChatRunningElsewhere` if it is still held then."""
        async with self._lock:
            if self.value is None:
                await self._acquire_unlocked(wait)

    async def _acquire_unlocked(self, wait: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        seen: tuple[str, float] | None = None  # the holder's lease, and when it would run out
        while True:
            got, value, left = await self.try_acquire()
            if got:
                return
            now = loop.time()
            expiry = now + left
            # A lease that was renewed while we waited has a live manager: say so at once.
            renewed = seen is not None and seen[0] == value and expiry > seen[1] + 0.25
            if now >= deadline or renewed:
                owner = value.split(" ", 1)[-1]
                raise ChatRunningElsewhere(
                    f"chat {self.chat_id} is running: its manager {owner} holds the chat "
                    f"(for {left:.1f} s more unless it renews; it renews while it runs)"
                )
            seen = (value, expiry)
            await asyncio.sleep(min(max(left, 0.05), deadline - now, 1.0))

    async def renew(self) -> None:
        """Extend the lease; raises :class:`ChatFencedError` if another manager holds it."""
        assert self.value is not None
        ok = await self._renew(
            keys=[keys.lease(self.chat_id), keys.epoch(self.chat_id)],
            args=[self.value, int(self.ttl * 1000), str(self.token)],
        )
        if not ok:
            raise ChatFencedError(
                f"chat {self.chat_id}: this manager's lease ran out and another took the chat"
            )

    async def release(self) -> None:
        if self.value is not None:
            await self._release(keys=[keys.lease(self.chat_id)], args=[self.value])
            self.value = None
