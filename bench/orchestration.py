"""Orchestration overhead: what a group chat costs per message when the "model" costs nothing.

    python -m bench.orchestration --pattern round_robin --agents 4 --messages 1000

runs a chat of ``--agents`` scripted agents (their lines cycle) until ``--messages`` participant
messages were posted, and prints one JSON line::

    {"framework": "groupchat", "pattern": "round_robin", "agents": 4, "messages": 1000,
     "seconds": ..., "msgs_per_s": ..., "us_per_msg": ..., "peak_rss_mb": ..., ...}

``seconds`` times ``GroupChat.run`` only (and, with ``--subscriber``, until the reader has read
the last event): building the agents and the chat, imports and the checks afterwards are not
timed. Before the timed runs one short untimed run warms up the code paths.

Options:

* ``--deltas N``: every message streams in exactly ``N`` pieces. With ``N > 1`` the same chat is
  also run with ``N = 1`` and ``us_per_delta = (t_N - t_1) / (M * (N - 1))`` is reported.
* ``--repeat R``: run ``R`` times and report the median (the figures of every run are in
  ``runs_s``).
* ``--subscriber``: one durable bus subscriber task reads every event, as the transcript store or
  a front-end would.

Every run is checked: exactly ``M`` participant messages, from the expected speakers in the
expected order, with the expected text, ``M * N`` text deltas and, with a subscriber, every event
read in order. ``counted`` says what the last run's checks counted (participant messages,
events published, text deltas). A failed check adds ``"ok": false`` and ``"problem"`` to the
JSON line and the exit status is 1; the figures are never judged here, only the checks.

A pattern is a builder in :data:`PATTERNS`: a function from a :class:`Config` to a
:class:`Scenario` (the chat plus the check of its result). ``selector`` and ``magentic`` plug in
there.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from groupchat.agents import ScriptedAgent
from groupchat.bus import EventBus, Subscription
from groupchat.chat import ChatResult, GroupChat
from groupchat.events import Event, TextDelta
from groupchat.policies import RoundRobinPolicy
from groupchat.termination import MaxMessages

__all__ = [
    "PATTERNS",
    "TARGET_IMPORT_S",
    "TARGET_US_PER_DELTA",
    "TARGET_US_PER_MSG",
    "Config",
    "Counted",
    "Measurement",
    "Scenario",
    "main",
    "measure",
    "script_for",
]

FRAMEWORK = "groupchat"

TARGET_US_PER_MSG = 25.0
"""Per message at 4 agents, flat from 1,000 to 100,000 messages."""
TARGET_US_PER_DELTA = 3.0
"""Per streamed text delta."""
TARGET_IMPORT_S = 0.1
"""``python -c "import groupchat"``."""

WARMUP_MESSAGES = 200
LINES_PER_AGENT = 3


@dataclass(frozen=True, slots=True)
class Config:
    """What to build: ``agents`` participants, ``messages`` participant messages, ``deltas``
    streamed pieces per message."""

    agents: int
    messages: int
    deltas: int = 1


@dataclass(slots=True)
class Scenario:
    """A chat ready to run (with ``task``, if any) and the check of its result (``None`` when
    all is as expected)."""

    chat: GroupChat
    check: Callable[[ChatResult], str | None]
    task: str | None = None


Builder = Callable[[Config], Scenario]


def agent_names(count: int) -> list[str]:
    return [f"agent{i}" for i in range(count)]


def script_for(name: str, deltas: int) -> tuple[list[str], int]:
    """Lines for agent ``name`` and a chunk size that splits each of them into ``deltas`` pieces.

    All lines have the same length, a multiple of ``deltas``, and contain no ``@`` (no mentions).
    """
    raw = [
        f"{name}, line {j}: the numbers for this step look fine, carry on."
        for j in range(LINES_PER_AGENT)
    ]
    longest = max(len(line) for line in raw)
    chunk = -(-longest // deltas)  # ceil
    width = chunk * deltas
    lines = [line.ljust(width, ".") for line in raw]
    assert all(len(range(0, len(line), chunk)) == deltas for line in lines)
    return lines, chunk


def _scripted_agents(config: Config) -> tuple[list[ScriptedAgent], dict[str, list[str]]]:
    agents: list[ScriptedAgent] = []
    scripts: dict[str, list[str]] = {}
    for name in agent_names(config.agents):
        lines, chunk = script_for(name, config.deltas)
        scripts[name] = lines
        agents.append(ScriptedAgent(name, lines, chunk=chunk, when_done="cycle"))
    return agents, scripts


def _check_in_order(
    result: ChatResult,
    config: Config,
    speaker_of: Callable[[int], str],
    scripts: dict[str, list[str]],
) -> str | None:
    """Exactly ``config.messages`` turn messages; message ``j`` from ``speaker_of(j)`` with that
    speaker's next line."""
    if result.status != "completed":
        return f"chat ended with status {result.status!r}: {result.reason}"
    turns = [m for m in result.messages if m.kind == "turn"]
    if len(turns) != config.messages:
        return f"expected {config.messages} participant messages, got {len(turns)}"
    spoken: dict[str, int] = {}
    for j, message in enumerate(turns):
        expected = speaker_of(j)
        if message.sender != expected:
            return f"message {j}: expected {expected} to speak, got {message.sender}"
        k = spoken.get(expected, 0)
        spoken[expected] = k + 1
        lines = scripts[expected]
        if message.content != lines[k % len(lines)]:
            return f"message {j} from {expected}: unexpected text {message.content[:40]!r}"
    return None


def build_round_robin(config: Config, bus: EventBus | None = None) -> Scenario:
    agents, scripts = _scripted_agents(config)
    names = agent_names(config.agents)
    chat = GroupChat(
        agents,
        policy=RoundRobinPolicy(),
        termination=MaxMessages(config.messages),
        bus=bus,
    )

    def check(result: ChatResult) -> str | None:
        return _check_in_order(result, config, lambda j: names[j % len(names)], scripts)

    return Scenario(chat, check)


def build_selector(config: Config) -> Scenario:
    """Every turn one LLM-selector call and one LLM-agent call (see :mod:`bench.selector`)."""
    from bench.selector import build_selector as build

    return build(config)


def build_magentic(config: Config) -> Scenario:
    """Every turn one progress-ledger call of the magentic manager and one LLM-agent call (see
    :mod:`bench.magentic`)."""
    from bench.magentic import build_magentic as build

    return build(config)


PATTERNS: dict[str, Builder] = {
    "round_robin": build_round_robin,
    "selector": build_selector,
    "magentic": build_magentic,
}
"""Pattern name -> builder."""


# ---------------------------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class Counted:
    """What the checks of one run counted: participant messages, events published, text deltas
    (``None`` when the bus no longer holds them all and no subscriber read them)."""

    messages: int
    events: int
    text_deltas: int | None


@dataclass(slots=True)
class Measurement:
    seconds: float
    problem: str | None
    counted: Counted


async def _read_all(sub: Subscription) -> tuple[int, int, str | None]:
    """Read every event like a store would: count them (and the text deltas) and check the
    sequence has no gaps."""
    count = deltas = 0
    expected_seq: int | None = None
    problem: str | None = None
    async for event in sub:
        if expected_seq is not None and event.seq != expected_seq and problem is None:
            problem = f"subscriber read seq {event.seq} after {expected_seq - 1}"
        expected_seq = event.seq + 1
        count += 1
        if type(event) is TextDelta:
            deltas += 1
    return count, deltas, problem


def _count_deltas(events: Sequence[Event]) -> int | None:
    """Text deltas in the bus's history, or ``None`` if the bus no longer holds all of it."""
    if not events or events[0].seq != 0:
        return None
    return sum(1 for e in events if type(e) is TextDelta)


def _check_deltas(deltas: int | None, config: Config) -> str | None:
    expected = config.messages * config.deltas
    if deltas is not None and deltas != expected:
        return f"expected {expected} text deltas, got {deltas}"
    return None


async def _run_once(builder: Builder, config: Config, subscriber: bool) -> Measurement:
    scenario = builder(config)
    chat = scenario.chat
    reader: asyncio.Task[tuple[int, int, str | None]] | None = None
    if subscriber:
        sub = chat.bus.subscribe(chat.chat_id, start=chat.bus.next_seq(chat.chat_id))
        reader = asyncio.create_task(_read_all(sub))
        await asyncio.sleep(0)  # the reader is waiting for the first event
    gc.collect()

    start = time.perf_counter()
    result = await chat.run(scenario.task)
    read = await reader if reader is not None else None
    seconds = time.perf_counter() - start

    problem = scenario.check(result)
    published = chat.bus.next_seq(chat.chat_id)
    deltas: int | None
    if read is None:
        deltas = _count_deltas(chat.bus.history(chat.chat_id))
        problem = problem or _check_deltas(deltas, config)
    else:
        count, deltas, read_problem = read
        problem = problem or read_problem or _check_deltas(deltas, config)
        if problem is None and count != published:
            problem = f"subscriber read {count} of {published} events"
    turns = sum(1 for m in result.messages if m.kind == "turn")
    return Measurement(seconds, problem, Counted(turns, published, deltas))


def measure(
    pattern: str, config: Config, *, repeat: int = 1, subscriber: bool = False
) -> list[Measurement]:
    """Run ``pattern`` ``repeat`` times (after one short untimed warm-up), each in a new loop."""
    builder = PATTERNS[pattern]
    warmup = Config(config.agents, min(config.messages, WARMUP_MESSAGES), config.deltas)
    asyncio.run(_run_once(builder, warmup, subscriber))
    runs = []
    for _ in range(repeat):
        runs.append(asyncio.run(_run_once(builder, config, subscriber)))
        gc.collect()
    return runs


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes there, KiB on Linux
        peak /= 1024
    return peak / 1024


# ---------------------------------------------------------------------------------- command line


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.orchestration",
        description="Per-message overhead of a groupchat chat with cost-free scripted agents; "
        "prints one JSON line.",
    )
    parser.add_argument(
        "--pattern",
        choices=sorted(PATTERNS),
        default="round_robin",
        help="orchestration pattern (choices: %(choices)s; default: %(default)s)",
    )
    parser.add_argument("--agents", type=_positive, default=4, help="participants (default: 4)")
    parser.add_argument(
        "--messages", type=_positive, default=1000, help="participant messages (default: 1000)"
    )
    parser.add_argument(
        "--deltas",
        type=_positive,
        default=1,
        help="streamed pieces per message; > 1 also reports us_per_delta (default: 1)",
    )
    parser.add_argument(
        "--repeat", type=_positive, default=1, help="runs; the median is reported (default: 1)"
    )
    parser.add_argument(
        "--subscriber",
        action="store_true",
        help="attach one durable bus subscriber that reads every event",
    )
    return parser


def _median(runs: Sequence[Measurement]) -> float:
    return statistics.median(r.seconds for r in runs)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = Config(args.agents, args.messages, args.deltas)
    runs = measure(args.pattern, config, repeat=args.repeat, subscriber=args.subscriber)
    seconds = _median(runs)
    m = config.messages
    report: dict[str, object] = {
        "framework": FRAMEWORK,
        "pattern": args.pattern,
        "agents": config.agents,
        "messages": m,
        "seconds": round(seconds, 6),
        "msgs_per_s": round(m / seconds, 1),
        "us_per_msg": round(seconds / m * 1e6, 3),
        "peak_rss_mb": 0.0,  # filled in last, after every run
        "deltas_per_msg": config.deltas,
    }
    problems = [r.problem for r in runs if r.problem is not None]
    if config.deltas > 1:
        base = measure(
            args.pattern,
            Config(config.agents, m, 1),
            repeat=args.repeat,
            subscriber=args.subscriber,
        )
        problems += [f"with 1 delta: {r.problem}" for r in base if r.problem is not None]
        base_seconds = _median(base)
        report["seconds_1_delta"] = round(base_seconds, 6)
        report["us_per_delta"] = round(
            (seconds - base_seconds) / (m * (config.deltas - 1)) * 1e6, 3
        )
    report["repeat"] = args.repeat
    report["runs_s"] = [round(r.seconds, 6) for r in runs]
    report["subscriber"] = args.subscriber
    report["counted"] = asdict(runs[-1].counted)
    report["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    if problems:
        report["ok"] = False
        report["problem"] = problems[0]
    print(json.dumps(report), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
