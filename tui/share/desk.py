"""The join desk of a chat on a bus: people who join from any machine, in the chat's process.

A terminal joined over the bus (:mod:`.bus_client`) writes
:class:`~groupchat.distributed.wire.JoinLine` entries to the chat's ``join`` inbox; the
chat's :class:`~groupchat.distributed.hosting.Hosting` reads them and asks
:meth:`JoinDesk.answer` for the server lines to send back. The desk keeps one
:class:`~.seat_session.SeatSession` per client, so a line over the bus does exactly what the
same line does over the Unix socket, with the same :class:`~groupchat.tui.claims.Claims` as
the chat's own terminal. A terminal beats while it is joined; one silent for longer than
``timeout`` (killed, or cut off) is let go and its seat given back, and if it comes back it is
told so and must join again. The chat's events do not go through the desk: joined terminals
read them from the chat's stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from groupchat.distributed.hosting import BEAT_TIMEOUT
from groupchat.distributed.wire import JoinLine
from groupchat.safe_text import one_line
from groupchat.tui.claims import Claims
from groupchat.tui.share.protocol import Bye, ErrorReply, dump_message, line_id
from groupchat.tui.share.seat_session import SeatSession

if TYPE_CHECKING:
    from groupchat.chat import GroupChat

__all__ = ["LET_GO", "JoinDesk"]

LET_GO = "this terminal was silent too long and its seat was given back; join again"

Forget = Callable[[str], Awaitable[object]]
"""``forget(client)``: clean up after a client let go (its reply stream, say)."""


@dataclass
class _Terminal:
    session: SeatSession
    seen: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One line at a time, in the order sent, as over a socket."""


class JoinDesk:
    """The terminals joined to ``chat`` over a bus; see the module docstring."""

    def __init__(
        self,
        chat: GroupChat,
        claims: Claims,
        *,
        timeout: float = BEAT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        forget: Forget | None = None,
    ) -> None:
        self.chat = chat
        self.claims = claims
        self.timeout = timeout
        self.clock = clock
        self.forget = forget
        self._terminals: dict[str, _Terminal] = {}
        self._count = 0
        self._reaper: asyncio.Task[None] | None = None

    @property
    def joined(self) -> dict[str, str | None]:
        """The clients joined now, each with the person it answers for."""
        return {client: t.session.seat for client, t in self._terminals.items()}

    async def answer(self, line: JoinLine) -> list[str]:
        """The server lines that answer ``line`` (a hello, a reply; none for a beat)."""
        terminal = self._terminals.get(line.client)
        if line.act == "leave":
            if terminal is not None:
                async with terminal.lock:
                    self._let_go(line.client)
            return []
        if terminal is None:
            if line.act == "hello":
                terminal = self._join(line)
            else:  # let go already (or never joined): it must join again
                refused = [dump_message(Bye(reason=LET_GO))]
                if line.act == "line":
                    refused.insert(0, dump_message(ErrorReply(id=line_id(line.line), error=LET_GO)))
                return refused
        terminal.seen = self.clock()
        if line.act == "hello":
            return [dump_message(terminal.session.hello())]
        if line.act == "beat":
            return []
        async with terminal.lock:
            reply = await terminal.session.handle(line.line)
        return [dump_message(reply)]

    def _join(self, line: JoinLine) -> _Terminal:
        self._count += 1
        where = one_line(line.holder)[:100]
        holder = (
            f"joined terminal {self._count} on {where}"
            if where
            else f"joined terminal {self._count}"
        )
        terminal = _Terminal(SeatSession(self.chat, self.claims, holder), self.clock())
        self._terminals[line.client] = terminal
        return terminal

    def _let_go(self, client: str) -> None:
        terminal = self._terminals.pop(client, None)
        if terminal is not None:
            terminal.session.leave()

    def reap(self) -> list[str]:
        """Let go of the terminals silent for longer than ``timeout``; returns their clients."""
        now = self.clock()
        silent = [c for c, t in self._terminals.items() if now - t.seen > self.timeout]
        for client in silent:
            self._let_go(client)
        return silent

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        """Check for silent terminals a few times per ``timeout`` from now on."""
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever(), name="join desk")

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.timeout / 3)
            for client in self.reap():
                if self.forget is not None:
                    with contextlib.suppress(Exception):  # the bus may be away: it expires
                        await self.forget(client)

    async def close(self) -> None:
        """Stop checking, and give every seat held over the bus back."""
        reaper, self._reaper = self._reaper, None
        if reaper is not None:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
        for client in list(self._terminals):
            self._let_go(client)
