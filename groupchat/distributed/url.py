"""Where a distributed chat's bus is: a ``redis://`` or ``rediss://`` URL, shown without its
password, and the client connected to it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from groupchat.distributed.errors import BusUnavailableError
from groupchat.redact import scrub_key, shown_url

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["BUS_ENV", "BusURL", "bus_url_from", "connect"]

BUS_ENV = "GROUPCHAT_BUS"
"""The environment variable that names the bus when ``--bus`` does not."""

CONNECT_TIMEOUT = 5.0
"""Seconds to wait for Redis to answer at start before saying it cannot be reached."""

MAX_CONNECTIONS = 4096
"""Connections one client may open. Every chat a process runs or hosts holds one for its
blocking read (the manager's inbox reader, a worker's reader of the chat), so the client's
default (100 in redis-py 6 and later) ends a process's chats past about 50 of them."""


class BusURL(BaseModel):
    """A checked bus URL. :attr:`shown` is what may be printed, logged or stored."""

    model_config = ConfigDict(frozen=True)

    url: str

    @classmethod
    def parse(cls, text: str) -> BusURL:
        """Check ``text``: ``redis://[user:password@]host[:port][/db]`` or ``rediss://`` (TLS).

        Raises :class:`ValueError` naming the problem (and never the password)."""
        text = text.strip()
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"bus URL {shown_url(text)}: {exc}") from None
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(
                f"bus URL {shown_url(text)}: use redis://host:port/db or rediss:// (TLS)"
            )
        if not parts.hostname:
            raise ValueError(f"bus URL {shown_url(text)}: no host")
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"bus URL {shown_url(text)}: port {port} is out of range")
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ValueError(f"bus URL {shown_url(text)}: the database {db!r} is not a number")
        return cls(url=text)

    @property
    def shown(self) -> str:
        return shown_url(self.url)

    @property
    def password(self) -> str | None:
        return urlsplit(self.url).password

    def scrub(self, text: str) -> str:
        """``text`` (an error from the client, say) with the password blotted out."""
        password = self.password
        text = text.replace(self.url, self.shown)
        return scrub_key(text, password) if password else text

    def __str__(self) -> str:
        return self.shown

    def __repr__(self) -> str:
        return f"BusURL({self.shown!r})"


def bus_url_from(given: str | None) -> BusURL | None:
    """The bus ``--bus`` names, else ``$GROUPCHAT_BUS``, else ``None`` (an in-process chat)."""
    text = given if given is not None else os.environ.get(BUS_ENV)
    if not text:
        return None
    return BusURL.parse(text)


def import_redis() -> Any:
    """The ``redis.asyncio`` module, or a clear error naming the extra to install."""
    try:
        import redis.asyncio as aioredis
    except ImportError:
        raise BusUnavailableError(
            "a chat on Redis needs the redis extra: pip install 'groupchat[redis]'"
        ) from None
    return aioredis


async def connect(url: BusURL, *, timeout: float = CONNECT_TIMEOUT) -> Redis:
    """A client of the bus at ``url`` that has answered a PING, or
    :class:`BusUnavailableError` naming the URL (without its password) and why."""
    aioredis = import_redis()
    from redis.exceptions import RedisError

    client: Redis = aioredis.from_url(
        url.url,
        socket_connect_timeout=timeout,
        max_connections=MAX_CONNECTIONS,
        health_check_interval=10,
        retry_on_timeout=False,
    )
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        reason = url.scrub(str(exc) or type(exc).__name__)
        raise BusUnavailableError(f"cannot reach the bus at {url.shown}: {reason}") from None
    return client
