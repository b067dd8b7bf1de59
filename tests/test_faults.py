"""Faults have defined outcomes, and nothing already posted is lost.

* A model call that fails, hangs past its timeout or breaks its stream: the turn ends with an
  error event (the text streamed so far is kept, marked interrupted), the chat ends or goes on
  as ``on_error`` says, the store has everything, and the console shows the error.
* A participant or a tool that raises; a person who leaves (end of input) or never answers.
* The transcript store cannot write (disk full, file locked by another process): the chat ends
  at once with an error event saying so, never hangs and never goes on unrecorded; what was
  stored is intact and the chat resumes from it once the disk has room again.
* Cancellation at any point (Ctrl+C, ``/stop``, an external stop): the transcript is a valid,
  complete log and the chat resumes from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from chat_completions_server import (
    Answer,
    Broken,
    ChatCompletionsServer,
    Hang,
    Status,
    Step,
    _chunk,
    _words,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability import SAFETY, Chatter, run_recorded, spawn_cli

from groupchat.agents import HumanParticipant, LLMAgent, ScriptedAgent
from groupchat.agents.tools import tool
from groupchat.app.cli import main
from groupchat.chat import GroupChat
from groupchat.events import (
    ChatEnded,
    ErrorEvent,
    Event,
    HumanInputRequested,
    MessagePosted,
    SpeakerSelected,
    ToolResult,
    TurnSkipped,
    TurnStarted,
    parse_event,
)
from groupchat.models import OpenAICompatModel, RetryPolicy
from groupchat.participant import ChatView, TurnItem
from groupchat.termination import ExternalStop, MaxMessages, Timeout
from groupchat.testing import ChatProbe, ScriptedModel, reply, tool_call
from groupchat.transcripts import sqlite as sqlite_module
from groupchat.transcripts.jsonl import validate_transcript
from groupchat.transcripts.store import SqliteStore, StoreError
from groupchat.tui.console import ConsoleSession
from groupchat.tui.headless import run_headless

KEY = "sk-faults-0123456789abcdefghijklmn"
ENV = "GROUPCHAT_FAULTS_KEY"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)


def events_of(events: list[Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


# ------------------------------------------------------------------------------ model faults


@dataclass(frozen=True)
class Stall(Answer):
    """Stream ``text``, then send nothing more while keeping the connection open."""


class FaultyServer(ChatCompletionsServer):
    """The loopback server, plus an answer that stalls in the middle of its stream."""

    async def _stream(
        self, writer: asyncio.StreamWriter, step: Answer, body: dict[str, Any]
    ) -> None:
        if not isinstance(step, Stall):
            await super()._stream(writer, step, body)
            return
        self._start_stream(writer)
        for piece in _words(step.text):
            await self._event(writer, _chunk(body.get("model", ""), {"content": piece}))
        await self._stop.wait()


@dataclass(frozen=True)
class Fault:
    steps: tuple[Step, ...]
    error: str  # how the error event's text starts
    partial: str = ""  # the text that had reached the chat before the fault
    server_key: str | None = None


FAULTS = {
    "server error": Fault((Status(500, "upstream exploded"),), "ServerError: test:m: server error"),
    "hang past the timeout": Fault((Hang(),), "ModelTimeout: test:m: no answer within 0.2 s"),
    "broken stream": Fault(
        (Broken("half of an answer"),), "StreamBroken: test:m:", "half of an answer"
    ),
    "stalled stream": Fault(
        (Stall("half of an answer"),), "ModelTimeout: test:m:", "half of an answer"
    ),
    "rejected key": Fault(
        (Answer("never"),), "AuthError: test:m: the API key was rejected", "", "sk-other"
    ),
}


@pytest.mark.parametrize("on_error", ["end", "continue"])
@pytest.mark.parametrize("name", list(FAULTS))
async def test_a_failing_model_call_ends_the_turn_with_an_error_and_loses_nothing(
    name: str, on_error: Literal["end", "continue"], tmp_path: Path
) -> None:
    fault = FAULTS[name]
    async with FaultyServer(fault.steps, api_key=fault.server_key) as server:
        model = OpenAICompatModel(
            "m",
            name="test:m",
            base_url=server.base_url,
            key_env=ENV,
            timeout=0.2,
            retry=RetryPolicy(max_retries=1, initial_delay=0, jitter=0),
        )
        chat = GroupChat(
            [
                ScriptedAgent("ada", ["ada speaks first"]),
                LLMAgent("bob", model),
                ScriptedAgent("cy", ["cy carries on"]),
            ],
            max_turns=3,
            on_error=on_error,
        )
        async with await SqliteStore.open(tmp_path / "chats.db") as store:
            run = await run_recorded(chat, "go", store)

    assert run.result is not None and run.record_error is None
    (error,) = events_of(run.stored, ErrorEvent)
    assert error.error.startswith(fault.error), error.error
    assert (error.participant, error.detail, error.fatal) == ("bob", "turn", on_error == "end")
    assert "\n" not in error.error and KEY[:12] not in error.error and KEY[-12:] not in error.error

    # Nothing already posted is lost: the store holds every event the chat published.
    assert run.stored == run.bus
    posted = [e.message for e in events_of(run.stored, MessagePosted)]
    assert posted[1].content == "ada speaks first"
    bob = [m for m in posted if m.sender == "bob"]
    if fault.partial:  # the text that reached the chat is kept, marked as cut short
        assert [(m.content, m.interrupted) for m in bob] == [(fault.partial, True)]
    else:
        assert bob == []
        (skipped,) = events_of(run.stored, TurnSkipped)
        assert (skipped.speaker, skipped.reason) == ("bob", "failed")

    end = run.stored[-1]
    assert isinstance(end, ChatEnded)
    if on_error == "end":
        assert run.result.status == "error"
        assert end.reason.startswith("bob failed: " + fault.error)
        assert [m.sender for m in posted][-1] != "cy"
    else:
        assert run.result.status == "max_turns"
        assert posted[-1].sender == "cy"  # the chat went on after the failed turn

    # The console shows what happened.
    assert f"error: bob: {error.error}" in run.shown
    assert f"chat ended ({end.status})" in run.shown


class Failing:
    """Streams some text, then raises."""

    description = "Breaks mid-sentence."

    def __init__(self, name: str) -> None:
        self.name = name

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        yield "I was about to "
        yield "say something"
        raise RuntimeError("participant exploded")


@pytest.mark.parametrize("on_error", ["end", "continue"])
async def test_a_participant_that_raises(on_error: Literal["end", "continue"]) -> None:
    chat = GroupChat(
        [ScriptedAgent("ada", ["hello"]), Failing("bob"), ScriptedAgent("cy", ["still here"])],
        max_turns=3,
        on_error=on_error,
    )
    async with await SqliteStore.open(":memory:") as store:
        run = await run_recorded(chat, "go", store)
    assert run.stored == run.bus
    (error,) = events_of(run.stored, ErrorEvent)
    assert error.error == "RuntimeError: participant exploded"
    posted = [e.message for e in events_of(run.stored, MessagePosted)]
    assert [(m.sender, m.content, m.interrupted) for m in posted[1:]] == [
        ("ada", "hello", False),
        ("bob", "I was about to say something", True),
        *([("cy", "still here", False)] if on_error == "continue" else []),
    ]
    # The console shows the text so far and, right under it, why it stopped.
    assert (
        "bob: I was about to say something\nerror: bob: RuntimeError: participant exploded\n"
        in (run.shown)
    )


async def test_headless_output_shows_an_error_the_chat_went_on_after() -> None:
    chat = GroupChat(
        [ScriptedAgent("ada", ["hello"]), Failing("bob"), ScriptedAgent("cy", ["still here"])],
        max_turns=3,
        on_error="continue",
    )
    out, err = io.StringIO(), io.StringIO()
    await asyncio.wait_for(
        run_headless(chat, "go", stdin=io.StringIO(), stdout=out, stderr=err), SAFETY
    )
    assert out.getvalue().splitlines() == [
        "task: go",
        "ada: hello",
        "bob: I was about to say something [interrupted]",
        "cy: still here",
    ]
    assert err.getvalue().splitlines() == [
        "error: bob: RuntimeError: participant exploded",
        "chat ended (max_turns): reached 3 turns",
    ]


async def test_a_tool_that_raises_is_an_error_the_model_reads_and_the_chat_goes_on() -> None:
    @tool
    def refund(order: str) -> str:
        """Refund an order."""
        raise LookupError(f"no order {order}")

    model = ScriptedModel(
        [reply("", tool_call("refund", order="A1")), "That order does not exist."]
    )
    chat = GroupChat(
        [LLMAgent("clerk", model, tools=[refund]), ScriptedAgent("boss", ["fine"])], max_turns=2
    )
    async with await SqliteStore.open(":memory:") as store:
        run = await run_recorded(chat, "refund A1", store)
    assert run.result is not None and run.result.status == "max_turns"
    (result,) = events_of(run.stored, ToolResult)
    assert (result.is_error, result.content) == (True, "LookupError: no order A1")
    assert model.requests[1].messages[-1].content == "LookupError: no order A1"
    assert [e.message.sender for e in events_of(run.stored, MessagePosted)] == [
        "manager",
        "clerk",
        "boss",
    ]
    assert events_of(run.stored, ErrorEvent) == []
    assert "✗ refund: LookupError: no order A1" in run.shown


# ------------------------------------------------------------------------------ people


async def test_a_person_whose_input_ends_leaves_and_the_chat_goes_on() -> None:
    ran: list[str] = []

    @tool(requires_approval=True)
    def wipe(disk: str) -> str:
        """Wipe a disk."""
        ran.append(disk)
        return "wiped"

    model = ScriptedModel(
        ["Hello.", reply("", tool_call("wipe", disk="sda")), "Not wiped, then.", "Bye."],
    )
    you = HumanParticipant("you")
    chat = GroupChat(
        [LLMAgent("ops", model, tools=[wipe]), you],
        termination=MaxMessages(4),
        idle_rounds=None,
    )
    out, err = io.StringIO(), io.StringIO()
    result = await asyncio.wait_for(
        run_headless(chat, "go", stdin=io.StringIO("my only line\n"), stdout=out, stderr=err),
        SAFETY,
    )
    assert result.status == "completed"
    assert out.getvalue().splitlines() == [
        "task: go",
        "ops: Hello.",
        "you: my only line",
        "ops: Not wiped, then.",
        "ops: Bye.",
    ]
    events = chat.events()
    assert you.channel.closed
    assert ("you", "input ended") in [(e.speaker, e.reason) for e in events_of(events, TurnSkipped)]
    assert ran == []  # the approval asked after the person left is a refusal
    (refused,) = events_of(events, ToolResult)
    assert refused.content == "not run: you gave no answer"


async def test_a_person_who_never_answers_is_cut_off_by_the_time_limit() -> None:
    you = HumanParticipant("you")  # no time limit of their own
    chat = GroupChat([ScriptedAgent("ada", ["your turn"]), you], termination=Timeout(0.2))
    async with await SqliteStore.open(":memory:") as store:
        run = await run_recorded(chat, "go", store)
    assert run.result is not None and run.result.status == "completed"
    assert run.result.reason == "timed out after 0.2 s"
    assert events_of(run.stored, HumanInputRequested)[-1].participant == "you"
    assert events_of(run.stored, TurnSkipped)[-1].speaker == "you"
    validate_transcript(run.stored)
    assert "waiting for you…" in run.shown
    assert "chat ended (completed): timed out after 0.2 s" in run.shown


# ------------------------------------------------------------------------------ the store


def endless_team(chat_id: str | None = None) -> GroupChat:
    """Two participants who talk until something stops them."""
    return GroupChat(
        [Chatter("ada", ["ada says one two three"]), Chatter("bob", ["bob says four five six"])],
        chat_id=chat_id,
        idle_rounds=None,
    )


async def limit_growth(store: SqliteStore, pages: int) -> None:
    """Let the database grow by ``pages`` pages at most: then SQLite reports a full disk."""
    db = store._db
    async with db.execute("PRAGMA page_count") as cur:
        row = await cur.fetchone()
    assert row is not None
    await db.execute(f"PRAGMA max_page_count = {row[0] + pages}")


async def resumes(path: Path, chat_id: str, stored: list[Event]) -> list[Event]:
    """Continue the stored chat for two messages, recorded in the same file; the whole log."""
    chat = endless_team(chat_id)
    chat.termination = MaxMessages(2)
    chat.load(stored)
    async with await SqliteStore.open(path) as store:
        run = await run_recorded(chat, None, store)
    assert run.record_error is None and run.result is not None
    assert run.result.status == "completed"
    assert run.stored[: len(stored)] == stored
    validate_transcript(run.stored)
    return run.stored


async def test_a_full_disk_ends_the_chat_with_an_error_and_keeps_what_was_stored(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chats.db"
    chat = endless_team()
    probe = ChatProbe.of(chat)
    async with await SqliteStore.open(path) as store:
        running = asyncio.create_task(run_recorded(chat, "fill the disk", store))
        first = await probe.wait_for(MessagePosted, sender="ada")
        await store.wait_committed(chat.chat_id, first.seq)
        await limit_growth(store, 1)  # the disk is all but full now
        run = await asyncio.wait_for(running, SAFETY)

    assert isinstance(run.record_error, StoreError)
    assert "database or disk is full" in str(run.record_error)
    assert run.result is not None and run.result.status == "error"
    assert run.result.error is not None and "database or disk is full" in run.result.error
    (error,) = events_of(run.bus, ErrorEvent)
    assert (error.detail, error.fatal) == ("store", True)
    assert error.error.startswith(f"cannot record the chat: writing to {path} failed")
    assert isinstance(run.bus[-1], ChatEnded) and run.bus[-1].status == "error"
    assert f"error: {error.error}" in run.shown
    assert "chat ended (error): cannot record the chat" in run.shown

    # What was committed is intact, a prefix of the chat, and the chat goes on from there.
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    stored = run.stored
    assert first in stored
    assert stored == run.bus[: len(stored)]
    whole = await resumes(path, chat.chat_id, stored)
    assert len(events_of(whole, MessagePosted)) == len(events_of(stored, MessagePosted)) + 2


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another connection holds the database's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_a_database_locked_by_another_process_ends_the_chat_with_an_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chats.db"
    chat = endless_team()
    probe = ChatProbe.of(chat)
    async with await SqliteStore.open(path, busy_timeout=0.1) as store:
        running = asyncio.create_task(run_recorded(chat, "talk", store))
        first = await probe.wait_for(MessagePosted, sender="ada")
        await store.wait_committed(chat.chat_id, first.seq)
        # Quiet the writer first, or a chat writing nonstop can starve the lock taker.
        await chat.pause()
        await store.flush()
        with locked(path):
            await chat.resume()
            run = await asyncio.wait_for(running, SAFETY)
    assert isinstance(run.record_error, StoreError)
    assert "database is locked" in str(run.record_error)
    assert run.result is not None and run.result.status == "error"
    (error,) = events_of(run.bus, ErrorEvent)
    assert error.detail == "store" and "database is locked" in error.error
    assert f"error: {error.error}" in run.shown
    assert first in run.stored
    await resumes(path, chat.chat_id, run.stored)


ENDLESS = """\
name: endless
participants:
  - {kind: scripted, name: ada, script: ["ada says one two three"], chunk: word, when_done: cycle}
  - {kind: scripted, name: bob, script: ["bob says four five six"], chunk: word, when_done: cycle}
"""


def stored_chat(path: Path) -> tuple[str, list[str]]:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (chat_id,) = db.execute("SELECT id FROM chats").fetchone()
        rows = [r[0] for r in db.execute("SELECT json FROM event_log ORDER BY seq")]
    db.close()
    return chat_id, rows


def test_cli_a_full_disk_stops_the_run_with_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "endless.yaml"
    spec.write_text(ENDLESS)
    path = tmp_path / "chats.db"
    real_open = SqliteStore.open

    async def small_disk(*args: Any, **kwargs: Any) -> SqliteStore:
        store = await real_open(*args, **kwargs)
        await limit_growth(store, 4)
        return store

    monkeypatch.setattr(SqliteStore, "open", small_disk)
    spec.write_text(INTERRUPTIBLE)  # paced: the first messages are committed before it is full
    assert main(["run", str(spec), "--headless", "--db", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    full = f"writing to {path} failed: database or disk is full"
    assert err.splitlines() == [
        f"chat ended (error): cannot record the chat: {full}",
        f"groupchat: error: {full}",
    ]
    monkeypatch.setattr(SqliteStore, "open", real_open)  # the disk has room again
    chat_id, rows = stored_chat(path)
    # Every message printed before the disk filled was stored: all but the last one, which the
    # failed commit held, and the one the end cut short.
    stored = [parse_event(row) for row in rows]
    lines = {f"{e.message.sender}: {e.message.content}" for e in events_of(stored, MessagePosted)}
    printed = [line for line in out.splitlines() if not line.endswith("[interrupted]")]
    assert len(printed) >= 2
    assert set(printed[:-1]) <= lines
    assert main(["resume", chat_id, "--headless", "--max-messages", "2", "--db", str(path)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2 and "Traceback" not in err
    _, after = stored_chat(path)
    assert after[: len(rows)] == rows


def test_cli_a_locked_database_is_one_clear_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "endless.yaml"
    spec.write_text(ENDLESS)
    path = tmp_path / "chats.db"
    assert main(["list", "--db", str(path)]) == 0  # the database exists
    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_MS", 100)
    capsys.readouterr()
    with locked(path):
        assert main(["run", str(spec), "--headless", "--db", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"groupchat: error: cannot write to {path}: database is locked\n"


# ------------------------------------------------------------------------------ cancellation

HOW = ("ctrl+c", "/stop", "external stop")


class Answering:
    """Answers every request for the person's input with a numbered line."""

    def __init__(self, human: HumanParticipant) -> None:
        self.human = human
        self.count = 0

    async def run(self) -> None:
        channel = self.human.channel
        while await channel.wait_requested():
            self.count += 1
            channel.send(f"answer {self.count}")
            await asyncio.sleep(0)


def team_with_a_person(
    chat_id: str | None = None,
) -> tuple[GroupChat, HumanParticipant, ExternalStop]:
    you = HumanParticipant("you")
    stop = ExternalStop()
    chat = GroupChat(
        [Chatter("ada", ["ada one two", "ada three"]), you, Chatter("bob", ["bob four five"])],
        termination=stop,
        chat_id=chat_id,
        idle_rounds=None,
    )
    return chat, you, stop


async def cancel_at(how: str, at: int) -> tuple[list[Event], list[Event], str]:
    """Run the chat and cancel it ``how`` when event ``at`` is published; return the stored log,
    what the bus published and the chat id."""
    chat, you, stop = team_with_a_person()
    answering = asyncio.create_task(Answering(you).run())
    console = io.StringIO()
    from rich.console import Console

    session = ConsoleSession(chat, human=you, console=Console(file=console))
    async with await SqliteStore.open(":memory:") as store:
        from groupchat.transcripts.recorder import StoreRecorder

        recorder = StoreRecorder(store, chat.bus, chat.chat_id)
        await recorder.start()
        watch = chat.bus.subscribe(chat.chat_id, maxsize=1 << 20)
        runner = asyncio.create_task(chat.run("talk"))

        async def trigger() -> None:
            async for event in watch:
                if event.seq == at:
                    if how == "ctrl+c":
                        runner.cancel()
                    elif how == "/stop":
                        await session.handle_line("/stop")
                    else:
                        stop.set("stopped from outside")
                    return

        triggered = asyncio.create_task(trigger())
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(runner, SAFETY)
        await triggered
        watch.close()
        await asyncio.wait_for(recorder.wait(), SAFETY)
        answering.cancel()
        stored = await store.events(chat.chat_id)
    return stored, chat.events(), chat.chat_id


def open_turn(events: list[Event]) -> str | None:
    """Who had a turn that neither posted nor was skipped (but for an outside cancellation)."""
    speaker: str | None = None
    message_id = ""
    for event in events:
        if isinstance(event, TurnStarted):
            speaker, message_id = event.speaker, event.message_id
        elif isinstance(event, MessagePosted) and event.message.id == message_id:
            speaker = None
        elif isinstance(event, TurnSkipped) and event.message_id == message_id:
            speaker = None if event.reason != "cancelled" else speaker
    return speaker


@settings(
    max_examples=45,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(how=st.sampled_from(HOW), at=st.integers(min_value=0, max_value=40))
def test_cancelling_at_any_point_leaves_a_consistent_resumable_transcript(
    how: str, at: int
) -> None:
    asyncio.run(_cancelling_at_any_point(how, at))


async def _cancelling_at_any_point(how: str, at: int) -> None:
    stored, published, chat_id = await cancel_at(how, at)
    assert stored == published  # everything, to the end of the run
    validate_transcript(stored)
    end = stored[-1]
    assert isinstance(end, ChatEnded)
    assert (
        end.status == {"ctrl+c": "cancelled", "/stop": "stopped", "external stop": "completed"}[how]
    )
    assert [e for e in stored if isinstance(e, ChatEnded)] == [end]

    # Resumed, the chat goes on where it stopped: a turn cut off from outside is given again.
    pending = open_turn(stored)
    chat, you, _ = team_with_a_person(chat_id)
    chat.termination = MaxMessages(3)
    chat.load(stored)
    answering = asyncio.create_task(Answering(you).run())
    async with await SqliteStore.open(":memory:") as store:
        await store.import_events(stored)
        run = await run_recorded(chat, None, store)
    answering.cancel()
    assert run.result is not None and run.result.status == "completed"
    whole = run.stored
    assert whole[: len(stored)] == stored
    validate_transcript(whole)
    first = next(e for e in whole[len(stored) :] if isinstance(e, SpeakerSelected))
    if pending is not None:
        assert first.speaker == pending and first.reason.startswith("resumed")


INTERRUPTIBLE = """\
name: endless
participants:
  - {kind: scripted, name: ada, script: ["ada says one two three"], chunk: word, delay: 0.001,
     when_done: cycle}
  - {kind: scripted, name: bob, script: ["bob says four five six"], chunk: word, delay: 0.001,
     when_done: cycle}
"""


async def test_ctrl_c_in_the_cli_exits_130_and_the_chat_resumes(tmp_path: Path) -> None:
    spec = tmp_path / "endless.yaml"
    spec.write_text(INTERRUPTIBLE)
    path = tmp_path / "chats.db"
    proc = await spawn_cli(
        "run",
        str(spec),
        "--headless",
        "--db",
        str(path),
    )
    assert proc.stdout is not None and proc.stderr is not None
    shown = [await asyncio.wait_for(proc.stdout.readline(), SAFETY) for _ in range(3)]
    proc.send_signal(signal.SIGINT)
    rest, err = await asyncio.wait_for(proc.communicate(), SAFETY)
    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode()
    assert "chat ended (cancelled): cancelled" in err.decode()

    chat_id, rows = stored_chat(path)
    events = [parse_event(row) for row in rows]
    validate_transcript(events)
    assert isinstance(events[-1], ChatEnded) and events[-1].status == "cancelled"
    stored_lines = {
        f"{e.message.sender}: {e.message.content}" for e in events_of(events, MessagePosted)
    }
    for line in [*shown, *rest.splitlines()]:
        text = line.decode().rstrip("\n")
        assert text.replace("task: ", "manager: ") in stored_lines or text.endswith("[interrupted]")

    resumed = await spawn_cli(
        "resume",
        chat_id,
        "--headless",
        "--max-messages",
        "2",
        "--db",
        str(path),
    )
    out, err = await asyncio.wait_for(resumed.communicate(), SAFETY)
    assert resumed.returncode == 0, err.decode()
    assert len(out.decode().splitlines()) == 2
    _, after = stored_chat(path)
    assert after[: len(rows)] == rows


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
async def test_sigterm_or_a_closed_terminal_ends_the_chat_like_ctrl_c(
    tmp_path: Path, signum: signal.Signals, status: int
) -> None:
    """``kill`` or a terminal that closes: the chat records its end, the socket of a shared chat
    goes away, and the exit status says which signal it was."""
    import os
    import shutil
    import tempfile

    spec = tmp_path / "endless.yaml"
    spec.write_text(INTERRUPTIBLE)
    path = tmp_path / "chats.db"
    runtime = tempfile.mkdtemp(prefix="gc-", dir="/tmp")  # short: a socket path has a limit
    try:
        proc = await spawn_cli(
            "run",
            str(spec),
            "--headless",
            "--share",
            "--db",
            str(path),
            env={**os.environ, "XDG_RUNTIME_DIR": runtime},
        )
        assert proc.stdout is not None
        for _ in range(3):
            await asyncio.wait_for(proc.stdout.readline(), SAFETY)
        sockets = list(Path(runtime, "groupchat").glob("*.sock"))
        assert len(sockets) == 1  # shared while it runs
        proc.send_signal(signum)
        _, err = await asyncio.wait_for(proc.communicate(), SAFETY)
        assert proc.returncode == status, err.decode()
        assert "Traceback" not in err.decode()
        assert not sockets[0].exists()
        _, rows = stored_chat(path)
        events = [parse_event(row) for row in rows]
        validate_transcript(events)
        assert isinstance(events[-1], ChatEnded) and events[-1].status == "cancelled"
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
