"""The bus of a chat that spans processes: the in-process bus, written through to a Redis stream.

:class:`RedisBus` is an :class:`~groupchat.bus.EventBus` whose chats are also streams in Redis.
In the manager's process everything local works as on the in-process bus (publishing stamps and
appends at once, local subscribers read the log in memory, so the hot path is the same); a
writer task per chat takes the chat's lease, then appends what is published to the chat's
stream in batches, in order, through a Lua script that checks the lease (the fencing). The
writer is itself a durable subscriber of the chat with a bounded window, so publishers wait
when Redis falls behind, and nothing published is lost while Redis restarts: the writer tries
again until Redis is back, or until :data:`OUTAGE_LIMIT` has passed, when the chat ends with an
error that says so.

Other processes read a chat's stream with :func:`~groupchat.distributed.follow.follow` and ask
the manager for what they want through its inboxes (:mod:`groupchat.distributed.hosting`): the
manager is the one writer of the chat's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from groupchat.bus import EventBus
from groupchat.bus.log import ChatLog
from groupchat.bus.memory import DEFAULT_RETAIN
from groupchat.distributed import keys
from groupchat.distributed.batch import Batcher
from groupchat.distributed.errors import BusUnavailableError, ChatFencedError
from groupchat.distributed.follow import read_range
from groupchat.distributed.inboxes import Inboxes
from groupchat.distributed.lease import APPEND, LEASE_TTL, Lease, owner_name
from groupchat.distributed.patience import patiently
from groupchat.distributed.streams import cancelled_since, last_id, xrange
from groupchat.distributed.url import BusURL, connect
from groupchat.events import Event, dump_event

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["FLUSH_BATCH", "FLUSH_WINDOW", "KEEP_FOR", "OUTAGE_LIMIT", "RedisBus"]

FLUSH_WINDOW = 4096
"""Events a chat may publish ahead of what its stream holds before publishers wait."""

RECENT = FLUSH_WINDOW
"""Events of a chat whose JSON its log keeps (at least what the outbox may hold)."""

FLUSH_BATCH = 512
"""Events appended to a stream in one script call at most."""

OUTAGE_LIMIT = 60.0
"""Seconds a chat goes on while Redis cannot be reached before it ends with an error."""

KEEP_FOR = 24 * 3600
"""Seconds a chat's keys stay in Redis after its run ended (the store keeps the transcript)."""

LostFn = Callable[[str, Exception], object]


class StreamLog(ChatLog):
    """A chat's log that also queues every appended event for its stream writer (the outbox),
    and holds publishers back while the outbox is :data:`FLUSH_WINDOW` long.

    Each event is turned into its JSON once, as it is appended; the last :data:`RECENT` of
    them are kept (:meth:`dumped`) for the writer and for the turn requests that carry the
    chat's latest events to a worker."""

    __slots__ = ("outbox", "pending", "recent")

    def __init__(self, chat_id: str, retain: int | None, start_seq: int) -> None:
        super().__init__(chat_id, retain, start_seq)
        self.outbox: deque[Event] = deque()
        self.pending = asyncio.Event()
        self.recent: deque[tuple[int, str]] = deque(maxlen=RECENT)

    def append(self, event: Any) -> None:
        self.outbox.append(event)
        self.recent.append((event.seq, dump_event(event)))
        if not self.pending.is_set():
            self.pending.set()
        super().append(event)

    def extend(self, events: list[Any]) -> None:
        self.outbox.extend(events)
        self.recent.extend((event.seq, dump_event(event)) for event in events)
        if not self.pending.is_set():
            self.pending.set()
        super().extend(events)

    def dumped(self, first: int, last: int) -> list[str] | None:
        """The JSON of the events of seqs ``first`` to ``last`` (inclusive), if all of them
        are among the recent ones."""
        recent = self.recent
        if first > last:
            return [] if first == last + 1 else None
        if not recent:
            return None
        start = recent[-1][0] - len(recent) + 1
        if first < start or last > recent[-1][0]:
            return None
        found = [recent[seq - start] for seq in range(first, last + 1)]
        if found[0][0] != first or found[-1][0] != last:
            return None  # not one run of seqs (cannot happen in one log; be sure)
        return [text for _seq, text in found]

    def dump(self, event: Event) -> str:
        """The event's JSON, from the recent ones when it is one of them."""
        found = self.dumped(event.seq, event.seq)
        return found[0] if found else dump_event(event)

    def blocked(self) -> bool:
        return len(self.outbox) >= FLUSH_WINDOW or super().blocked()

    def room(self) -> int | None:
        room = super().room()
        left = max(FLUSH_WINDOW - len(self.outbox), 0)
        return left if room is None else min(room, left)

    def release_space(self) -> None:
        if len(self.outbox) <= FLUSH_WINDOW // 2:
            super().release_space()

    def written(self, count: int) -> None:
        """The first ``count`` events of the outbox are in the stream."""
        for _ in range(count):
            self.outbox.popleft()
        if self.space_waiters:
            self.release_space()

    def close(self) -> None:
        super().close()
        self.pending.set()


class RedisBus(EventBus):
    """An event bus whose chats are Redis streams; see the module docstring.

    Make one with :meth:`connect` (it checks that Redis answers) and close it with
    :meth:`aclose` (``async with`` does both), which waits until every closed chat's events are
    in Redis. ``on_lost(chat_id, error)`` is called when a chat can no longer be written (its
    lease was taken by another manager, Redis was away too long); without it the chat is
    closed, so that its next publish raises :class:`~groupchat.bus.ChatClosedError`.
    """

    def __init__(
        self,
        client: Redis,
        url: BusURL,
        *,
        retain: int | None = DEFAULT_RETAIN,
        lease_ttl: float = LEASE_TTL,
        outage_limit: float = OUTAGE_LIMIT,
        keep_for: int | None = KEEP_FOR,
    ) -> None:
        super().__init__(retain=retain)
        self.client = client
        self.url = url
        self.lease_ttl = lease_ttl
        self.outage_limit = outage_limit
        self.keep_for = keep_for
        self.on_lost: LostFn | None = None
        self._writers: dict[str, _Writer] = {}
        self._leases: dict[str, Lease] = {}
        self._info: dict[str, dict[str, Any]] = {}
        self._append = client.register_script(APPEND)
        self.batcher = Batcher(client)
        """Every chat's stream appends (and the hosting's requests) go out in its pipelines."""
        self.inboxes = Inboxes(client)
        """The one reader of every inbox of the chats this process manages."""
        self._callbacks: set[asyncio.Future[Any]] = set()

    @classmethod
    async def connect(cls, url: BusURL | str, **options: Any) -> RedisBus:
        """A bus on the Redis at ``url``; :class:`BusUnavailableError` if it does not answer."""
        bus_url = url if isinstance(url, BusURL) else BusURL.parse(url)
        return cls(await connect(bus_url), bus_url, **options)

    async def __aenter__(self) -> RedisBus:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ the lease

    def lease(self, chat_id: str) -> Lease:
        lease = self._leases.get(chat_id)
        if lease is None:
            lease = self._leases[chat_id] = Lease(self.client, chat_id, ttl=self.lease_ttl)
        return lease

    async def acquire(self, chat_id: str, *, wait: float = 0.0) -> None:
        """Take the chat's lease before running it: raises
        :class:`~groupchat.distributed.ChatRunningElsewhere` if another manager holds it after
        ``wait`` seconds (give a dead manager's lease time to run out)."""
        await self._guard(self.lease(chat_id).acquire(wait=wait))
        writer = self._writers.get(chat_id)
        if writer is not None:
            writer.start()

    def describe(self, chat_id: str, **info: Any) -> None:
        """What ``list --bus`` shows of the chat while it runs (its title, team ...)."""
        self._info.setdefault(chat_id, {}).update(info)

    async def restore(self, chat_id: str, events: list[Event]) -> None:
        """Append already stamped events straight to the chat's stream (whose lease this
        process holds): what a manager that died had recorded but not yet written to the bus,
        before its chat is resumed."""
        lease = self.lease(chat_id)
        if lease.value is None:
            raise ChatFencedError(f"chat {chat_id}: take its lease before restoring events")
        for start in range(0, len(events), FLUSH_BATCH):
            args: list[Any] = []
            for event in events[start : start + FLUSH_BATCH]:
                args += (keys.entry_id(event.seq), dump_event(event))
            stream_and_lease = [keys.events(chat_id), keys.lease(chat_id)]
            await self._guard(self._append(keys=stream_and_lease, args=[lease.value, *args]))

    def recent_events(self, chat_id: str, first: int, last: int) -> list[str] | None:
        """The JSON of the chat's events of seqs ``first`` to ``last`` from this process's
        recent ones (``None`` if it has not got all of them)."""
        log = self._chats.get(chat_id)
        return log.dumped(first, last) if isinstance(log, StreamLog) else None

    async def stream_events(self, chat_id: str) -> list[Event]:
        """Every event of the chat's stream, in order (to resume it from the bus)."""
        return [event async for event in read_range(self.client, chat_id, 0)]

    async def _guard(self, call: Any) -> Any:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        try:
            return await call
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BusUnavailableError(
                f"cannot reach the bus at {self.url.shown}: {self.url.scrub(str(exc))}"
            ) from None

    # ------------------------------------------------------------------ the bus

    def _new_log(self, chat_id: str, start_seq: int) -> ChatLog:
        return StreamLog(chat_id, self._retain, start_seq)

    def open(self, chat_id: str | None = None, *, start_seq: int = 0) -> str:
        chat_id = super().open(chat_id, start_seq=start_seq)
        writer = self._writers.get(chat_id)
        if writer is None or writer.finished:
            log = self._chats[chat_id]
            assert isinstance(log, StreamLog)
            self._writers[chat_id] = writer = _Writer(self, chat_id, log)
        writer.start()
        return chat_id

    def discard(self, chat_id: str) -> None:
        super().discard(chat_id)
        writer = self._writers.pop(chat_id, None)
        if writer is not None:
            writer.cancel()

    async def flushed(self, chat_id: str) -> None:
        """Wait until the closed chat's events are all in Redis (or its writer gave up)."""
        writer = self._writers.get(chat_id)
        if writer is not None:
            await writer.wait()

    def failure(self, chat_id: str) -> Exception | None:
        """Why the chat could no longer be written, if it could not."""
        writer = self._writers.get(chat_id)
        return None if writer is None else writer.error

    async def aclose(self) -> None:
        """Wait for the writers of closed chats, stop the others, and disconnect."""
        for chat_id, writer in list(self._writers.items()):
            if chat_id in self._chats and not self.is_closed(chat_id):
                self.close(chat_id)
            with contextlib.suppress(Exception):
                await writer.wait()
        self._writers.clear()
        await self.inboxes.aclose()
        with contextlib.suppress(Exception):
            await self.client.aclose()

    def _lost(self, chat_id: str, error: Exception) -> None:
        callback = self.on_lost
        if callback is not None:
            outcome = callback(chat_id, error)
            if asyncio.iscoroutine(outcome):
                task = asyncio.ensure_future(outcome)
                self._callbacks.add(task)
                task.add_done_callback(self._callbacks.discard)
        else:
            log = self._chats.get(chat_id)
            if log is not None:
                log.why = f": {error}"
            self.close(chat_id)


class _Writer:
    """Appends one chat's events to its stream, in order, while this process holds the lease."""

    def __init__(self, bus: RedisBus, chat_id: str, log: StreamLog) -> None:
        self.bus = bus
        self.chat_id = chat_id
        self.log = log
        self.task: asyncio.Task[None] | None = None
        self.error: Exception | None = None
        self.finished = False
        self.written = log.next_seq - len(log.outbox)  # the seq of the next event to write

    def start(self) -> None:
        """Start writing (once a loop runs: a chat opened before it starts when next opened,
        or when its lease is taken)."""
        if self.task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self.task = loop.create_task(self._run(), name=f"stream writer {self.chat_id}")

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def wait(self) -> None:
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self.task)

    async def _run(self) -> None:
        bus, chat_id = self.bus, self.chat_id
        lease = bus.lease(chat_id)
        renewing: asyncio.Task[None] | None = None
        log = self.log
        # A resumed chat is renumbered after it was opened.
        self.written = log.next_seq - len(log.outbox)
        try:
            await self._retrying(lambda: lease.acquire())
            await self._retrying(self._check_stream)
            await self._retrying(self._register)
            renewing = asyncio.create_task(self._renew(lease))
            while True:
                if log.outbox:
                    count = min(len(log.outbox), FLUSH_BATCH)
                    await self._flush([log.outbox[n] for n in range(count)], lease)
                    log.written(count)
                elif log.closed:
                    break
                else:
                    log.pending.clear()
                    await log.pending.wait()
            await self._retrying(lambda: self._unregister(lease))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = exc
            log.outbox.clear()  # nobody writes them now: publishers must not wait for it
            log.release_space()
            bus._lost(chat_id, exc)
        finally:
            self.finished = True
            if renewing is not None:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await renewing

    async def _retrying(self, call: Callable[[], Any]) -> Any:
        """``call()`` until Redis answers it, for at most the bus's outage limit."""
        bus = self.bus

        def lost(exc: Exception) -> str:
            return (
                f"chat {self.chat_id}: lost the bus at {bus.url.shown} for "
                f"{bus.outage_limit:g} s: {bus.url.scrub(str(exc))}"
            )

        return await patiently(call, limit=bus.outage_limit, lost=lost)

    async def _last_seq(self) -> int:
        last = await last_id(self.bus.client, keys.events(self.chat_id))
        if last is None:
            return -1
        try:
            return keys.entry_seq(last)
        except ValueError:
            raise ChatFencedError(
                f"chat {self.chat_id}: its stream was written by another process (entry "
                f"{last.decode()} is no event of a manager's); this manager stops"
            ) from None

    async def _check_stream(self) -> None:
        """The stream must end where this process's chat goes on: a manager that knows less
        of the chat than its stream would fork it."""
        last = await self._last_seq()
        if last >= self.written:
            raise ChatFencedError(
                f"chat {self.chat_id}: its stream on the bus holds events up to seq {last}, "
                f"and this manager goes on from seq {self.written}: resume it from the bus"
            )

    async def _register(self) -> None:
        bus, chat_id = self.bus, self.chat_id
        info = {
            "chat_id": chat_id,
            "manager": owner_name(),
            "since": time.time(),
            **bus._info.get(chat_id, {}),
        }
        text = json.dumps(info)
        async with bus.client.pipeline(transaction=False) as pipe:
            pipe.hset(keys.CHATS, chat_id, text)
            pipe.xadd(keys.ANNOUNCE, {"chat": chat_id, "info": text}, maxlen=1000)
            for key in (keys.events(chat_id), keys.spec(chat_id)):
                pipe.persist(key)
            await pipe.execute()

    async def _unregister(self, lease: Lease) -> None:
        bus, chat_id = self.bus, self.chat_id
        async with bus.client.pipeline(transaction=False) as pipe:
            pipe.hdel(keys.CHATS, chat_id)
            pipe.delete(keys.hosts(chat_id), keys.join_inbox(chat_id))
            for name in bus._info.get(chat_id, {}).get("agents", ()):
                pipe.delete(keys.host_inbox(chat_id, name))
            if bus.keep_for is not None:
                for key in (keys.events(chat_id), keys.spec(chat_id), keys.epoch(chat_id)):
                    pipe.expire(key, bus.keep_for)
            await pipe.execute()
        await lease.release()

    async def _renew(self, lease: Lease) -> None:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        task = asyncio.current_task()
        cancels = task.cancelling() if task is not None else 0
        while True:
            await asyncio.sleep(lease.ttl / 3)
            try:
                await lease.renew()
            except (RedisConnectionError, RedisTimeoutError, OSError):
                if cancelled_since(cancels):
                    raise asyncio.CancelledError from None
                continue  # Redis is away: the writer notices, and renewing retakes the lease
            except ChatFencedError as exc:
                self.error = exc
                self.log.outbox.clear()
                self.log.release_space()
                if self.task is not None:
                    self.task.cancel()
                self.bus._lost(self.chat_id, exc)
                return

    async def _flush(self, batch: list[Event], lease: Lease) -> None:
        from redis.exceptions import NoScriptError, ResponseError

        texts = self.log.dumped(batch[0].seq, batch[-1].seq) or [dump_event(e) for e in batch]
        args: list[Any] = []
        for event, text in zip(batch, texts, strict=True):
            args += (keys.entry_id(event.seq), text)
        stream, lease_key = keys.events(self.chat_id), keys.lease(self.chat_id)
        value = lease.value or ""
        renewed = False
        bus = self.bus
        script = bus._append

        def append(args: list[Any]) -> Any:
            # EVALSHA in the bus's shared pipeline: the stream writers of all chats go
            # together. (A pipeline given the script object would check it exists first,
            # one more round trip each time.)
            return bus.batcher.run(
                lambda pipe: pipe.evalsha(script.sha, 2, stream, lease_key, value, *args)
            )

        while batch:
            try:
                await self._retrying(lambda args=args: append(args))  # type: ignore[misc]
                break
            except NoScriptError:
                await self._retrying(lambda: bus.client.script_load(APPEND))  # Redis restarted
                continue
            except ResponseError as exc:
                text = str(exc)
                if "FENCED" in text and not renewed:
                    renewed = True  # the lease ran out while Redis was away: take it again
                    await self._retrying(lease.renew)
                    continue
                if "FENCED" in text:
                    raise ChatFencedError(
                        f"chat {self.chat_id}: another manager took the chat; this one stops"
                    ) from None
                # An append whose answer was lost (Redis went away) may have landed: skip
                # what the stream holds already if it is what this writer sent.
                last = await self._retrying(self._last_seq)
                done = last - batch[0].seq + 1
                if done <= 0 or not await self._ours(batch[done - 1]):
                    raise ChatFencedError(
                        f"chat {self.chat_id}: event {batch[0].seq} was written by another "
                        f"process ({text})"
                    ) from None
                batch, args = batch[done:], args[2 * done :]
        if batch:
            self.written = batch[-1].seq + 1

    async def _ours(self, event: Event) -> bool:
        entry = keys.entry_id(event.seq)
        entries = await xrange(self.bus.client, keys.events(self.chat_id), entry, entry)
        return bool(entries) and entries[0][1].get(b"e") == self.log.dump(event).encode()
