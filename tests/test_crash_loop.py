"""One chat killed with SIGKILL again and again: nothing it showed is lost, and it always resumes.

The chat runs in ``groupchat run --jsonl`` and is then continued by ``groupchat resume ID
--jsonl``, over and over, in one database. Each process is killed with SIGKILL at a point of a
turn chosen with a seeded random generator: right away, or after the n-th streamed delta,
posted message, turn start, speaker choice or request for the person's input that it printed.
After every kill the database opens cleanly, its events number 0..n without a gap, every message
any process printed is stored at the sequence number it was printed with, and the next resume
goes on from the next sequence number. At the end the chat runs to a normal end.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliability import spawn_cli

from groupchat.transcripts.jsonl import read_transcript

KILLS = 50
SEED = 7
SAFETY = 30.0  # seconds: a net for a hung process, never a wait

TEAM = """\
name: crashy
task: Talk until you are stopped
participants:
  - kind: scripted
    name: ada
    script: ["ada speaks one two three four five", "ada again six seven"]
    chunk: word
    delay: 0.001
    when_done: cycle
  - kind: scripted
    name: bob
    script: ["bob answers alpha beta gamma", "bob once more delta"]
    chunk: word
    delay: 0.001
    when_done: cycle
  - {kind: human, name: you}
"""

POINTS = (
    "text_delta",
    "message_posted",
    "turn_started",
    "speaker_selected",
    "human_input_requested",
)


@dataclass(frozen=True)
class KillPoint:
    """Kill after the ``n``-th printed event of type ``after`` (``None``: as soon as started)."""

    after: str | None
    n: int = 0


@dataclass
class Run:
    """What one process printed before it was killed (or ended)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    returncode: int | None = None
    stderr: str = ""


def kill_points(rng: random.Random) -> list[KillPoint]:
    points = [KillPoint("message_posted", 2)]  # the first run: after something was shown
    while len(points) < KILLS:
        if rng.random() < 0.08:
            points.append(KillPoint(None))
        else:
            points.append(KillPoint(rng.choice(POINTS), rng.randint(1, 5)))
    return points


async def run_until(args: list[str], point: KillPoint, human_lines: list[str]) -> Run:
    """Start ``python -m groupchat ARGS``, read its JSONL output and SIGKILL it at ``point``."""
    proc = await spawn_cli(
        *args,
        stdin=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write("".join(line + "\n" for line in human_lines).encode())
    run = Run()
    seen = 0
    try:
        while point.after is not None:
            line = await asyncio.wait_for(proc.stdout.readline(), SAFETY)
            if not line:
                break  # the process ended on its own
            event = json.loads(line)
            run.events.append(event)
            if event["type"] == point.after:
                seen += 1
                if seen >= point.n:
                    break
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        run.returncode = await asyncio.wait_for(proc.wait(), SAFETY)
        run.stderr = (await proc.stderr.read()).decode()
    return run


def stored_rows(db: Path, chat_id: str) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:  # a plain connection: the file must open cleanly
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute(
            "SELECT seq, json FROM event_log WHERE chat_id = ? ORDER BY seq", (chat_id,)
        ).fetchall()
    conn.close()
    return [(seq, text) for seq, text in rows]


def open_turn(events: Iterable[dict[str, Any]]) -> str | None:
    """Who had a turn that the stored events never finished (no message, no skip)."""
    speaker: str | None = None
    message_id = None
    for event in events:
        if event["type"] == "turn_started":
            speaker, message_id = event["speaker"], event["message_id"]
        elif event["type"] in ("message_posted", "turn_skipped"):
            ended = event["message"]["id"] if "message" in event else event["message_id"]
            if ended == message_id:
                speaker = None
    return speaker


def message_of(event: dict[str, Any]) -> tuple[int, str, str, str]:
    message = event["message"]
    return event["seq"], message["id"], message["sender"], message["content"]


async def test_fifty_sigkills_lose_nothing_shown_and_the_chat_always_resumes(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "crashy.yaml"
    spec.write_text(TEAM)
    db = tmp_path / "chats.db"
    rng = random.Random(SEED)
    points = kill_points(rng)
    assert len({(p.after, p.n) for p in points}) >= 15  # many different points of a turn

    printed: dict[int, tuple[int, str, str, str]] = {}  # seq -> the message shown there
    chat_id: str | None = None
    last_seq = -1
    kinds_killed_after: set[str | None] = set()
    pending: str | None = None  # whose turn the stored chat stopped in
    resumed_turns = 0
    for cycle, point in enumerate(points):
        lines = [f"you say {cycle}.{i}" for i in range(50)]
        if chat_id is None:
            args = ["run", str(spec), "--jsonl", "--db", str(db)]
        else:
            args = ["resume", chat_id, "--jsonl", "--db", str(db)]
        run = await run_until(args, point, lines)
        assert run.returncode == -signal.SIGKILL, (cycle, point, run.stderr)
        assert "Traceback" not in run.stderr, run.stderr
        if run.events:
            chat_id = chat_id or run.events[0]["chat_id"]
            # The resumed chat goes on exactly where the stored one stopped...
            assert run.events[0]["seq"] == last_seq + 1, (cycle, point, run.events[0])
            assert {e["chat_id"] for e in run.events} == {chat_id}
            # ... and a turn the kill cut off (a person's answer included) is given again.
            chosen = next((e for e in run.events if e["type"] == "speaker_selected"), None)
            if pending is not None and chosen is not None:
                assert chosen["speaker"] == pending, (cycle, point, chosen)
                assert chosen["reason"].startswith("resumed: "), chosen
                resumed_turns += 1
        kinds_killed_after.add(point.after)
        for event in run.events:
            if event["type"] == "message_posted":
                printed[event["seq"]] = message_of(event)
        assert chat_id is not None, "the first run printed nothing"

        rows = stored_rows(db, chat_id)
        seqs = [seq for seq, _ in rows]
        assert seqs == list(range(len(rows))), f"gap after kill {cycle} at {point}"
        assert len(rows) > last_seq, "a kill lost events that were already stored"
        last_seq = len(rows) - 1
        stored = {seq: json.loads(text) for seq, text in rows}
        for seq, shown in printed.items():
            assert seq in stored, f"kill {cycle} at {point}: message at seq {seq} was lost"
            assert message_of(stored[seq]) == shown
        pending = open_turn(stored[seq] for seq in seqs)

    assert kinds_killed_after >= {None, *POINTS}
    assert resumed_turns >= 10  # cut-off turns were given again, time and again

    # The chat still works: it runs to a normal end, and the whole log is one valid chat.
    assert chat_id is not None
    final = await spawn_cli(
        "resume",
        chat_id,
        "--headless",
        "--max-messages",
        "3",
        "--db",
        str(db),
        stdin=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(final.communicate(b"you end it\n" * 5), SAFETY)
    assert final.returncode == 0, err.decode()
    assert "chat ended (completed): reached 3 messages" in err.decode()
    assert len(out.decode().splitlines()) == 3

    with sqlite3.connect(db) as conn:
        lines = [
            text
            for (text,) in conn.execute(
                "SELECT json FROM event_log WHERE chat_id = ? ORDER BY seq", (chat_id,)
            )
        ]
        (state,) = conn.execute("SELECT status FROM chats WHERE id = ?", (chat_id,)).fetchone()
    conn.close()
    events = read_transcript(lines, name="the killed chat")  # one chat: ordered, no gaps
    assert len(events) > last_seq + 1
    assert state == "completed"
    posted = {e.seq: e for e in events if e.type == "message_posted"}
    for seq, (_, message_id, sender, content) in printed.items():
        message = posted[seq].message
        assert (message.id, message.sender, message.content) == (message_id, sender, content)
