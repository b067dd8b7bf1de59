"""``bench.tracing``: what tracing costs per message.

Runs a ``bench.orchestration`` pattern twice in one process: untraced (no tracer provider, so
nothing subscribes), then traced through a global SDK tracer provider whose processor drops
every finished span (the spans are made, their export costs nothing), and prints one JSON line
with both medians and the difference per message.

    .venv/bin/python -m bench.tracing --pattern round_robin --messages 10000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from bench.orchestration import PATTERNS, Config, measure


class _Drop(SpanProcessor):
    """Takes every finished span and keeps none: the cost of tracing without an exporter's."""

    def __init__(self) -> None:
        self.ended = 0

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


def _us_per_msg(pattern: str, config: Config, repeat: int) -> tuple[float, list[float]]:
    runs = measure(pattern, config, repeat=repeat)
    problems = [run.problem for run in runs if run.problem]
    if problems:
        raise SystemExit(f"bench.tracing: {problems[0]}")
    seconds = [run.seconds for run in runs]
    return statistics.median(seconds) * 1e6 / config.messages, seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing")
    parser.add_argument("--pattern", choices=sorted(PATTERNS), default="round_robin")
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    config = Config(args.agents, args.messages)
    off, off_runs = _us_per_msg(args.pattern, config, args.repeat)
    drop = _Drop()
    provider = TracerProvider()
    provider.add_span_processor(drop)
    trace.set_tracer_provider(provider)
    on, on_runs = _us_per_msg(args.pattern, config, args.repeat)
    print(
        json.dumps(
            {
                "pattern": args.pattern,
                "messages": args.messages,
                "us_per_msg_off": round(off, 2),
                "us_per_msg_on": round(on, 2),
                "us_per_msg_tracing": round(on - off, 2),
                "spans": drop.ended,
                "runs_s_off": [round(s, 4) for s in off_runs],
                "runs_s_on": [round(s, 4) for s in on_runs],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
