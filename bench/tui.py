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
``runs``.

Every run is checked, apart from its speed: the replay app took in every message and mounted
no more views than its window; every streamed character reached the live app's messages and
was drawn; every key pressed reached the input. ``streamed_chars``, ``shown_chars`` and
``keys`` say what was counted. A failed check adds ``"ok": false`` and ``"problem"`` and the
exit status is 1. A missed target sets ``"met_targets": false`` and says which in
``"missed"``; with ``--strict`` it is also a ``"problem"`` and the exit status is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual import events
from textual.widgets import TextArea

from bench.orchestration import _peak_rss_mb, _positive
from bench.replay import record
from groupchat.chat import GroupChat
from groupchat.events import Event
from groupchat.participant import ChatView, EndChat, TurnItem
from groupchat.policies import RoundRobinPolicy
from groupchat.tui.live import LiveChatApp
from groupchat.tui.model import MessageEntry
from groupchat.tui.replay_app import ReplayApp
from groupchat.tui.widgets.message import MAX_SHOWN, MessageView

__all__ = ["TARGETS", "main", "measure_keys_and_stream", "measure_open", "missed_targets"]

TARGETS = {"open_s": 1.5, "lag_ms": 100.0, "rate_share": 0.98, "key_ms": 50.0}
SIZE = (120, 40)
TICK = 0.002  # seconds between the paced agent's bursts


async def _until(check: Callable[[], bool], limit: float = 60.0) -> bool:
    """Poll ``check`` until it holds (``True``) or ``limit`` seconds have passed (``False``)."""
    deadline = time.perf_counter() + limit
    while not check():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.001)
    return True


def _longer(editor: TextArea, than: int) -> bool:
    """Whether ``editor`` holds more than ``than`` characters (a typed key arrived)."""
    return len(editor.text) > than


def _fresh() -> None:
    gc.collect()


@dataclass(frozen=True, slots=True)
class OpenRun:
    seconds: float
    messages: int
    problem: str | None


async def measure_open(events: Sequence[Event]) -> OpenRun:
    """Seconds from creating the replay app to the chat's end being on screen, the messages the
    app took in, and what its checks found wrong (``None`` when nothing)."""
    _fresh()
    start = time.perf_counter()
    app = ReplayApp(events, speed=0, animate=False, quiet_gc=True)
    problem = None
    async with app.run_test(headless=True, size=SIZE) as pilot:
        if not await _until(lambda: app.finished and app.shown):
            problem = "the replay app did not show the chat's end within 60 s"
        await pilot.pause()
        elapsed = time.perf_counter() - start
        views = len(app.conversation.views)
        posted = sum(1 for e in events if e.type == "message_posted")
        if problem is None and app.model.messages < posted:
            problem = f"the replay app took in {app.model.messages} of {posted} messages"
        if problem is None and views > app.window:
            problem = f"{views} views mounted, more than the window of {app.window}"
        messages = app.model.messages
    return OpenRun(elapsed, messages, problem)


WORDS = ("the ", "plan ", "is ", "to ", "ship ", "a ", "small ", "first ", "version ", "and ")
"""Tokens of about five characters, as models write them."""


class Pace:
    """The shared clock of the streaming agents: how many tokens are due by now."""

    def __init__(self, rate: int, total: int) -> None:
        self.rate = rate
        self.total = total
        self.sent = 0
        self.chars = 0
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
                token = "\n\n" if pace.sent % 60 == 0 else WORDS[pace.sent % len(WORDS)]
                pace.chars += len(token)
                yield token
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
    streamed_chars: int
    shown_chars: int
    problem: str | None


def _received(app: LiveChatApp, names: Sequence[str]) -> int:
    """Characters of the messages of ``names`` that the app holds."""
    return sum(
        entry.length
        for entry in app.model.entries
        if isinstance(entry, MessageEntry) and entry.sender in names
    )


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
    names = ("ada", "bob")
    agents = [PacedAgent(name, pace, per_message) for name in names]
    chat = GroupChat(agents, policy=RoundRobinPolicy(), idle_rounds=None)
    app = LiveChatApp(chat, "stream", animate=False, quiet_gc=True)
    key_ms: list[float] = []
    max_unread = max_unrendered = 0
    problem = None
    async with app.run_test(headless=True, size=SIZE):
        editor = app.composer.editor
        editor.focus()
        if not await _until(lambda: pace.sent > 0):
            problem = "the stream did not start within 60 s"
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        next_key = time.perf_counter() + 0.2
        while problem is None and not pace.finished:
            max_unread = max(max_unread, app.unread)
            max_unrendered = max(max_unrendered, _unrendered(app))
            if time.perf_counter() >= next_key:
                typed = len(editor.text)
                pressed = time.perf_counter()
                app.post_message(events.Key("x", "x"))
                if not await _until(partial(_longer, editor, typed), 10):
                    problem = f"key {len(key_ms) + 1} did not reach the input within 10 s"
                key_ms.append((time.perf_counter() - pressed) * 1000)
                next_key = pressed + 0.2
            await asyncio.sleep(0.05 if time.perf_counter() + 0.05 < next_key else 0.001)
        cpu_share = (time.process_time() - cpu_start) / (time.perf_counter() - wall_start)
        if problem is None and not await _until(lambda: app.shown and _unrendered(app) == 0):
            problem = "the screen did not catch up with the stream within 60 s"
        finished = pace.finished or time.perf_counter()
        lag_ms = (time.perf_counter() - finished) * 1000
        achieved = pace.sent / max(finished - pace.started, 1e-9)
        shown = _received(app, names)
        if problem is None and shown != pace.chars:
            problem = f"the app holds {shown} of the {pace.chars} characters streamed"
        if problem is None and len(editor.text) != len(key_ms):
            problem = f"the input holds {len(editor.text)} of the {len(key_ms)} keys pressed"
        await app.action_quit()
    return StreamRun(
        achieved, lag_ms, max_unread, max_unrendered, key_ms, cpu_share, pace.chars, shown, problem
    )


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


def missed_targets(report: dict[str, Any], rate: int, *, judge_open: bool) -> list[str]:
    """The targets ``report``'s figures miss (opening is judged only at 10,000 messages)."""
    missed = []
    if judge_open and report["open_s"] > TARGETS["open_s"]:
        missed.append(f"opening took {report['open_s']:.3f} s")
    if report["achieved_rate"] < rate * TARGETS["rate_share"]:
        missed.append(f"the stream slowed to {report['achieved_rate']:.0f} tokens/s")
    if report["lag_ms"] > TARGETS["lag_ms"]:
        missed.append(f"the screen was {report['lag_ms']:.0f} ms behind at the end")
    if report["key_ms"] is not None and report["key_ms"] > TARGETS["key_ms"]:
        missed.append(f"a key took {report['key_ms']:.1f} ms (median)")
    return missed


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    streams = [
        asyncio.run(measure_keys_and_stream(args.rate, args.seconds, args.per_message))
        for _ in range(args.repeat)
    ]
    keys = sorted(ms for run in streams for ms in run.key_ms)
    chat_events = asyncio.run(record(args.messages))
    opens = [asyncio.run(measure_open(chat_events)) for _ in range(args.repeat)]
    open_s = statistics.median(r.seconds for r in opens)
    achieved = statistics.median(r.achieved_rate for r in streams)
    lag_ms = statistics.median(r.lag_ms for r in streams)
    key_ms = statistics.median(keys) if keys else None
    report: dict[str, Any] = {
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
        "opened_messages": min(r.messages for r in opens),
        "streamed_chars": [r.streamed_chars for r in streams],
        "shown_chars": [r.shown_chars for r in streams],
        "targets": TARGETS,
        "repeat": args.repeat,
        "runs": {
            "open_s": [round(r.seconds, 3) for r in opens],
            "achieved_rate": [round(r.achieved_rate, 1) for r in streams],
            "lag_ms": [round(r.lag_ms, 1) for r in streams],
        },
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }
    runs: list[StreamRun | OpenRun] = [*streams, *opens]
    problems = [r.problem for r in runs if r.problem is not None]
    missed = missed_targets(report, args.rate, judge_open=args.messages == 10_000)
    report["met_targets"] = not missed
    if missed:
        report["missed"] = "; ".join(missed)
        if args.strict:
            problems += missed
    if problems:
        report["ok"] = False
        report["problem"] = "; ".join(problems)
    print(json.dumps(report), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
