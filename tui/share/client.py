"""The joining side of a shared chat: find its socket, connect, read it, send commands.

:meth:`JoinClient.incoming` yields the chat's events in order, and the server's errors that
answer no command; it ends with the server's :class:`~.protocol.Bye` (or when the connection
is lost). :meth:`JoinClient.request` sends an inbound event (see :mod:`.protocol`) and waits
for its reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

from groupchat.events import Event
from groupchat.tui.share.paths import (
    NoShareFolderError,
    ShareFolderError,
    is_live,
    running_chats,
    share_folder,
    socket_path,
)
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

__all__ = ["JoinClient", "JoinError", "find_chat"]

CLIENT_LIMIT = 1 << 26
"""The longest line read from the server (bytes): a message may be long."""

Incoming = Event | ErrorReply | Bye


class JoinError(RuntimeError):
    """The chat cannot be joined, or a command was refused; the message says why."""


def find_chat(ident: str, folder: Path | None = None) -> Path:
    """The socket of the running chat whose id is ``ident`` or starts with it."""
    try:
        folder = folder or share_folder(create=False)
    except NoShareFolderError:
        raise JoinError(f"no running chat matches {ident!r}: no chat is shared right now") from None
    except ShareFolderError as exc:
        raise JoinError(f"cannot look for running chats: {exc}") from None
    running = running_chats(folder)
    matches = [chat_id for chat_id in running if chat_id == ident] or [
        chat_id for chat_id in running if chat_id.startswith(ident)
    ]
    if len(matches) > 1:
        raise JoinError(f"{ident!r} is the start of several running chats: {', '.join(matches)}")
    if not matches:
        if not running:
            raise JoinError(f"no running chat matches {ident!r}: no chat is shared right now")
        raise JoinError(f"no running chat matches {ident!r} (running: {', '.join(running)})")
    path = socket_path(matches[0], folder)
    if not is_live(path):
        with contextlib.suppress(OSError):
            path.unlink()  # left behind by a process that was killed
        raise JoinError(f"chat {matches[0]} is no longer running (`groupchat resume` goes on)")
    return path


def _version(line: bytes) -> int | None:
    """The version a hello of any protocol says (``None``: not a hello)."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("op") == "hello":
        version = data.get("version")
        return version if isinstance(version, int) else None
    return None


def _mismatch(path: Path, version: int) -> str:
    return (
        f"{path}: the chat speaks protocol {version}, and this groupchat speaks protocol "
        f"{PROTOCOL_VERSION}: join with the same version of groupchat as the chat's"
    )


class JoinClient:
    """A connection to a shared chat; see the module docstring."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hello: Hello
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.hello = hello
        self._ids = 0
        self._pending: dict[int, asyncio.Future[Ok | ErrorReply]] = {}
        self._incoming: asyncio.Queue[Incoming | None] = asyncio.Queue()
        self._reading: asyncio.Task[None] | None = None
        self.ended: Bye | None = None

    @classmethod
    async def connect(cls, path: Path) -> JoinClient:
        """Connect to the socket at ``path`` and read the server's hello."""
        try:
            reader, writer = await asyncio.open_unix_connection(str(path), limit=CLIENT_LIMIT)
        except OSError as exc:
            raise JoinError(f"cannot connect to {path}: {exc.strerror or exc}") from None
        line = b""
        try:
            line = await reader.readline()
            first = parse_server_line(line)
        except (ProtocolError, ConnectionError) as exc:
            writer.close()
            version = _version(line)
            if version is not None and version != PROTOCOL_VERSION:
                raise JoinError(_mismatch(path, version)) from None
            raise JoinError(f"{path} does not speak the groupchat protocol: {exc}") from None
        if not isinstance(first, Hello):
            writer.close()
            raise JoinError(f"{path}: expected a hello of protocol {PROTOCOL_VERSION}")
        if first.version != PROTOCOL_VERSION:
            writer.close()
            raise JoinError(_mismatch(path, first.version))
        client = cls(reader, writer, first)
        client._reading = asyncio.create_task(client._read())
        return client

    async def _read(self) -> None:
        try:
            while line := await self.reader.readline():
                try:
                    item = parse_server_line(line)
                except ProtocolError as exc:
                    self._incoming.put_nowait(ErrorReply(error=f"unreadable line: {exc}"))
                    continue
                self._dispatch(item)
        except (ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_result(ErrorReply(error="the connection to the chat was lost"))
            self._incoming.put_nowait(None)

    def _dispatch(self, item: ServerMessage | Event) -> None:
        if isinstance(item, Ok | ErrorReply) and item.id in self._pending:
            future = self._pending.pop(item.id)
            if not future.done():
                future.set_result(item)
        elif isinstance(item, Bye):
            self.ended = item
            self._incoming.put_nowait(item)
        elif not isinstance(item, Ok | Hello):  # an event, or an error that answers nothing
            self._incoming.put_nowait(item)

    async def incoming(self) -> AsyncIterator[Incoming]:
        """The chat's events (and unsolicited errors) as they come, ending with the bye."""
        while (item := await self._incoming.get()) is not None:
            yield item
            if isinstance(item, Bye):
                return

    async def request(self, message: Send) -> Ok:
        """Send ``message`` and wait for its reply; raises :class:`JoinError` when refused."""
        self._ids += 1
        message = message.model_copy(update={"id": self._ids})
        future: asyncio.Future[Ok | ErrorReply] = asyncio.get_running_loop().create_future()
        self._pending[self._ids] = future
        try:
            self.writer.write((dump_message(message) + "\n").encode())
            await self.writer.drain()
        except (ConnectionError, RuntimeError):
            self._pending.pop(self._ids, None)
            raise JoinError("the connection to the chat was lost") from None
        reply = await future
        if isinstance(reply, ErrorReply):
            raise JoinError(reply.error)
        return reply

    async def close(self) -> None:
        """Leave: the person claimed goes back to the chat's own terminal."""
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading
