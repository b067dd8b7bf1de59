"""Load: many chats at once in one process, every event recorded in one store.

    python -m bench.load --chats 1000 --agents 4 --messages 100

runs ``--chats`` round-robin chats of ``--agents`` scripted agents, ``--messages`` messages each,
concurrently on one bus, each with a :class:`~groupchat.transcripts.recorder.StoreRecorder`
writing to one SQLite store, and prints one JSON line. ``seconds`` is the time from starting the
chats until every chat has ended and every event is committed (target: at most 10 s for 1,000
chats of 100 messages on 2 cores). Afterwards every chat is read back from the database: all of
its messages must be there, in order, and every event it published; otherwise ``"ok": false``
with the ``"problem"`` and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.orchestration import FRAMEWORK, Config, _peak_rss_mb, _positive, build_round_robin
from groupchat.bus import EventBus
from groupchat.events import MessagePosted
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.store import SqliteStore

__all__ = ["TARGET_SECONDS", "main"]

TARGET_SECONDS = 10.0
"""The whole run of 1,000 chats of 4 agents and 100 messages each, store attached."""


async def _run(chats: int, config: Config, path: Path) -> dict[str, object]:
    store = await SqliteStore.open(path)
    bus = EventBus()  # one bus for every chat, as in a server
    scenarios = [build_round_robin(config, bus) for _ in range(chats)]
    recorders = [StoreRecorder(store, bus, s.chat.chat_id, title="load") for s in scenarios]
    for recorder in recorders:
        await recorder.start()

    started = time.perf_counter()
    results = await asyncio.gather(*(s.chat.run("go") for s in scenarios))
    await asyncio.gather(*(recorder.wait() for recorder in recorders))
    seconds = time.perf_counter() - started

    problem = None
    stored_messages = 0
    for scenario, result in zip(scenarios, results, strict=True):
        chat_id = scenario.chat.chat_id
        stored = await store.events(chat_id)
        posted = [e.message for e in stored if isinstance(e, MessagePosted)]
        stored_messages += sum(1 for m in posted if m.kind == "turn")
        if problem := scenario.check(result):
            problem = f"chat {chat_id}: {problem}"
        elif posted != list(result.messages):
            problem = f"chat {chat_id}: the stored messages differ from the chat's"
        elif [e.seq for e in stored] != list(range(bus.next_seq(chat_id))):
            problem = f"chat {chat_id}: {bus.next_seq(chat_id) - len(stored)} events missing"
        if problem:
            break
    await store.close()
    line: dict[str, object] = {
        "framework": FRAMEWORK,
        "pattern": "load",
        "chats": chats,
        "agents": config.agents,
        "messages_per_chat": config.messages,
        "messages": chats * config.messages,
        "stored_messages": stored_messages,
        "seconds": round(seconds, 3),
        "msgs_per_s": round(chats * config.messages / seconds, 1),
        "target_seconds": TARGET_SECONDS,
        "peak_rss_mb": _peak_rss_mb(),
    }
    if problem:
        line.update(ok=False, problem=problem)
    return line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="Many concurrent chats with the store attached; prints one JSON line.",
    )
    parser.add_argument("--chats", type=_positive, default=1000)
    parser.add_argument("--agents", type=_positive, default=4)
    parser.add_argument("--messages", type=_positive, default=100, help="messages per chat")
    parser.add_argument("--db", type=Path, help="database file (default: a temporary one)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = Config(agents=args.agents, messages=args.messages)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "load.db"
        line = asyncio.run(_run(args.chats, config, path))
    print(json.dumps(line))
    return 1 if line.get("ok") is False else 0


if __name__ == "__main__":
    sys.exit(main())
