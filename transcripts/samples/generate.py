"""Regenerate the sample transcripts from the project's own scripted teams.

    python transcripts/samples/generate.py [OUT_DIR]

(from a checkout, with groupchat installed; OUT_DIR defaults to this folder). Three chats are
run with no model and no network: the offline demo team (its person answers with a scripted
line when asked), ``examples/debate.yaml`` and ``examples/code_review.toml``. Their events are
written as canonical JSONL, one ``dump_event`` per line, after two deterministic rewrites: the
chat id becomes ``sample-<name>`` and the times follow a pacing model of a live chat (a pause
before each choice of speaker, a first-token latency, words streamed at reading speed, a
person typing), so a replay at speed 1 looks live and the files come out the same byte for byte
on every run.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

from groupchat.agents import HumanParticipant
from groupchat.app.demo import DEMO_TASK, build_demo
from groupchat.chat import GroupChat
from groupchat.events import (
    ChatEnded,
    Event,
    HumanInputRequested,
    MessagePosted,
    SpeakerSelected,
    TextDelta,
    TurnSkipped,
    TurnStarted,
    dump_event,
)
from groupchat.spec import load_spec

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent.parent / "examples"
START = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)

Recipe: TypeAlias = tuple[GroupChat, str | None, dict[str, list[str]]]
"""A chat ready to run, its task, and each person's answers in order."""


async def record(
    chat: GroupChat, task: str | None, answers: Mapping[str, Sequence[str]]
) -> list[Event]:
    """Run ``chat`` and return its events; each person says their ``answers`` in turn, then
    passes. Answers are sent only when asked, so the order of events is always the same."""
    humans = {n: p for n, p in chat.participants.items() if isinstance(p, HumanParticipant)}
    pending = {name: list(lines) for name, lines in answers.items()}
    sub = chat.bus.subscribe(chat.chat_id, start=chat.bus.next_seq(chat.chat_id), maxsize=1 << 20)
    seen: list[Event] = []

    async def read() -> None:
        async for event in sub:
            seen.append(event)
            if isinstance(event, HumanInputRequested):
                lines = pending.get(event.participant) or [""]
                humans[event.participant].send(lines.pop(0))

    reader = asyncio.create_task(read())
    await chat.run(task)
    await reader
    return seen


def pace(events: Sequence[Event], chat_id: str, seed: int) -> list[Event]:
    """The events with ``chat_id`` and the times of a live chat, drawn from ``seed``."""
    rng = random.Random(seed)
    now = START
    last: Event | None = None
    out: list[Event] = []
    for event in events:
        if last is not None:
            now += timedelta(milliseconds=round(_gap(last, event, rng.random) * 1000))
        out.append(event.model_copy(update={"chat_id": chat_id, "time": now}))
        last = event
    return out


def _gap(before: Event, event: Event, draw: Callable[[], float]) -> float:
    """Seconds between two events of a live chat (``draw()`` is uniform in [0, 1))."""
    if isinstance(event, TextDelta):
        if not isinstance(before, TextDelta):
            return 0.6 + 0.8 * draw()  # the model's first token
        return 0.07 + 0.06 * draw() + 0.004 * len(event.text)
    if isinstance(event, MessagePosted):
        if isinstance(before, HumanInputRequested):
            return 3.0 + 2.0 * draw()  # a person typing
        return 0.05 if isinstance(before, TextDelta) else 0.3
    if isinstance(event, SpeakerSelected):
        return 0.4 + 0.5 * draw()
    if isinstance(event, (TurnStarted, HumanInputRequested)):
        return 0.1
    if isinstance(event, (TurnSkipped, ChatEnded)):
        return 0.5
    return 0.2


def _demo() -> Recipe:
    chat, human = build_demo(delay=0.0)
    answer = "Keep the judging short, three-minute demos, and give the time to building."
    return chat, DEMO_TASK, {human.name: [answer]}


def _team(file: str, answers: dict[str, list[str]]) -> Callable[[], Recipe]:
    def build() -> Recipe:
        spec = load_spec(EXAMPLES / file)
        return spec.build(), spec.task, answers

    return build


SAMPLES: dict[str, Callable[[], Recipe]] = {
    "demo": _demo,
    "debate": _team("debate.yaml", {}),
    "code-review": _team(
        "code_review.toml",
        {"approver": ["APPROVED once the jitter and the 10 s cap are in. Thanks, all."]},
    ),
}
"""Sample name -> how to build its chat."""


async def build_all() -> dict[str, str]:
    """Every sample's name and JSONL text."""
    texts = {}
    for seed, (name, build) in enumerate(sorted(SAMPLES.items()), 1):
        chat, task, answers = build()
        events = pace(await record(chat, task, answers), f"sample-{name}", seed)
        texts[name] = "".join(dump_event(event) + "\n" for event in events)
    return texts


def main(argv: Sequence[str]) -> int:
    out_dir = Path(argv[0]) if argv else HERE
    for name, text in asyncio.run(build_all()).items():
        path = out_dir / f"{name}.jsonl"
        path.write_text(text, encoding="utf-8", newline="\n")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
