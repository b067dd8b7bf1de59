"""``resume --bus`` of a chat the store holds and the bus does not: the store's copy goes to
the bus first, and the chat goes on there (a real redis-server, real processes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import redis

from groupchat.distributed import keys
from groupchat.events import parse_event

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 60  # a safety net for a hung process, never a wait

SPEC = """\
name: trio
participants:
  - {kind: scripted, name: moderator, script: ["Welcome @pro", "Last round @pro", "OVER"]}
  - {kind: scripted, name: pro, script: ["pro one", "pro two"]}
  - {kind: scripted, name: con, script: ["con one", "con two"]}
policy: {kind: round_robin}
termination: {text_mention: {text: OVER, sources: [moderator]}}
"""


def groupchat(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groupchat", *(str(a) for a in args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_a_stored_chat_goes_on_on_the_bus(tmp_path: Path, redis_url: str) -> None:
    spec = tmp_path / "trio.yaml"
    spec.write_text(SPEC)
    first = groupchat("run", spec, "--headless", "--max-messages", "3")
    assert first.returncode == 0, first.stderr
    chat_id = _only_chat_id()
    resumed = groupchat("resume", chat_id, "--bus", redis_url, "--headless")
    assert resumed.returncode == 0, resumed.stderr
    assert f"took chat {chat_id} over on the bus" in resumed.stderr
    assert resumed.stdout.splitlines()[-1] == "moderator: OVER"
    exported = groupchat("export", chat_id, "--format", "jsonl")
    stored = [parse_event(line) for line in exported.stdout.splitlines() if line.strip()]
    client = redis.Redis.from_url(redis_url)
    try:
        entries = client.xrange(keys.events(chat_id))
    finally:
        client.close()
    on_bus = [parse_event(fields[b"e"]) for _, fields in entries]
    assert on_bus == stored  # the whole chat, once, in one order, in both places
    said = [e.message.content for e in stored if e.type == "message_posted"]
    assert (
        said
        == [
            "Welcome @pro",
            "pro one",
            "con one",
            "Last round @pro",
            "pro two",
            "con two",
            "OVER",
        ][: len(said)]
    )
    assert said[-1] == "OVER" and len(said) == len(set(said))


def _only_chat_id() -> str:
    out = groupchat("list")
    rows = [line.split()[0] for line in out.stdout.splitlines()[1:] if line.strip()]
    assert len(rows) == 1, out.stdout
    return rows[0]
