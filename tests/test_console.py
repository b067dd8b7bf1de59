"""The plain console: what a person sees, and what their typed lines do."""

from __future__ import annotations

import asyncio
import io

import pytest
from rich.console import Console

from groupchat import (
    GroupChat,
    HumanInputRequested,
    HumanParticipant,
    ManualPolicy,
    MaxMessages,
    Paused,
    ScriptedAgent,
    SpeakerSelected,
    TurnSkipped,
    TurnStarted,
)
from groupchat.safe_text import one_line, safe_text
from groupchat.testing import ChatProbe
from groupchat.tui.commands import CommandError, help_text, parse_command, unescape
from groupchat.tui.console import ConsoleRenderer, ConsoleSession


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=100, color_system=None, highlight=False), buf


def test_safe_text_neutralises_control_sequences_but_keeps_layout() -> None:
    hostile = "a\x1b[31mred\x1b]8;;http://x\x07link\x00\x9b2J\r\nline2\tend\u202e"
    shown = safe_text(hostile)
    assert "\x1b" not in shown and "\x00" not in shown and "\x07" not in shown
    assert "\x9b" not in shown and "\r" not in shown and "\u202e" not in shown
    assert "\n" in shown and "\t" in shown
    assert "␛[31mred" in shown
    assert one_line("a\nb") == "a ⏎ b"


def test_commands_parse_as_data() -> None:
    assert parse_command("hello") is None
    assert parse_command("//not a command") is None
    assert unescape("//not a command") == "/not a command"
    parsed = parse_command("/next critic")
    assert parsed is not None and parsed.name == "next" and parsed.args == ("critic",)
    assert parse_command("  /PAUSE ") is not None
    with pytest.raises(CommandError, match="unknown command /frobnicate"):
        parse_command("/frobnicate")
    with pytest.raises(CommandError, match="usage: /next NAME"):
        parse_command("/next")
    assert "/interrupt" in help_text() and "/next NAME" in help_text()


async def _run_rendered(chat: GroupChat, task: str, *, line_buffered: bool) -> str:
    console, buf = _console()
    renderer = ConsoleRenderer(console, me="you", line_buffered=line_buffered)
    sub = chat.bus.subscribe(chat.chat_id)
    runner = asyncio.create_task(chat.run(task))
    async for event in sub:
        renderer.render(event)
    await runner
    return buf.getvalue()


@pytest.mark.parametrize("line_buffered", [False, True])
async def test_renderer_shows_messages_reasons_and_the_end(line_buffered: bool) -> None:
    chat = GroupChat(
        [
            ScriptedAgent("alice", ["Hello\nworld, @bob"], chunk="word"),
            ScriptedAgent("bob", ["Hi [bold]alice[/bold] \x1b[2J"], chunk=3),
        ],
        termination=MaxMessages(2),
    )
    out = await _run_rendered(chat, "Say hi", line_buffered=line_buffered)
    assert "Task: Say hi" in out
    assert "→ alice · round robin: alice opens" in out
    assert "alice: Hello\nworld, @bob" in out
    # Markup is shown literally and the escape sequence is neutralised.
    assert "bob: Hi [bold]alice[/bold] ␛[2J" in out
    assert "\x1b" not in out
    assert "chat ended (completed): reached 2 messages" in out


async def test_renderer_marks_an_interrupted_message() -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(view: object) -> str:
        started.set()
        await release.wait()
        return "never"

    class Streamer:
        name = "streamer"
        description = "streams then waits"

        async def take_turn(self, view: object):  # type: ignore[no-untyped-def]
            yield "partial text"
            await slow(view)

    chat = GroupChat([Streamer()], termination=MaxMessages(1))
    console, buf = _console()
    renderer = ConsoleRenderer(console)
    sub = chat.bus.subscribe(chat.chat_id)
    runner = asyncio.create_task(chat.run())
    probe = ChatProbe.of(chat)
    await probe.wait_for(TurnStarted)
    await started.wait()
    assert await chat.interrupt()
    async for event in sub:
        renderer.render(event)
    await runner
    assert "streamer: partial text [interrupted]" in buf.getvalue()


def test_a_pass_says_why_only_when_there_is_more_to_say() -> None:
    """A pass reads "you passed", not "you passed (passed)"; a timeout still says why."""
    from datetime import UTC, datetime

    from groupchat.events import TurnSkipped
    from groupchat.tui.model import ChatScreenState, NoteEntry

    stamp = {"chat_id": "c", "time": datetime(2024, 5, 1, tzinfo=UTC), "sender": "manager"}
    skips = [
        TurnSkipped(seq=0, **stamp, speaker="you", message_id="m1", reason="passed"),
        TurnSkipped(seq=1, **stamp, speaker="you", message_id="m2", reason="timed out"),
    ]
    console, buf = _console()
    renderer = ConsoleRenderer(console)
    model = ChatScreenState()
    for event in skips:
        renderer.render(event)
        model.apply(event)
    shown = buf.getvalue()
    assert "you passed\n" in shown and "(passed)" not in shown
    assert "you passed (timed out)" in shown
    notes = [e.text for e in model.entries if isinstance(e, NoteEntry)]
    assert notes == [" passed", " passed (timed out)"]


def test_wording_of_names_and_requests_in_a_recorded_chat() -> None:
    """ "you" is not "you (you)"; a chat read back says who was asked, never "waiting for"."""
    from datetime import UTC, datetime

    from groupchat.events import HumanInputRequested

    stamp = {"chat_id": "c", "time": datetime(2024, 5, 1, tzinfo=UTC), "sender": "manager"}
    console, _ = _console()
    assert ConsoleRenderer(console, me="you")._name("you").plain == "you"
    assert ConsoleRenderer(console, me="ada")._name("ada").plain == "ada (you)"
    console, buf = _console()
    recorded = ConsoleRenderer(console, recorded=True)  # show / replay: nobody waits
    for seq, request in enumerate(("approval", "select_speaker", "turn")):
        recorded.render(
            HumanInputRequested(
                seq=seq, **stamp, participant="approver", request=request, prompt="?"
            )
        )
    shown = buf.getvalue()
    assert "waiting for" not in shown
    assert "approver was asked for approval" in shown
    assert "approver was asked who speaks next" in shown
    assert "approver was asked to speak" in shown


def test_the_demo_quotes_what_you_said_with_one_full_stop() -> None:
    from groupchat.app.demo import _noted

    assert _noted("you", "Next Saturday.") == "Thanks, you, noted: “Next Saturday.”"
    assert _noted("ada", "next Saturday") == "Thanks, ada, noted: “next Saturday”."


def test_tool_arguments_show_as_plain_python_values() -> None:
    from datetime import UTC, datetime

    from groupchat.events import ToolCall

    console, buf = _console()
    call = ToolCall(
        chat_id="c",
        seq=0,
        time=datetime(2024, 5, 1, tzinfo=UTC),
        sender="ada",
        message_id="m",
        call_id="c1",
        name="tag",
        arguments={"paths": ["a.py"], "opts": {"force": False}},
    )
    ConsoleRenderer(console).render(call)
    assert "ada calls tag(paths=['a.py'], opts={'force': False})" in buf.getvalue()


async def test_typed_lines_become_commands_or_messages() -> None:
    human = HumanParticipant("you")
    agent = ScriptedAgent("agent", ["one", "two", "three"])
    chat = GroupChat([agent, human], termination=MaxMessages(3))
    console, buf = _console()
    session = ConsoleSession(chat, human=human, console=console)
    probe = ChatProbe.of(chat)
    runner = asyncio.create_task(chat.run("go"))

    await probe.wait_for(HumanInputRequested, participant="you")
    await session.handle_line("/who")
    await session.handle_line("/bogus")
    await session.handle_line("/next nobody")
    await session.handle_line("/pause")
    await probe.wait_for(Paused, by="you")
    await session.handle_line("//literal slash")
    await session.handle_line("/resume")
    result = await runner

    out = buf.getvalue()
    assert "agent" in out and "you (human)" in out
    assert "unknown command /bogus" in out
    assert "no participant 'nobody'" in out
    mine = [m for m in result.messages if m.sender == "you"]
    assert [m.content for m in mine] == ["/literal slash"]


async def test_stop_command_ends_the_chat_as_stopped() -> None:
    human = HumanParticipant("you")
    chat = GroupChat([human], idle_rounds=None)
    session = ConsoleSession(chat, human=human, console=_console()[0])
    probe = ChatProbe.of(chat)
    runner = asyncio.create_task(chat.run())
    await probe.wait_for(HumanInputRequested)
    await session.handle_line("/skip")
    await probe.wait_for(HumanInputRequested)
    await session.handle_line("/stop")
    result = await runner
    assert result.status == "stopped"
    assert result.reason == "stopped by you"


async def test_console_reads_turns_from_piped_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("my answer\n"))
    human = HumanParticipant("you")
    chat = GroupChat(
        [ScriptedAgent("agent", ["question?", "thanks"]), human], termination=MaxMessages(3)
    )
    console, buf = _console()
    result = await ConsoleSession(chat, human=human, console=console).run("task", interactive=False)
    assert [m.content for m in result.messages if m.kind == "turn"] == [
        "question?",
        "my answer",
        "thanks",
    ]
    assert "you: my answer" in buf.getvalue()


# ------------------------------------------------------------------ several people, one console


async def test_the_console_answers_the_second_person_s_turn_as_them() -> None:
    alice, bob = HumanParticipant("alice"), HumanParticipant("bob")
    chat = GroupChat([ScriptedAgent("host", ["Hello both."]), alice, bob], max_turns=3)
    console, buf = _console()
    session = ConsoleSession(chat, human=alice, console=console)
    probe = ChatProbe.of(chat)
    runner = asyncio.create_task(chat.run("plan"))

    async def answer(who: str, line: str) -> None:
        await probe.wait_for(HumanInputRequested, participant=who)
        while probe.seen:  # what the console shows up to the request
            session.renderer.render(probe.seen.pop(0))
        await session.handle_line(line)

    await answer("alice", "I bring bread")
    await answer("bob", "I bring cheese")
    result = await asyncio.wait_for(runner, 5)
    assert [(m.sender, m.content, m.kind) for m in result.messages if m.kind != "task"] == [
        ("host", "Hello both.", "turn"),
        ("alice", "I bring bread", "turn"),
        ("bob", "I bring cheese", "turn"),
    ]
    assert "» bob, your turn" in buf.getvalue()


async def test_piped_lines_answer_every_person_in_the_order_they_are_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("bread\ncheese\n"))
    alice, bob = HumanParticipant("alice"), HumanParticipant("bob")
    chat = GroupChat([ScriptedAgent("host", ["Hello both."]), alice, bob], max_turns=3)
    console, _buf = _console()
    session = ConsoleSession(chat, human=alice, console=console)
    result = await asyncio.wait_for(session.run("plan", interactive=False), 5)
    assert [(m.sender, m.content) for m in result.messages if m.kind == "turn"] == [
        ("host", "Hello both."),
        ("alice", "bread"),
        ("bob", "cheese"),
    ]


async def test_the_prompt_names_who_a_line_goes_as_and_slash_as_switches() -> None:
    alice, bob = HumanParticipant("alice"), HumanParticipant("bob")
    chat = GroupChat([alice, bob], policy=ManualPolicy(human="bob"), max_turns=1)
    console, buf = _console()
    session = ConsoleSession(chat, human=alice, console=console)
    assert session._prompt_text() == "alice › "
    await session.handle_line("/as Bob")
    assert session._prompt_text() == "bob › " and session.human is bob
    await session.handle_line("/as carol")
    await session.handle_line("/as")
    await session.handle_line("/as alice")
    out = buf.getvalue()
    assert "you are bob now" in out
    assert "'carol' is not one of the people here (alice, bob)" in out
    assert "you are bob; you also answer for alice when asked" in out

    probe = ChatProbe.of(chat)
    runner = asyncio.create_task(chat.run("plan"))
    asked = await probe.wait_for(HumanInputRequested, participant="bob")
    session.renderer.render(asked)
    # bob is asked to choose: the prompt says so, and so does the highlighted line.
    assert session._prompt_text() == "bob, who speaks next? › "
    assert "» bob, who speaks next? 1. alice  2. bob" in buf.getvalue()
    await session.handle_line("/skip")  # a choice is not a turn
    assert "there is no turn to pass" in buf.getvalue()
    # A line typed under alice's prompt stays alice's even if bob was asked meanwhile.
    await session.handle_line("hello", sender="alice")
    await session.handle_line("alice", sender=session._shown)
    asked = await probe.wait_for(HumanInputRequested, participant="alice")
    session.renderer.render(asked)
    assert session._prompt_text() == "alice, your turn › "
    await session.handle_line("/skip")
    result = await asyncio.wait_for(runner, 5)
    assert [(m.sender, m.content, m.kind) for m in result.messages if m.kind != "task"] == [
        ("alice", "hello", "interjection")
    ]
    await probe.drain()
    assert [e.reason for e in probe.seen if isinstance(e, SpeakerSelected)] == ["chosen by bob"]
    assert [e.speaker for e in probe.seen if isinstance(e, TurnSkipped)] == ["alice"]


async def test_a_line_goes_as_the_prompt_said_even_if_someone_was_asked_meanwhile() -> None:
    alice, bob = HumanParticipant("alice"), HumanParticipant("bob")
    chat = GroupChat([bob, alice], max_turns=1)
    console, _buf = _console()
    session = ConsoleSession(chat, human=alice, console=console)
    probe = ChatProbe.of(chat)
    runner = asyncio.create_task(chat.run("plan"))
    asked = await probe.wait_for(HumanInputRequested, participant="bob")
    # bob is asked, but the console has not shown it yet: the prompt still says alice.
    assert session._prompt_text() == "alice › "
    await session.handle_line("typed before the question showed", sender=session._shown)
    session.renderer.render(asked)
    assert session._prompt_text() == "bob, your turn › "
    await session.handle_line("my answer", sender=session._shown)
    result = await asyncio.wait_for(runner, 5)
    assert [(m.sender, m.content, m.kind) for m in result.messages if m.kind != "task"] == [
        ("alice", "typed before the question showed", "interjection"),
        ("bob", "my answer", "turn"),
    ]


def test_a_pause_stops_the_clock_of_a_timed_turn_in_the_console_and_the_app() -> None:
    """The countdown freezes while paused and goes on with what was left: read from the
    events' own times (the app's countdown reads the same clock)."""
    from datetime import UTC, datetime, timedelta

    from groupchat.events import Resumed
    from groupchat.tui.model import ChatScreenState

    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    stamp = {"chat_id": "c", "sender": "manager"}
    asked = HumanInputRequested(seq=0, time=t0, **stamp, participant="you", timeout=30)
    events = [
        asked,
        Paused(seq=1, time=t0 + timedelta(seconds=10), **stamp, by="you"),
        Resumed(seq=2, time=t0 + timedelta(seconds=70), **stamp, by="you"),
    ]
    console, buf = _console()
    renderer = ConsoleRenderer(console, me="you")
    model = ChatScreenState(me="you")
    for event in events:
        renderer.render(event)
        model.apply(event)
    shown = buf.getvalue()
    assert "⏸ paused by you · the clock of your turn stops: 20 s left" in shown
    assert "▶ resumed by you · the clock of your turn goes on: 20 s left" in shown
    clock = model.turn_clock
    assert clock.request is asked and clock.left(t0 + timedelta(seconds=75)) == 15
    model.apply(Paused(seq=3, time=t0 + timedelta(seconds=80), **stamp))
    assert clock.left(t0 + timedelta(hours=1)) == 10  # frozen while paused
