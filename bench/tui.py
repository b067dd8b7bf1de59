"""The TUI, headless: opening a long chat in replay, keeping up with a fast stream, key latency.

    python -m bench.tui --messages 10000 --rate 2000 --seconds 5 --repeat 3

runs three measurements in a headless Textual app (120×40) and prints one JSON line:

* ``open_s``: a recorded chat of ``--messages`` messages (4 scripted agents, about four events
  per message) is opened in the replay app and jumped to its end: from creating the app until
  every event is in the model and the last window of messages is mounted and drawn. Target:
  at most 1.5 s for 10,000 messages.
* ``stream``: two agents take turns streaming ``--rate`` tokens a second between them (one
  text delta each, about five characters, a paragraph every 60, ``--per-message`` to a
  message) for ``--seconds``, in a live chat shown by the app, a durable subscriber that would
  slow the chat if it fell behind. ``achieved_rate`` is the rate the chat kept; ``lag_ms`` the
  time from the last token to everything being on screen; ``max_unread_events`` and
  ``max_unrendered_chars`` the most the app was ever behind (sampled every 50 ms): events not
  read yet, and text read but not yet in the Markdown widgets; ``cpu_share`` the process's CPU
  time over the stream's wall time (chat, app and rendering together, one core = 1.0). Target:
  the rate is kept (at least 98 %) and the lag is under 100 ms.
* ``key_ms``: while that stream runs, a key is pressed every 200 ms; the time from the key
  event to the character being in the input, median and worst. Target: at most 50 ms.

Medians over ``--repeat`` runs (each in a fresh event loop); every run's figures are in
``runs``. ``--strict`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from textual import events

from bench.orchestration import _peak_rss_mb, _positive
from bench.replay import record
from groupchat.chat import GroupChat
from groupchat.events import Event
from groupchat.participant import ChatView, EndChat, TurnItem
from groupchat.policies import RoundRobinPolicy
from groupchat.tui.live import LiveChatApp
from groupchat.tui.replay_app import ReplayApp
from groupchat.tui.widgets.message import MAX_SHOWN, MessageView

__all__ = ["TARGETS", "main", "measure_keys_and_stream", "measure_open"]

TARGETS = {"open_s": 1.5, "lag_ms": 100.0, "rate_share": 0.98, "key_ms": 50.0}
SIZE = (120, 40)
TICK = 0.002  # seconds between the paced agent's bursts


async def _until(check: object, limit: float = 60.0) -> None:
    deadline = time.perf_counter() + limit
    while not check():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.001)


def _fresh() -> None:
    gc.collect()


async def measure_open(events: Sequence[Event]) -> float:
    """Seconds from creating the replay app to the chat's end being on screen."""
    _fresh()
    start = time.perf_counter()
    app = ReplayApp(events, speed=0, animate=False, quiet_gc=True)
    async with app.run_test(headless=True, size=SIZE) as pilot:
        await _until(lambda: app.finished and app.shown)
        await pilot.pause()
        elapsed = time.perf_counter() - start
        views = len(app.conversation.views)
        if app.model.messages < len([e for e in events if e.type == "message_posted"]):
            raise RuntimeError("the replay app did not take in every message")
        if views > app.window:
            raise RuntimeError(f"{views} views mounted, more than the window of {app.window}")
    return elapsed


WORDS = ("the ", "plan ", "is ", "to ", "ship ", "a ", "small ", "first ", "version ", "and ")
"""Tokens of about five characters, as models write them."""


class Pace:
    """The shared clock of the streaming agents: how many tokens are due by now."""

    def __init__(self, rate: int, total: int) -> None:
        self.rate = rate
        self.total = total
        self.sent = 0
        self.started = 0.0
        self.finished = 0.0

    def due(self) -> int:
        if not self.started:
            self.started = time.perf_counter()
        return min(self.total, int((time.perf_counter() - self.started) * self.rate) + 1)


class PacedAgent:
    """Streams its share of the pace's tokens, ``per_message`` to a message, with paragraphs."""

    kind = "scripted"
    human = False
    description = "streams fast"

    def __init__(self, name: str, pace: Pace, per_message: int) -> None:
        self.name = name
        self.pace = pace
        self.per_message = per_message

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        pace = self.pace
        stop = min(pace.total, pace.sent + self.per_message)
        while pace.sent < stop:
            due = min(stop, pace.due())
            while pace.sent < due:
                pace.sent += 1
                yield "\n\n" if pace.sent % 60 == 0 else WORDS[pace.sent % len(WORDS)]
            await asyncio.sleep(TICK)
        if pace.sent >= pace.total:
            pace.finished = time.perf_counter()
            yield EndChat("the stream is over")


@dataclass(frozen=True, slots=True)
class StreamRun:
    achieved_rate: float
    lag_ms: float
    max_unread: int
    max_unrendered: int
    key_ms: list[float]
    cpu_share: float


def _unrendered(app: LiveChatApp) -> int:
    """Characters of the messages on screen not yet in their Markdown widgets."""
    return sum(
        min(view.entry.length, MAX_SHOWN) - view.shown_chars
        for view in app.conversation.views
        if isinstance(view, MessageView)
    )


async def measure_keys_and_stream(rate: int, seconds: float, per_message: int) -> StreamRun:
    """Stream ``rate`` tokens a second for ``seconds`` into a live app; press keys meanwhile."""
    _fresh()
    pace = Pace(rate, int(rate * seconds))
    agents = [PacedAgent(name, pace, per_message) for name in ("ada", "bob")]
    chat = GroupChat(agents, policy=RoundRobinPolicy(), idle_rounds=None)
    app = LiveChatApp(chat, "stream", animate=False, quiet_gc=True)
    key_ms: list[float] = []
    max_unread = max_unrendered = 0
    async with app.run_test(headless=True, size=SIZE):
        editor = app.composer.editor
        editor.focus()
        await _until(lambda: pace.sent > 0)
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        next_key = time.perf_counter() + 0.2
        while not pace.finished:
            max_unread = max(max_unread, app.unread)
            max_unrendered = max(max_unrendered, _unrendered(app))
            if time.perf_counter() >= next_key:
                typed = len(editor.text)
                pressed = time.perf_counter()
                app.post_message(events.Key("x", "x"))
                await _until(lambda typed=typed: len(editor.text) > typed, 10)
                key_ms.append((time.perf_counter() - pressed) * 1000)
                next_key = pressed + 0.2
            await asyncio.sleep(0.05 if time.perf_counter() + 0.05 < next_key else 0.001)
        cpu_share = (time.process_time() - cpu_start) / (time.perf_counter() - wall_start)
        await _until(lambda: app.shown and _unrendered(app) == 0)
        lag_ms = (time.perf_counter() - pace.finished) * 1000
        achieved = pace.total / (pace.finished - pace.started)
        await app.action_quit()
    return StreamRun(achieved, lag_ms, max_unread, max_unrendered, key_ms, cpu_share)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tui",
        description="The TUI, headless: open a long replay, keep up with a stream, key latency.",
    )
    parser.add_argument("--messages", type=_positive, default=10_000, help="default: 10000")
    parser.add_argument("--rate", type=_positive, default=2_000, help="tokens/s (default: 2000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="stream length (default: 5)")
    parser.add_argument(
        "--per-message", type=_positive, default=1_000, help="tokens per message (default: 1000)"
    )
    parser.add_argument("--repeat", type=_positive, default=3, help="runs (default: 3)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    streams = [
        asyncio.run(measure_keys_and_stream(args.rate, args.seconds, args.per_message))
        for _ in range(args.repeat)
    ]
    keys = sorted(ms for run in streams for ms in run.key_ms)
    chat_events = asyncio.run(record(args.messages))
    opens = [asyncio.run(measure_open(chat_events)) for _ in range(args.repeat)]
    open_s = statistics.median(opens)
    achieved = statistics.median(r.achieved_rate for r in streams)
    lag_ms = statistics.median(r.lag_ms for r in streams)
    key_ms = statistics.median(keys) if keys else None
    report: dict[str, object] = {
        "bench": "tui",
        "messages": args.messages,
        "events": len(chat_events),
        "open_s": round(open_s, 3),
        "rate": args.rate,
        "achieved_rate": round(achieved, 1),
        "lag_ms": round(lag_ms, 1),
        "cpu_share": round(statistics.median(r.cpu_share for r in streams), 2),
        "max_unread_events": max(r.max_unread for r in streams),
        "max_unrendered_chars": max(r.max_unrendered for r in streams),
        "key_ms": round(key_ms, 1) if key_ms is not None else None,
        "key_ms_p95": round(keys[int(len(keys) * 0.95)], 1) if keys else None,
        "key_ms_max": round(keys[-1], 1) if keys else None,
        "keys": len(keys),
        "targets": TARGETS,
        "repeat": args.repeat,
        "runs": {
            "open_s": [round(s, 3) for s in opens],
            "achieved_rate": [round(r.achieved_rate, 1) for r in streams],
            "lag_ms": [round(r.lag_ms, 1) for r in streams],
        },
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }
    problems = []
    if args.messages == 10_000 and open_s > TARGETS["open_s"]:
        problems.append(f"opening took {open_s:.3f} s")
    if achieved < args.rate * TARGETS["rate_share"]:
        problems.append(f"the stream slowed to {achieved:.0f} tokens/s")
    if lag_ms > TARGETS["lag_ms"]:
        problems.append(f"the screen was {lag_ms:.0f} ms behind at the end")
    if key_ms is not None and key_ms > TARGETS["key_ms"]:
        problems.append(f"a key took {key_ms:.1f} ms (median)")
    if problems:
        report["ok"] = False
        report["problem"] = "; ".join(problems)
    print(json.dumps(report), flush=True)
    return 1 if problems and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
