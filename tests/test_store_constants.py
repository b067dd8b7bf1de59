"""The SQLite store's tunables are read where they live, at the time of use, so a test that
patches one there changes what the store does (each test fails if the patch has no effect)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from groupchat.events import MANAGER, ChatStarted, Event, MessagePosted, dump_event
from groupchat.messages import Message
from groupchat.transcripts import batch, queries, sqlite, writer
from groupchat.transcripts.sqlite import SqliteStore

T0 = datetime(2026, 1, 2, tzinfo=UTC)


def said(chat_id: str, count: int) -> list[Event]:
    events: list[Event] = [ChatStarted(chat_id=chat_id, seq=0, time=T0, sender=MANAGER)]
    for seq in range(1, count):
        message = Message(id=f"m{seq}", sender="ada", content=f"line {seq}")
        events.append(
            MessagePosted(
                chat_id=chat_id,
                seq=seq,
                time=T0 + timedelta(seconds=seq),
                sender="ada",
                message=message,
            )
        )
    return events


async def pragma(store: SqliteStore, name: str) -> Any:
    async with store._db.execute(f"PRAGMA {name}") as cur:
        row = await cur.fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize("per_statement", [2, 3])
async def test_rows_per_statement_splits_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_statement: int
) -> None:
    monkeypatch.setattr(batch, "_ROWS_PER_STATEMENT", per_statement)
    async with await SqliteStore.open(tmp_path / "chats.db") as store:
        ingests: list[str] = []
        await store._db.set_trace_callback(
            lambda sql: ingests.append(sql) if sql.startswith("INSERT INTO ingest") else None
        )
        events = said("split", 7)
        await store.import_events(events)
        await store._db.set_trace_callback(None)
        # SQLite traces a statement again for each statement of the trigger it runs
        assert len(set(ingests)) == math.ceil(len(events) / per_statement)
        assert await store.events("split") == events


def test_rows_at_once_sets_the_runs_parsed_together(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    real = queries.event_list_adapter()

    class Counting:
        def validate_json(self, data: str | bytes) -> Any:
            parsed = real.validate_json(data)
            runs.append(len(parsed))
            return parsed

    monkeypatch.setattr(queries, "event_list_adapter", lambda: Counting())
    monkeypatch.setattr(queries, "_ROWS_AT_ONCE", 3)
    events = said("c", 8)
    assert queries.parse_event_rows([dump_event(e) for e in events]) == events
    assert runs == [3, 3, 2]


def test_the_row_by_row_adapter_is_the_one_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refusing:
        def validate_json(self, data: object) -> object:
            raise LookupError("row by row")

    monkeypatch.setattr(queries, "EVENT_ADAPTER", Refusing())
    rows = [dump_event(e) for e in said("c", 4)]
    rows[2] = rows[2].replace('"seq":2', '"seq":-2')  # a bad row: the run is parsed row by row
    with pytest.raises(LookupError, match="row by row"):
        queries.parse_event_rows(rows)


async def test_max_pending_bounds_the_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "MAX_PENDING", 2)
    async with await SqliteStore.open(tmp_path / "chats.db", commit_interval=60) as store:
        events = said("full", 4)
        await store.append(events[0])  # loads the chat
        assert store.append_nowait(events[1])
        assert not store.append_nowait(events[2])  # two are buffered: wait for a commit
        await store.append(events[2])
        assert store.committed_seq("full") >= 1


async def test_busy_timeout_and_page_size_are_read_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_MS", 1234)
    monkeypatch.setattr(sqlite, "PAGE_SIZE", 8192)
    async with await SqliteStore.open(tmp_path / "chats.db") as store:
        assert await pragma(store, "busy_timeout") == 1234
        assert await pragma(store, "page_size") == 8192
