"""Running a chat with no UI: one line per message (or JSONL) out, people's lines in."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import IO, TYPE_CHECKING

from groupchat.bus import Subscription
from groupchat.channel import InputChannel
from groupchat.chat import ChatResult, GroupChat
from groupchat.events import ChatEnded, ErrorEvent, Event, MessagePosted, dump_event
from groupchat.safe_text import one_line
from groupchat.tui.claims import Claims

if TYPE_CHECKING:
    from groupchat.models.pricing import CostOf, PriceTable

__all__ = [
    "Committed",
    "LineFeeder",
    "costing",
    "format_message_line",
    "read_line",
    "run_headless",
    "usage_and_cost",
]

Committed = Callable[[str, int], Awaitable[None]]
"""``committed(chat_id, seq)`` returns once that event is stored (``EventLog.wait_committed``).
"""


class LineFeeder:
    """Answers people's requests with lines from a text stream, one line per request.

    A line is read only when one of ``channels`` is waiting for input, so lines are never taken
    as interjections. At the end of the stream every channel is closed: the people have left
    and their later turns pass. Bytes that are not UTF-8 are read as U+FFFD: the line still
    counts. People in ``claims`` answer from a joined terminal: they are left to it while
    claimed (and closed when given back after the stream ended).
    """

    def __init__(
        self,
        stream: IO[str],
        channels: Mapping[str, InputChannel],
        *,
        claims: Claims | None = None,
    ) -> None:
        self.stream = stream
        self.channels = dict(channels)
        self.claims = claims if claims is not None else Claims()
        self._changed = asyncio.Event()
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(Exception):
                reconfigure(errors="replace")

    async def run(self) -> None:
        stop = self.claims.listen(lambda _name, _holder: self._changed.set())
        try:
            await self._answer()
        finally:
            stop()

    async def _answer(self) -> None:
        while True:
            asked = await self._wait_for_request()
            if asked is None:
                return
            name, channel = asked
            line = await read_line(self.stream)
            if line is None:
                self._close_all()
                return
            if channel.requested and not channel.closed and name not in self.claims:
                channel.send(line)

    def _close_all(self) -> None:
        """The stream ended: everyone answered from it has left (the claimed, once given back)."""
        for name, channel in self.channels.items():
            if name not in self.claims:
                channel.close()
        channels = self.channels

        def closing(name: str, holder: str | None) -> None:
            if holder is None and name in channels:
                channels[name].close()

        self.claims.listen(closing)

    async def _wait_for_request(self) -> tuple[str, InputChannel] | None:
        while True:
            open_channels = {
                name: ch
                for name, ch in self.channels.items()
                if not ch.closed and name not in self.claims
            }
            if not any(not ch.closed for ch in self.channels.values()):
                return None
            for name, ch in open_channels.items():
                if ch.requested:
                    return name, ch
            self._changed.clear()
            waiters = [asyncio.ensure_future(ch.wait_requested()) for ch in open_channels.values()]
            waiters.append(asyncio.ensure_future(self._changed.wait()))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()


async def read_line(stream: IO[str]) -> str | None:
    """The next line of ``stream`` without its line ending (``None``: the stream ended), read
    in a daemon thread: a read still blocked when the chat ends must not hold up exit."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            line = stream.readline()
        except (OSError, ValueError):
            line = ""
        with contextlib.suppress(RuntimeError):  # the loop may be gone at exit
            loop.call_soon_threadsafe(_set, result, line)

    threading.Thread(target=read, name="groupchat-stdin", daemon=True).start()
    line = await result
    return None if line == "" else line.rstrip("\r\n")


def _set(fut: asyncio.Future[str], value: str) -> None:
    if not fut.done():
        fut.set_result(value)


def costing(prices: PriceTable | None, chat: GroupChat) -> CostOf | None:
    """How a front-end prices ``chat``: with ``prices`` and the models the chat has when asked
    (``None`` without prices: no cost is shown)."""
    if prices is None:
        return None
    from groupchat.models.pricing import models_in

    return lambda usage_by: prices.chat_cost(usage_by, models_in(chat))


def usage_and_cost(event: ChatEnded, cost_of: CostOf | None) -> tuple[str, str]:
    """What the end of a chat adds to its line: `` · 1234 tokens · $0.0123`` (tokens when there
    are any, the cost whenever prices are known), and why the cost is partial (or ``""``)."""
    tokens = event.usage.total_tokens
    shown = f" · {tokens} tokens" if tokens else ""
    if cost_of is None:
        return shown, ""
    cost = cost_of(event.usage_by)
    return f"{shown} · {cost.short()}", cost.missing()


def format_message_line(event: MessagePosted) -> str:
    message = event.message
    label = "task" if message.kind == "task" else message.sender
    mark = " [interrupted]" if message.interrupted else ""
    return f"{label}: {one_line(message.content)}{mark}"


async def _print_events(
    chat: GroupChat,
    sub: Subscription,
    out: IO[str],
    err: IO[str],
    jsonl: bool,
    committed: Committed | None,
    cost_of: CostOf | None = None,
) -> None:
    try:
        await _write_events(sub, out, err, jsonl, committed, cost_of)
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
        sub.close()
        await chat.stop("output closed")


async def _write_events(
    sub: Subscription,
    out: IO[str],
    err: IO[str],
    jsonl: bool,
    committed: Committed | None,
    cost_of: CostOf | None,
) -> None:
    async for event in sub:
        if committed is not None and isinstance(event, MessagePosted):
            await _stored(committed, event)
        if jsonl:
            out.write(dump_event(event) + "\n")
            out.flush()
        elif isinstance(event, MessagePosted):
            out.write(format_message_line(event) + "\n")
            out.flush()
        if jsonl:
            continue
        if isinstance(event, ErrorEvent) and not event.fatal:  # a fatal one is the end's reason
            who = f"{event.participant}: " if event.participant else ""
            err.write(f"error: {one_line(who + event.error)}\n")
            err.flush()
        elif isinstance(event, ChatEnded):
            # Tokens and cost only with prices: without them the line stays as scripts know it.
            extra, missing = usage_and_cost(event, cost_of) if cost_of else ("", "")
            err.write(f"chat ended ({event.status}): {one_line(event.reason)}{extra}\n")
            if missing:
                err.write(f"cost: {one_line(missing)}\n")
            err.flush()


async def _stored(committed: Committed, event: Event) -> None:
    """Wait until ``event`` is stored, so that what is printed survives a crash. If the store
    has failed, the chat is ending with that error (see ``StoreRecorder``): print anyway."""
    with contextlib.suppress(Exception):
        await committed(event.chat_id, event.seq)


async def run_headless(
    chat: GroupChat,
    task: str | None,
    *,
    jsonl: bool = False,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    committed: Committed | None = None,
    prices: PriceTable | None = None,
    claims: Claims | None = None,
) -> ChatResult:
    """Run ``chat`` printing one line per message (or every event as JSONL with ``jsonl``);
    errors the chat goes on after, and the end, go to ``stderr``.

    People in the chat take their turns from ``stdin``, one line each: a line answers whoever
    is asked next (a turn, a choice of speaker, an approval), in the order the chat asks, so
    several people are answered from one stream; nothing is read as an interjection. With
    ``committed``, a message is printed only once it is stored, so that a crash never loses
    what was shown. With ``prices`` the end also says how many tokens the chat used and what
    they cost (JSONL output is events only: its ``chat_ended`` has the usage by participant).
    People in ``claims`` answer from joined terminals while claimed, not from ``stdin``.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    sub = chat.bus.subscribe(chat.chat_id, start=chat.bus.next_seq(chat.chat_id), maxsize=4096)
    printer = asyncio.create_task(
        _print_events(chat, sub, out, err, jsonl, committed, costing(prices, chat))
    )
    channels = {
        name: channel
        for name, p in chat.participants.items()
        if isinstance(channel := getattr(p, "channel", None), InputChannel)
    }
    feeder = (
        asyncio.create_task(LineFeeder(stdin or sys.stdin, channels, claims=claims).run())
        if channels
        else None
    )
    try:
        result = await chat.run(task)
    finally:
        if feeder is not None:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
    await printer
    return result
