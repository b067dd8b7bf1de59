"""A reader that goes away (``groupchat show ID | head``) ends a transcript command quietly:
exit status 0, nothing on standard error."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transcript_chats import Events

from groupchat.events import ChatEnded, ChatStarted, MessagePosted, ParticipantInfo
from groupchat.messages import Message, Usage
from groupchat.transcripts.store import SqliteStore

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 60  # a safety net for a hung process, never a wait
PIPE_SIZE = 4096
"""The pipe holds one page: anything longer than that must reach the closed end."""


def long_chat(chat_id: str, messages: int) -> list[object]:
    log = Events(chat_id)
    log.add(
        ChatStarted,
        task="Talk at length",
        participants=(ParticipantInfo(name="talker", description="talks", kind="scripted"),),
        policy="round_robin",
        metadata={"team": "talkers"},
    )
    for n in range(messages):
        text = f"line {n}: " + "words " * 60
        if n % 2:  # Markdown blocks: rendered by ``show``, line by line into the pipe
            text = f"**line {n}**\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n{text}"
        log.add(MessagePosted, "talker", message=Message(id=f"m{n}", sender="talker", content=text))
    log.add(ChatEnded, reason="done", status="completed", messages=messages, usage=Usage())
    return log.events


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One chat long enough to overflow the pipe many times over, and enough short ones that
    ``list`` does too."""
    path = tmp_path_factory.mktemp("pipes") / "chats.db"

    async def fill() -> None:
        store = await SqliteStore.open(path)
        try:
            await store.import_events(long_chat("long-chat", 200), title="long")  # type: ignore[arg-type]
            for n in range(60):
                await store.import_events(long_chat(f"short-{n:02}", 1), title=f"short {n}")  # type: ignore[arg-type]
        finally:
            await store.close()

    asyncio.run(fill())
    return path


def first_line_then_close(*args: str, db: Path) -> tuple[bytes, int, str]:
    """Run ``groupchat ARGS`` into a one-page pipe whose reader takes one line and closes it,
    as ``| head -1`` does; the line, the exit status and what came on standard error."""
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(AttributeError, OSError):  # Linux: the smallest pipe there is
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)  # type: ignore[attr-defined]
    proc = subprocess.Popen(
        [sys.executable, "-m", "groupchat", *args, "--db", str(db)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=write_fd,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as reader:
            line = reader.readline()
        _, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return line, proc.returncode, err.decode(errors="replace")


COMMANDS = pytest.mark.parametrize(
    "command",
    [
        ("show", "long"),
        ("export", "long"),
        ("export", "long", "--format", "md"),
        ("list",),
        ("replay", "long", "--plain", "--speed", "0"),
    ],
    ids=" ".join,
)


@COMMANDS
def test_a_closed_pipe_ends_the_command_quietly(command: tuple[str, ...], db: Path) -> None:
    line, code, err = first_line_then_close(*command, db=db)
    assert line  # the command did write before its reader went away
    assert err == ""  # no traceback, no "Exception ignored ... BrokenPipeError"
    assert code == 0


@COMMANDS
def test_a_pipe_nobody_reads_ends_the_command_quietly(command: tuple[str, ...], db: Path) -> None:
    """``groupchat list | true``: the very first write finds the pipe closed."""
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "groupchat", *command, "--db", str(db)],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=subprocess.PIPE,
            timeout=TIMEOUT,
        )
    finally:
        os.close(write_fd)
    assert proc.stderr.decode(errors="replace") == ""
    assert proc.returncode == 0
