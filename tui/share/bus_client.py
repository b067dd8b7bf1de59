"""The joining side of a chat on a bus: the same client as :class:`~.client.JoinClient`, from
any machine that reaches the chat's Redis.

The chat's events, from the first, are read from its stream
(:func:`groupchat.distributed.follow.follow`), ending with a :class:`~.protocol.Bye` after
``chat_ended``. Requests go to the chat's ``join`` inbox as
:class:`~groupchat.distributed.wire.JoinLine` entries carrying the same protocol lines as the
Unix socket, and the chat's desk (:mod:`.desk`) answers on this client's own reply stream. While
joined, the client beats; leaving says so, so the seat goes back at once (a killed client's
goes back when its beats stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from groupchat.distributed import keys
from groupchat.distributed.errors import BusUnavailableError
from groupchat.distributed.follow import follow, parse_entry
from groupchat.distributed.hosting import BEAT_INTERVAL, INBOX_KEEP, parse_reply
from groupchat.distributed.wire import JoinAct, JoinLine, Reply
from groupchat.events import ChatEnded, Event
from groupchat.tui.share.client import Incoming, JoinError, _version
from groupchat.tui.share.protocol import (
    PROTOCOL_VERSION,
    Bye,
    ErrorReply,
    Hello,
    Ok,
    ProtocolError,
    Send,
    ServerMessage,
    dump_message,
    parse_server_line,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from groupchat.distributed.url import BusURL

__all__ = ["BusJoinClient", "find_bus_chat"]

ENDED = "the chat ended"
"""The reason of the bye after the chat's end (as the socket server says it)."""
HELLO_TIMEOUT = 5.0
"""Seconds to wait for the chat's manager to answer the hello."""
REQUEST_TIMEOUT = 15.0
"""Seconds to wait for the answer to a request before taking the chat for gone."""
LEAVE_TIMEOUT = 2.0
"""Seconds leaving waits at most to tell the chat."""
REPLY_KEEP_FOR = 60
"""Seconds a reply stream stays once its client stopped beating (Redis drops it then)."""


async def find_bus_chat(client: Redis, ident: str, shown: str) -> str:
    """The id of the chat running on the bus whose id is ``ident`` or starts with it."""
    from groupchat.distributed.streams import listed_chats, matching
    from groupchat.tui.share.join import has_ended

    running = await listed_chats(client)
    matches = matching(ident, running)
    if len(matches) > 1:
        raise JoinError(f"{ident!r} is the start of several running chats: {', '.join(matches)}")
    if matches:
        chat_id = matches[0]
        if not await client.exists(keys.lease(chat_id)):
            raise JoinError(
                f"chat {chat_id} is no longer running on the bus at {shown} (its manager "
                f"stopped; `groupchat resume {chat_id} --bus URL` goes on)"
            )
        return chat_id
    last: Any = await client.xrevrange(keys.events(ident), count=1)
    if last and isinstance(
        parse_entry(ident, last[0][0], last[0][1]), ChatEnded
    ):  # kept a while after
        raise JoinError(has_ended(ident))
    if not running:
        raise JoinError(f"no chat runs on the bus at {shown}: nothing matches {ident!r}")
    raise JoinError(
        f"no chat running on the bus at {shown} matches {ident!r} (running: {', '.join(running)})"
    )


class _Stoppable:
    """The Redis client as the follower reads it, until :attr:`stopped`. The client may take
    a cancel that comes during a blocking read for a lost connection, which the follower waits
    out; once stopped, its next read is cancelled for good."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.stopped = False

    async def xread(self, *args: Any, **options: Any) -> Any:
        if self.stopped:
            raise asyncio.CancelledError
        return await self.redis.xread(*args, **options)


class BusJoinClient:
    """A terminal joined to a chat on a bus; see the module docstring. Its interface is
    :class:`~.client.JoinClient`'s."""

    def __init__(self, redis: Redis, chat_id: str, *, shown: str) -> None:
        self.redis = redis
        self.chat_id = chat_id
        self.shown = shown
        self.client_id = uuid.uuid4().hex
        self.where = f"{socket.gethostname()}:{os.getpid()}"
        self.hello = Hello(chat_id=chat_id, humans=[])
        """The chat's hello, once :meth:`join` has it."""
        self.ended: Bye | None = None
        self._ids = 0
        self._pending: dict[int, asyncio.Future[Ok | ErrorReply]] = {}
        self._hello: asyncio.Future[Hello] = asyncio.get_running_loop().create_future()
        self._incoming: asyncio.Queue[Incoming | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._left = False
        self._over = False
        self._reader = _Stoppable(redis)

    @classmethod
    async def connect(cls, url: str | BusURL, ident: str) -> BusJoinClient:
        """Reach the bus at ``url``, find the running chat ``ident`` (an id or its start) and
        say hello to it; raises :class:`JoinError` naming the bus without its password."""
        from groupchat.distributed.url import BusURL, connect

        try:
            bus_url = url if isinstance(url, BusURL) else BusURL.parse(url)
            redis = await connect(bus_url)
        except (ValueError, BusUnavailableError) as exc:
            raise JoinError(str(exc)) from None
        try:
            chat_id = await find_bus_chat(redis, ident, bus_url.shown)
            client = cls(redis, chat_id, shown=bus_url.shown)
            await client.join()
        except BaseException as exc:
            await redis.aclose()
            if isinstance(exc, JoinError | asyncio.CancelledError):
                raise
            if isinstance(exc, Exception):
                reason = bus_url.scrub(str(exc) or type(exc).__name__)
                raise JoinError(f"lost the bus at {bus_url.shown}: {reason}") from None
            raise
        return client

    async def join(self) -> None:
        """Start reading the replies, say hello, wait for the chat's; then follow the chat."""
        self._tasks.append(asyncio.create_task(self._read_replies()))
        await self._post("hello")
        try:
            hello = await asyncio.wait_for(asyncio.shield(self._hello), HELLO_TIMEOUT)
        except TimeoutError:
            await self._stop()
            raise JoinError(
                f"chat {self.chat_id} does not answer on the bus at {self.shown} (its manager "
                f"may be gone)"
            ) from None
        if hello.version != PROTOCOL_VERSION:
            await self._stop()
            raise JoinError(
                f"chat {self.chat_id} speaks protocol {hello.version}, and this groupchat "
                f"speaks protocol {PROTOCOL_VERSION}: join with the same version as the chat's"
            )
        self.hello = hello
        self._tasks.append(asyncio.create_task(self._follow()))
        self._tasks.append(asyncio.create_task(self._beat()))

    # ------------------------------------------------------------------ what comes in

    async def _read_replies(self) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        stream = keys.reply(self.chat_id, self.client_id)
        last: Any = "0-0"
        pause = 0.05
        while not self._left:
            try:
                answer: Any = await self.redis.xread({stream: last}, count=100, block=1000)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # a cancel taken for a lost connection
                    raise asyncio.CancelledError from None
                await asyncio.sleep(pause)  # Redis is away: the follower says when for too long
                pause = min(pause * 2, 1.0)
                continue
            pause = 0.05
            for _stream, entries in answer or ():
                for entry_id, fields in entries:
                    last = entry_id
                    self._take_reply(fields.get(b"m", b""))

    def _take_reply(self, data: bytes) -> None:
        try:
            reply = parse_reply(data)
        except ValidationError:
            return  # not for a joined terminal of this version
        if not isinstance(reply, Reply):
            return
        try:
            item = parse_server_line(reply.line)
        except ProtocolError as exc:
            version = _version(reply.line.encode())
            if version is not None and not self._hello.done():  # a hello of another version
                self._hello.set_result(Hello(version=version, chat_id=self.chat_id, humans=[]))
                return
            self._incoming.put_nowait(ErrorReply(error=f"unreadable line: {exc}"))
            return
        self._dispatch(item)

    def _dispatch(self, item: ServerMessage | Event) -> None:
        if isinstance(item, Hello):
            if not self._hello.done():
                self._hello.set_result(item)
        elif isinstance(item, Ok | ErrorReply) and item.id in self._pending:
            future = self._pending.pop(item.id)
            if not future.done():
                future.set_result(item)
        elif isinstance(item, Bye):
            self._end(item)
        elif not isinstance(item, Ok):  # an error that answers nothing
            self._incoming.put_nowait(item)

    def _end(self, bye: Bye | None) -> None:
        """No more comes in: ``bye`` says why (``None``: the bus was lost, or this left)."""
        if self._over:
            return
        self._over = True
        if bye is not None:
            self.ended = bye
            self._incoming.put_nowait(bye)
        self._incoming.put_nowait(None)
        for future in self._pending.values():
            if not future.done():
                future.set_result(ErrorReply(error=bye.reason if bye else "lost the bus"))

    async def _follow(self) -> None:
        reader = cast("Redis", self._reader)
        try:
            async for event in follow(reader, self.chat_id, 0, shown=self.shown):
                self._incoming.put_nowait(event)
                if isinstance(event, ChatEnded):
                    self._end(Bye(reason=ENDED))
                    return
        except BusUnavailableError as exc:
            self._incoming.put_nowait(ErrorReply(error=str(exc)))
        self._end(None)

    async def incoming(self) -> AsyncIterator[Incoming]:
        """The chat's events (and unsolicited errors) as they come, ending with the bye."""
        while (item := await self._incoming.get()) is not None:
            yield item
            if isinstance(item, Bye):
                return

    # ------------------------------------------------------------------ what goes out

    async def _post(self, act: JoinAct, line: str = "") -> None:
        entry = JoinLine(client=self.client_id, holder=self.where, line=line, act=act)
        await self.redis.xadd(
            keys.join_inbox(self.chat_id),
            {"m": entry.model_dump_json()},
            maxlen=INBOX_KEEP,
            approximate=True,
        )

    async def _beat(self) -> None:
        from redis.exceptions import RedisError

        reply = keys.reply(self.chat_id, self.client_id)
        while self.ended is None and not self._left:
            try:
                await self._post("beat")
                await self.redis.expire(reply, REPLY_KEEP_FOR)
            except (RedisError, OSError):  # Redis is away: beat again later
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None
            await asyncio.sleep(BEAT_INTERVAL)

    async def request(self, message: Send) -> Ok:
        """Send ``message`` and wait for its reply; raises :class:`JoinError` when refused."""
        from redis.exceptions import RedisError

        if self.ended is not None:
            raise JoinError(self.ended.reason)
        self._ids += 1
        ident = self._ids
        message = message.model_copy(update={"id": ident})
        future: asyncio.Future[Ok | ErrorReply] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        try:
            await self._post("line", dump_message(message))
            reply = await asyncio.wait_for(future, REQUEST_TIMEOUT)
        except (RedisError, OSError) as exc:
            raise JoinError(f"lost the bus at {self.shown}: {type(exc).__name__}") from None
        except TimeoutError:
            raise JoinError(
                f"the chat did not answer in {REQUEST_TIMEOUT:g} s (its manager may be gone)"
            ) from None
        finally:
            self._pending.pop(ident, None)
        if isinstance(reply, ErrorReply):
            raise JoinError(reply.error)
        return reply

    async def close(self) -> None:
        """Leave: the person claimed goes back to the chat's own terminal."""
        if self._left:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._post("leave"), LEAVE_TIMEOUT)
        await self._stop()
        self._end(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self.redis.delete(keys.reply(self.chat_id, self.client_id)), LEAVE_TIMEOUT
            )
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    async def _stop(self) -> None:
        self._left = True
        self._reader.stopped = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:  # the Redis client may take a cancel for a lost connection: bounded
            await asyncio.wait(tasks, timeout=LEAVE_TIMEOUT)
