"""The manager's side of a distributed chat: participants hosted by workers, and what
workers and joined terminals send it.

:class:`Hosting` reads the chat's inboxes (one per agent, ``host:NAME``, and one for joined
terminals, ``join``). A worker registers a name by beating on its inbox; the name is then
hosted there while the beats keep coming (:data:`BEAT_TIMEOUT`), and listed so in the bus's
hash of hosts (what ``list --bus`` shows) until they stop. The sender of everything in
a name's inbox is that name: a worker can speak only as the names it hosts, and a Redis user
can be limited to those inboxes by an ACL. :class:`HostedParticipant` stands in the chat for
an agent: when a live worker hosts it, its turn is asked of the worker (a
:class:`~groupchat.distributed.wire.Turn` on the worker's reply stream) and the pieces the
worker sends back are yielded as the agent's own, so the manager streams, posts, interrupts
and times out a hosted turn as any other; else the agent takes its turn in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from groupchat.distributed import keys
from groupchat.distributed.errors import WorkerLost
from groupchat.distributed.patience import patiently
from groupchat.distributed.wire import (
    REPLY_ADAPTER,
    WORKER_ADAPTER,
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
    JoinLine,
    Passed,
    Piece,
    Refused,
    Reply,
    Result,
    RunEnded,
    Text,
    Turn,
    Unhost,
    Waiting,
    turn_entry,
)
from groupchat.participant import AwaitingInput, EndChat, HandTo, ModelCalled, ModelCalling, Pass
from groupchat.participant import Reply as TurnReply
from groupchat.tracing.context import turn_traceparent

if TYPE_CHECKING:
    from groupchat.chat import GroupChat
    from groupchat.distributed.redis_bus import RedisBus
    from groupchat.participant import ChatView, Participant, TurnItem

__all__ = [
    "BEAT_INTERVAL",
    "BEAT_TIMEOUT",
    "HostRecord",
    "HostedParticipant",
    "Hosting",
    "RemoteTurnError",
]

BEAT_INTERVAL = 1.0
"""Seconds between a worker's beats."""

BEAT_TIMEOUT = 3.0
"""Seconds without a beat after which a worker is taken for gone, and its turn fails."""

REPLY_KEEP = 1000
"""Entries a reply stream keeps (a client reads them as they come)."""

REPLY_TTL = 3600
"""Seconds a reply stream outlives its last answer."""

INBOX_KEEP = 10_000
"""Entries an inbox keeps at least: far more than the manager is ever behind."""

FIRST_NEWS = 64
"""Events the first turn request to a worker carries at most."""

JoinHandler = Callable[[JoinLine], Awaitable[list[str]]]
"""Handles a joined terminal's line; returns the server lines to send back to it."""


class RemoteTurnError(RuntimeError):
    """The hosted participant raised in its worker; the message is its ``Type: text``."""


@dataclass
class HostRecord:
    """Who hosts a name: the worker's id, where it runs, when it was last heard of."""

    worker: str
    where: str
    since: float
    seen: float

    def live(self, timeout: float, now: float | None = None) -> bool:
        return (now if now is not None else time.monotonic()) - self.seen < timeout


class Hosting:
    """Reads a chat's inboxes and keeps who hosts what; see the module docstring."""

    def __init__(
        self,
        bus: RedisBus,
        *,
        beat_timeout: float = BEAT_TIMEOUT,
        on_join: JoinHandler | None = None,
    ) -> None:
        self.bus = bus
        self.client = bus.client
        self.beat_timeout = beat_timeout
        self.on_join = on_join
        self.chat: GroupChat | None = None
        self.hosts: dict[str, HostRecord] = {}
        self._listed: set[str] = set()  # the names the bus's hash says are hosted
        self._turns: dict[str, tuple[str, asyncio.Queue[Piece]]] = {}  # message id -> worker
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._changed = asyncio.Event()
        self._streams: list[str] = []  # the inboxes: one a hosted name, then the join inbox
        self._sent: dict[str, int] = {}  # worker -> the last seq its turn requests carried
        self._expiring: dict[str, float] = {}  # reply stream -> when its expiry was set

    def attach(self, chat: GroupChat) -> None:
        self.chat = chat

    @property
    def chat_id(self) -> str:
        assert self.chat is not None, "attach the chat first"
        return self.chat.chat_id

    def _agents(self) -> list[str]:
        assert self.chat is not None
        return [
            name
            for name, participant in self.chat.participants.items()
            if not getattr(participant, "human", False)
        ]

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        """Start reading the inboxes, from what is sent from now on."""
        chat_id = self.chat_id
        streams = [keys.host_inbox(chat_id, name) for name in self._agents()]
        streams.append(keys.join_inbox(chat_id))
        batcher = self.bus.batcher
        lasts = await asyncio.gather(
            *(
                self._patiently(lambda s=s: batcher.run(lambda pipe: pipe.xrevrange(s, count=1)))  # type: ignore[misc]
                for s in streams
            )
        )
        positions: dict[str, bytes | str] = {
            stream: (last[0][0] if last else b"0-0")
            for stream, last in zip(streams, lasts, strict=True)
        }
        self._streams = streams
        self.bus.inboxes.watch(positions, self._on_entry)
        self._task = asyncio.create_task(self._keep_list(), name=f"hosts of {chat_id}")

    async def close(self) -> None:
        """Tell the workers the run is over, and stop reading the inboxes."""
        self.bus.inboxes.unwatch(self._streams)
        for worker in {record.worker for record in self.hosts.values()}:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send(worker, RunEnded()), 2.0)
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._task, *self._tasks]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = None

    async def __aenter__(self) -> Hosting:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _keep_list(self) -> None:
        """Take the names whose worker stopped beating (killed, cut off) off the bus's hash
        of who hosts what, so that ``list --bus`` names no dead worker; a beat lists it again."""
        while True:
            await asyncio.sleep(self.beat_timeout / 3)
            now = time.monotonic()
            silent = [
                name
                for name in self._listed
                if name not in self.hosts or not self.hosts[name].live(self.beat_timeout, now)
            ]
            if silent:
                hosts = keys.hosts(self.chat_id)
                await self._patiently(lambda: self.client.hdel(hosts, *silent))  # noqa: B023
                self._listed.difference_update(silent)

    def _on_entry(self, stream: str, _entry: bytes, fields: dict[bytes, bytes]) -> None:
        """What a worker or a joined terminal sent (in the inboxes' reader: must not wait)."""
        data = fields.get(b"m", b"")
        if stream == self._streams[-1]:  # the join inbox
            if self.on_join is not None:
                try:
                    line = JoinLine.model_validate_json(data)
                except ValidationError:
                    return  # not from a terminal of this version: nobody to answer
                self._spawn(self._join(line))
            return
        name = stream.rsplit(":host:", 1)[1]
        try:
            message = WORKER_ADAPTER.validate_json(data)
        except ValidationError:
            return  # a worker of another version, or garbage: it gets no turn from this
        if isinstance(message, Item):
            turn = self._turns.get(message.message_id)
            if turn is not None and turn[0] == message.worker:
                for piece in message.pieces:
                    turn[1].put_nowait(piece)
        elif isinstance(message, Beat):
            self._beat(name, message)
        elif isinstance(message, Unhost):
            record = self.hosts.get(name)
            if record is not None and record.worker == message.worker:
                del self.hosts[name]
                self._listed.discard(name)
                hosts = keys.hosts(self.chat_id)
                self._spawn(self._patiently(lambda: self.client.hdel(hosts, name)))
                self._changed.set()
        elif isinstance(message, Ask):
            self._spawn(self._ask(name, message))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, client: str, message: Any, events: list[str] | None = None) -> None:
        """Put ``message`` on the reply stream of ``client`` (with ``events``, a turn)."""
        stream = keys.reply(self.chat_id, client)
        fields: dict[Any, Any] = (
            turn_entry(message, events or [])
            if isinstance(message, Turn)
            else {"m": message.model_dump_json()}
        )
        batcher = self.bus.batcher
        now = time.monotonic()
        refresh = now - self._expiring.get(stream, -REPLY_TTL) >= REPLY_TTL / 10
        if refresh:
            self._expiring[stream] = now

        async def send() -> Any:
            added = batcher.run(
                lambda pipe: pipe.xadd(stream, fields, maxlen=REPLY_KEEP, approximate=True)
            )
            if not refresh:
                return await added
            # A client that went away leaves nothing behind.
            expired = batcher.run(lambda pipe: pipe.expire(stream, REPLY_TTL))
            return await asyncio.gather(added, expired)

        await self._patiently(send)

    async def _patiently(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """``call()`` once Redis answers: a restart of Redis is waited out (as the chat's
        stream writer does) instead of failing a turn or stopping the inboxes' reader."""
        return await patiently(call, limit=self.bus.outage_limit)

    def _beat(self, name: str, beat: Beat) -> None:
        now = time.monotonic()
        if name not in self._agents():
            error = f"{name} is not an agent of this chat"
            self._spawn(self._send(beat.worker, Refused(name=name, error=error)))
            return
        record = self.hosts.get(name)
        if record is not None and record.worker == beat.worker:
            record.seen = now
            if name not in self._listed:
                self._listed.add(name)
                self._spawn(self._list(name, record))
            return
        if record is not None and record.live(self.beat_timeout, now):
            error = f"{name} is hosted by the worker on {record.where}"
            self._spawn(self._send(beat.worker, Refused(name=name, error=error)))
            return
        self.hosts[name] = record = HostRecord(beat.worker, beat.where, time.time(), now)
        self._sent.pop(beat.worker, None)
        # The worker hears it hosts ``name`` before any turn request can be queued for it,
        # and even when the run ends before the bus's list of hosts is written.
        self._spawn(self._send(beat.worker, Hosted(name=name)))
        self._changed.set()
        self._listed.add(name)
        self._spawn(self._list(name, record))

    async def _list(self, name: str, record: HostRecord) -> None:
        if self.bus.is_closed(self.chat_id):
            self._listed.discard(name)
            return  # the run is over and its list on the bus taken down: keep it down
        hosted = json.dumps({"worker": record.worker, "where": record.where, "since": record.since})
        hosts = keys.hosts(self.chat_id)
        try:
            await self._patiently(lambda: self.client.hset(hosts, name, hosted))
        except BaseException:
            self._listed.discard(name)
            raise

    async def _ask(self, name: str, ask: Ask) -> None:
        assert self.chat is not None
        text: str | None = None
        turn = self.chat.view.current_turn
        if turn is not None and turn.speaker == name:  # only the turn being taken may ask
            with contextlib.suppress(Exception):
                text = await self.chat.view.ask(
                    ask.participant,
                    ask.prompt,
                    request=ask.request,
                    choices=ask.choices,
                    timeout=ask.timeout,
                )
        await self._send(ask.worker, Answer(ask_id=ask.ask_id, text=text))

    async def _join(self, line: JoinLine) -> None:
        assert self.on_join is not None
        for reply in await self.on_join(line):
            await self._send(line.client, Reply(line=reply))

    # ------------------------------------------------------------------ turns

    async def wait_hosted(self, names: list[str], timeout: float) -> list[str]:
        """Wait up to ``timeout`` seconds until live workers host all of ``names``; returns
        those still not hosted then."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            missing = [name for name in names if self.live(name) is None]
            left = deadline - loop.time()
            if not missing or left <= 0:
                return missing
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    def live(self, name: str) -> HostRecord | None:
        """The worker hosting ``name`` if it is alive."""
        record = self.hosts.get(name)
        if record is not None and record.live(self.beat_timeout):
            return record
        return None

    async def remote_turn(
        self, name: str, record: HostRecord, view: ChatView
    ) -> AsyncIterator[TurnItem]:
        """Ask the worker of ``record`` for ``name``'s turn and yield what it sends back."""
        turn = view.current_turn
        if turn is None or turn.speaker != name:
            raise RuntimeError(f"{name} has no turn to take")
        queue: asyncio.Queue[Piece] = asyncio.Queue()
        self._turns[turn.message_id] = (record.worker, queue)
        finished = False
        try:
            request = Turn(
                name=name,
                message_id=turn.message_id,
                seq=turn.seq,
                traceparent=turn_traceparent(turn.chat_id, turn.message_id),
            )
            await self._send(record.worker, request, self._news(record.worker, turn.seq))
            while True:
                try:
                    if queue.empty():
                        async with asyncio.timeout(self.beat_timeout / 3):
                            piece = await queue.get()
                    else:
                        piece = queue.get_nowait()
                except TimeoutError:
                    if not record.live(self.beat_timeout):
                        silent = time.monotonic() - record.seen
                        raise WorkerLost(
                            f"{name}'s worker on {record.where} stopped answering "
                            f"(no beat for {silent:.1f} s)"
                        ) from None
                    continue
                item = _item(piece)
                if isinstance(piece, Failed):
                    finished = True
                    raise RemoteTurnError(piece.error)
                if isinstance(piece, Done | Passed | Ended):
                    finished = True
                yield item
                if finished:
                    return
        finally:
            self._turns.pop(turn.message_id, None)
            if not finished:  # cut short here: the worker stops taking it
                self._spawn(self._send(record.worker, Cancel(message_id=turn.message_id)))

    def _news(self, worker: str, upto: int) -> list[str]:
        """The JSON of the chat's events up to ``upto`` that ``worker`` was not sent (from the
        last :data:`FIRST_NEWS` for a worker sent none yet; what it lacks before them, or
        what is not among the bus's recent events, it reads from the stream)."""
        sent = self._sent.get(worker)
        first = max(0, upto - FIRST_NEWS + 1) if sent is None else sent + 1
        news = self.bus.recent_events(self.chat_id, first, upto) or []
        if news:
            self._sent[worker] = upto
        return news


def _item(piece: Piece) -> Any:
    """What the participant yielded, from the piece its worker sent."""
    if isinstance(piece, Text):
        return piece.text
    if isinstance(piece, Call | Result):
        return piece.part
    if isinstance(piece, Hand):
        return HandTo(piece.target, piece.note)
    if isinstance(piece, Waiting):
        return AwaitingInput(piece.prompt, piece.timeout)
    if isinstance(piece, Called):
        return ModelCalled(piece.model, piece.started, piece.usage, piece.error)
    if isinstance(piece, Calling):
        return ModelCalling(piece.model, piece.started)
    if isinstance(piece, Done):
        return TurnReply(piece.content, piece.parts, piece.usage)
    if isinstance(piece, Passed):
        return Pass(piece.reason)
    if isinstance(piece, Ended):
        return EndChat(piece.reason)
    return None


class HostedParticipant:
    """An agent of a distributed chat: its turns run on the worker that hosts it, if one
    does, else here (see the module docstring). Everything else is the agent's own."""

    def __init__(self, local: Participant, hosting: Hosting) -> None:
        self.local = local
        self.hosting = hosting

    @property
    def name(self) -> str:
        return self.local.name

    @property
    def description(self) -> str:
        return self.local.description

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.local, attribute)

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        record = self.hosting.live(self.name)
        if record is None:
            turn = self.local.take_turn(view)
            try:
                async for item in turn:
                    yield item
            finally:
                aclose = getattr(turn, "aclose", None)
                if aclose is not None:
                    await aclose()
            return
        async for item in self.hosting.remote_turn(self.name, record, view):
            yield item


def parse_reply(data: bytes | str) -> Any:
    """A message of a reply stream (for clients)."""
    return REPLY_ADAPTER.validate_json(data)
