"""The transcript commands on a PostgreSQL store, end to end with real processes: ``--db
postgresql://...`` (or ``$GROUPCHAT_DB``) records, lists, searches, shows, exports, imports,
resumes and forks as a SQLite file does, several machines' chats go into one database, and the
password in the URL is never shown."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pg_server import PostgresServer
from redis_server import free_port
from store_backends import PostgresBackend

from groupchat.events import MessagePosted
from groupchat.transcripts.jsonl import read_transcript
from groupchat.transcripts.store import open_store

ROOT = Path(__file__).resolve().parent.parent

TEAM = """\
name: relay
task: count to six
participants:
  - {kind: scripted, name: one, script: ["1", "3", "5"], chunk: line}
  - {kind: scripted, name: two, script: ["2", "4", "6"], chunk: line}
termination: {max_messages: 6}
"""


def gc(
    *args: str, db: str | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "groupchat", *args, *(["--db", db] if db else [])]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def done(proc: subprocess.Popen[str], password: str, code: int = 0) -> str:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert password not in out + err  # never shown
    return out


def stored(url: str) -> dict[str, list[str]]:
    async def read() -> dict[str, list[str]]:
        store = await open_store(url)
        try:
            return {
                chat.id: [
                    e.message.content
                    for e in await store.events(chat.id)
                    if isinstance(e, MessagePosted)
                ]
                for chat in await store.chats()
            }
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(TEAM)
    return path


def test_the_commands_on_a_postgresql_store(
    spec: Path, tmp_path: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    pw = pg_server.password
    done(gc("run", str(spec), "--headless", "--max-messages", "3", db=postgres_url), pw)
    [(chat_id, contents)] = stored(postgres_url).items()
    assert contents == ["count to six", "1", "2", "3"]

    env = {"GROUPCHAT_DB": postgres_url}  # the URL from the environment works the same
    listing = done(gc("list", env=env), pw)
    assert chat_id in listing and "relay: count to six" in listing
    assert chat_id in done(gc("list", "--search", "count", env=env), pw)
    nothing = done(gc("list", "--search", "zebra", env=env), pw)
    assert "no chats matching" in nothing and "***" in nothing  # named without its password
    assert "two: 2" in done(gc("show", chat_id[:5], db=postgres_url), pw)

    out = done(gc("resume", chat_id, "--headless", "--max-messages", "3", db=postgres_url), pw)
    assert out.splitlines() == ["two: 4", "one: 5", "two: 6"]
    assert stored(postgres_url)[chat_id] == ["count to six", "1", "2", "3", "4", "5", "6"]

    jsonl = tmp_path / "chat.jsonl"
    done(gc("export", chat_id, "-o", str(jsonl), db=postgres_url), pw)
    other = postgres_url.replace("?schema=", "?schema=copy_")
    assert chat_id in done(gc("import", str(jsonl), db=other), pw)

    async def events(url: str) -> list[object]:
        store = await open_store(url)
        try:
            return list(await store.events(chat_id))
        finally:
            await store.close()

    assert asyncio.run(events(other)) == read_transcript(jsonl) == asyncio.run(events(postgres_url))

    third = [e for e in read_transcript(jsonl) if isinstance(e, MessagePosted)][2]
    forked = gc(
        "fork", chat_id, "--at", str(third.seq), "--headless", "--max-messages", "1",
        db=postgres_url,
    )  # fmt: skip
    assert len(done(forked, pw).splitlines()) == 1
    chats = stored(postgres_url)
    [child] = [c for c in chats if c != chat_id]
    assert chats[child][:3] == ["count to six", "1", "2"]
    assert f"{chat_id[:8]}@{third.seq}" in done(gc("list", db=postgres_url), pw)


def test_resume_refuses_a_chat_running_elsewhere(
    spec: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    pw = pg_server.password
    done(gc("run", str(spec), "--headless", "--max-messages", "3", db=postgres_url), pw)
    [(chat_id, before)] = stored(postgres_url).items()
    backend = PostgresBackend(postgres_url)
    asyncio.run(  # as the heartbeat of a live writer on another machine leaves it
        backend.raw(
            "UPDATE chats SET ended = NULL, updated = ?, writer = ?",
            (time.time(), f"elsewhere-{socket.gethostname()}:1"),
        )
    )
    proc = gc("resume", chat_id, "--headless", db=postgres_url)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert f"chat {chat_id} is running" in err and pw not in out + err
    assert stored(postgres_url) == {chat_id: before}


def test_chats_of_several_processes_go_into_one_database(
    spec: Path, postgres_url: str, pg_server: PostgresServer
) -> None:
    runs = [gc("run", str(spec), "--headless", db=postgres_url) for _ in range(4)]
    for proc in runs:
        done(proc, pg_server.password)
    chats = stored(postgres_url)
    assert len(chats) == 4
    assert all(said == ["count to six", "1", "2", "3", "4", "5", "6"] for said in chats.values())


def test_a_database_that_cannot_be_reached_is_exit_2_without_the_password() -> None:
    url = f"postgresql://someone:hunter2-secret@127.0.0.1:{free_port()}/chats"
    proc = gc("list", db=url)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "cannot connect to the transcript database" in err
    assert "postgresql://someone:***@127.0.0.1" in err
    assert "hunter2" not in out + err and "Traceback" not in err
