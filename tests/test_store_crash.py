"""A chat killed with SIGKILL loses none of the messages the store had committed (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest
from store_backends import Backend

from groupchat.events import MessagePosted

CHAT = """
import asyncio, sys

from groupchat.agents import ScriptedAgent
from groupchat.bus import EventBus
from groupchat.chat import GroupChat
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.store import open_store


async def main(location: str) -> None:
    # A long commit interval: only posted messages (and the end) make the store commit.
    store = await open_store(location, commit_interval=60)
    # never closed: the process is killed mid-chat
    bus = EventBus()
    team = [
        ScriptedAgent(
            name,
            [f"{name} says line {i} of a long chat" for i in range(4)],
            chunk="word",
            delay=0.001,
            when_done="cycle",
        )
        for name in ("ada", "bob", "cy")
    ]
    chat = GroupChat(team, bus=bus, chat_id="doomed", max_turns=100_000)
    recorder = StoreRecorder(store, bus, chat.chat_id, title="killed mid-chat")
    await recorder.start()
    watch = bus.subscribe(chat.chat_id, start=bus.next_seq(chat.chat_id))

    async def announce() -> None:
        async for event in watch:
            if event.type == "message_posted":
                await store.wait_committed(event.chat_id, event.seq)  # forces nothing
                print(event.message.id, event.seq, flush=True)

    await asyncio.gather(chat.run("Talk until you are stopped"), announce())


asyncio.run(main(sys.argv[1]))
"""


@pytest.mark.parametrize("kill_after", [3, 7, 12])
async def test_sigkill_loses_no_committed_message(
    backend: Backend, tmp_path: Path, kill_after: int
) -> None:
    path = backend.location
    script = tmp_path / "chat.py"
    script.write_text(textwrap.dedent(CHAT))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    printed: list[tuple[str, int]] = []
    try:
        while len(printed) < kill_after:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
            if not line:
                break
            message_id, seq = line.decode().split()
            printed.append((message_id, int(seq)))
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert len(printed) == kill_after, (await proc.stderr.read()).decode()
    assert proc.returncode == -signal.SIGKILL

    if backend.name == "sqlite":
        with sqlite3.connect(path) as db:  # the file recovers from its write-ahead log
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    async with backend.opened() as store:
        events = await store.events("doomed")
        assert [e.seq for e in events] == list(range(len(events)))
        stored = {(e.message.id, e.seq) for e in events if isinstance(e, MessagePosted)}
        assert set(printed) <= stored
        summary = await store.chat("doomed")
        assert summary.messages == len(stored) >= kill_after
        assert (summary.state, summary.ended) == ("interrupted", None)
        assert summary.last_seq == events[-1].seq
        # The chat can go on where the store says it stopped.
        follow = events[-1].model_copy(update={"seq": events[-1].seq + 1})
        await store.append(follow)
        await store.flush()
        assert (await store.chat("doomed")).last_seq == follow.seq
