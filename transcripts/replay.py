"""Replay: a stored chat published again onto a bus, at its original pace or faster.

A replayed event is the stored event itself (same chat id, sequence number, sender and time),
appended with :meth:`Bus.append` (a batch at a time with :meth:`Bus.append_ready`),
so every subscriber (the console, the TUI, your code) shows a replayed chat through exactly the
path it uses for a live one. Nothing else runs: no
model, no tool, no participant.

:class:`Replayer` is controlled from any task while it runs: :meth:`~Replayer.pause`,
:meth:`~Replayer.resume`, :meth:`~Replayer.step`, :meth:`~Replayer.seek`,
:meth:`~Replayer.set_speed` and :meth:`~Replayer.stop`. Seeking backwards needs a new log,
because a bus's sequence numbers only go forward: :meth:`~Replayer.restart` starts the replay
again from any event. :func:`read_events` opens a JSONL transcript fast enough for a chat of
100,000 messages; :func:`sample_path` finds the sample transcripts that ship with the package.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from importlib import resources
from operator import attrgetter
from pathlib import Path

from pydantic import ValidationError

from groupchat._bulk import bulk_allocation
from groupchat.bus import Bus, ChatClosedError
from groupchat.events import Event, MessagePosted, event_list_adapter

__all__ = [
    "DEFAULT_MAX_GAP",
    "ReplayError",
    "Replayer",
    "SeekError",
    "list_samples",
    "read_events",
    "sample_path",
]

DEFAULT_MAX_GAP = 2.0
"""Longest pause (seconds of chat time) a replay keeps between two events."""

_DUE = 1e-9  # an event whose wait is shorter than this is due now (float rounding)
_YIELD_EVERY = 1024  # most events published back to back before other tasks get a turn

Sleep = Callable[[float], Awaitable[object]]
Clock = Callable[[], float]


class ReplayError(ValueError):
    """Events that cannot be replayed as one chat, or a bus that already holds other events."""


class SeekError(ReplayError):
    """A seek backwards on the same log; :meth:`Replayer.restart` replays from there instead."""


class Replayer:
    """Publishes the events of one chat onto ``bus``, keeping their original timing.

    ``events`` is the chat's log, or a contiguous part of it (from a JSONL file via
    :func:`read_events`, or from the transcript store). Each gap between two events' times is
    capped at ``max_gap`` seconds (``None``: never), so an hour of idle time does not stall the
    replay, and then divided by ``speed``; speed 0 publishes as fast as the bus takes events.

    The chat is opened on ``bus`` here, before :meth:`run`, so subscribers can attach first:
    ``bus.subscribe(replayer.chat_id, start=replayer.position)``. Publishing starts at seq
    ``start`` (default: the first event's). With ``close`` the chat is closed on the bus when
    :meth:`run` returns, which ends its subscribers' iterations.

    ``sleep`` and ``clock`` default to :func:`asyncio.sleep` and :func:`time.monotonic`; tests
    inject fakes to run instantly and see every delay the replayer asks for.
    """

    def __init__(
        self,
        events: Sequence[Event],
        bus: Bus,
        *,
        speed: float = 1.0,
        max_gap: float | None = DEFAULT_MAX_GAP,
        start: int | None = None,
        paused: bool = False,
        close: bool = True,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        _check_speed(speed)
        if max_gap is not None and max_gap < 0:
            raise ValueError("max_gap must not be negative")
        self._events = events
        self._first, self._chat_id = _check_log(events)
        self._end = self._first + len(events)
        start = self._first if start is None else start
        if not self._first <= start <= self._end:
            raise ReplayError(f"start {start} is outside seq {self._first}..{self._end}")
        self._bus = bus
        self._start = self._pos = self._target = start
        bus.open(self._chat_id, start_seq=start)
        if bus.next_seq(self._chat_id) != start:
            raise ReplayError(
                f"chat {self._chat_id} is already on this bus (next seq "
                f"{bus.next_seq(self._chat_id)}, the replay starts at {start}); "
                "replay onto a fresh bus"
            )
        self._speed = float(speed)
        self._max_gap = max_gap
        self._close = close
        self._sleep = sleep
        self._clock = clock
        self._paused = paused
        self._stepping = False
        self._stopped = False
        self._started = False
        self._done = False
        self._interrupted = False  # a control call the run loop has not acted on yet
        self._wake: asyncio.Future[None] | None = None
        self._settled = asyncio.Event()
        # The chat clock: ``_credit`` seconds of (capped) chat time have passed since the last
        # published event as of ``_anchor`` on the wall clock; it runs at ``speed`` while playing.
        self._credit = 0.0
        self._anchor = 0.0

    # ------------------------------------------------------------------ state

    @property
    def chat_id(self) -> str:
        return self._chat_id

    @property
    def bus(self) -> Bus:
        return self._bus

    @property
    def events(self) -> Sequence[Event]:
        return self._events

    @property
    def start(self) -> int:
        """The seq this replay starts publishing at."""
        return self._start

    @property
    def end(self) -> int:
        """One past the last event's seq: :attr:`position` once everything is published."""
        return self._end

    @property
    def position(self) -> int:
        """The seq of the next event to publish."""
        return self._pos

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def max_gap(self) -> float | None:
        return self._max_gap

    @property
    def done(self) -> bool:
        """:meth:`run` has returned: every event is published, or the replay was stopped."""
        return self._done

    # ------------------------------------------------------------------ control

    def pause(self) -> None:
        """Hold the replay before the next event (a step or a seek still publishes)."""
        self._advance()
        self._paused = True
        self._poke()

    def resume(self) -> None:
        self._advance()
        self._paused = False
        self._stepping = False
        self._poke()

    def step(self) -> None:
        """Publish up to and including the next posted message at once, then stay paused.

        A playing replay is paused first, so a step always ends paused.
        """
        self._advance()
        self._paused = True
        self._stepping = True
        self._poke()

    def seek(self, seq: int) -> None:
        """Publish every event before ``seq`` at once; ``seq`` is then the next to play.

        Forward only (a seq past the end publishes the rest); a replay that plays goes on
        playing from there, a paused one stays paused. Raises :class:`SeekError` for a seq
        already published: the bus's log only grows, so use :meth:`restart` to go back.
        """
        if seq < self._pos:
            raise SeekError(
                f"seq {seq} was already published (next is {self._pos}); a bus's sequence "
                "numbers only go forward, so restart the replay to go back"
            )
        self._target = min(seq, self._end)
        self._poke()

    def set_speed(self, speed: float) -> None:
        """Play at ``speed`` times the original pace from now on (0: as fast as possible)."""
        _check_speed(speed)
        self._advance()
        self._speed = float(speed)
        self._poke()

    def stop(self) -> None:
        """End the replay: :meth:`run` returns without publishing anything more."""
        self._stopped = True
        self._poke()

    async def settled(self) -> None:
        """Wait until the replay has acted on every control call made so far.

        It is then waiting (paused, or for the next event's time) or done; at speed 0 that
        is only once it is paused or done.
        """
        await self._settled.wait()

    def restart(self, at: int, bus: Bus | None = None, *, history: bool = True) -> Replayer:
        """Stop this replay and return a new one of the same events positioned at seq ``at``.

        This is how to seek backwards. The new replay goes onto ``bus``, or by default onto this
        bus after discarding the chat from it (its subscribers' iterations end: subscribe again
        to ``new.position``). With ``history`` the new replay first publishes the events from
        :attr:`start` up to ``at`` at once, for a view that clears and redraws everything;
        without, the chat's log on the bus starts at ``at``, for a console that keeps what it
        has printed. Speed, max gap and pause state carry over. Call :meth:`run` on the result.
        """
        if not self._first <= at <= self._end:
            raise ReplayError(f"seq {at} is outside this transcript ({self._first}..{self._end})")
        self.stop()
        close = self._close
        if bus is None or bus is self._bus:
            bus = self._bus
            self._close = False  # the chat's new log on this bus is not ours to close
            bus.discard(self._chat_id)
        replayer = Replayer(
            self._events,
            bus,
            speed=self._speed,
            max_gap=self._max_gap,
            start=min(self._start, at) if history else at,
            paused=self._paused,
            close=close,
            sleep=self._sleep,
            clock=self._clock,
        )
        replayer.seek(at)
        return replayer

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Publish the events until the last one, or until :meth:`stop`."""
        if self._started:
            raise RuntimeError("this replay has already run")
        self._started = True
        self._anchor = self._clock()
        try:
            while self._pos < self._end and not self._stopped:
                self._interrupted = False
                if self._target > self._pos:
                    await self._publish_until(self._target)
                elif self._stepping:
                    await self._publish_until(self._next_message_end())
                    if not self._interrupted:
                        self._stepping = False
                elif self._paused:
                    self._settled.set()
                    await self._woken()
                elif self._speed == 0:
                    await self._publish_until(self._end)
                else:
                    await self._play_next()
        except ChatClosedError:
            if not self._stopped:  # closed under us by restart(): that is a stop
                raise
        finally:
            self._done = True
            self._settled.set()
            if self._close:
                self._bus.close(self._chat_id)

    async def _publish_until(self, until: int) -> None:
        """Publish the events before seq ``until`` back to back, until a control call comes."""
        events, bus, first = self._events, self._bus, self._first
        pos = self._pos
        while pos < until and not self._interrupted:
            batch = events[pos - first : min(until, pos + _YIELD_EVERY) - first]
            published = bus.append_ready(batch)
            if published == 0:  # a durable subscriber is full: wait for room for one
                await bus.append(batch[0])
                published = 1
            pos += published
            self._pos = pos
            await asyncio.sleep(0)  # let controls, subscribers, front-ends and timers in
        self._credit = 0.0  # the next event waits its whole gap
        self._anchor = self._clock()

    async def _play_next(self) -> None:
        """Publish the next event when its time has come, or return early on a control call."""
        index = self._pos - self._first
        gap = self._gap(index)
        self._advance()
        remaining = gap - self._credit
        if remaining > _DUE:
            await self._woken(remaining / self._speed)
            return
        await self._bus.append(self._events[index])
        self._pos += 1
        self._credit = max(0.0, self._credit - gap)

    def _gap(self, index: int) -> float:
        """Chat time between event ``index`` and the one before it, capped at ``max_gap``."""
        if index <= 0:
            return 0.0
        events = self._events
        gap = (events[index].time - events[index - 1].time).total_seconds()
        if gap <= 0:
            return 0.0
        return gap if self._max_gap is None else min(gap, self._max_gap)

    def _next_message_end(self) -> int:
        """One past the seq of the next posted message (the end if there is none)."""
        events, first = self._events, self._first
        for index in range(self._pos - first, len(events)):
            if type(events[index]) is MessagePosted:
                return first + index + 1
        return self._end

    def _advance(self) -> None:
        """Bring the chat clock up to now; it only runs while playing at a speed above 0."""
        now = self._clock()
        if not self._paused and self._speed > 0:
            self._credit += (now - self._anchor) * self._speed
        self._anchor = now

    def _poke(self) -> None:
        """A control call: the run loop acts on it at its next step, or wakes up for it."""
        self._interrupted = True
        if not self._done:
            self._settled.clear()
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _woken(self, delay: float | None = None) -> None:
        """Wait for a control call, or at most ``delay`` seconds of the injected sleep."""
        if self._interrupted:
            return
        wake = self._wake
        if wake is None or wake.done():
            wake = self._wake = asyncio.get_running_loop().create_future()
        if delay is None:
            await wake
            return
        sleeper = asyncio.ensure_future(self._sleep_settled(delay))
        try:
            await asyncio.wait((sleeper, wake), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not sleeper.done():
                sleeper.cancel()
                with suppress(asyncio.CancelledError):
                    await sleeper

    async def _sleep_settled(self, delay: float) -> None:
        # Settled once the sleep is asked for, unless a control call came in meanwhile.
        if not self._interrupted:
            self._settled.set()
        await self._sleep(delay)


def _check_speed(speed: float) -> None:
    if not speed >= 0:  # also refuses NaN
        raise ValueError(f"speed must be 0 (as fast as possible) or more, not {speed}")


def _check_log(events: Sequence[Event]) -> tuple[int, str]:
    """The first seq and the chat id of ``events``, checked to be one chat's contiguous log."""
    if not events:
        raise ReplayError("there are no events to replay")
    first, chat_id = events[0].seq, events[0].chat_id
    seqs = list(map(attrgetter("seq"), events))
    if seqs != list(range(first, first + len(seqs))):
        index = next(i for i, seq in enumerate(seqs) if seq != first + i)
        raise ReplayError(
            f"event {index + 1} has seq {seqs[index]}, expected {first + index}: "
            "a replay needs the chat's events in order, without gaps"
        )
    chat_ids = set(map(attrgetter("chat_id"), events))
    if len(chat_ids) > 1:
        other = next(e for e in events if e.chat_id != chat_id)
        raise ReplayError(
            f"seq {other.seq} belongs to chat {other.chat_id!r}, not {chat_id!r}: "
            "a replay is of one chat"
        )
    return first, chat_id


# ---------------------------------------------------------------------- opening transcripts

_CHUNK_BYTES = 256 * 1024
"""Bytes of JSONL validated at a time by :func:`read_events` (then on to the line's end)."""


def read_events(path: str | Path) -> list[Event]:
    """Read a JSONL transcript (one canonical event per line) in one go, for replay.

    The file is validated in runs of lines of about :data:`_CHUNK_BYTES`, each as one JSON
    array: several times faster than line by line, and faster than the whole file as one array,
    whose parse tree no longer fits the processor's caches. A file that fails that is read again
    line by line by :func:`~groupchat.transcripts.read_jsonl`, whose
    :class:`~groupchat.transcripts.JsonlError` names the bad line and field (blank lines, which
    that skips, are only accepted this slower way).
    """
    with open(path, "rb") as fh:
        data = fh.read().strip()
    if not data:
        return []
    validate = event_list_adapter().validate_json
    events: list[Event] = []
    size = len(data)
    pos = 0
    try:
        with bulk_allocation():
            while pos < size:
                end = data.find(b"\n", pos + _CHUNK_BYTES)
                if end < 0:
                    end = size
                lines = data[pos:end]
                chunk = validate(b"[%b]" % lines.replace(b"\n", b","))
                if len(chunk) != lines.count(b"\n") + 1:  # one event per line, as JSONL has it
                    break
                events += chunk
                pos = end + 1
            else:
                return events
    except ValidationError:
        pass
    del events
    from groupchat.transcripts.jsonl import read_jsonl

    return read_jsonl(path)


# ---------------------------------------------------------------------- samples


def list_samples() -> list[str]:
    """The names of the sample transcripts that ship with the package, sorted."""
    folder = resources.files("groupchat.transcripts").joinpath("samples")
    return sorted(
        entry.name.removesuffix(".jsonl")
        for entry in folder.iterdir()
        if entry.name.endswith(".jsonl")
    )


def sample_path(name: str) -> Path:
    """The file of the sample transcript ``name``; a ``LookupError`` lists the names."""
    names = list_samples()
    if name not in names:
        raise LookupError(f"no sample transcript {name!r}; the samples are: {', '.join(names)}")
    found = resources.files("groupchat.transcripts").joinpath("samples", f"{name}.jsonl")
    return found if isinstance(found, Path) else Path(str(found))
