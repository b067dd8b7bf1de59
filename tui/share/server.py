"""The listening side of a shared chat: a Unix socket server in the process that runs it.

Each joined terminal gets a :class:`~.protocol.Hello`, the chat's events so far (the earlier
ones from the store, through ``earlier``; the rest from the bus) and then live, and may claim one
of the team's people and then send the chat's inbound events as them: lines, and pause, resume,
steer, kick, invite and stop (its :class:`~.seat_session.SeatSession` does them). A terminal
that stops reading never slows the chat: its subscription is not durable, and past ``backlog``
unsent lines it is told it fell behind and let go.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from groupchat.bus import SubscriberLagged, SubscriberStalled, Subscription
from groupchat.events import Event, dump_event
from groupchat.tui.claims import Claims
from groupchat.tui.share.paths import is_live, share_folder, socket_path, sweep_stale
from groupchat.tui.share.protocol import (
    MAX_LINE,
    Bye,
    ErrorReply,
    Hello,
    Message,
    dump_message,
)
from groupchat.tui.share.seat_session import SeatSession

if TYPE_CHECKING:
    from groupchat.chat import GroupChat

__all__ = ["BACKLOG", "Earlier", "ShareError", "ShareServer"]

Earlier = Callable[[int], Awaitable[Sequence[Event]]]
"""``earlier(seq)``: the chat's stored events before ``seq`` (those no longer on the bus)."""

BACKLOG = 10_000
"""Lines a joined terminal may have unsent before it is told it fell behind."""
CLOSE_WAIT = 2.0
"""Seconds closing waits for joined terminals to receive the end of the chat."""
FELL_BEHIND = "you fell behind the chat; join again to catch up"


class ShareError(RuntimeError):
    """The chat cannot be shared (e.g. another process already shares it)."""


class ShareServer:
    """Shares ``chat`` on a Unix socket in ``folder`` (default: the user's private folder)."""

    def __init__(
        self,
        chat: GroupChat,
        claims: Claims,
        *,
        earlier: Earlier | None = None,
        folder: Path | None = None,
        backlog: int = BACKLOG,
        grace: float = CLOSE_WAIT,
    ) -> None:
        self.chat = chat
        self.claims = claims
        self.earlier = earlier
        self.folder = folder
        self.backlog = backlog
        self.grace = grace
        """Seconds a terminal that fell behind, or is left at the end, has to read the rest."""
        self.path: Path | None = None
        self._server: asyncio.Server | None = None
        self._inode: int | None = None
        self._connections: set[_Connection] = set()
        self._count = 0
        self._watch: asyncio.Task[None] | None = None

    @property
    def connections(self) -> int:
        """How many terminals are joined now."""
        return len(self._connections)

    async def start(self) -> Path:
        """Listen; returns the socket's path. A stale socket (its process died) is replaced,
        and those of other chats are swept away."""
        folder = self.folder or share_folder()
        sweep_stale(folder)
        path = socket_path(self.chat.chat_id, folder)
        if os.path.lexists(path):
            if is_live(path):
                raise ShareError(f"chat {self.chat.chat_id} is already shared by another process")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=str(path), limit=MAX_LINE)
        os.chmod(path, 0o600)
        self._inode = os.stat(path).st_ino
        self.path = path
        ended = self.chat.bus.subscribe(
            self.chat.chat_id, start=None, durable=False, kinds=frozenset({"chat_ended"})
        )
        self._watch = asyncio.create_task(self._unshare_at_the_end(ended))
        return path

    async def _unshare_at_the_end(self, ended: Subscription) -> None:
        """Once the chat has ended, nobody can join it any more: the socket goes at once, even
        while the front-end stays open to be read (those joined read to the end)."""
        try:
            async for _event in ended:
                self._stop_listening()
                return
        except (SubscriberLagged, SubscriberStalled):
            pass
        finally:
            ended.close()

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        path, self.path = self.path, None
        if path is not None:
            with contextlib.suppress(OSError):
                if os.stat(path).st_ino == self._inode:  # ours, not a later process's
                    path.unlink()

    async def close(self) -> None:
        """Stop listening, let joined terminals read to the end, remove the socket."""
        self._stop_listening()
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        tasks = [c.task for c in self._connections if c.task is not None]
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=self.grace)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def __aenter__(self) -> ShareServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._count += 1
        connection = _Connection(self, reader, writer, f"joined terminal {self._count}")
        connection.task = asyncio.current_task()
        self._connections.add(connection)
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)


class _Connection:
    """One joined terminal: events and replies out, commands in (done by its
    :class:`~.seat_session.SeatSession`)."""

    def __init__(
        self,
        server: ShareServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        holder: str,
    ) -> None:
        self.server = server
        self.chat = server.chat
        self.claims = server.claims
        self.reader = reader
        self.writer = writer
        self.holder = holder
        self.session = SeatSession(server.chat, server.claims, holder)
        """What this terminal does in the chat (the lines it sends, the seat it holds)."""
        self.task: asyncio.Task[None] | None = None
        self._out: deque[str | None] = deque()  # None: no more lines
        self._ready = asyncio.Event()
        self._behind = False

    # ------------------------------------------------------------------ the connection

    async def run(self) -> None:
        chat = self.chat
        bus, chat_id = chat.bus, chat.chat_id
        start = bus.oldest_seq(chat_id)
        sub = bus.subscribe(chat_id, start=start, durable=False)
        pump = asyncio.create_task(self._pump(sub))
        sender = asyncio.create_task(self._send(start))
        try:
            if not await self._read():  # the client broke the protocol: tell it, then hang up
                self._put(None)
                await asyncio.wait((sender,), timeout=self.server.grace)
        finally:
            sub.close()
            self._leave()
            for task in (pump, sender):
                task.cancel()
            for task in (pump, sender):
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await task
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def _pump(self, sub: Subscription) -> None:
        """Take the chat's events off the bus as they come, so that the chat never waits."""
        reason = "the chat ended"
        try:
            async for event in sub:
                self._put(dump_event(event))
                if self._behind:
                    return
        except (SubscriberLagged, SubscriberStalled):
            reason = FELL_BEHIND
        self._put(dump_message(Bye(reason=reason)))
        self._put(None)

    def _put(self, line: str | None) -> None:
        if self._behind:
            return
        if line is not None and len(self._out) >= self.server.backlog:
            self._behind = True
            self._out.clear()
            self._out.append(dump_message(Bye(reason=FELL_BEHIND)))
            self._out.append(None)
            # A terminal that does not read at all is cut off; one that is merely slow reads
            # the goodbye first.
            asyncio.get_running_loop().call_later(self.server.grace, self.writer.transport.abort)
        else:
            self._out.append(line)
        self._ready.set()

    async def _send(self, start: int) -> None:
        """Write the hello, the stored events before ``start``, then whatever is queued."""
        write = self.writer.write
        write(self._line(self._hello()))
        earlier = self.server.earlier
        if earlier is not None and start > 0:
            try:
                events = await earlier(start)
            except Exception as exc:  # the store: the live part still goes out
                write(self._line(ErrorReply(error=f"cannot read the earlier events: {exc}")))
                events = []
            for event in events:
                write((dump_event(event) + "\n").encode())
                await self.writer.drain()
        while True:
            while not self._out:
                self._ready.clear()
                await self._ready.wait()
            line = self._out.popleft()
            if line is None:
                break
            write((line + "\n").encode())
            await self.writer.drain()
        if self.writer.can_write_eof():
            self.writer.write_eof()

    def _hello(self) -> Hello:
        return self.session.hello()

    @staticmethod
    def _line(message: Message) -> bytes:
        return (dump_message(message) + "\n").encode()

    async def _read(self) -> bool:
        """Handle the client's lines until it leaves (``True``) or sends one too long."""
        while True:
            try:
                line = await self.reader.readline()
            except (ValueError, asyncio.LimitOverrunError):
                self._put(self._reply_error(None, f"a line longer than {MAX_LINE} bytes"))
                return False
            except ConnectionError:
                return True
            if not line:
                return True
            if not line.strip():
                continue
            self._put(dump_message(await self.session.handle(line)))

    def _reply_error(self, ident: int | None, error: str) -> str:
        return dump_message(ErrorReply(id=ident, error=error))

    def _leave(self) -> None:
        self.session.leave()
