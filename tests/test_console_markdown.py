"""Message text as Markdown in the text front-ends: ``show`` and the plain console render it
with rich, safely (agent text is never Rich markup nor a control sequence), and piped output
stays plain text."""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from transcript_chats import Events

from groupchat.events import (
    ChatEnded,
    ChatStarted,
    Event,
    MessagePosted,
    ParticipantInfo,
    TextDelta,
    TurnStarted,
)
from groupchat.messages import Message, Usage
from groupchat.transcripts.store import SqliteStore
from groupchat.tui.console import ConsoleRenderer

ROOT = Path(__file__).resolve().parent.parent

PLAN = (
    "Here is **the plan**:\n\n- book the hall\n- order `pizza`\n\n"
    "| when | what |\n|---|---|\n| 10:00 | kickoff |\n"
)
HOSTILE = "[bold red]not markup[/bold red] \x1b]0;owned\x07 \x1b[2J *fine*"


def _chat(*, streamed: bool) -> list[Event]:
    log = Events("md-chat")
    log.add(
        ChatStarted,
        task="Plan it",
        participants=(ParticipantInfo(name="ada"), ParticipantInfo(name="bob", human=True)),
        policy="round_robin",
        metadata={"team": "planners"},
    )
    log.add(TurnStarted, speaker="ada", message_id="m1", turn=1)
    if streamed:
        for piece in PLAN.split(" "):
            log.add(TextDelta, "ada", message_id="m1", text=piece + " ")
    log.add(MessagePosted, "ada", message=Message(id="m1", sender="ada", content=PLAN))
    interjection = Message(id="m2", sender="bob", content=HOSTILE, kind="interjection")
    log.add(MessagePosted, "bob", message=interjection)
    log.add(ChatEnded, reason="done", status="completed", messages=2, usage=Usage())
    return log.events


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=80)
    return console, out


def test_show_renders_each_message_once_as_markdown_on_a_terminal() -> None:
    console, out = _terminal()
    renderer = ConsoleRenderer(console, recorded=True, stream=False)
    for event in _chat(streamed=True):
        renderer.render(event)
    renderer.finish()
    shown = out.getvalue()
    assert "\x1b[1m" in shown and "the plan" in shown and "**" not in shown  # bold, no stars
    assert shown.count("book the hall") == 1  # streamed, yet printed once: whole, at its post
    plain = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert "• book the hall" in plain and "kickoff" in plain and "|---|" not in plain
    # A person's text is data: Rich markup stays text, control sequences never reach the
    # terminal; its own Markdown is still rendered.
    assert "[bold red]not markup[/bold red]" in shown
    assert "\x1b]0;" not in shown and "\x1b[2J" not in shown
    assert "*fine*" not in shown and "fine" in shown


def test_the_live_console_streams_raw_and_renders_a_message_posted_whole() -> None:
    """A streamed message prints as it comes (raw, once: not again when posted); one posted
    whole (a person's line) is rendered as Markdown."""
    console, out = _terminal()
    renderer = ConsoleRenderer(console, me="bob")
    for event in _chat(streamed=True):
        renderer.render(event)
    shown = out.getvalue()
    assert shown.count("book the hall") == 1 and "**the plan**" in shown
    assert "[bold red]not markup[/bold red]" in shown and "*fine*" not in shown
    assert "\x1b]0;" not in shown and "\x1b[2J" not in shown


def test_show_piped_is_plain_rendered_text(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"

    async def fill() -> None:
        store = await SqliteStore.open(db)
        try:
            await store.import_events(_chat(streamed=True), title="md")
        finally:
            await store.close()

    asyncio.run(fill())
    result = subprocess.run(
        [sys.executable, "-m", "groupchat", "show", "md-chat", "--db", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    shown = result.stdout
    assert "\x1b" not in shown and "␛" in shown  # no ANSI; the text's own ESC made visible
    assert "**" not in shown and "• book the hall" in shown and "pizza" in shown
    assert shown.count("book the hall") == 1
    assert "[bold red]not markup[/bold red]" in shown
    lines = shown.splitlines()
    start = lines.index("ada:")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("bob (interjects)"))
    plan = lines[start:end]
    assert "Here is the plan:" in plan
    assert all(line == line.rstrip() for line in plan)  # no padding to the width
