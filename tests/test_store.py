"""The transcript store and the recorder that feeds it from a live chat.

Tests taking ``store`` or ``backend`` run against every backend (SQLite and PostgreSQL, see
``tests/store_backends.py``); those about SQLite's own file (modes, pragmas, raw ``sqlite3``)
open a ``SqliteStore`` themselves."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import stat
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import pytest
from store_backends import Backend

from groupchat.bus import EventBus
from groupchat.chat import GroupChat
from groupchat.events import (
    MANAGER,
    ChatEnded,
    ChatStarted,
    Event,
    MessagePosted,
    ParticipantInfo,
    ParticipantJoined,
    ParticipantLeft,
    SpeakerSelected,
    TextDelta,
    ToolCall,
    dump_event,
)
from groupchat.messages import Message, Usage
from groupchat.termination import MaxMessages
from groupchat.testing import ChatProbe, HumanParticipant, ScriptedAgent
from groupchat.transcripts import batch as batch_module
from groupchat.transcripts import pg_schema as pg_schema_module
from groupchat.transcripts import pg_writer as pg_writer_module
from groupchat.transcripts import queries as queries_module
from groupchat.transcripts import schema as schema_module
from groupchat.transcripts import sqlite as sqlite_module
from groupchat.transcripts import store as store_module
from groupchat.transcripts import writer as writer_module
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.schema import Migration, SchemaVersionError, schema_version
from groupchat.transcripts.store import (
    LIVE_WINDOW,
    ChatLookupError,
    SqliteStore,
    StoreError,
    TranscriptStore,
    default_db_path,
    redact_spec,
)

SECRET = "sk-test-DO-NOT-LEAK-123"
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TRICKY = 'quotes " and \\ backslash, new\nline, tab\t, emoji 🦊, accents café, ctrl \x01'


# ---------------------------------------------------------------- helpers


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[TranscriptStore]:
    opened = await backend.open()
    try:
        yield opened
    finally:
        await opened.close()


def chat_events(
    chat_id: str,
    said: Sequence[tuple[str, str]] = (("ada", "hello moon"), ("bob", "goodbye sun")),
    *,
    team: str | None = None,
    task: str | None = "Talk about the sky",
    end: bool = True,
    start_seq: int = 0,
    start_time: datetime = T0,
    usage: Usage | None = None,
) -> list[Event]:
    """The events of a small chat: started, a delta and a message per line, ended."""
    names = tuple(dict.fromkeys(name for name, _ in said))
    seq = start_seq
    events: list[Event] = []

    def stamp() -> dict[str, Any]:
        nonlocal seq
        fields = {"chat_id": chat_id, "seq": seq, "time": start_time + timedelta(seconds=seq)}
        seq += 1
        return fields

    events.append(
        ChatStarted(
            **stamp(),
            sender=MANAGER,
            task=task,
            participants=tuple(ParticipantInfo(name=n) for n in names),
            policy="round_robin",
            metadata={"team": team} if team else {},
        )
    )
    for i, (name, text) in enumerate(said):
        events.append(TextDelta(**stamp(), sender=name, message_id=f"m{i}", text=text))
        message = Message(id=f"m{i}", sender=name, content=text, usage=usage)
        events.append(MessagePosted(**stamp(), sender=name, message=message))
    if end:
        events.append(
            ChatEnded(
                **stamp(),
                sender=MANAGER,
                reason="said enough",
                status="completed",
                messages=len(said),
                usage=Usage(input_tokens=3, output_tokens=7),
            )
        )
    return events


def raw(path: Path, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Query the database file directly, as another program would."""
    with sqlite3.connect(path) as db:
        return db.execute(sql, params).fetchall()


def agents(*lines: tuple[str, list[str]], **options: Any) -> list[ScriptedAgent]:
    return [ScriptedAgent(name, script, **options) for name, script in lines]


# ---------------------------------------------------------------- recording a live chat


async def test_recorded_chat_reads_back_equal_to_the_bus(backend: Backend) -> None:
    bus = EventBus(retain=None)
    chat = GroupChat(
        agents(("ada", ["Hello *moon*.", TRICKY]), ("bob", ["Bye sun."]), chunk="word"),
        bus=bus,
        chat_id="live1",
        termination=MaxMessages(3),
        metadata={"team": "sky"},
    )
    store = await backend.open()
    try:
        recorder = StoreRecorder(store, bus, chat.chat_id, title="Sky talk")
        await recorder.start()
        await chat.run("Discuss the sky")
        await recorder.wait()
        stored = await store.events(chat.chat_id)
        assert stored == bus.history(chat.chat_id)
        assert [e.seq for e in stored] == list(range(len(stored)))
        assert recorder.recorded == len(stored)
        middle = await store.events(chat.chat_id, 2, 5)
        assert [e.seq for e in middle] == [2, 3, 4]
    finally:
        await store.close()
    # The stored JSON is byte for byte the canonical form.
    rows = await backend.raw("SELECT json FROM event_log WHERE chat_id = 'live1' ORDER BY seq")
    assert [r[0] for r in rows] == [dump_event(e) for e in bus.history("live1")]
    if backend.name != "sqlite":
        return
    path = Path(backend.location)
    columns = raw(path, "SELECT seq, type, sender, time FROM events WHERE chat_id = 'live1'")
    assert [(s, t, w) for s, t, w, _ in columns] == [
        (e.seq, e.type, e.sender) for e in bus.history("live1")
    ]
    assert columns[0][3] == json.loads(rows[0][0])["time"]


async def test_recorder_subscribes_before_start_returns(store: TranscriptStore) -> None:
    bus = EventBus()
    chat = GroupChat(agents(("ada", ["one"])), bus=bus, chat_id="early", max_turns=1)
    recorder = StoreRecorder(store, bus, "early")
    await recorder.start()
    runner = asyncio.create_task(chat.run())  # publishes without yielding to the recorder first
    await recorder.wait()
    await runner
    assert (await store.events("early"))[0].type == "chat_started"
    assert (await store.chat("early")).state == "ended"


async def test_recorder_continues_a_chat_from_a_sequence_number(store: TranscriptStore) -> None:
    bus = EventBus(retain=None)
    script = agents(("ada", ["first", "second"]), ("bob", ["third", "fourth"]))
    chat = GroupChat(script, bus=bus, chat_id="twice", max_turns=2)
    first = StoreRecorder(store, bus, "twice", title="Two runs")
    await first.start()
    await chat.run("go")
    await first.wait()
    ended = await store.chat("twice")
    assert (ended.state, ended.messages) == ("ended", 3)

    second = StoreRecorder(store, bus, "twice", start=bus.next_seq("twice"))
    await second.start()
    await chat.run()
    await second.wait()
    again = await store.chat("twice")
    assert await store.events("twice") == bus.history("twice")
    assert (again.state, again.messages, again.title) == ("ended", 5, "Two runs")
    assert again.last_seq == bus.next_seq("twice") - 1


async def test_stop_records_what_was_published_and_lets_go(store: TranscriptStore) -> None:
    bus = EventBus(retain=None)
    you = HumanParticipant("you")
    chat = GroupChat([*agents(("ada", ["Your turn @you"])), you], bus=bus, chat_id="held")
    recorder = StoreRecorder(store, bus, "held")
    await recorder.start()
    probe = ChatProbe.of(chat)
    runner = asyncio.create_task(chat.run("go"))
    await probe.wait_for(lambda e: e.type == "human_input_requested")
    assert (await store.chat("held")).state == "running"

    await recorder.stop()
    published = len(bus.history("held"))
    assert len(await store.events("held")) == published
    summary = await store.chat("held")
    assert (summary.state, summary.ended) == ("interrupted", None)

    await chat.stop()
    await runner  # the chat is not held back by the stopped recorder
    assert len(await store.events("held")) == published


async def test_a_failed_store_does_not_hold_the_chat_back(backend: Backend) -> None:
    store = await backend.open()
    bus = EventBus()
    chat = GroupChat(agents(("ada", ["a"] * 50)), bus=bus, max_turns=50)
    recorder = StoreRecorder(store, bus, chat.chat_id, maxsize=4)
    await recorder.start()
    await store.close()
    result = await chat.run()
    assert result.status == "max_turns"
    with pytest.raises(StoreError, match="closed"):
        await recorder.wait()


# ---------------------------------------------------------------- summaries


async def test_summaries_follow_the_events(store: TranscriptStore) -> None:
    await store.create_chat("first", title="The first")
    await store.append_many(chat_events("first", team="astronomers"))
    await store.create_chat("second")
    await store.append_many(chat_events("second", [("cy", "hi")], task="Plan\nthe trip"))
    await store.create_chat("fork", title="A fork", parent_id="first", fork_seq=3)
    await store.append_many(chat_events("fork", end=False))

    listed = await store.chats()
    assert [c.id for c in listed] == ["fork", "second", "first"]
    assert [c.id for c in await store.chats(limit=2)] == ["fork", "second"]
    first = await store.chat("first")
    assert first.title == "The first"
    assert first.team == "astronomers"
    assert first.participants == ("ada", "bob")
    assert first.messages == 2
    assert (first.state, first.status, first.end_reason) == ("ended", "completed", "said enough")
    assert first.usage == Usage(input_tokens=3, output_tokens=7)
    assert first.started == T0
    assert first.ended == T0 + timedelta(seconds=5)
    assert (first.parent_id, first.fork_seq, first.last_seq) == (None, None, 5)

    second = await store.chat("second")
    assert second.title == "Plan"  # no title given: the task's first line
    assert second.team is None

    fork = await store.chat("fork")
    assert (fork.parent_id, fork.fork_seq) == ("first", 3)
    assert (fork.state, fork.status, fork.ended) == ("running", None, None)
    await store.heartbeat("fork", alive=False)
    assert (await store.chat("fork")).state == "interrupted"


async def test_message_usage_adds_up_until_the_chat_ends(store: TranscriptStore) -> None:
    usage = Usage(input_tokens=1, output_tokens=2)
    await store.append_many(chat_events("u", end=False, usage=usage))
    assert (await store.chat("u")).usage == Usage(input_tokens=2, output_tokens=4)


async def test_participants_join_and_leave(store: TranscriptStore) -> None:
    events = chat_events("crowd", end=False)
    seq = len(events)
    joined = ParticipantJoined(
        chat_id="crowd", seq=seq, time=T0, sender=MANAGER, participant=ParticipantInfo(name="cy")
    )
    left = ParticipantLeft(chat_id="crowd", seq=seq + 1, time=T0, sender=MANAGER, name="ada")
    await store.append_many([*events, joined, left])
    assert (await store.chat("crowd")).participants == ("bob", "cy")


async def test_a_chat_that_goes_on_after_its_end_is_open_again(store: TranscriptStore) -> None:
    events = chat_events("again")
    await store.append_many(events)
    assert (await store.chat("again")).state == "ended"
    more = SpeakerSelected(
        chat_id="again",
        seq=len(events),
        time=T0,
        sender=MANAGER,
        speaker="ada",
        candidates=("ada",),
        reason="resumed",
        policy="round_robin",
        turn=3,
    )
    await store.append(more)
    summary = await store.chat("again")
    assert (summary.state, summary.status, summary.ended) == ("running", None, None)


async def test_running_means_a_live_writer(backend: Backend) -> None:
    store = await backend.open()
    await store.append_many(chat_events("open", end=False))
    assert (await store.chat("open")).state == "running"
    await store.close()
    # Closing the store let go of the chat: nobody writes it any more.
    assert await backend.raw("SELECT updated, writer FROM chats") == [(None, None)]

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import os; print(os.getpid())", stdout=asyncio.subprocess.PIPE
    )
    dead_pid = int((await proc.communicate())[0])
    host = socket.gethostname()
    cases = [
        (time.time(), f"{host}:{os.getpid()}", "running"),
        (time.time(), f"{host}:{dead_pid}", "interrupted"),  # its process is gone
        (time.time(), "elsewhere:1", "running"),  # another machine: trust the heartbeat
        (time.time() - LIVE_WINDOW - 1, f"{host}:{os.getpid()}", "interrupted"),  # silent
    ]
    for updated, writer, state in cases:
        await backend.raw("UPDATE chats SET updated = ?, writer = ?", (updated, writer))
        store = await backend.open()
        try:
            assert (await store.chat("open")).state == state, writer
        finally:
            await store.close()


async def test_events_of_several_chats_interleaved(
    store: TranscriptStore, monkeypatch: Any
) -> None:
    monkeypatch.setattr(batch_module, "_ROWS_PER_STATEMENT", 2)  # runs split into parts too
    monkeypatch.setattr(pg_writer_module, "_COPY_FROM", 3)  # PostgreSQL: COPY and one statement
    a, b = chat_events("a"), chat_events("b", [("cy", "one"), ("cy", "two"), ("cy", "three")])
    mixed = [e for pair in zip(a, b, strict=False) for e in pair] + b[len(a) :]
    await store.append_many(mixed[:5])
    for event in mixed[5:]:
        await store.append(event)
    assert await store.events("a") == a
    assert await store.events("b") == b
    assert (await store.chat("b")).messages == 3
    assert [(h.chat_id, h.seq) for h in await store.search("two")] == [("b", 4)]


async def test_gaps_in_sequence_numbers_are_kept(store: TranscriptStore) -> None:
    events = chat_events("gappy", [("ada", "one"), ("ada", "two"), ("ada", "three")])
    kept = events[:3] + events[5:]
    await store.append_many(kept)
    assert [e.seq for e in await store.events("gappy")] == [e.seq for e in kept]
    with pytest.raises(ValueError, match="already has event 2"):
        await store.append(events[2])


async def test_a_writer_goes_on_from_the_last_stored_event_not_the_summary(
    backend: Backend,
) -> None:
    """The events are the record: a summary row that claims more than was stored (as a disk
    that filled up mid-commit can leave it) does not make the next writer refuse what follows."""
    events = chat_events("ahead", [("ada", "one"), ("ada", "two"), ("ada", "three")])
    store = await backend.open()
    await store.append_many(events[:4])
    await store.close()
    await backend.raw("UPDATE chats SET last_seq = 1000 WHERE id = 'ahead'")
    store = await backend.open()
    try:
        await store.append_many(events[4:])
        assert [e.seq for e in await store.events("ahead")] == [e.seq for e in events]
        with pytest.raises(ValueError, match="already has event 2"):
            await store.append(events[2])
    finally:
        await store.close()


async def test_a_full_buffer_makes_appends_wait(store: TranscriptStore, monkeypatch: Any) -> None:
    monkeypatch.setattr(writer_module, "MAX_PENDING", 3)
    events = chat_events("full", [("ada", str(i)) for i in range(5)])
    assert not store.append_nowait(events[0])  # a chat it has not loaded yet: await append
    for event in events:
        await store.append(event)
    assert store.committed_seq("full") >= len(events) - 1 - 3  # commits without a flush call
    assert await store.events("full") == events


# ---------------------------------------------------------------- finding chats


async def test_a_fork_started_when_it_was_made_not_when_its_parent_did(
    store: TranscriptStore,
) -> None:
    parent = chat_events("parent")
    await store.append_many(parent)
    made = datetime.now(UTC)
    await store.create_chat("fork", parent_id="parent", fork_seq=3)
    shared = [e.model_copy(update={"chat_id": "fork"}) for e in parent[:4]]
    await store.append_many(shared)
    await store.flush()
    assert (await store.chat("parent")).started == T0
    started = (await store.chat("fork")).started
    assert started is not None and started >= made - timedelta(seconds=5)
    listed = {chat.id: chat.started for chat in await store.chats()}
    assert listed["parent"] == T0 and listed["fork"] == started


async def test_chat_accepts_a_unique_id_prefix(store: TranscriptStore) -> None:
    for chat_id in ("abc123", "abc456", "abd789", "xy", "xyz"):
        await store.create_chat(chat_id)
    assert (await store.chat("abc1")).id == "abc123"
    assert (await store.chat("abd")).id == "abd789"
    assert (await store.chat("xy")).id == "xy"  # an exact id wins over longer ones
    with pytest.raises(ChatLookupError) as ambiguous:
        await store.chat("abc")
    assert "ambiguous" in str(ambiguous.value)
    assert "abc123" in str(ambiguous.value) and "abc456" in str(ambiguous.value)
    with pytest.raises(KeyError) as missing:
        await store.chat("nope")
    assert str(missing.value) == f"no chat 'nope' in {store.path}"
    with pytest.raises(ChatLookupError):
        await store.chat("")
    with pytest.raises(ChatLookupError):
        await store.events("abc")  # reading takes the whole id
    with pytest.raises(ChatLookupError):
        await store.spec("nope")


async def test_search_finds_words_in_message_text_only(store: TranscriptStore) -> None:
    events = chat_events(
        "sky", [("ada", "The Moon rises over the café"), ("bob", "zebra-free zone")]
    )
    tool = ToolCall(
        chat_id="sky",
        seq=0,
        time=T0,
        sender="ada",
        message_id="m0",
        call_id="c1",
        name="lookup",
        arguments={"q": "giraffe"},
    )
    events.insert(3, tool)
    events = [e.model_copy(update={"seq": i}) for i, e in enumerate(events)]
    await store.append_many(events)
    await store.append_many(chat_events("other", [("cy", "no moons here")], task="giraffe"))

    hits = await store.search("moon")
    assert [(h.chat_id, h.seq, h.sender) for h in hits] == [("sky", 2, "ada")]
    assert hits[0].snippet == "The [Moon] rises over the café"
    assert {h.chat_id for h in await store.search("moon*")} == {"sky", "other"}
    assert [h.sender for h in await store.search("cafe")] == ["ada"]  # accents ignored
    assert await store.search("giraffe") == []  # a task, tool arguments: not message text
    assert await store.search("sky") == []
    assert await store.search("  ") == []
    assert await store.search('zebra "free" AND -') == []  # typed text, not query syntax
    assert [h.seq for h in await store.search("zebra free")] == [5]
    assert [c.id for c in await store.chats(search="moon")] == ["sky"]
    assert await store.chats(search="absent") == []


# ---------------------------------------------------------------- secrets


def test_redact_spec_removes_secret_keys_at_any_depth() -> None:
    spec = {
        "name": "team",
        "api_key": SECRET,
        "model": {"apiKey": SECRET, "api_key_env": "OPENAI_API_KEY", "max_tokens": 100},
        "termination": {"token_budget": 500},
        "participants": [
            {"name": "a", "headers": {"Authorization": SECRET, "X-Api-Key": SECRET}},
            {"name": "b", "password": SECRET, "client_secret": SECRET, "auth_token": SECRET},
        ],
        "key": SECRET,
    }
    clean = redact_spec(spec)
    assert SECRET not in json.dumps(clean)
    assert clean == {
        "name": "team",
        "model": {"api_key_env": "OPENAI_API_KEY", "max_tokens": 100},
        "termination": {"token_budget": 500},
        "participants": [{"name": "a", "headers": {}}, {"name": "b"}],
    }
    assert spec["api_key"] == SECRET  # the original is left alone


async def test_secrets_never_reach_the_database(backend: Backend) -> None:
    spec = {"name": "team", "model": {"api_key": SECRET, "base_url": "http://localhost"}}
    store = await backend.open()
    try:
        bus = EventBus(retain=None)
        chat = GroupChat(
            agents(("ada", ["hi"])),
            bus=bus,
            chat_id="secret",
            max_turns=1,
            metadata={"team": "team", "api_key": SECRET, "nested": {"token": SECRET}},
        )
        recorder = StoreRecorder(store, bus, "secret", spec=spec)
        await recorder.start()
        await chat.run()
        await recorder.wait()
        await store.import_events(chat_events("imported"), spec=spec)
        assert await store.spec("secret") == {
            "name": "team",
            "model": {"base_url": "http://localhost"},
        }
        started = (await store.events("secret"))[0]
        assert isinstance(started, ChatStarted)
        assert started.metadata == {"team": "team", "nested": {}}
        assert (await store.chat("secret")).team == "team"
        await store.flush()
        assert SECRET.encode() not in await backend.stored_bytes()
        assert b"http://localhost" in await backend.stored_bytes()
    finally:
        await store.close()
    assert SECRET.encode() not in await backend.stored_bytes()


# ---------------------------------------------------------------- import


async def test_import_stores_a_whole_chat(store: TranscriptStore) -> None:
    events = chat_events("imp", team="importers")
    assert await store.import_events(events, title="Imported", spec={"name": "t"}) == "imp"
    assert await store.events("imp") == events
    summary = await store.chat("imp")
    assert (summary.title, summary.team, summary.messages, summary.state) == (
        "Imported",
        "importers",
        2,
        "ended",
    )
    assert await store.spec("imp") == {"name": "t"}
    assert [h.chat_id for h in await store.search("goodbye")] == ["imp"]
    unfinished = chat_events("imp2", end=False)
    await store.import_events(unfinished)
    assert (await store.chat("imp2")).state == "interrupted"  # no writer holds it


async def test_import_of_an_existing_chat_changes_nothing(store: TranscriptStore) -> None:
    await store.import_events(chat_events("dup"))
    with pytest.raises(ValueError, match="already"):
        await store.import_events(chat_events("dup", [("eve", "overwrite")]))
    assert await store.events("dup") == chat_events("dup")
    assert [h.chat_id for h in await store.search("overwrite")] == []


async def test_import_is_all_or_nothing(backend: Backend, monkeypatch: Any) -> None:
    monkeypatch.setattr(batch_module, "_ROWS_PER_STATEMENT", 2)  # several statements
    monkeypatch.setattr(pg_writer_module, "_COPY_FROM", 3)  # PostgreSQL: by COPY
    store = await backend.open()
    try:
        await store.create_chat("keep")
        await backend.fail_inserts("broken", 5, "disk on fire")  # the sixth row of this chat
        with pytest.raises(StoreError, match="disk on fire") as failed:
            await store.import_events(chat_events("broken", [("a", "x"), ("b", "y"), ("c", "z")]))
        assert isinstance(failed.value.__cause__, backend.driver_error)
        with pytest.raises(ChatLookupError):
            await store.chat("broken")
        assert [c.id for c in await store.chats()] == ["keep"]
        await store.append_many(chat_events("keep"))  # the store still works
    finally:
        await store.close()
    assert await backend.raw("SELECT count(*) FROM event_log WHERE chat_id = 'broken'") == [(0,)]
    assert await store_search_count(backend, "broken") == 0


async def store_search_count(backend: Backend, chat_id: str) -> int:
    """The messages of ``chat_id`` in the search index, counted directly."""
    table = "messages_fts" if backend.name == "sqlite" else "messages"
    rows = await backend.raw(f"SELECT count(*) FROM {table} WHERE chat_id = ?", (chat_id,))
    return int(rows[0][0])


async def test_import_refuses_mixed_or_unordered_events(store: TranscriptStore) -> None:
    with pytest.raises(ValueError, match="more than one chat"):
        await store.import_events([*chat_events("x"), *chat_events("y")])
    events = chat_events("z")
    with pytest.raises(ValueError, match="must increase"):
        await store.import_events([events[1], events[0]])
    with pytest.raises(ValueError, match="no events"):
        await store.import_events([])
    assert await store.chats() == []


# ---------------------------------------------------------------- durability and files


async def test_a_posted_message_commits_at_once(backend: Backend) -> None:
    store = await backend.open(commit_interval=3600)
    try:
        events = chat_events("now")
        await store.append_many(events[:2])  # started, a delta: wait for the (long) timer
        assert store.committed_seq("now") == -1
        await store.append(events[2])  # a posted message: committed without waiting
        await store.wait_committed("now", 2)
        assert store.committed_seq("now") == 2
        assert await backend.raw("SELECT count(*) FROM event_log") == [(3,)]
    finally:
        await store.close()


async def test_other_events_commit_within_the_interval(backend: Backend) -> None:
    store = await backend.open(commit_interval=0.01)
    try:
        await store.append_many(chat_events("soon")[:2])
        await store.wait_committed("soon", 1)
        assert await backend.raw("SELECT count(*) FROM event_log") == [(2,)]
    finally:
        await store.close()


async def test_durability_full_syncs_every_commit(tmp_path: Path) -> None:
    for durability, level in (("normal", 1), ("full", 2)):
        store = await SqliteStore.open(tmp_path / "c.db", durability=durability)
        async with store, store._db.execute("PRAGMA synchronous") as cur:
            assert await cur.fetchone() == (level,)
    with pytest.raises(ValueError):
        await SqliteStore.open(tmp_path / "c.db", durability="sometimes")  # type: ignore[arg-type]


async def test_database_file_is_private(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "deeper" / "chats.db"
        async with await SqliteStore.open(path) as store:
            await store.append_many(chat_events("p"))
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            wal = path.with_name("chats.db-wal")
            assert not wal.exists() or stat.S_IMODE(wal.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        os.umask(old)
    assert raw(path, "PRAGMA journal_mode") == [("wal",)]
    assert raw(path, "PRAGMA page_size") == [(sqlite_module.PAGE_SIZE,)]


async def test_a_closed_store_refuses_work(backend: Backend) -> None:
    store = await backend.open()
    await store.append(chat_events("c")[0])
    await store.close()
    await store.close()
    assert await backend.raw("SELECT count(*) FROM event_log") == [(1,)]
    with pytest.raises(StoreError, match="closed"):
        await store.append(chat_events("c")[1])
    with pytest.raises(StoreError, match="closed"):
        await store.chats()


async def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the chats you are looking for\n" * 100)
    with pytest.raises(StoreError, match=r"notes\.txt"):
        await SqliteStore.open(path)


def test_default_db_path(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("GROUPCHAT_DB", str(tmp_path / "mine.db"))
    assert default_db_path() == tmp_path / "mine.db"
    monkeypatch.delenv("GROUPCHAT_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "groupchat" / "chats.db"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / ".local" / "share" / "groupchat" / "chats.db"


def test_sqlite_store_is_a_transcript_store() -> None:
    assert issubclass(SqliteStore, TranscriptStore)


# ---------------------------------------------------------------- schema migrations


def schema_of(backend: Backend) -> Any:
    """The module holding the backend's ``MIGRATIONS``."""
    return schema_module if backend.name == "sqlite" else pg_schema_module


async def stored_version(backend: Backend) -> int:
    rows = await backend.raw("SELECT value FROM meta WHERE key = 'schema_version'")
    return int(rows[0][0])


async def has_relation(backend: Backend, name: str) -> bool:
    if backend.name == "sqlite":
        return bool(await backend.raw("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)))
    return (await backend.raw("SELECT to_regclass(?)::text", (name,)))[0][0] is not None


async def test_new_database_has_the_current_schema(
    store: TranscriptStore, backend: Backend
) -> None:
    module = schema_of(backend)
    assert await stored_version(backend) == module.SCHEMA_VERSION == len(module.MIGRATIONS) == 1
    if isinstance(store, SqliteStore):
        assert await schema_version(store._db) == 1


async def test_an_older_database_is_migrated(backend: Backend, monkeypatch: Any) -> None:
    async with backend.opened() as store:  # written at version 1
        await store.append_many(chat_events("old"))
    module = schema_of(backend)
    v2 = Migration(2, "index chats by end", "CREATE INDEX chats_by_ended ON chats (ended);")
    monkeypatch.setattr(module, "MIGRATIONS", (*module.MIGRATIONS, v2))
    async with backend.opened() as store:
        assert await store.events("old") == chat_events("old")
    assert await has_relation(backend, "chats_by_ended")
    assert await stored_version(backend) == 2


async def test_a_failed_migration_leaves_the_old_version(
    backend: Backend, monkeypatch: Any
) -> None:
    await (await backend.open()).close()
    module = schema_of(backend)
    bad = Migration(2, "broken", "CREATE TABLE fine (x integer);\nCREATE TABLE chats (x integer);")
    monkeypatch.setattr(module, "MIGRATIONS", (*module.MIGRATIONS, bad))
    with pytest.raises(StoreError, match="already exists"):
        await backend.open()
    assert await stored_version(backend) == 1
    assert not await has_relation(backend, "fine")


async def test_a_newer_database_is_refused(backend: Backend) -> None:
    async with backend.opened() as store:
        await store.append_many(chat_events("future"))
    await backend.raw("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError, match=r"version 7.*only up to version 1.*newer"):
        await backend.open()
    assert await backend.raw("SELECT count(*) FROM event_log") == [(len(chat_events("future")),)]


# ---------------------------------------------------------------- several readers and writers


async def test_two_stores_on_one_database(backend: Backend) -> None:
    writer, reader = await backend.open(), await backend.open()
    try:
        await writer.append_many(chat_events("w"))
        await writer.flush()
        assert await reader.events("w") == chat_events("w")
        await reader.append_many(chat_events("r"))
        await reader.flush()
        assert [c.id for c in await writer.chats()] == ["r", "w"]
    finally:
        await writer.close()
        await reader.close()


async def test_a_second_writer_of_a_chat_is_refused_naming_it(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    try:
        await first.heartbeat("twice")  # two recorders of one new chat start
        await second.heartbeat("twice")
        events = chat_events("twice")
        await first.append_many(events)
        await first.flush()
        with pytest.raises(StoreError, match=r"chat twice.*another writer"):
            await second.append_many(chat_events("twice", [("eve", "overwrite")]))
            await second.flush()
        assert await first.events("twice") == events  # nothing overwritten
        assert await first.search("overwrite") == []
    finally:
        await first.close()
        await second.close()


READER = """
import asyncio, sys
from groupchat.transcripts.store import open_store

async def main(location):
    store = await open_store(location)
    print("ready", flush=True)
    sizes = set()
    for rounds in range(1, 100_000):
        chats = {chat.id: chat for chat in await store.chats()}
        if "stop" in chats:
            break
        events = await store.events("busy")
        assert [e.seq for e in events] == list(range(len(events))), "a gap"
        assert (await store.chat("busy")).last_seq >= len(events) - 1, "a stale summary"
        assert not sizes or len(events) >= max(sizes), "events went missing"
        if len(events) not in sizes:
            sizes.add(len(events))
            print("grew", len(events), flush=True)
        await store.search("tick")
    print("done", rounds, len(sizes), flush=True)
    await store.close()

asyncio.run(main(sys.argv[1]))
"""


async def test_a_reader_in_another_process_while_this_one_writes(
    backend: Backend, tmp_path: Path
) -> None:
    path = backend.location
    script = tmp_path / "reader.py"
    script.write_text(textwrap.dedent(READER))
    async with backend.opened() as store:
        await store.append_many(chat_events("busy", end=False))
        await store.flush()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            str(path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"ready\n"
        seq = len(chat_events("busy", end=False))
        seen: list[bytes] = []

        async def reports() -> None:
            assert proc.stdout is not None
            while line := await proc.stdout.readline():
                seen.append(line)

        reading = asyncio.create_task(reports())
        for _ in range(5000):  # commit until the other process has seen the chat grow
            if sum(line.startswith(b"grew") for line in seen) >= 3:
                break
            for _ in range(5):
                message = Message(id=f"t{seq}", sender="ada", content=f"tick {seq}")
                await store.append(
                    MessagePosted(chat_id="busy", seq=seq, time=T0, sender="ada", message=message)
                )
                seq += 1
            await store.flush()
        await store.create_chat("stop")
        await proc.wait()
        await reading
        err = await proc.stderr.read() if proc.stderr else b""
    assert proc.returncode == 0, err.decode()
    assert sum(line.startswith(b"grew") for line in seen) >= 3  # it read while this one wrote
    assert seen[-1].startswith(b"done"), seen[-1]


# ---------------------------------------------------------------- parsing stored rows


@pytest.mark.parametrize("as_bytes", [False, True])
def test_parse_event_rows_reads_runs_of_rows_and_names_a_bad_row(
    as_bytes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are validated several at a time; the result is the same as row by row, and a bad
    row deep in a run fails with its own field named."""
    monkeypatch.setattr(queries_module, "_ROWS_AT_ONCE", 3)
    said = [("ada", f"line {i}") for i in range(6)]
    events = chat_events("c", said)
    rows: list[str | bytes] = [dump_event(e) for e in events]
    if as_bytes:
        rows = [str(row).encode() for row in rows]
    assert store_module.parse_event_rows(rows) == events
    two = [*rows[:4], rows[4] + (b"," if as_bytes else ",") + rows[5], *rows[6:]]  # type: ignore[operator]
    with pytest.raises(pydantic.ValidationError):
        store_module.parse_event_rows(two)  # two events in one row are refused, not split
    bad = list(rows)
    text = bad[7].decode() if isinstance(bad[7], bytes) else bad[7]
    text = text.replace('"seq":7', '"seq":-7')
    bad[7] = text.encode() if as_bytes else text
    with pytest.raises(pydantic.ValidationError, match=r"seq\n.*greater than or equal to 0"):
        store_module.parse_event_rows(bad)


def test_parse_event_rows_validates_good_rows_in_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Good rows never go through the row-by-row validation kept for errors."""

    class RowByRow:
        def validate_json(self, data: object) -> object:
            raise AssertionError("validated row by row")

    monkeypatch.setattr(queries_module, "EVENT_ADAPTER", RowByRow())
    events = chat_events("c", [("ada", f"line {i}") for i in range(700)])
    assert store_module.parse_event_rows([dump_event(e) for e in events]) == events
