"""The transcript commands end to end: every chat the CLI runs is recorded and can be listed,
shown, exported, imported, resumed, forked and replayed."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from groupchat.events import ChatEnded, MessagePosted, SpeakerSelected, parse_event
from groupchat.transcripts.jsonl import read_transcript
from groupchat.transcripts.store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent

TEAM = """\
name: relay
task: count to six
participants:
  - {kind: scripted, name: one, script: ["1", "3", "5"], chunk: line}
  - {kind: scripted, name: two, script: ["2", "4", "6"], chunk: line}
termination: {max_messages: 6}
"""


def gc(*args: str, stdin: str = "", db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groupchat", *args, "--db", str(db)],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def stored(db: Path) -> list[tuple[str, list[str]]]:
    async def read() -> list[tuple[str, list[str]]]:
        store = await SqliteStore.open(db)
        try:
            out = []
            for chat in await store.chats():
                events = await store.events(chat.id)
                out.append(
                    (chat.id, [e.message.content for e in events if isinstance(e, MessagePosted)])
                )
            return out
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(TEAM)
    return path


def test_run_records_the_chat_and_list_shows_it(spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(chat_id, contents)] = stored(db)
    assert contents == ["count to six", "1", "2", "3", "4", "5", "6"]
    listing = ok(gc("list", db=db))
    assert chat_id in listing and "relay: count to six" in listing and "completed" in listing
    assert chat_id in ok(gc("list", "--search", "count", db=db))
    assert "no chats matching" in ok(gc("list", "--search", "zebra", db=db))


def test_no_store_records_nothing(spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", "--no-store", db=db))
    assert not db.exists() or stored(db) == []


def test_show_renders_the_conversation(spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(chat_id, _)] = stored(db)
    shown = ok(gc("show", chat_id[:5], db=db))
    assert "Task: count to six" in shown
    assert "two: 6" in shown
    assert "chat ended (completed): reached 6 messages" in shown


def test_unknown_chat_id_is_a_usage_error(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    result = gc("show", "nope", db=db)
    assert result.returncode == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr


def test_export_then_import_gives_back_an_identical_chat(spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(chat_id, _)] = stored(db)
    out = tmp_path / "chat.jsonl"
    ok(gc("export", chat_id, "-o", str(out), db=db))
    original = read_transcript(out)
    other = tmp_path / "other.db"
    assert chat_id in ok(gc("import", str(out), db=other))

    async def events(path: Path) -> list[object]:
        store = await SqliteStore.open(path)
        try:
            return list(await store.events(chat_id))
        finally:
            await store.close()

    assert asyncio.run(events(other)) == original == asyncio.run(events(db))

    async def titles(path: Path) -> list[str]:
        store = await SqliteStore.open(path)
        try:
            return [chat.title for chat in await store.chats()]
        finally:
            await store.close()

    # The chat keeps its own title, not the file's name.
    assert asyncio.run(titles(other)) == asyncio.run(titles(db)) != ["chat"]
    again = gc("import", str(out), db=other)
    assert again.returncode == 2 and "already" in again.stderr


def test_export_markdown_and_html(spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(chat_id, _)] = stored(db)
    md = ok(gc("export", chat_id, "--format", "md", db=db))
    assert "count to six" in md
    html_file = tmp_path / "chat.html"
    ok(gc("export", chat_id, "--format", "html", "-o", str(html_file), db=db))
    page = html_file.read_text()
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "relay" in page


def test_a_file_that_is_not_a_database_is_named_once(tmp_path: Path) -> None:
    db = tmp_path / "notes.db"
    db.write_text("not a database\n" * 100)
    result = gc("list", db=db)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count(str(db)) == 1, result.stderr
    assert "file is not a database" in result.stderr


def test_export_to_a_file_that_cannot_be_written_is_one_line_naming_it(
    spec: Path, tmp_path: Path
) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(chat_id, _)] = stored(db)
    target = tmp_path / "no such folder" / "chat.md"
    result = gc("export", chat_id, "-o", str(target), db=db)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot write {target}" in result.stderr


def test_export_to_a_file_takes_the_format_from_its_suffix(spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(chat_id, _)] = stored(db)
    ok(gc("export", chat_id, "-o", str(tmp_path / "chat.html"), db=db))
    assert (tmp_path / "chat.html").read_text().lower().startswith("<!doctype html>")
    ok(gc("export", chat_id, "-o", str(tmp_path / "chat.md"), db=db))
    assert read_transcript_fails(tmp_path / "chat.md")
    ok(gc("export", chat_id, "-o", str(tmp_path / "chat.txt"), db=db))  # no format: JSONL
    assert read_transcript(tmp_path / "chat.txt")
    ok(gc("export", chat_id, "--format", "jsonl", "-o", str(tmp_path / "x.md"), db=db))
    assert read_transcript(tmp_path / "x.md")  # an explicit --format wins


def read_transcript_fails(path: Path) -> bool:
    from groupchat.transcripts.jsonl import JsonlError

    try:
        read_transcript(path)
    except JsonlError:
        return True
    return False


def test_import_of_a_bad_file_names_the_line_and_imports_nothing(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "chat_started"}\n')
    result = gc("import", str(bad), db=db)
    assert result.returncode == 2
    assert "line 1" in result.stderr and "Traceback" not in result.stderr
    assert not db.exists() or stored(db) == []


def test_resume_continues_an_interrupted_chat(spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", "--max-messages", "3", db=db))
    [(chat_id, contents)] = stored(db)
    assert contents == ["count to six", "1", "2", "3"]
    out = ok(gc("resume", chat_id, "--headless", "--max-messages", "3", db=db))
    assert out.splitlines() == ["two: 4", "one: 5", "two: 6"]
    [(same_id, contents)] = stored(db)
    assert same_id == chat_id
    assert contents == ["count to six", "1", "2", "3", "4", "5", "6"]


def test_resume_refuses_a_chat_another_process_is_running(spec: Path, tmp_path: Path) -> None:
    """Two writers of one chat: the running one would fail on its next event (the sequence
    numbers clash) and end in an error. ``resume`` says so and leaves the chat alone."""
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", "--max-messages", "3", db=db))
    [(chat_id, before)] = stored(db)
    with sqlite3.connect(db) as conn:  # as a live writer's heartbeat leaves it: this process
        conn.execute(
            "UPDATE chats SET ended = NULL, updated = ?, writer = ?",
            (time.time(), f"{socket.gethostname()}:{os.getpid()}"),
        )
    result = gc("resume", chat_id, "--headless", db=db)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"chat {chat_id} is running" in result.stderr
    assert f"groupchat join {chat_id}" in result.stderr
    assert stored(db) == [(chat_id, before)]


def test_resume_with_a_new_task_and_jsonl_continues_the_numbering(
    spec: Path, tmp_path: Path
) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(chat_id, _)] = stored(db)
    lines = ok(gc("resume", chat_id, "--task", "again", "--jsonl", db=db)).splitlines()
    events = [parse_event(line) for line in lines]
    assert isinstance(events[0], MessagePosted) and events[0].message.content == "again"
    assert isinstance(events[-1], ChatEnded)
    [(_, contents)] = stored(db)
    assert contents[-1] == "again"  # the scripts are spent: both pass, the chat goes quiet


def test_fork_shares_history_up_to_seq_and_records_lineage(spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(parent, _)] = stored(db)
    jsonl = tmp_path / "parent.jsonl"
    ok(gc("export", parent, "-o", str(jsonl), db=db))
    parent_events = read_transcript(jsonl)
    third = [e for e in parent_events if isinstance(e, MessagePosted)][2]  # "2"
    out = ok(
        gc(
            "fork",
            parent,
            "--at",
            str(third.seq),
            "--policy",
            "random",
            "--headless",
            "--max-messages",
            "2",
            db=db,
        )
    )
    assert len(out.splitlines()) == 2
    chats = dict(stored(db))
    [child] = [c for c in chats if c != parent]
    assert chats[child][:3] == ["count to six", "1", "2"]
    listing = ok(gc("list", db=db))
    assert f"{parent[:8]}@{third.seq}" in listing

    async def lineage() -> tuple[str | None, int | None, list[object]]:
        store = await SqliteStore.open(db)
        try:
            summary = await store.chat(child)
            return summary.parent_id, summary.fork_seq, list(await store.events(child))
        finally:
            await store.close()

    parent_id, fork_seq, child_events = asyncio.run(lineage())
    assert (parent_id, fork_seq) == (parent, third.seq)
    shared = [e.model_copy(update={"chat_id": child}) for e in parent_events[: third.seq + 1]]
    assert child_events[: third.seq + 1] == shared
    after = [e for e in child_events[third.seq + 1 :] if isinstance(e, SpeakerSelected)]
    assert after and all(e.policy == "random" for e in after)


def test_fork_at_a_seq_past_the_end_is_refused(spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(parent, _)] = stored(db)
    result = gc("fork", parent, "--at", "9999", "--headless", db=db)
    assert result.returncode == 2 and "--at 9999" in result.stderr


def test_show_seq_numbers_the_messages_and_fork_takes_a_message_number(
    spec: Path, tmp_path: Path
) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(parent, _)] = stored(db)
    jsonl = tmp_path / "parent.jsonl"
    ok(gc("export", parent, "-o", str(jsonl), db=db))
    posted = [e for e in read_transcript(jsonl) if isinstance(e, MessagePosted)]
    shown = ok(gc("show", parent, "--seq", db=db))
    for number, event in enumerate(posted, 1):
        assert f"#{number} · seq {event.seq}" in shown
    assert "#1 · seq" not in ok(gc("show", parent, db=db))  # only when asked
    out = ok(gc("fork", parent, "--message", "3", "--headless", "--max-messages", "1", db=db))
    assert out.strip()
    chats = dict(stored(db))
    [child] = [c for c in chats if c != parent]
    assert chats[child][:3] == ["count to six", "1", "2"]
    assert f"{parent[:8]}@{posted[2].seq}" in ok(gc("list", db=db))
    too_far = gc("fork", parent, "--message", "99", "--headless", db=db)
    assert too_far.returncode == 2
    assert f"--message 99: chat {parent} has {len(posted)} messages" in too_far.stderr


def test_a_demo_chat_forks_with_another_policy_and_keeps_it(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("demo", "--headless", "--delay", "0", db=db))
    [(parent, _)] = stored(db)
    jsonl = tmp_path / "parent.jsonl"
    ok(gc("export", parent, "-o", str(jsonl), db=db))
    second = [e for e in read_transcript(jsonl) if isinstance(e, MessagePosted)][1]
    forked = gc(
        "fork", parent, "--at", str(second.seq), "--policy", "round_robin", "--headless",
        "--max-messages", "2", db=db,
    )  # fmt: skip
    ok(forked)
    chats = dict(stored(db))
    [child] = [c for c in chats if c != parent]

    async def child_of() -> tuple[object, list[object]]:
        store = await SqliteStore.open(db)
        try:
            return await store.spec(child), list(await store.events(child))
        finally:
            await store.close()

    spec_stored, events = asyncio.run(child_of())
    assert spec_stored == {"builtin": "demo", "policy": "round_robin"}
    picks = [e for e in events[second.seq + 1 :] if isinstance(e, SpeakerSelected)]
    assert picks and all(e.policy == "round_robin" for e in picks)
    again = gc("resume", child, "--headless", "--max-messages", "1", db=db)  # keeps the policy
    assert again.returncode == 0, again.stderr


def test_demo_is_recorded_and_can_be_resumed(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("demo", "--headless", "--delay", "0", db=db))
    [(chat_id, contents)] = stored(db)
    assert contents[-1].endswith("DONE")
    out = ok(gc("resume", chat_id, "--task", "One more thing?", "--headless", db=db))
    assert out.splitlines()[0] == "task: One more thing?"


@pytest.mark.parametrize("demo", [("demo",), ("demo", "--magentic")])
def test_resume_of_a_chat_that_came_to_its_end_is_refused(
    demo: tuple[str, ...], tmp_path: Path
) -> None:
    """A chat its team ended (the planner said DONE, the magentic manager answered) has
    nothing to go on from: resuming it would post its last turn again. ``resume`` says it has
    ended and what goes on instead, and changes nothing."""
    db = tmp_path / "chats.db"
    ok(gc(*demo, "--headless", "--delay", "0", db=db))
    [(chat_id, before)] = stored(db)
    result = gc("resume", chat_id, "--headless", db=db)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"chat {chat_id} has ended (completed: " in result.stderr
    assert f"groupchat resume {chat_id} --task TEXT" in result.stderr
    assert f"groupchat fork {chat_id} --at SEQ" in result.stderr
    assert result.stdout == ""
    assert stored(db) == [(chat_id, before)]
    again = ok(gc("resume", chat_id, "--task", "One more thing?", "--headless", db=db))
    assert again.splitlines()[0] == "task: One more thing?"


def test_replay_a_recorded_chat_a_file_and_a_sample(spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(chat_id, _)] = stored(db)
    assert "two: 6" in ok(gc("replay", chat_id, "--speed", "0", db=db))
    jsonl = tmp_path / "chat.jsonl"
    ok(gc("export", chat_id, "-o", str(jsonl), db=db))
    assert "two: 6" in ok(gc("replay", str(jsonl), "--speed", "0", db=db))
    assert "DEBATE OVER" in ok(gc("replay", "--sample", "debate", "--speed", "0", db=db))
    unknown = gc("replay", "--sample", "nope", db=db)
    assert unknown.returncode == 2 and "debate" in unknown.stderr


def test_export_jsonl_is_canonical(spec: Path, tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(chat_id, _)] = stored(db)
    lines = ok(gc("export", chat_id, db=db)).splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(len(lines)))


PEOPLE = """\
name: picnic
task: plan a picnic
participants:
  - {kind: scripted, name: host, script: ["Who brings what?"], when_done: cycle}
  - {kind: human, name: alice}
  - {kind: human, name: bob}
"""


def said(db: Path, chat_id: str) -> list[tuple[int, str, str]]:
    """``(seq, sender, text)`` of every message but the task."""

    async def read() -> list[tuple[int, str, str]]:
        store = await SqliteStore.open(db)
        try:
            events = await store.events(chat_id)
        finally:
            await store.close()
        return [
            (e.seq, e.message.sender, e.message.content)
            for e in events
            if isinstance(e, MessagePosted) and e.message.kind != "task"
        ]

    return asyncio.run(read())


def test_a_chat_of_two_people_resumes_and_forks_with_each_answered_as_themselves(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chats.db"
    team = tmp_path / "picnic.yaml"
    team.write_text(PEOPLE)
    ok(gc("run", str(team), "--headless", "--max-messages", "2", stdin="bread\n", db=db))
    [(chat_id, _)] = stored(db)
    first = said(db, chat_id)
    assert [m[1:] for m in first] == [("host", "Who brings what?"), ("alice", "bread")]

    # bob is next: the console (input piped) answers for him, whoever --as seats.
    args = ("resume", chat_id, "--plain", "--as", "ALICE", "--max-messages", "1")
    out = ok(gc(*args, stdin="cheese\n", db=db))
    assert "» bob, your turn" in out and "bob: cheese" in out
    assert said(db, chat_id)[-1][1:] == ("bob", "cheese")

    refused = gc("resume", chat_id, "--as", "carol", "--headless", db=db)
    assert refused.returncode == 2
    assert "--as carol: not a human participant of this team (alice, bob)" in refused.stderr
    at = str(first[-1][0])  # alice's message
    refused = gc("fork", chat_id, "--at", at, "--as", "host", "--headless", db=db)
    assert refused.returncode == 2 and "(alice, bob)" in refused.stderr
    assert len(stored(db)) == 1  # nothing was forked

    args = ("fork", chat_id, "--at", at, "--as", "bob", "--max-messages", "1", "--headless")
    ok(gc(*args, stdin="wine\n", db=db))
    child = next(c for c, _ in stored(db) if c != chat_id)
    assert [m[1:] for m in said(db, child)] == [
        ("host", "Who brings what?"),
        ("alice", "bread"),
        ("bob", "wine"),
    ]


def test_a_fork_inside_a_streamed_message_keeps_all_it_had_streamed(tmp_path: Path) -> None:
    spec = tmp_path / "words.yaml"
    spec.write_text(
        "name: words\ntask: talk\nparticipants:\n"
        '  - {kind: scripted, name: one, script: ["alpha beta gamma delta", "three"]}\n'
        '  - {kind: scripted, name: two, script: ["uno dos tres cuatro", "four"]}\n'
        "termination: {max_messages: 4}\n"
    )
    db = tmp_path / "chats.db"
    ok(gc("run", str(spec), "--headless", db=db))
    [(parent, _)] = stored(db)
    jsonl = tmp_path / "parent.jsonl"
    ok(gc("export", parent, "-o", str(jsonl), db=db))
    events = read_transcript(jsonl)
    deltas = [e for e in events if e.type == "text_delta" and e.sender == "two"]
    cut = deltas[1]  # after "uno ", "dos "
    out = gc("fork", parent, "--at", str(cut.seq), "--headless", "--max-messages", "1", db=db)
    ok(out)
    assert "cuts two's message" in out.stderr
    chats = dict(stored(db))
    [child] = [c for c in chats if c != parent]
    # The whole text streamed up to the cut, as one message cut short; the chat goes on after
    # it (one speaks next), and two's text is not said again.
    assert chats[child] == ["talk", "alpha beta gamma delta", "uno dos ", "three"]

    async def posted() -> list[MessagePosted]:
        store = await SqliteStore.open(db)
        try:
            return [e for e in await store.events(child) if isinstance(e, MessagePosted)]
        finally:
            await store.close()

    partial = asyncio.run(posted())[2]
    assert partial.seq == cut.seq + 1 and partial.message.interrupted
    assert partial.message.sender == "two"
    shown = ok(gc("show", child, db=db))
    assert "uno dos tres" not in shown and "two: uno dos" in shown
