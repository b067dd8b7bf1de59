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
import uuid
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import ValidationError

from groupchat.distributed import keys
from groupchat.distributed.follow import read_range
from groupchat.distributed.hosting import BEAT_INTERVAL, INBOX_KEEP
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
)
from groupchat.events import ChatEnded, ChatStarted, Event, MessagePosted, TurnSkipped
from groupchat.messages import ToolCallPart, ToolResultPart
from groupchat.participant import (
    AwaitingInput,
    ChatView,
    EndChat,
    HandTo,
    ModelCalled,
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

QUIET_CHECKS = 5
"""Quiet seconds (no word from the manager) after which a worker looks whether a chat is over
(its manager may have died without saying the run ended)."""

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
        self._serving: dict[str, asyncio.Task[None]] = {}
        self._hosts: dict[str, _ChatHost] = {}
        self.hosted: dict[str, set[str]] = {}
        """Chat id -> the names the manager accepted from this worker."""
        self.refused: dict[str, dict[str, str]] = {}
        """Chat id -> name -> why the manager refused it."""

    async def patiently(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` once Redis answers (it may be restarting), for up to the outage limit."""
        return await patiently(call, limit=self.outage_limit)

    async def run(self) -> None:
        client = cast(Any, self.client)
        if self.only_chat is not None:
            only = self.only_chat
            info = cast(bytes | None, await self.patiently(lambda: client.hget(keys.CHATS, only)))
            await self._serve(only, _described(info) or {})
            return
        try:
            last = await self.patiently(self._announce_position)
            listed = cast(
                dict[bytes, bytes], await self.patiently(lambda: client.hgetall(keys.CHATS))
            )
            for chat_id, info in listed.items():
                self._maybe_serve(chat_id.decode(), info)
            while True:
                read = partial(xread, self.client, {keys.ANNOUNCE: last}, block=1000, count=100)
                answer = await self.patiently(read)
                for _stream, entries in answer:
                    for entry_id, fields in entries:
                        last = entry_id
                        chat = fields.get(b"chat", b"").decode()
                        self._maybe_serve(chat, fields.get(b"info", b"{}"))
        finally:
            for task in self._serving.values():
                task.cancel()
            for task in list(self._serving.values()):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _announce_position(self) -> bytes:
        return await last_id(self.client, keys.ANNOUNCE) or b"0-0"

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
            await host.leave()


class _ChatHost:
    """This worker in one chat."""

    def __init__(self, worker: Worker, chat_id: str) -> None:
        self.worker = worker
        self.client = worker.client
        self.chat_id = chat_id
        self.state = ChatState(chat_id)
        self.view = ChatView(self.state, self._ask)
        self.agents = worker.agents_for_a_chat()
        self.applied = -1
        self.names: list[str] = []
        self.beating: set[str] = set()
        self.pending: list[Turn] = []
        self.running: dict[str, asyncio.Task[None]] = {}  # message id -> turn
        self.asks: dict[str, asyncio.Future[str | None]] = {}
        self.beats: asyncio.Task[None] | None = None
        self.ended = False
        self.saw_end = False
        """The last event read ended a run; the chat is over unless it is listed again (a
        resumed chat goes on in the same stream)."""
        self.relisted = False
        """The chat was announced again while this host looked at the end of a run."""
        self.run_over = False
        """The manager said a run ended: time to look whether the chat is over."""

    async def run(self) -> None:
        """Wait for what the manager asks (a turn, a cancel, the end of a run), reading the
        chat's stream only when a turn needs the chat so far: a worker does not wake for
        every word of the other speakers."""
        replies = keys.reply(self.chat_id, self.worker.id)
        positions: dict[str, bytes | str] = {replies: "0-0"}
        await self._catch_up()  # who is in the chat, what was said
        quiet = 0
        while not self.ended:
            answer = await self.worker.patiently(
                lambda: xread(self.client, positions, block=1000, count=500)
            )
            for _key, entries in answer:
                for entry_id, fields in entries:
                    positions[replies] = entry_id
                    await self._reply(fields.get(b"m", b""))
            if self.pending:
                await self._catch_up(upto=max(turn.seq for turn in self.pending))
                self._start_pending()
            quiet = 0 if answer else quiet + 1
            if self.run_over or quiet >= QUIET_CHECKS:
                quiet = 0
                await self._check_end()

    async def _catch_up(self, *, upto: int = -1) -> None:
        """Fold the chat's stream into the view: all of it there is, and at least up to seq
        ``upto`` (the start of a turn asked for, which the manager may not have written to
        the stream yet)."""
        stream = keys.events(self.chat_id)
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

    async def _check_end(self) -> None:
        """The chat is over for this worker once it is off the bus's list and its stream ends
        with a run's end (a chat run again is listed again: the host goes on)."""
        self.run_over = self.relisted = False
        listed = await self.worker.patiently(lambda: self.client.hexists(keys.CHATS, self.chat_id))
        if listed or self.relisted:
            return
        await self._catch_up()
        if self.saw_end and not self.relisted:
            self.ended = True

    # ------------------------------------------------------------------ the chat

    def _event(self, event: Event) -> None:
        self.state.apply(event)
        self.applied = event.seq
        self.saw_end = isinstance(event, ChatEnded)
        if isinstance(event, ChatStarted):
            self.host([info.name for info in event.participants if not info.human])
            if not self.names:
                self.ended = True
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
        if self.names and self.beats is None:
            self.beats = asyncio.create_task(self._beat())

    def _cancel(self, message_id: str) -> None:
        task = self.running.pop(message_id, None)
        if task is not None:
            task.cancel()

    async def _beat(self) -> None:
        while True:
            beat = Beat(worker=self.worker.id, where=self.worker.where).model_dump_json()
            async with self.client.pipeline(transaction=False) as pipe:
                for name in self.beating:
                    pipe.xadd(
                        keys.host_inbox(self.chat_id, name),
                        {"m": beat},
                        maxlen=INBOX_KEEP,
                        approximate=True,
                    )
                with contextlib.suppress(Exception):
                    await pipe.execute()
            await asyncio.sleep(self.worker.beat_interval)

    async def leave(self) -> None:
        if self.beats is not None:
            self.beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.beats
        for task in list(self.running.values()):
            task.cancel()
        if not self.ended:
            bye = Unhost(worker=self.worker.id).model_dump_json()
            with contextlib.suppress(Exception):
                for name in self.beating:
                    await self.client.xadd(keys.host_inbox(self.chat_id, name), {"m": bye})

    # ------------------------------------------------------------------ the manager

    async def _reply(self, data: bytes) -> None:
        try:
            message = REPLY_ADAPTER.validate_json(data)
        except ValidationError:
            return
        worker = self.worker
        if isinstance(message, Hosted):
            worker.hosted.setdefault(self.chat_id, set()).add(message.name)
            worker.note(f"hosting {message.name} in chat {self.chat_id}")
        elif isinstance(message, Refused):
            self.beating.discard(message.name)
            worker.refused.setdefault(self.chat_id, {})[message.name] = message.error
            worker.note(f"chat {self.chat_id}: cannot host {message.name}: {message.error}")
            if not self.beating:
                self.ended = True
        elif isinstance(message, Turn):
            self.pending.append(message)
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
        for turn in self.pending:
            if self.applied < turn.seq:
                waiting.append(turn)  # the view must hold the chat up to the turn's start
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

        async def send(piece: Piece) -> None:
            item = Item(worker=self.worker.id, message_id=turn.message_id, piece=piece)
            data = item.model_dump_json()
            await self.worker.patiently(
                lambda: self.client.xadd(inbox, {"m": data}, maxlen=INBOX_KEEP, approximate=True)
            )

        with worker_turn_span(turn.traceparent, turn.name, self.worker.id, self.worker.tracing):
            await self._stream(participant, turn, send)

    async def _stream(
        self, participant: Participant, turn: Turn, send: Callable[[Piece], Awaitable[None]]
    ) -> None:
        """Send what ``participant``'s turn yields, until it ends or fails."""
        stream = participant.take_turn(self.view)
        try:
            async for item in stream:
                piece = _piece(item)
                await send(piece)
                if isinstance(piece, Done | Passed | Ended):
                    return
            await send(Done())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.worker.note(f"chat {self.chat_id}: {turn.name}'s turn failed: {error}")
            await send(Failed(error=error))
        finally:
            self.running.pop(turn.message_id, None)
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await aclose()

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
        inbox, data = keys.host_inbox(self.chat_id, turn.speaker), ask.model_dump_json()
        await self.worker.patiently(lambda: self.client.xadd(inbox, {"m": data}))
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
    if isinstance(item, Reply):
        return Done(content=item.content, parts=item.parts, usage=item.usage)
    if isinstance(item, Pass):
        return Passed(reason=item.reason)
    if isinstance(item, EndChat):
        return Ended(reason=item.reason)
    raise TypeError(
        f"a turn yielded {type(item).__name__}; a turn yields str, Reply, Pass, EndChat, "
        "HandTo, AwaitingInput, ModelCalled or tool parts"
    )
