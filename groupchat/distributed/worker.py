"""A worker: hosts some of a team's agents for the chats of that team that run on a bus.

The worker finds the team's running chats (the bus's list, then the chats announced as they
start), and for each one beats on the inboxes of the names it hosts, reads the chat's stream
to keep its own view of the chat, and takes a turn when the manager asks for one: the agent
runs here, with a view rebuilt from the stream, and what it yields goes back to the manager,
which publishes it as the agent's. A turn the manager concludes (an interrupt, a stop, a
timeout) is cancelled here as soon as the chat's stream says so. A worker outlives Redis
restarting: what it reads and sends waits until Redis is back (for up to the outage limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import ValidationError

from groupchat.distributed import keys
from groupchat.distributed.batch import Batcher
from groupchat.distributed.follow import read_range
from groupchat.distributed.hosting import BEAT_INTERVAL, INBOX_KEEP
from groupchat.distributed.inboxes import Inboxes
from groupchat.distributed.patience import patiently
from groupchat.distributed.redis_bus import OUTAGE_LIMIT
from groupchat.distributed.streams import last_id, xread
from groupchat.distributed.wire import (
    REPLY_ADAPTER,
    Answer,
    Ask,
    Beat,
    Call,
    Called,
    Calling,
    Cancel,
    Done,
    Ended,
    Failed,
    Hand,
    Hosted,
    Item,
    Passed,
    Piece,
    Refused,
    Result,
    RunEnded,
    Text,
    Turn,
    Unhost,
    Waiting,
    entry_events,
)
from groupchat.events import (
    ChatEnded,
    ChatStarted,
    Event,
    MessagePosted,
    TurnSkipped,
    event_list_adapter,
)
from groupchat.messages import ToolCallPart, ToolResultPart
from groupchat.participant import (
    AwaitingInput,
    ChatView,
    EndChat,
    HandTo,
    ModelCalled,
    ModelCalling,
    Pass,
    Reply,
)
from groupchat.state import ChatState
from groupchat.tracing.context import worker_turn_span

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from groupchat.participant import Participant
    from groupchat.tracing import Tracing

__all__ = ["QUIET_CHECKS", "Worker"]

QUIET_CHECKS = 5.0
"""Quiet seconds (no word from the manager) after which a worker looks whether a chat is over
(its manager may have died without saying the run ended)."""

EVENTS = event_list_adapter()

SEND_AHEAD = 256
"""Pieces of a turn queued behind a send under way before the turn waits for it."""

Note = Callable[[str], None]
T = TypeVar("T")


def _stderr(text: str) -> None:
    sys.stderr.write(f"groupchat worker: {text}\n")
    sys.stderr.flush()


class Worker:
    """Hosts ``participants`` for the running chats of ``team`` (only ``chat``, if given).

    :meth:`run` serves until cancelled, or, with ``chat``, until that chat ends. ``note`` is
    told what happens (hosting, refusals, turns that failed).

    ``participants`` is the agents by name, shared by every chat this worker hosts, or a
    function that makes them, called once for each chat, so that an agent that keeps state
    between its turns (a script's place, a memory) keeps each chat's apart.

    One reader waits on the bus for the whole worker (the chats announced, and the manager's
    word in every chat it hosts in), one task beats for all of them, and what the worker sends
    goes out in shared pipelines (:class:`~groupchat.distributed.batch.Batcher`).
    """

    def agents_for_a_chat(self) -> dict[str, Participant]:
        """The agents one chat gets: their own, when this worker can make them."""
        return dict(self._make()) if self._make is not None else self.participants

    def __init__(
        self,
        client: Redis,
        participants: Mapping[str, Participant] | Callable[[], Mapping[str, Participant]],
        *,
        team: str,
        chat: str | None = None,
        beat_interval: float = BEAT_INTERVAL,
        outage_limit: float = OUTAGE_LIMIT,
        note: Note = _stderr,
        tracing: Tracing | None = None,
    ) -> None:
        self.client = client
        self.tracing = tracing
        """How this worker traces the turns it takes (default: when a tracer provider is set,
        under the trace context the manager sends with each turn)."""
        if callable(participants):
            self._make: Callable[[], Mapping[str, Participant]] | None = participants
            self.participants = dict(participants())
        else:
            self._make = None
            self.participants = dict(participants)
        self.team = team
        self.only_chat = chat
        self.beat_interval = beat_interval
        self.outage_limit = outage_limit
        self.note = note
        self.id = uuid.uuid4().hex[:12]
        self.where = f"{socket.gethostname()}:{os.getpid()}"
        self.batcher = Batcher(client)
        # The worker's user may write only its names' inboxes: no wake stream. A chat added
        # is announced, and the announcement ends the read under way.
        self.reader = Inboxes(client, wake=False, idle=self._idle)
        self._serving: dict[str, asyncio.Task[None]] = {}
        self._hosts: dict[str, _ChatHost] = {}
        self._due: set[_ChatHost] = set()  # hosts the manager asked for a turn in this read
        self.hosted: dict[str, set[str]] = {}
        """Chat id -> the names the manager accepted from this worker."""
        self.refused: dict[str, dict[str, str]] = {}
        """Chat id -> name -> why the manager refused it."""

    async def patiently(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` once Redis answers (it may be restarting), for up to the outage limit."""
        return await patiently(call, limit=self.outage_limit)

    async def send(self, stream: str, data: str, *, keep: int | None = INBOX_KEEP) -> None:
        """Add ``{"m": data}`` to ``stream`` (in the worker's shared pipeline)."""

        def add(pipe: Any) -> Any:
            if keep is None:
                return pipe.xadd(stream, {"m": data})
            return pipe.xadd(stream, {"m": data}, maxlen=keep, approximate=True)

        await self.patiently(lambda: self.batcher.run(add))

    async def run(self) -> None:
        client = cast(Any, self.client)
        beats = asyncio.create_task(self._beat(), name="worker beats")
        try:
            if self.only_chat is not None:
                only = self.only_chat
                info = cast(
                    bytes | None, await self.patiently(lambda: client.hget(keys.CHATS, only))
                )
                await self._serve(only, _described(info) or {})
                return
            last = await self.patiently(self._announce_position)
            listed = cast(
                dict[bytes, bytes], await self.patiently(lambda: client.hgetall(keys.CHATS))
            )
            for chat_id, info in listed.items():
                self._maybe_serve(chat_id.decode(), info)
            self.reader.watch({keys.ANNOUNCE: last}, self._announced)
            await asyncio.get_running_loop().create_future()  # serve until cancelled
        finally:
            beats.cancel()
            for task in self._serving.values():
                task.cancel()
            for task in [*self._serving.values(), beats]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.reader.aclose()

    async def _announce_position(self) -> bytes:
        return await last_id(self.client, keys.ANNOUNCE) or b"0-0"

    def _announced(self, _stream: str, _entry: bytes, fields: dict[bytes, bytes]) -> None:
        chat = fields.get(b"chat", b"").decode()
        self._maybe_serve(chat, fields.get(b"info", b"{}"))

    def _maybe_serve(self, chat_id: str, info: bytes | str) -> None:
        described = _described(info)
        if described is None or described.get("team") != self.team:
            return
        task = self._serving.get(chat_id)
        if task is None or task.done():
            self._serving[chat_id] = asyncio.create_task(self._serve(chat_id, described))
        elif chat_id in self._hosts:
            self._hosts[chat_id].relisted = True  # run again: the host it has goes on

    async def _serve(self, chat_id: str, info: dict[str, Any]) -> None:
        host = self._hosts[chat_id] = _ChatHost(self, chat_id)
        agents = info.get("agents")
        if isinstance(agents, list):
            host.host([name for name in agents if isinstance(name, str)])
        try:
            await host.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.note(f"chat {chat_id}: {type(exc).__name__}: {exc}")
        finally:
            if self._hosts.get(chat_id) is host:
                del self._hosts[chat_id]
            self._due.discard(host)
            await host.leave()

    def _idle(self) -> None:
        """After each read: start the turns asked for, look whether quiet chats are over."""
        due, self._due = self._due, set()
        for host in due:
            host.serve()
        now = time.monotonic()
        for host in list(self._hosts.values()):
            host.look(now)

    async def _beat(self) -> None:
        """Beat on the inbox of each name this worker hosts, in every chat, every interval."""
        while True:
            beat = Beat(worker=self.id, where=self.where).model_dump_json()
            inboxes = [
                keys.host_inbox(host.chat_id, name)
                for host in self._hosts.values()
                for name in host.beating
            ]
            if inboxes:
                with contextlib.suppress(Exception):  # Redis is away: beat again later
                    async with self.client.pipeline(transaction=False) as pipe:
                        for inbox in inboxes:
                            pipe.xadd(inbox, {"m": beat}, maxlen=INBOX_KEEP, approximate=True)
                        await pipe.execute()
            await asyncio.sleep(self.beat_interval)


class _ChatHost:
    """This worker in one chat."""

    def __init__(self, worker: Worker, chat_id: str) -> None:
        self.worker = worker
        self.client = worker.client
        self.chat_id = chat_id
        self.replies = keys.reply(chat_id, worker.id)
        self.state = ChatState(chat_id)
        self.view = ChatView(self.state, self._ask)
        self.agents = worker.agents_for_a_chat()
        self.applied = -1
        self.names: list[str] = []
        self.beating: set[str] = set()
        self.pending: list[tuple[Turn, list[Event]]] = []
        """Turns asked for, with the events their requests carried, not yet applied."""
        self.running: dict[str, asyncio.Task[None]] = {}  # message id -> turn
        self.asks: dict[str, asyncio.Future[str | None]] = {}
        self.reading = asyncio.Lock()  # one reader of the stream at a time
        self.busy: asyncio.Task[None] | None = None  # a catch-up or an end check under way
        self.done = asyncio.Event()
        self.heard = self.looked = time.monotonic()
        self.ended = False
        self.saw_end = False
        """The last event read ended a run; the chat is over unless it is listed again (a
        resumed chat goes on in the same stream)."""
        self.relisted = False
        """The chat was announced again while this host looked at the end of a run."""
        self.run_over = False
        """The manager said a run ended: time to look whether the chat is over."""

    async def run(self) -> None:
        """Wait for what the manager asks (a turn, a cancel, the end of a run). A turn's
        request carries the chat's events since the worker's last turn, so in a running chat
        the worker does not read the stream (nor wake for every word of the others)."""
        self.worker.reader.watch({self.replies: "0-0"}, self._entry)
        try:
            await self._catch_up()  # who is in the chat, what was said
            self.serve()
            await self.done.wait()
        finally:
            self.worker.reader.unwatch([self.replies])
            if self.busy is not None:
                self.busy.cancel()

    def _end(self) -> None:
        self.ended = True
        self.done.set()  # run() returns

    # ------------------------------------------------------------------ reading the chat

    async def _catch_up(self, *, upto: int = -1) -> None:
        """Fold the chat's stream into the view: all of it there is, and at least up to seq
        ``upto`` (the start of a turn asked for, which the manager may not have written to
        the stream yet)."""
        stream = keys.events(self.chat_id)
        async with self.reading:
            while True:
                new = await self.worker.patiently(self._read_new)
                for event in new:
                    self._event(event)
                if self.applied >= upto:
                    return
                await self.worker.patiently(partial(self._wait_after, stream))

    async def _wait_after(self, stream: str) -> None:
        """Wait (a moment at most) for the stream to go past what was folded."""
        await xread(self.client, {stream: f"0-{self.applied + 1}"}, block=200, count=1)

    async def _read_new(self) -> list[Event]:
        return [e async for e in read_range(self.client, self.chat_id, self.applied + 1)]

    def serve(self) -> None:
        """Take the turns asked for: at once when the requests brought the chat up to their
        start, else once the stream is read that far."""
        if self.busy is not None and not self.busy.done():
            return  # it serves when it is through
        self._apply_news()
        if not self.pending:
            return
        upto = max(turn.seq for turn, _news in self.pending)
        if self.applied >= upto:
            self._start_pending()
        else:
            self._busy(self._catch_up_and_serve(upto))

    def _busy(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.worker.note(f"chat {self.chat_id}: {type(exc).__name__}: {exc}")
                self._end()
            else:
                self.busy = None
                if not self.ended:
                    self.serve()  # what was asked for meanwhile

        self.busy = asyncio.ensure_future(run())

    async def _catch_up_and_serve(self, upto: int) -> None:
        await self._catch_up(upto=upto)
        self._apply_news()
        self._start_pending()

    def _apply_news(self) -> None:
        """Fold the events turn requests carried, as far as they go on from what is folded."""
        if self.reading.locked():
            return  # the stream is being read: those events come from there
        for _turn, news in self.pending:
            for event in news:
                if event.seq == self.applied + 1:
                    self._event(event)
                elif event.seq > self.applied:
                    break  # a gap: the rest comes from the stream
            news.clear()

    def look(self, now: float) -> None:
        """Look whether the chat is over, when the manager said a run ended or has been quiet
        for :data:`QUIET_CHECKS` seconds."""
        if self.ended or (self.busy is not None and not self.busy.done()):
            return
        quiet = now - max(self.heard, self.looked) >= QUIET_CHECKS
        if self.run_over or quiet:
            self.looked = now
            self._busy(self._check_end())

    async def _check_end(self) -> None:
        """The chat is over for this worker once it is off the bus's list and its stream ends
        with a run's end (a chat run again is listed again: the host goes on)."""
        self.run_over = self.relisted = False
        listed = await self.worker.patiently(lambda: self.client.hexists(keys.CHATS, self.chat_id))
        if listed or self.relisted:
            return
        await self._catch_up()
        if self.saw_end and not self.relisted:
            self._end()

    # ------------------------------------------------------------------ the chat

    def _event(self, event: Event) -> None:
        if event.seq <= self.applied:
            return
        self.state.apply(event)
        self.applied = event.seq
        self.saw_end = isinstance(event, ChatEnded)
        if isinstance(event, ChatStarted):
            self.host([info.name for info in event.participants if not info.human])
            if not self.names:
                self._end()
        elif isinstance(event, MessagePosted):
            self._cancel(event.message.id)
        elif isinstance(event, TurnSkipped):
            self._cancel(event.message_id)
        elif isinstance(event, ChatEnded):
            for message_id in list(self.running):
                self._cancel(message_id)

    def host(self, agents: list[str]) -> None:
        """Beat for those of ``agents`` this worker has (once: later calls add nothing)."""
        if self.names:
            return
        wanted = self.agents
        self.names = [name for name in agents if name in wanted]
        self.beating = set(self.names)

    def _cancel(self, message_id: str) -> None:
        task = self.running.pop(message_id, None)
        if task is not None:
            task.cancel()

    async def leave(self) -> None:
        for task in list(self.running.values()):
            task.cancel()
        if not self.ended:
            bye = Unhost(worker=self.worker.id).model_dump_json()
            with contextlib.suppress(Exception):
                for name in self.beating:
                    await self.client.xadd(keys.host_inbox(self.chat_id, name), {"m": bye})
        self.beating = set()

    # ------------------------------------------------------------------ the manager

    def _entry(self, _stream: str, _entry: bytes, fields: dict[bytes, bytes]) -> None:
        """What the manager sent (in the worker's reader: must not wait)."""
        self.heard = time.monotonic()
        try:
            message = REPLY_ADAPTER.validate_json(fields.get(b"m", b""))
        except ValidationError:
            return
        worker = self.worker
        if isinstance(message, Turn):
            lines = entry_events(fields)
            try:
                news = list(EVENTS.validate_json(b"[" + b",".join(lines) + b"]")) if lines else []
            except ValidationError:
                news = []  # read from the stream instead
            self.pending.append((message, news))
            worker._due.add(self)
        elif isinstance(message, Hosted):
            worker.hosted.setdefault(self.chat_id, set()).add(message.name)
            worker.note(f"hosting {message.name} in chat {self.chat_id}")
        elif isinstance(message, Refused):
            self.beating.discard(message.name)
            worker.refused.setdefault(self.chat_id, {})[message.name] = message.error
            worker.note(f"chat {self.chat_id}: cannot host {message.name}: {message.error}")
            if not self.beating:
                self._end()
        elif isinstance(message, Cancel):
            self._cancel(message.message_id)
        elif isinstance(message, RunEnded):
            self.run_over = True
        elif isinstance(message, Answer):
            future = self.asks.pop(message.ask_id, None)
            if future is not None and not future.done():
                future.set_result(message.text)

    def _start_pending(self) -> None:
        waiting = []
        for turn, news in self.pending:
            if self.applied < turn.seq:
                waiting.append((turn, news))  # the view must hold the chat up to the turn's start
                continue
            participant = self.agents.get(turn.name)
            open_turn = self.state.open_turn
            if participant is None or open_turn is None or open_turn.message_id != turn.message_id:
                continue  # the turn was concluded meanwhile
            self.running[turn.message_id] = asyncio.create_task(
                self._take(participant, turn), name=f"turn {turn.message_id}"
            )
        self.pending = waiting

    async def _take(self, participant: Participant, turn: Turn) -> None:
        inbox = keys.host_inbox(self.chat_id, turn.name)
        worker = self.worker
        outbox: list[Piece] = []
        sending: asyncio.Task[None] | None = None

        async def flush() -> None:
            while outbox:
                pieces = tuple(outbox)
                outbox.clear()
                item = Item(worker=worker.id, message_id=turn.message_id, pieces=pieces)
                await worker.send(inbox, item.model_dump_json())

        async def send(piece: Piece) -> None:
            """Queue ``piece``: what the turn yields while a send is on its way goes in the
            next one, so a turn's pieces cost a round trip each only when they come slowly."""
            nonlocal sending
            outbox.append(piece)
            if sending is None or sending.done():
                sending = asyncio.ensure_future(flush())
            elif len(outbox) >= SEND_AHEAD:
                await asyncio.shield(sending)

        with worker_turn_span(turn.traceparent, turn.name, worker.id, worker.tracing):
            stream = participant.take_turn(self.view)
            try:
                try:
                    async for item in stream:
                        piece = _piece(item)
                        await send(piece)
                        if isinstance(piece, Done | Passed | Ended):
                            break
                    else:
                        await send(Done())
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    worker.note(f"chat {self.chat_id}: {turn.name}'s turn failed: {error}")
                    await send(Failed(error=error))
                finally:
                    aclose = getattr(stream, "aclose", None)
                    if aclose is not None:
                        with contextlib.suppress(Exception, asyncio.CancelledError):
                            await aclose()
                while sending is not None and not sending.done():
                    await asyncio.shield(sending)
            except asyncio.CancelledError:
                if sending is not None:
                    sending.cancel()  # the manager concluded the turn: the rest is not wanted
                raise
            finally:
                self.running.pop(turn.message_id, None)

    async def _ask(
        self,
        participant: str,
        prompt: str,
        *,
        request: str = "turn",
        choices: tuple[str, ...] = (),
        timeout: float | None = None,
    ) -> str | None:
        turn = self.state.open_turn
        if turn is None or turn.speaker not in self.names:
            return None
        ask_id = uuid.uuid4().hex[:12]
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.asks[ask_id] = future
        ask = Ask(
            worker=self.worker.id,
            ask_id=ask_id,
            participant=participant,
            prompt=prompt,
            request=request,  # type: ignore[arg-type]
            choices=tuple(choices),
            timeout=timeout,
        )
        inbox = keys.host_inbox(self.chat_id, turn.speaker)
        await self.worker.send(inbox, ask.model_dump_json(), keep=None)
        try:
            return await future
        finally:
            self.asks.pop(ask_id, None)


def _described(info: bytes | str | None) -> dict[str, Any] | None:
    """A chat's entry in the bus's list of running chats, if it reads as one."""
    if info is None:
        return None
    try:
        described = json.loads(info)
    except ValueError:
        return None
    return described if isinstance(described, dict) else None


def _piece(item: Any) -> Piece:
    """What the worker sends the manager for an item a turn yielded."""
    if isinstance(item, str):
        return Text(text=item)
    if isinstance(item, ToolCallPart):
        return Call(part=item)
    if isinstance(item, ToolResultPart):
        return Result(part=item)
    if isinstance(item, HandTo):
        return Hand(target=item.target, note=item.note)
    if isinstance(item, AwaitingInput):
        return Waiting(prompt=item.prompt, timeout=item.timeout)
    if isinstance(item, ModelCalled):
        return Called(model=item.model, started=item.started, usage=item.usage, error=item.error)
    if isinstance(item, ModelCalling):
        return Calling(model=item.model, started=item.started)
    if isinstance(item, Reply):
        return Done(content=item.content, parts=item.parts, usage=item.usage)
    if isinstance(item, Pass):
        return Passed(reason=item.reason)
    if isinstance(item, EndChat):
        return Ended(reason=item.reason)
    raise TypeError(
        f"a turn yielded {type(item).__name__}; a turn yields str, Reply, Pass, EndChat, "
        "HandTo, AwaitingInput, ModelCalled, ModelCalling or tool parts"
    )
