"""The store's protocols: SQLite implements them as they are written, the recorder needs no more
than the event log, and the command line opens every store through the one factory."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Generic, Protocol

import pytest

from groupchat.app.cli import main
from groupchat.bus import EventBus
from groupchat.chat import GroupChat
from groupchat.events import Event
from groupchat.termination import MaxMessages
from groupchat.testing import ScriptedAgent
from groupchat.transcripts import factory
from groupchat.transcripts.postgres import PostgresStore
from groupchat.transcripts.protocols import Catalogue, EventLog, TranscriptStore
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.sqlite import SqliteStore
from groupchat.transcripts.store import open_store

PROTOCOLS = (EventLog, Catalogue, TranscriptStore)
RELAY = """\
name: relay
task: count to four
participants:
  - {kind: scripted, name: one, script: ["1", "3"], chunk: line, when_done: cycle}
  - {kind: scripted, name: two, script: ["2", "4"], chunk: line, when_done: cycle}
termination: {max_messages: 4}
"""


def members(protocol: type) -> set[str]:
    """The names a protocol asks for (its own and those it inherits from other protocols)."""
    return {
        name
        for cls in protocol.__mro__
        if cls not in (object, Protocol, Generic)
        for name, value in vars(cls).items()
        if callable(value) and not name.startswith("_")
    }


def shape(function: Any) -> list[tuple[str, Any, Any, Any]]:
    """What a caller relies on in a signature: each parameter's name, kind, default and type."""
    return [
        (p.name, p.kind, p.default, p.annotation)
        for p in inspect.signature(function).parameters.values()
    ]


def test_the_protocols_split_the_store_in_two_faces_and_closing() -> None:
    log, catalogue, store = (members(p) for p in PROTOCOLS)
    assert log == {
        "create_chat",
        "append",
        "append_nowait",
        "append_many",
        "heartbeat",
        "flush",
        "wait_committed",
        "committed_seq",
        "events",
    }
    assert catalogue == {"chats", "chat", "search", "spec", "import_events"}
    assert store == log | catalogue | {"close"}


@pytest.mark.parametrize("backend", [SqliteStore, PostgresStore], ids=lambda c: c.__name__)
@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p.__name__)
def test_each_store_has_every_member_with_the_protocols_signature(
    protocol: type, backend: type
) -> None:
    assert issubclass(backend, protocol)
    for name in members(protocol):
        wanted, given = getattr(protocol, name), getattr(backend, name)
        assert shape(given) == shape(wanted), name
        assert inspect.signature(given).return_annotation == (
            inspect.signature(wanted).return_annotation
        ), name
        assert inspect.iscoroutinefunction(given) == inspect.iscoroutinefunction(wanted), name


def test_a_class_missing_a_member_is_not_a_store() -> None:
    class LogOnly:
        async def close(self) -> None: ...

    for name in members(EventLog):
        setattr(LogOnly, name, getattr(SqliteStore, name))
    assert issubclass(LogOnly, EventLog)
    assert not issubclass(LogOnly, Catalogue) and not issubclass(LogOnly, TranscriptStore)


async def test_open_store_opens_a_sqlite_file_from_a_path_or_a_string(tmp_path: Path) -> None:
    for location in (tmp_path / "a" / "chats.db", str(tmp_path / "b.db"), ":memory:"):
        store = await open_store(location)
        try:
            assert isinstance(store, SqliteStore) and isinstance(store, TranscriptStore)
            await store.create_chat("one", title="First")
            assert [c.title for c in await store.chats()] == ["First"]
        finally:
            await store.close()
    assert (tmp_path / "a" / "chats.db").is_file() and (tmp_path / "b.db").is_file()


async def test_open_store_opens_postgresql_from_a_url(postgres_url: str) -> None:
    store = await open_store(postgres_url, commit_interval=0)
    try:
        assert isinstance(store, PostgresStore) and isinstance(store, TranscriptStore)
        assert store._interval == 0
        assert ":***@" in store.path and "?schema=" in store.path
    finally:
        await store.close()


async def test_open_store_passes_the_options_on(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        await open_store(tmp_path / "x.db", durability="sometimes")  # type: ignore[arg-type]
    store = await open_store(tmp_path / "x.db", commit_interval=0, busy_timeout=0.25)
    try:
        assert isinstance(store, SqliteStore)
        assert store._interval == 0
        async with store._db.execute("PRAGMA busy_timeout") as cur:
            assert await cur.fetchone() == (250,)
    finally:
        await store.close()


def test_the_command_line_opens_its_stores_with_the_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opened: list[str | Path] = []
    real = factory.open_store

    async def spy(location: str | Path, **options: Any) -> TranscriptStore:
        opened.append(location)
        return await real(location, **options)

    monkeypatch.setattr(factory, "open_store", spy)
    spec = tmp_path / "relay.yaml"
    spec.write_text(RELAY)
    path = tmp_path / "chats.db"
    assert main(["run", str(spec), "--headless", "--db", str(path)]) == 0
    capsys.readouterr()
    assert main(["list", "--db", str(path)]) == 0
    (chat_id,) = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert main(["resume", chat_id, "--headless", "--max-messages", "1", "--db", str(path)]) == 0
    assert main(["show", chat_id, "--db", str(path)]) == 0
    assert opened == [path] * 4


class MemoryLog:
    """An event log in a list: the protocol's members and nothing else."""

    def __init__(self) -> None:
        self.stored: dict[str, list[Event]] = {}
        self.live: dict[str, bool] = {}
        self.flushes = 0

    async def create_chat(
        self,
        chat_id: str,
        *,
        title: str = "",
        spec: dict[str, Any] | None = None,
        parent_id: str | None = None,
        fork_seq: int | None = None,
    ) -> None:
        self.stored.setdefault(chat_id, [])

    async def append(self, event: Event) -> None:
        self.append_nowait(event)

    def append_nowait(self, event: Event) -> bool:
        events = self.stored[event.chat_id]
        if events and event.seq <= events[-1].seq:
            raise ValueError(f"chat {event.chat_id} already has event {event.seq}")
        events.append(event)
        return True

    async def append_many(self, events: Sequence[Event]) -> None:
        for event in events:
            self.append_nowait(event)

    async def heartbeat(self, chat_id: str, *, alive: bool = True) -> None:
        self.live[chat_id] = alive

    async def flush(self) -> None:
        self.flushes += 1

    async def wait_committed(self, chat_id: str, seq: int) -> None:
        return None

    def committed_seq(self, chat_id: str) -> int:
        events = self.stored.get(chat_id)
        return events[-1].seq if events else -1

    async def events(self, chat_id: str, start: int = 0, end: int | None = None) -> list[Event]:
        last = end if end is not None else 1 << 62
        return [e for e in self.stored[chat_id] if start <= e.seq < last]


async def test_the_recorder_needs_only_an_event_log() -> None:
    log = MemoryLog()
    assert isinstance(log, EventLog) and not isinstance(log, Catalogue)
    bus = EventBus(retain=None)
    chat = GroupChat(
        [ScriptedAgent("ada", ["one", "three"]), ScriptedAgent("bob", ["two"])],
        bus=bus,
        chat_id="mem",
        termination=MaxMessages(3),
    )
    recorder = StoreRecorder(log, bus, chat.chat_id)
    await recorder.start()
    await chat.run("Count")
    await recorder.wait()
    assert await log.events("mem") == bus.history("mem")
    assert recorder.recorded == len(bus.history("mem"))
    assert log.live == {"mem": False} and log.flushes >= 1  # let go and committed at the end
