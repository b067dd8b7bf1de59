"""One chat through every form it takes: bus -> store -> JSONL -> import -> replay, unchanged."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from groupchat import (
    EventBus,
    GroupChat,
    HumanInputRequested,
    HumanParticipant,
    MentionPolicy,
    ScriptedAgent,
    ToolCallPart,
    ToolResultPart,
)
from groupchat.participant import Reply
from groupchat.testing import ChatProbe
from groupchat.transcripts.jsonl import read_transcript, write_jsonl
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.replay import Replayer
from groupchat.transcripts.store import SqliteStore


async def test_bus_store_export_import_replay_give_identical_events(tmp_path: Path) -> None:
    you = HumanParticipant("you")
    tool_reply = Reply(
        "Checked: 3 rooms free. @you?",
        parts=(
            ToolCallPart(call_id="c1", name="rooms", arguments={"day": "sat"}),
            ToolResultPart(call_id="c1", name="rooms", content="3 free"),
        ),
    )
    chat = GroupChat(
        [
            ScriptedAgent(
                "planner", ["Let's plan. @booker, rooms?", "Done. Thanks!"], chunk="word"
            ),
            ScriptedAgent("booker", [tool_reply]),
            you,
        ],
        policy=MentionPolicy(),
        max_turns=4,
        bus=EventBus(retain=None),
    )
    store = await SqliteStore.open(tmp_path / "a.db")
    recorder = StoreRecorder(store, chat.bus, chat.chat_id, title="round trip")
    await recorder.start()
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("Book a room"))
    await probe.wait_for(HumanInputRequested, participant="you")
    you.send("Saturday works — ünïcode, <b>tags</b>, [bold]markup[/bold] \x1b[31m")
    await run
    await recorder.wait()
    live = chat.events()
    stored = await store.events(chat.chat_id)
    await store.close()
    assert stored == live

    out = io.StringIO()
    await write_jsonl(_aiter(stored), out)
    path = tmp_path / "chat.jsonl"
    path.write_text(out.getvalue(), encoding="utf-8")
    parsed = read_transcript(path)
    assert parsed == live

    other = await SqliteStore.open(tmp_path / "b.db")
    assert await other.import_events(parsed, title="imported") == chat.chat_id
    imported = await other.events(chat.chat_id)
    await other.close()
    assert imported == live

    target = EventBus(retain=None)
    replayer = Replayer(imported, target, speed=0)
    await replayer.run()
    assert target.history(chat.chat_id) == live


async def _aiter(items: list[object]):  # type: ignore[no-untyped-def]
    for item in items:
        yield item
