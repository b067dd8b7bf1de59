"""Transcript store costs: appending, recording a live chat, reading a long chat back.

    python -m bench.store --messages 10000 100000 --repeat 3
    python -m bench.store --db postgresql://user@127.0.0.1/bench   # the PostgreSQL store

prints one JSON line per measurement, each naming its ``backend`` (``sqlite``: files in a
temporary folder; ``postgres``: with ``--db URL``, a new schema of that database per run,
dropped at the end):

* ``store_append``: ``append_many`` of ``--append-events`` events of a 4-agent round-robin chat,
  then ``flush``, into a new database: events per second (target: at least 100,000; PostgreSQL
  on loopback: 50,000).
* ``store_recorder``: the 4-agent round-robin chat of ``bench.orchestration`` with ``M``
  messages, alone and with a :class:`~groupchat.transcripts.recorder.StoreRecorder` attached
  (runs alternate, median of ``--repeat``). ``us_per_msg_added`` compares the time until the
  chat has ended *and* the recorder has committed every event with the chat alone (target: at
  most 15 µs; PostgreSQL: reported, no target); ``us_per_msg_added_run`` compares
  ``GroupChat.run`` alone. ``cpu_*`` give the process's CPU time (all threads): SQLite works in
  a thread of its own, so on a machine with a free core the wall-clock cost is lower than the
  CPU cost, and on a busy one it is the same (asyncpg works in the chat's own thread).
* ``store_read``: ``events()`` of the largest recorded chat, and how its parts split: fetching
  the JSON column; parsing it as the store does (:func:`parse_event_rows`: runs of 512 rows as
  one JSON array each), as one JSON array of the whole chat with ``TypeAdapter(list[Event])``
  and row by row, the last two with the garbage collector paused (as the store does) and
  running (SQLite only: the fetch is timed with ``sqlite3``).
* ``store_search``: ``list --search`` over ``--search-chats`` chats (each of a few messages):
  ``chats(search=...)`` for a word in a tenth of them and for a prefix, and ``search()``, the
  median of 5 (target: at most 100 ms).

Every recorded run is checked: the chat's own check from ``bench.orchestration``, every
published event stored, the summary's message count. A failed check adds ``"ok": false`` and
``"problem"`` and the exit status is 1; so does a missed target (``"met_target": false``) with
``--strict``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import TypeAdapter

from bench.orchestration import (
    FRAMEWORK,
    WARMUP_MESSAGES,
    Config,
    _peak_rss_mb,
    _positive,
    build_round_robin,
)
from groupchat.events import MANAGER, ChatEnded, ChatStarted, Event, MessagePosted, parse_event
from groupchat.messages import Message
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.store import TranscriptStore, open_store, parse_event_rows

__all__ = [
    "TARGET_APPEND_PER_S",
    "TARGET_APPEND_PER_S_POSTGRES",
    "TARGET_SEARCH_MS",
    "TARGET_US_PER_MSG_ADDED",
    "Places",
    "main",
]

TARGET_APPEND_PER_S = 100_000.0
"""Events per second through ``append_many`` + ``flush`` (SQLite)."""
TARGET_APPEND_PER_S_POSTGRES = 50_000.0
"""The same into PostgreSQL on loopback (its recording has no target of its own: reported)."""
TARGET_US_PER_MSG_ADDED = 15.0
"""What recording adds per message of a 4-agent round-robin chat."""
TARGET_SEARCH_MS = 100.0
"""``list --search`` over 10,000 chats."""


class Places:
    """Where each run's store lives: a SQLite file in ``workdir``, or with ``url`` a new schema
    of that PostgreSQL database (:meth:`drop` removes the schemas made)."""

    def __init__(self, workdir: Path, url: str | None) -> None:
        self.workdir = workdir
        self.url = url
        self.backend = "sqlite" if url is None else "postgres"
        self.schemas: list[str] = []
        self._ids = itertools.count()

    def new(self, name: str) -> str | Path:
        if self.url is None:
            return self.workdir / f"{name}.db"
        schema = f"bench_{os.getpid()}_{next(self._ids)}"
        self.schemas.append(schema)
        joiner = "&" if "?" in self.url else "?"
        return f"{self.url}{joiner}schema={schema}"

    async def drop(self) -> None:
        if self.url is None or not self.schemas:
            return
        import asyncpg

        from groupchat.transcripts.pg_schema import PgLocation

        conn = await asyncpg.connect(PgLocation.parse(self.url).dsn)
        try:
            for schema in self.schemas:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


AGENTS = 4


@dataclass(slots=True)
class Run:
    """One timed chat: wall seconds until the run returned and until the store had committed
    everything (the same without a store), and the process's CPU seconds (all threads)."""

    run_seconds: float
    seconds: float
    cpu_seconds: float
    chat_id: str
    problem: str | None


async def _chat_events(messages: int) -> list[Event]:
    """Every event of a round-robin chat of ``messages`` messages, as a store would see them."""
    scenario = build_round_robin(Config(AGENTS, messages))
    chat = scenario.chat
    sub = chat.bus.subscribe(chat.chat_id, start=0, maxsize=1 << 30)
    await chat.run()
    return [event async for event in sub]


async def _append(events: Sequence[Event], location: str | Path) -> float:
    store = await open_store(location)
    try:
        gc.collect()
        start = time.perf_counter()
        await store.append_many(events)
        await store.flush()
        return time.perf_counter() - start
    finally:
        await store.close()


async def _alone_once(config: Config) -> Run:
    scenario = build_round_robin(config)
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    result = await scenario.chat.run()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    return Run(seconds, seconds, cpu, scenario.chat.chat_id, scenario.check(result))


async def _record_once(config: Config, location: str | Path) -> Run:
    scenario = build_round_robin(config)
    chat = scenario.chat
    store = await open_store(location)
    try:
        recorder = StoreRecorder(store, chat.bus, chat.chat_id, title="bench")
        await recorder.start()
        gc.collect()
        cpu, start = time.process_time(), time.perf_counter()
        result = await chat.run()
        run_seconds = time.perf_counter() - start
        await recorder.wait()
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu

        problem = scenario.check(result)
        published = chat.bus.next_seq(chat.chat_id)
        summary = await store.chat(chat.chat_id)
        if problem is None and summary.last_seq != published - 1:
            problem = f"stored up to seq {summary.last_seq} of {published - 1}"
        if problem is None and summary.messages != len(result.messages):
            problem = f"summary counts {summary.messages} of {len(result.messages)} messages"
        if problem is None and summary.state != "ended":
            problem = f"summary state {summary.state!r}"
    finally:
        await store.close()
    return Run(run_seconds, seconds, cpu, chat.chat_id, problem)


def bench_append(count: int, places: Places) -> dict[str, object]:
    messages = -(-count // AGENTS)
    events = asyncio.run(_chat_events(messages))[:count]
    asyncio.run(_append(events[: min(len(events), 2000)], places.new("append-warmup")))
    seconds = asyncio.run(_append(events, places.new("append")))
    rate = len(events) / seconds
    target = TARGET_APPEND_PER_S if places.url is None else TARGET_APPEND_PER_S_POSTGRES
    return {
        "bench": "store_append",
        "backend": places.backend,
        "events": len(events),
        "seconds": round(seconds, 6),
        "events_per_s": round(rate, 1),
        "us_per_event": round(seconds / len(events) * 1e6, 3),
        "target_events_per_s": target,
        "met_target": rate >= target,
    }


def bench_recorder(
    messages: int, repeat: int, places: Places
) -> tuple[dict[str, object], str | Path, str]:
    config = Config(AGENTS, messages)
    warm = Config(AGENTS, min(messages, WARMUP_MESSAGES))
    asyncio.run(_alone_once(warm))
    asyncio.run(_record_once(warm, places.new("warmup")))
    alone: list[Run] = []
    recorded: list[Run] = []
    path: str | Path = places.new("none")
    for i in range(repeat):  # alternate, so that drifts of a shared machine hit both alike
        alone.append(asyncio.run(_alone_once(config)))
        gc.collect()
        path = places.new(f"recorded-{messages}-{i}")
        recorded.append(asyncio.run(_record_once(config, path)))
        gc.collect()

    def us(runs: list[Run], field: str) -> float:
        values: list[float] = [getattr(r, field) for r in runs]
        return statistics.median(values) / messages * 1e6

    added = us(recorded, "seconds") - us(alone, "seconds")
    report: dict[str, object] = {
        "bench": "store_recorder",
        "backend": places.backend,
        "framework": FRAMEWORK,
        "pattern": "round_robin",
        "agents": AGENTS,
        "messages": messages,
        "us_per_msg_alone": round(us(alone, "seconds"), 3),
        "us_per_msg_recorded_run": round(us(recorded, "run_seconds"), 3),
        "us_per_msg_recorded_committed": round(us(recorded, "seconds"), 3),
        "us_per_msg_added": round(added, 3),
        "us_per_msg_added_run": round(us(recorded, "run_seconds") - us(alone, "seconds"), 3),
        "target_us_per_msg_added": TARGET_US_PER_MSG_ADDED if places.url is None else None,
        "cpu_us_per_msg_alone": round(us(alone, "cpu_seconds"), 3),
        "cpu_us_per_msg_recorded": round(us(recorded, "cpu_seconds"), 3),
        "cpu_us_per_msg_added": round(us(recorded, "cpu_seconds") - us(alone, "cpu_seconds"), 3),
        "repeat": repeat,
        "alone_s": [round(r.seconds, 6) for r in alone],
        "recorded_run_s": [round(r.run_seconds, 6) for r in recorded],
        "recorded_committed_s": [round(r.seconds, 6) for r in recorded],
        "db_mb": round(path.stat().st_size / 1e6, 1) if isinstance(path, Path) else None,
        "met_target": places.url is not None or added <= TARGET_US_PER_MSG_ADDED,
    }
    problems = [m.problem for m in alone if m.problem] + [r.problem for r in recorded if r.problem]
    if problems:
        report["ok"] = False
        report["problem"] = problems[0]
    return report, path, recorded[-1].chat_id


def _timed(fn: Callable[[], object], *, collect: bool) -> float:
    """Seconds ``fn`` takes, with the garbage collector running (``collect``) or paused."""
    gc.collect()
    if not collect:
        gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()
        gc.collect()


async def _read(location: str | Path, chat_id: str) -> dict[str, object]:
    store = await open_store(location)
    try:
        gc.collect()
        start = time.perf_counter()
        events = await store.events(chat_id)
        total = time.perf_counter() - start
    finally:
        await store.close()
    count = len(events)
    gc.collect()
    fetch: float | None = None
    if isinstance(location, Path):
        with sqlite3.connect(location) as db:
            start = time.perf_counter()
            rows = [
                r[0]
                for r in db.execute(
                    "SELECT json FROM event_log WHERE chat_id = ? ORDER BY seq", (chat_id,)
                )
            ]
            fetch = time.perf_counter() - start
    else:
        from groupchat.events import dump_event

        rows = [dump_event(event) for event in events]
    events_list: TypeAdapter[list[Event]] = TypeAdapter(list[Event])

    def bulk() -> object:
        return events_list.validate_json("[" + ",".join(rows) + "]")

    def one_by_one() -> object:
        return [parse_event(row) for row in rows]

    def in_runs() -> object:
        return parse_event_rows(rows)

    per = 1e6 / count
    return {
        "bench": "store_read",
        "backend": "sqlite" if isinstance(location, Path) else "postgres",
        "events": count,
        "seconds": round(total, 6),
        "us_per_event": round(total * per, 3),
        "fetch_us_per_event": None if fetch is None else round(fetch * per, 3),
        "parse_runs_us_per_event": round(_timed(in_runs, collect=False) * per, 3),
        "parse_bulk_us_per_event": round(_timed(bulk, collect=False) * per, 3),
        "parse_per_row_us_per_event": round(_timed(one_by_one, collect=False) * per, 3),
        "parse_bulk_gc_us_per_event": round(_timed(bulk, collect=True) * per, 3),
        "parse_per_row_gc_us_per_event": round(_timed(one_by_one, collect=True) * per, 3),
    }


def _small_chat(index: int) -> list[Event]:
    """A chat of three messages; every tenth one says "zebra"."""
    chat_id = f"s{index:06d}"
    now = datetime.now(UTC)
    lines = [
        f"chat {index} talks about the moon and the sun",
        "zebra crossing ahead" if index % 10 == 0 else "nothing to see here",
        f"goodbye number {index}",
    ]
    events: list[Event] = [
        ChatStarted(
            chat_id=chat_id, seq=0, time=now, sender=MANAGER, task="talk", participants=(),
            policy="rr",
        )
    ]  # fmt: skip
    for i, text in enumerate(lines, 1):
        message = Message(id=f"m{i}", sender="ada", content=text)
        events.append(
            MessagePosted(chat_id=chat_id, seq=i, time=now, sender="ada", message=message)
        )
    events.append(
        ChatEnded(
            chat_id=chat_id, seq=4, time=now, sender=MANAGER, reason="done", status="completed",
            messages=3,
        )
    )  # fmt: skip
    return events


async def _search(chats: int, location: str | Path) -> dict[str, object]:
    store: TranscriptStore = await open_store(location)
    try:
        events = [e for i in range(chats) for e in _small_chat(i)]
        await store.append_many(events)
        await store.flush()

        async def median_ms(run: Callable[[], Awaitable[int]]) -> tuple[float, int]:
            found = await run()  # warm
            times = []
            for _ in range(5):
                start = time.perf_counter()
                found = await run()
                times.append(time.perf_counter() - start)
            return statistics.median(times) * 1000, found

        async def word() -> int:
            return len(await store.chats(search="zebra"))

        async def prefix() -> int:
            return len(await store.chats(search="zeb* cross*"))

        async def hits() -> int:
            return len(await store.search("zebra", limit=50))

        word_ms, word_found = await median_ms(word)
        prefix_ms, prefix_found = await median_ms(prefix)
        hits_ms, hits_found = await median_ms(hits)
    finally:
        await store.close()
    report: dict[str, object] = {
        "bench": "store_search",
        "backend": "sqlite" if isinstance(location, Path) else "postgres",
        "chats": chats,
        "list_search_ms": round(word_ms, 3),
        "list_search_prefix_ms": round(prefix_ms, 3),
        "search_ms": round(hits_ms, 3),
        "target_ms": TARGET_SEARCH_MS,
        "met_target": max(word_ms, prefix_ms) <= TARGET_SEARCH_MS,
    }
    expected = -(-chats // 10)
    if (word_found, prefix_found, hits_found) != (expected, expected, min(expected, 50)):
        report["ok"] = False
        report["problem"] = f"found {(word_found, prefix_found, hits_found)} of {expected}"
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store",
        description="Transcript store: append rate, what recording adds per message, read-back; "
        "prints JSON lines.",
    )
    parser.add_argument(
        "--messages",
        type=_positive,
        nargs="+",
        default=[10_000, 100_000],
        help="chat lengths for the recorder runs (default: 10000 100000)",
    )
    parser.add_argument(
        "--append-events",
        type=_positive,
        default=100_000,
        help="events for the append run (default: 100000)",
    )
    parser.add_argument(
        "--repeat", type=_positive, default=3, help="runs; the median is reported (default: 3)"
    )
    parser.add_argument(
        "--search-chats",
        type=_positive,
        default=10_000,
        help="chats for the search run (default: 10000)",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="a postgresql:// URL: measure the PostgreSQL store (default: SQLite files)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    return parser


def _judged(report: dict[str, object], strict: bool) -> bool:
    """Whether ``report`` passes: its checks, and with ``strict`` its target too."""
    if strict and not report["met_target"] and "problem" not in report:
        report["ok"] = False
        report["problem"] = "missed the target"
    return report.get("ok", True) is True


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="groupchat-bench-") as tmp:
        places = Places(Path(tmp), args.db)
        try:
            report = bench_append(args.append_events, places)
            ok = _judged(report, args.strict) and ok
            print(json.dumps(report), flush=True)
            last: tuple[str | Path, str] | None = None
            for messages in args.messages:
                report, path, chat_id = bench_recorder(messages, args.repeat, places)
                ok = _judged(report, args.strict) and ok
                print(json.dumps(report), flush=True)
                last = (path, chat_id)
            if last is not None:
                report = asyncio.run(_read(*last))
                report["messages"] = max(args.messages)
                print(json.dumps(report), flush=True)
            report = asyncio.run(_search(args.search_chats, places.new("search")))
            ok = _judged(report, args.strict) and ok
            print(json.dumps(report), flush=True)
        finally:
            asyncio.run(places.drop())
    print(json.dumps({"bench": "store", "peak_rss_mb": round(_peak_rss_mb(), 1)}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
