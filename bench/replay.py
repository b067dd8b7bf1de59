"""Replay speed: opening a long saved chat and replaying it at speed 0.

    python -m bench.replay --messages 100000 --repeat 3

records a chat of ``--messages`` messages from 4 scripted round-robin agents (about four events
per message) on an ``EventBus(retain=None)``, dumps it to a JSONL file and imports it into a
transcript store in a temporary folder, and then times, ``--repeat`` times for each source:
opening it (``jsonl``: reading and parsing the file with
:func:`~groupchat.transcripts.replay.read_events`; ``store``: opening the database, reading the
chat's events and closing it, as ``groupchat replay ID`` does) plus replaying it at speed 0 onto
a fresh bus that one durable subscriber reads to the end. It prints one JSON line per source::

    {"bench": "replay", "source": "jsonl", "messages": 100000, "events": 400003,
     "file_mb": ..., "seconds": ..., "open_s": ..., "replay_s": ..., "target_s": 1.0, ...}

``seconds`` is ``open_s + replay_s`` of the median run (the lower middle one for an even
``--repeat``). Recording the chat, writing the file and importing it are not timed. Every run
is checked: the subscriber reads every event, in order, equal to the recorded ones. A failed
check adds ``"ok": false`` and ``"problem"`` and the exit status is 1; so does missing the
target, with ``--strict``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.orchestration import _peak_rss_mb, _positive, agent_names, script_for
from groupchat.agents import ScriptedAgent
from groupchat.bus import EventBus, Subscription
from groupchat.chat import GroupChat
from groupchat.events import Event, dump_event
from groupchat.policies import RoundRobinPolicy
from groupchat.termination import MaxMessages
from groupchat.transcripts.replay import Replayer, read_events
from groupchat.transcripts.store import SqliteStore

__all__ = ["TARGET_S", "Measurement", "main", "measure", "record"]

TARGET_S = 1.0
"""Open and replay at speed 0 a chat of 100,000 messages (about 400,000 events)."""

AGENTS = 4


async def record(messages: int) -> list[Event]:
    """Every event of a fast scripted chat of ``messages`` messages."""
    agents = [
        ScriptedAgent(name, script_for(name, 1)[0], when_done="cycle")
        for name in agent_names(AGENTS)
    ]
    chat = GroupChat(
        agents,
        policy=RoundRobinPolicy(),
        termination=MaxMessages(messages),
        bus=EventBus(retain=None),
    )
    await chat.run("Carry on.")
    return chat.events()


def write(events: Sequence[Event], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(dump_event(event) + "\n" for event in events)


@dataclass(frozen=True, slots=True)
class Measurement:
    open_s: float
    replay_s: float
    problem: str | None

    @property
    def seconds(self) -> float:
        return self.open_s + self.replay_s


async def _read_all(sub: Subscription) -> list[Event]:
    return [event async for event in sub]


async def _open(source: str, path: Path, chat_id: str) -> list[Event]:
    if source == "jsonl":
        return read_events(path)
    async with await SqliteStore.open(path) as store:
        return await store.events(chat_id)


async def _run_once(source: str, path: Path, expected: Sequence[Event]) -> Measurement:
    gc.collect()
    start = time.perf_counter()
    events = await _open(source, path, expected[0].chat_id)
    opened = time.perf_counter()
    bus = EventBus()
    replayer = Replayer(events, bus, speed=0)
    reader = asyncio.create_task(_read_all(bus.subscribe(replayer.chat_id)))
    await replayer.run()
    read = await reader
    end = time.perf_counter()
    problem = None
    if read != expected:
        problem = f"the subscriber read {len(read)} events, not the {len(expected)} recorded"
    return Measurement(opened - start, end - opened, problem)


def measure(
    path: Path, expected: Sequence[Event], repeat: int, source: str = "jsonl"
) -> list[Measurement]:
    """Time ``repeat`` runs of open + replay from ``source`` (``jsonl`` or ``store``, at
    ``path``), each in a new event loop."""
    runs = []
    for _ in range(repeat):
        runs.append(asyncio.run(_run_once(source, path, expected)))
        gc.collect()
    return runs


async def _import(events: Sequence[Event], path: Path) -> None:
    async with await SqliteStore.open(path) as store:
        await store.import_events(events)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.replay",
        description="Open a JSONL transcript and replay it at speed 0; prints one JSON line.",
    )
    parser.add_argument(
        "--messages", type=_positive, default=100_000, help="messages (default: 100000)"
    )
    parser.add_argument(
        "--repeat", type=_positive, default=3, help="runs; the median is reported (default: 3)"
    )
    parser.add_argument(
        "--source",
        nargs="+",
        choices=["jsonl", "store"],
        default=["jsonl", "store"],
        help="where the chat is opened from (default: both)",
    )
    parser.add_argument(
        "--strict", action="store_true", help=f"exit 1 if the median is over {TARGET_S} s"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    expected = asyncio.run(record(args.messages))
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"jsonl": Path(tmp) / "chat.jsonl", "store": Path(tmp) / "chats.db"}
        write(expected, paths["jsonl"])
        asyncio.run(_import(expected, paths["store"]))
        for source in args.source:
            path = paths[source]
            runs = measure(path, expected, args.repeat, source)
            report = _report(args, source, path.stat().st_size / 1e6, len(expected), runs)
            print(json.dumps(report), flush=True)
            failed = failed or report.get("ok") is False
    return 1 if failed else 0


def _report(
    args: argparse.Namespace, source: str, file_mb: float, events: int, runs: list[Measurement]
) -> dict[str, object]:
    median = sorted(runs, key=lambda r: r.seconds)[(len(runs) - 1) // 2]
    seconds = median.seconds
    report: dict[str, object] = {
        "bench": "replay",
        "source": source,
        "messages": args.messages,
        "events": events,
        "file_mb": round(file_mb, 1),
        "seconds": round(seconds, 3),
        "open_s": round(median.open_s, 3),
        "replay_s": round(median.replay_s, 3),
        "us_per_event": round(seconds / events * 1e6, 3),
        "target_s": TARGET_S if args.messages == 100_000 else None,
        "repeat": args.repeat,
        "runs_s": [round(r.seconds, 3) for r in runs],
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }
    problems = [r.problem for r in runs if r.problem is not None]
    if args.strict and args.messages == 100_000 and seconds > TARGET_S:
        problems.append(f"median {seconds:.3f} s is over the target of {TARGET_S} s")
    if problems:
        report["ok"] = False
        report["problem"] = problems[0]
    return report


if __name__ == "__main__":
    sys.exit(main())
