"""Distributed chats on loopback: the manager here, the agents in ``groupchat worker`` processes.

    python -m bench.distributed --messages 2000 --chats 100 --chat-messages 50 --repeat 3

starts a ``redis-server`` of its own (a free loopback port, a temporary folder), writes a team
spec of ``--agents`` scripted agents (one piece per message, lines that cycle) and starts
``--workers`` real ``groupchat worker SPEC --bus URL --only ...`` processes that share the agents
out between them; they host them for every chat of the team. The manager runs in this process:
one :class:`~groupchat.distributed.redis_bus.RedisBus`, a
:class:`~groupchat.distributed.hosting.Hosting` per chat with every agent a
:class:`~groupchat.distributed.hosting.HostedParticipant`, and a
:class:`~groupchat.transcripts.recorder.StoreRecorder` per chat into one SQLite store, as
``groupchat run --bus`` builds it. It measures

* ``one_chat``: one chat of ``--messages`` messages;
* ``chats``: ``--chats`` concurrent chats of ``--chat-messages`` messages each

(with ``--deltas N`` every message streams in ``N`` pieces from its worker), each ``--repeat``
times, alternately with the same chats in process (one :class:`~groupchat.bus.EventBus`, the
same agents in this process, the store attached) for ``ratio`` (µs per message on the bus over
in process). A run is timed from starting the chats until every event is in Redis and committed
to the store. The hand-off of a turn is ``speaker_selected`` ->
``message_posted``, from the events' ``time`` (both stamped by the manager). Redis commands are
counted with ``INFO commandstats`` over the timed part, per message.

Every chat is checked: it completed with exactly its messages, in round-robin order, each one
a line of its speaker's as its worker says it (the manager's own copies of the agents say
something else, so a turn that fell back to this process is caught); its stream read back from
Redis equals what the store holds, seq by seq, and the store holds every message of the chat.
One JSON line per measurement and one ``summary`` line (figures against the targets) go to
stdout, a table of them to stderr. A failed check is ``"ok": false`` and exit status 1; the
targets are judged only with ``--strict``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bench.orchestration import FRAMEWORK, _peak_rss_mb, _positive, agent_names, script_for
from groupchat.agents import ScriptedAgent
from groupchat.bus import EventBus
from groupchat.chat import ChatResult, GroupChat
from groupchat.distributed.local_server import RedisServer
from groupchat.events import Event, MessagePosted, SpeakerSelected
from groupchat.policies import RoundRobinPolicy
from groupchat.termination import MaxMessages
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.store import SqliteStore

if TYPE_CHECKING:
    from groupchat.distributed.hosting import Hosting
    from groupchat.distributed.redis_bus import RedisBus
    from groupchat.transcripts.store import SqliteStore as Store

__all__ = [
    "TARGET_CHATS_MSGS_PER_S",
    "TARGET_HANDOFF_P50_MS",
    "TARGET_ONE_CHAT_MSGS_PER_S",
    "main",
]

TARGET_HANDOFF_P50_MS = 1.0
"""Median ``speaker_selected`` -> ``message_posted`` of a hosted turn, one chat."""
TARGET_ONE_CHAT_MSGS_PER_S = 1000.0
"""One chat of 4 agents in 2 workers, store attached."""
TARGET_CHATS_MSGS_PER_S = 5000.0
"""Summed over 100 concurrent chats, store attached, on 2 cores."""

TEAM = "busbench"
HOST_TIMEOUT = 30.0
"""Seconds the workers get to start and host every agent of every chat."""
WARMUP_MESSAGES = 100
PINGS = 2000


# ---------------------------------------------------------------------------------- the team


def _scripts(agents: int, deltas: int = 1) -> tuple[dict[str, list[str]], int]:
    """Each agent's lines, and the chunk size that streams each in ``deltas`` pieces."""
    scripts = {name: script_for(name, deltas)[0] for name in agent_names(agents)}
    return scripts, script_for("agent0", deltas)[1]


def write_spec(path: Path, scripts: dict[str, list[str]], chunk: int | None = None) -> None:
    """The team the workers load: the agents' lines, cycling, each sent as one piece (or in
    pieces of ``chunk`` characters)."""
    spec = {
        "name": TEAM,
        "description": "Scripted agents for bench.distributed.",
        "participants": [
            {
                "kind": "scripted",
                "name": n,
                "script": lines,
                "chunk": chunk or "line",
                "when_done": "cycle",
            }
            for n, lines in scripts.items()
        ],
        "policy": {"kind": "round_robin"},
        "termination": {"max_messages": 1000000},
    }
    path.write_text(json.dumps(spec, indent=1))  # JSON is YAML


@contextlib.contextmanager
def worker_processes(
    spec: Path, url: str, names: list[str], count: int, logs: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``groupchat worker`` processes, the agents dealt out between them in turn."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(count):
            mine = names[i::count]
            if not mine:
                continue
            log = (logs / f"worker{i}.log").open("wb")
            command = [sys.executable, "-m", "groupchat", "worker", str(spec), "--bus", url]
            processes.append(
                subprocess.Popen(
                    [*command, "--only", *mine],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            )
            log.close()
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# ---------------------------------------------------------------------------------- one run


@dataclass(slots=True)
class Run:
    """One timed run: its seconds, its messages, every hand-off (ms), the Redis commands it
    sent (name -> calls) and the first problem its checks found."""

    seconds: float
    messages: int
    handoffs_ms: list[float] = field(default_factory=list)
    commands: dict[str, int] = field(default_factory=dict)
    problem: str | None = None


def _handoffs_ms(events: Sequence[Event]) -> list[float]:
    """``speaker_selected`` -> the ``message_posted`` of that turn, per turn, in ms."""
    out: list[float] = []
    selected: Any = None
    for event in events:
        if isinstance(event, SpeakerSelected):
            selected = event.time
        elif isinstance(event, MessagePosted) and event.message.kind == "turn" and selected:
            out.append((event.time - selected).total_seconds() * 1000)
            selected = None
    return out


def _check(
    result: ChatResult,
    stored: list[Event],
    stream: list[Event] | None,
    published: int,
    messages: int,
    scripts: dict[str, list[str]],
) -> str | None:
    """The chat's messages, in order, each a line of its speaker's; the store holds every
    event (and, on a bus, exactly the stream's events)."""
    if result.status != "completed":
        return f"ended with status {result.status!r}: {result.reason}"
    turns = [m for m in result.messages if m.kind == "turn"]
    if len(turns) != messages:
        return f"expected {messages} messages, got {len(turns)}"
    names = list(scripts)
    for j, message in enumerate(turns):
        if message.sender != names[j % len(names)]:
            return f"message {j}: expected {names[j % len(names)]}, got {message.sender}"
        if message.content not in scripts[message.sender]:
            return f"message {j} from {message.sender}: not its worker's line: {message.content!r}"
    if [e.seq for e in stored] != list(range(published)):
        return f"the store holds {len(stored)} of {published} events"
    posted = [e.message for e in stored if isinstance(e, MessagePosted)]
    if posted != list(result.messages):
        return "the stored messages differ from the chat's"
    if stream is not None and stream != stored:
        return f"the stream ({len(stream)} events) differs from the store ({len(stored)})"
    return None


def _commands(info: dict[str, Any]) -> dict[str, int]:
    """``INFO commandstats`` as command -> calls."""
    calls = {}
    for key, value in info.items():
        if key.startswith("cmdstat_") and isinstance(value, dict):
            calls[key.removeprefix("cmdstat_")] = int(value.get("calls", 0))
    return calls


def _local_agents(names: list[str]) -> list[ScriptedAgent]:
    """The manager's copies of the agents: they speak only if a turn falls back to here."""
    return [
        ScriptedAgent(n, [f"{n} spoke in the manager, not on its worker"], when_done="cycle")
        for n in names
    ]


def _hosted_chat(bus: RedisBus, messages: int, names: list[str]) -> tuple[GroupChat, Hosting]:
    from groupchat.distributed.hosting import HostedParticipant, Hosting

    hosting = Hosting(bus)
    chat = GroupChat(
        [HostedParticipant(a, hosting) for a in _local_agents(names)],
        policy=RoundRobinPolicy(),
        termination=MaxMessages(messages),
        bus=bus,
    )
    hosting.attach(chat)
    return chat, hosting


async def run_distributed(
    url: str, chats: int, messages: int, scripts: dict[str, list[str]], db: Path
) -> Run:
    """``chats`` chats of ``messages`` messages on the bus, their agents on the workers."""
    from groupchat.distributed.follow import read_range
    from groupchat.distributed.redis_bus import RedisBus
    from groupchat.distributed.url import BusURL, connect

    names = list(scripts)
    bus = await RedisBus.connect(url)
    stats = await connect(BusURL.parse(url))
    store = await SqliteStore.open(db)
    built: list[tuple[GroupChat, Hosting]] = []
    try:
        for _ in range(chats):
            chat, hosting = _hosted_chat(bus, messages, names)
            built.append((chat, hosting))
            bus.describe(chat.chat_id, title="bench", team=TEAM, agents=names)
            await bus.acquire(chat.chat_id)
            await hosting.start()
        recorders = await _recorders(store, bus, [chat for chat, _ in built])
        waits = [hosting.wait_hosted(names, HOST_TIMEOUT) for _, hosting in built]
        missing = {n for left in await asyncio.gather(*waits) for n in left}
        if missing:
            return Run(0.0, 0, problem=f"no worker hosts {', '.join(sorted(missing))}")
        await stats.config_resetstat()
        gc.collect()

        start = time.perf_counter()
        results = await asyncio.gather(*(chat.run("go") for chat, _ in built))
        await asyncio.gather(*(bus.flushed(chat.chat_id) for chat, _ in built))
        await asyncio.gather(*(recorder.wait() for recorder in recorders))
        seconds = time.perf_counter() - start

        commands = _commands(await stats.info("commandstats"))
        run = Run(seconds, chats * messages, commands=commands)
        for (chat, _), result in zip(built, results, strict=True):
            stored = await store.events(chat.chat_id)
            stream = [e async for e in read_range(bus.client, chat.chat_id)]
            published = bus.next_seq(chat.chat_id)
            problem = _check(result, stored, stream, published, messages, scripts)
            if problem is None and bus.failure(chat.chat_id) is not None:
                problem = f"the stream writer failed: {bus.failure(chat.chat_id)}"
            if problem is not None:
                run.problem = f"chat {chat.chat_id}: {problem}"
                break
            run.handoffs_ms += _handoffs_ms(stored)
        return run
    finally:
        for _, hosting in built:
            await hosting.close()
        await bus.aclose()
        await store.close()
        await stats.aclose()


async def run_in_process(
    chats: int,
    messages: int,
    scripts: dict[str, list[str]],
    db: Path,
    chunk: Literal["line"] | int = "line",
) -> Run:
    """The same chats on one in-process bus, the same agents in this process."""
    bus = EventBus()
    store = await SqliteStore.open(db)
    try:
        built = [
            GroupChat(
                [
                    ScriptedAgent(n, lines, chunk=chunk, when_done="cycle")
                    for n, lines in scripts.items()
                ],
                policy=RoundRobinPolicy(),
                termination=MaxMessages(messages),
                bus=bus,
            )
            for _ in range(chats)
        ]
        recorders = await _recorders(store, bus, built)
        gc.collect()
        start = time.perf_counter()
        results = await asyncio.gather(*(chat.run("go") for chat in built))
        await asyncio.gather(*(recorder.wait() for recorder in recorders))
        seconds = time.perf_counter() - start
        run = Run(seconds, chats * messages)
        for chat, result in zip(built, results, strict=True):
            stored = await store.events(chat.chat_id)
            published = bus.next_seq(chat.chat_id)
            problem = _check(result, stored, None, published, messages, scripts)
            if problem is not None:
                run.problem = f"chat {chat.chat_id}: {problem}"
                break
            run.handoffs_ms += _handoffs_ms(stored)
        return run
    finally:
        await store.close()


async def _recorders(
    store: Store, bus: EventBus, chats: Sequence[GroupChat]
) -> list[StoreRecorder]:
    recorders = [StoreRecorder(store, bus, chat.chat_id, title="bench") for chat in chats]
    for recorder in recorders:
        await recorder.start()
    return recorders


async def ping_us(url: str, count: int = PINGS) -> float:
    """Median microseconds of one awaited ``PING`` from this process: one round trip."""
    from groupchat.distributed.url import BusURL, connect

    client = await connect(BusURL.parse(url))
    try:
        times = []
        for _ in range(count):
            start = time.perf_counter()
            await client.ping()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e6
    finally:
        await client.aclose()


# ---------------------------------------------------------------------------------- figures


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(name: str, runs: Sequence[Run], chats: int, messages: int) -> dict[str, Any]:
    """One JSON line for ``runs``: medians over the runs (p50/p99 of each run's hand-offs)."""
    seconds = statistics.median(r.seconds for r in runs)
    total = chats * messages
    line: dict[str, Any] = {
        "bench": name,
        "chats": chats,
        "messages_per_chat": messages,
        "messages": total,
        "seconds": round(seconds, 4),
        "msgs_per_s": round(total / seconds, 1) if seconds else 0.0,
        "us_per_msg": round(seconds / total * 1e6, 1) if total else 0.0,
        "handoff_p50_ms": round(
            statistics.median(_percentile(r.handoffs_ms, 0.5) for r in runs), 3
        ),
        "handoff_p99_ms": round(
            statistics.median(_percentile(r.handoffs_ms, 0.99) for r in runs), 3
        ),
        "runs_s": [round(r.seconds, 4) for r in runs],
    }
    if runs[0].commands:
        names = sorted({c for r in runs for c in r.commands})
        line["redis_calls_per_msg"] = {
            c: round(statistics.median(r.commands.get(c, 0) / total for r in runs), 3)
            for c in names
            if statistics.median(r.commands.get(c, 0) for r in runs) >= total / 100
        }
    problems = [r.problem for r in runs if r.problem is not None]
    if problems:
        line.update(ok=False, problem=problems[0])
    return line


def _table(lines: Sequence[dict[str, Any]], summary: dict[str, Any]) -> str:
    rows = [("measurement", "msgs", "msgs/s", "µs/msg", "hand-off p50", "p99", "ratio")]
    for line in lines:
        rows.append(
            (
                line["bench"],
                str(line["messages"]),
                f"{line['msgs_per_s']:,.0f}",
                f"{line['us_per_msg']:.1f}",
                f"{line['handoff_p50_ms']:.3f} ms",
                f"{line['handoff_p99_ms']:.3f} ms",
                f"{line['ratio']:.1f}×" if "ratio" in line else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    text = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    text.append("")
    text.append(f"Redis round trip (PING from the manager): {summary['ping_us']:.0f} µs")
    for target in summary["targets"]:
        met = "met" if target["met"] else "missed"
        text.append(f"{target['what']}: {target['figure']} (target {target['target']}, {met})")
    return "\n".join(text)


# ---------------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.distributed",
        description="Chats on a Redis bus with their agents in worker processes, against the "
        "same chats in process; prints JSON lines (and a table on stderr).",
    )
    parser.add_argument("--agents", type=_positive, default=4, help="agents (default: 4)")
    parser.add_argument(
        "--workers", type=_positive, default=2, help="worker processes (default: 2)"
    )
    parser.add_argument(
        "--messages", type=_positive, default=2000, help="messages of the one chat (default: 2000)"
    )
    parser.add_argument(
        "--chats", type=_positive, default=100, help="concurrent chats (default: 100)"
    )
    parser.add_argument(
        "--chat-messages",
        type=_positive,
        default=50,
        help="messages of each concurrent chat (default: 50)",
    )
    parser.add_argument(
        "--deltas",
        type=_positive,
        default=1,
        help="streamed pieces per message, on the workers (default: 1)",
    )
    parser.add_argument(
        "--repeat", type=_positive, default=3, help="runs; medians are reported (default: 3)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser


async def _measure(args: argparse.Namespace, url: str, folder: Path) -> list[dict[str, Any]]:
    scripts, size = _scripts(args.agents, args.deltas)
    chunk: Literal["line"] | int = size if args.deltas > 1 else "line"
    db = iter(folder / f"run{i}.db" for i in range(10_000))
    await run_distributed(url, 1, min(args.messages, WARMUP_MESSAGES), scripts, next(db))
    sizes = {"one_chat": (1, args.messages), "chats": (args.chats, args.chat_messages)}
    lines = []
    for name, (chats, messages) in sizes.items():
        local, remote = [], []
        for _ in range(args.repeat):  # alternately, so a busy machine slows both sides
            local.append(await run_in_process(chats, messages, scripts, next(db), chunk))
            remote.append(await run_distributed(url, chats, messages, scripts, next(db)))
        base = summarise(f"{name}_in_process", local, chats, messages)
        line = summarise(f"{name}_distributed", remote, chats, messages)
        if base["us_per_msg"]:
            line["ratio"] = round(line["us_per_msg"] / base["us_per_msg"], 1)
        lines += [base, line]
    return lines


def _summary(lines: list[dict[str, Any]], ping: float, args: argparse.Namespace) -> dict[str, Any]:
    by = {line["bench"]: line for line in lines}
    one, many = by["one_chat_distributed"], by["chats_distributed"]
    targets = [
        {
            "what": "hand-off p50, one chat",
            "figure": f"{one['handoff_p50_ms']:.3f} ms",
            "target": f"<= {TARGET_HANDOFF_P50_MS:g} ms",
            "met": one["handoff_p50_ms"] <= TARGET_HANDOFF_P50_MS,
        },
        {
            "what": "one chat",
            "figure": f"{one['msgs_per_s']:,.0f} msgs/s",
            "target": f">= {TARGET_ONE_CHAT_MSGS_PER_S:,.0f} msgs/s",
            "met": one["msgs_per_s"] >= TARGET_ONE_CHAT_MSGS_PER_S,
        },
        {
            "what": f"{args.chats} chats",
            "figure": f"{many['msgs_per_s']:,.0f} msgs/s",
            "target": f">= {TARGET_CHATS_MSGS_PER_S:,.0f} msgs/s",
            "met": many["msgs_per_s"] >= TARGET_CHATS_MSGS_PER_S,
        },
    ]
    summary: dict[str, Any] = {
        "bench": "summary",
        "framework": FRAMEWORK,
        "agents": args.agents,
        "workers": args.workers,
        "deltas_per_msg": args.deltas,
        "repeat": args.repeat,
        "ping_us": round(ping, 1),
        "targets": targets,
        "met_targets": all(t["met"] for t in targets),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }
    return summary


def _exit_on_term(signum: int, frame: object) -> None:
    sys.exit(128 + signum)  # unwinds, so the workers and the server are stopped


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_term)
    with tempfile.TemporaryDirectory(prefix="groupchat-busbench-") as tmp:
        folder = Path(tmp)
        with RedisServer(folder / "redis") as server:
            spec = folder / "team.yaml"
            scripts, chunk = _scripts(args.agents, args.deltas)
            write_spec(spec, scripts, chunk if args.deltas > 1 else None)
            with worker_processes(spec, server.url, list(scripts), args.workers, folder):
                lines = asyncio.run(_measure(args, server.url, folder))
                ping = asyncio.run(ping_us(server.url))
            logs = "".join(p.read_text(errors="replace") for p in folder.glob("worker*.log"))
    summary = _summary(lines, ping, args)
    problems = [line["problem"] for line in lines if "problem" in line]
    if problems:
        summary.update(ok=False, problem=problems[0])
        if "Traceback" in logs:
            summary["worker_log"] = logs[-2000:]
    elif args.strict and not summary["met_targets"]:
        summary.update(ok=False, problem="missed a target")
    for line in [*lines, summary]:
        print(json.dumps(line), flush=True)
    sys.stderr.write(_table(lines, summary) + "\n")
    return 1 if summary.get("ok") is False else 0


if __name__ == "__main__":
    sys.exit(main())
