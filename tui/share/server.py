"""The listening side of a shared chat: a Unix socket server in the process that runs it.

Each joined terminal gets a :class:`~.protocol.Hello`, the chat's events so far (the earlier
ones from the store, through ``earlier``; the rest from the bus) and then live, and may claim one
of the team's people and then send the chat's inbound events as them: lines, and pause, resume,
steer, kick, invite and stop. The client never chooses who sends: an event is published as the
person the terminal answers for, through the chat (which uses that person's own publisher, so
the bus stamps the sender). A terminal
that stops reading never slows the chat: its subscription is not durable, and past ``backlog``
unsent lines it is told it fell behind and let go. Whatever arrives is validated; a bad line
gets an error reply, and nothing a client sends can end the chat except ``stop``.
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
from groupchat.events import (
    ControlRequested,
    Event,
    HumanInput,
    InboundEvent,
    SeatClaimed,
    SeatReleased,
    dump_event,
)
from groupchat.tui.claims import ClaimError, Claims
from groupchat.tui.control import ChatControl, ControlError
from groupchat.tui.seats import input_channel
from groupchat.tui.share.paths import is_live, share_folder, socket_path, sweep_stale
from groupchat.tui.share.protocol import (
    MAX_LINE,
    Bye,
    ErrorReply,
    Hello,
    Message,
    Ok,
    ProtocolError,
    Send,
    dump_message,
    line_id,
    parse_client_line,
    read_event,
)

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
    """One joined terminal: events and replies out, commands in."""

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
        self.seat: str | None = None
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
        return Hello(chat_id=self.chat.chat_id, humans=self._humans(), claimed=self.claims.names)

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
            self._put(dump_message(await self._handle(line)))

    def _reply_error(self, ident: int | None, error: str) -> str:
        return dump_message(ErrorReply(id=ident, error=error))

    def _leave(self) -> None:
        if self.seat is not None:
            self.claims.release(self.seat, self.holder)
            self.chat.release_seat(self.seat, self.holder)
            self.seat = None

    # ------------------------------------------------------------------ commands

    async def _handle(self, line: bytes) -> Ok | ErrorReply:
        try:
            message = parse_client_line(line)
        except ProtocolError as exc:
            return ErrorReply(id=line_id(line), error=f"bad message: {exc}")
        try:
            event = read_event(
                message,
                chat_id=self.chat.chat_id,
                sender=self.seat or self.holder,
                holder=self.holder,
            )
        except ProtocolError as exc:
            return ErrorReply(id=message.id, error=f"bad event: {exc}")
        try:
            return await self._do(message, event)
        except (ClaimError, ControlError) as exc:
            return ErrorReply(id=message.id, error=str(exc))
        except Exception as exc:  # whatever goes wrong here, the chat goes on
            return ErrorReply(id=message.id, error=f"{event.type} failed: {exc}")

    async def _do(self, message: Send, event: InboundEvent) -> Ok:
        """Publish ``event`` as the person this terminal answers for (a claim: as the person
        claimed), through the chat, which publishes with that person's own publisher."""
        if isinstance(event, SeatClaimed):
            return self._claim(message)
        if isinstance(event, SeatReleased):
            if self.seat is None:
                raise ControlError("you answer for nobody")
            name = self.seat
            self._leave()
            return Ok(id=message.id, text=f"{name} answers from the chat's own terminal again")
        if self.seat is None:
            raise ControlError("claim a person first: nobody answers from this terminal")
        if isinstance(event, HumanInput):
            return Ok(id=message.id, text=self._say(self.seat, event.text))
        return Ok(id=message.id, text=await self._control(self.seat, event))

    def _humans(self) -> list[str]:
        return [n for n, p in self.chat.participants.items() if input_channel(p) is not None]

    def _claim(self, message: Send) -> Ok:
        wanted_name = message.seat
        if self.seat is not None and not (message.switch and wanted_name is not None):
            raise ControlError(f"you already answer for {self.seat}; release first")
        humans = self._humans()
        listed = ", ".join(humans) or "none"
        if wanted_name is None:
            free = [name for name in humans if name not in self.claims]
            home = self.claims.home() if self.claims.home is not None else None
            free.sort(key=lambda name: name == home)  # the chat's own terminal's voice last
            if not free:
                raise ClaimError(f"every person already answers from a terminal ({listed})")
            name = free[0]
        else:
            wanted = wanted_name.lstrip("@").lower()
            found = [name for name in humans if name.lower() == wanted]
            if not found:
                agent = any(name.lower() == wanted for name in self.chat.participants)
                what = "is not a person" if agent else "is not"
                raise ClaimError(f"{wanted_name!r} {what} in this chat (people: {listed})")
            name = found[0]
        if name == self.seat:
            return Ok(id=message.id, text=f"you are {name} already", name=name)
        self.claims.claim(name, self.holder)  # first: a seat that is taken leaves the old one
        self._leave()
        self.chat.claim_seat(name, self.holder)
        self.seat = name
        return Ok(id=message.id, text=f"you are {name}", name=name)

    def _say(self, name: str, text: str) -> str:
        channel = input_channel(self.chat.participants.get(name))
        if channel is None:
            raise ControlError(f"{name} is not in the chat now")
        if channel.closed:
            raise ControlError(f"{name} has left this chat")
        if channel.requested:
            channel.send(text)
            return f"answered as {name}"
        if not text.strip():
            return "nothing is asked of you: a blank line does nothing"
        channel.send(text)
        return f"posted as {name}"

    async def _control(self, by: str, event: ControlRequested) -> str:
        chat, command, name = self.chat, event.command, event.name
        if command == "steer":
            if name is None:
                raise ControlError("next needs the name of the next speaker")
            return ChatControl(chat, by).steer(name)
        if command == "pause":
            await chat.pause(by=by)
            return "paused"
        if command == "resume":
            await chat.resume(by=by)
            return "resumed"
        if command == "interrupt":
            return "interrupted" if await chat.interrupt(by=by) else "nobody is speaking"
        if command == "kick":
            if name is None:
                raise ControlError("kick needs the name of who to remove")
            return await ChatControl(chat, by).kick(name, reason=event.reason)
        if command == "invite":
            control = ChatControl(chat, by)
            if name is None:
                return control.come_back()
            return await control.invite(name)
        await chat.stop(event.reason or "stopped", by=by)
        return "stopping the chat"
