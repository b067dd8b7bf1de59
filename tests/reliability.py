"""Helpers of the reliability and security tests (faults, crashes, hostile input, secrets)."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from groupchat.chat import ChatResult, GroupChat
from groupchat.events import Event
from groupchat.participant import ChatView, TurnItem
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.store import SqliteStore
from groupchat.tui.console import ConsoleRenderer

SAFETY = 20.0
"""Seconds: a net for something that hangs, never a wait."""

ROOT = Path(__file__).resolve().parent.parent


async def spawn_cli(
    *args: str,
    stdin: int = asyncio.subprocess.DEVNULL,
    env: Mapping[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """``python -m groupchat ARGS`` from the repository, its output (and ``stdin``) piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "groupchat",
        *args,
        cwd=ROOT,
        env=env,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


def console(*, terminal: bool = False) -> tuple[Console, io.StringIO]:
    """A rich console writing to a buffer; ``terminal`` makes it emit colours (ANSI styles)."""
    buf = io.StringIO()
    return (
        Console(
            file=buf,
            width=1000,
            force_terminal=terminal,
            color_system="truecolor" if terminal else None,
            highlight=False,
        ),
        buf,
    )


def rendered(
    events: Iterable[Event], *, line_buffered: bool = False, terminal: bool = False
) -> str:
    """What the console front-end shows for ``events``."""
    out, buf = console(terminal=terminal)
    renderer = ConsoleRenderer(out, line_buffered=line_buffered)
    for event in events:
        renderer.render(event)
    return buf.getvalue()


class Chatter:
    """Says its lines in turn (cycling), word by word, letting every other task run between
    words (no clock involved): a turn can be cut at any of its events."""

    def __init__(self, name: str, lines: Sequence[str]) -> None:
        self.name = name
        self.description = f"{name} talks."
        self.lines = tuple(lines)
        self.turns = 0

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        line = self.lines[self.turns % len(self.lines)]
        self.turns += 1
        for word in line.split(" "):
            await asyncio.sleep(0)
            yield word + " "


@dataclass
class Recorded:
    """A chat run while a recorder stores it and a console renders it."""

    result: ChatResult | None
    stored: list[Event]
    shown: str
    record_error: BaseException | None = None
    bus: list[Event] = field(default_factory=list)


async def run_recorded(
    chat: GroupChat,
    task: str | None,
    store: SqliteStore,
    *,
    fail_on_store_error: bool = True,
) -> Recorded:
    """Run ``chat`` recorded in ``store`` (the chat ends with an error if the store fails, as in
    the CLI) and rendered by the console; return what was stored and shown."""
    recorder = StoreRecorder(
        store,
        chat.bus,
        chat.chat_id,
        on_error=(
            (lambda exc: chat.fail(f"cannot record the chat: {exc}", detail="store"))
            if fail_on_store_error
            else None
        ),
    )
    await recorder.start()
    out, buf = console()
    renderer = ConsoleRenderer(out)
    start = chat.bus.next_seq(chat.chat_id)
    sub = chat.bus.subscribe(chat.chat_id, start=start, maxsize=1 << 20)
    seen: list[Event] = []

    async def show() -> None:
        async for event in sub:
            seen.append(event)
            renderer.render(event)

    shower = asyncio.create_task(show())
    result = await asyncio.wait_for(chat.run(task), SAFETY)
    error: BaseException | None = None
    try:
        await asyncio.wait_for(recorder.wait(), SAFETY)
    except Exception as exc:
        error = exc
    await asyncio.wait_for(shower, SAFETY)
    stored = await store.events(chat.chat_id)  # what was committed, even after a failure
    return Recorded(result, stored, buf.getvalue(), error, seen)
