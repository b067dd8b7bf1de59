"""Slash commands as data, their completion and hints, and the chat controls behind them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from groupchat import GroupChat, HumanInputRequested, HumanParticipant, ScriptedAgent
from groupchat.testing import ChatProbe
from groupchat.tui.commands import COMMANDS, CommandError, help_text, parse_command
from groupchat.tui.completion import PromptCompleter, command_hint, suggest
from groupchat.tui.control import ChatControl, ControlError
from groupchat.tui.export import ExportError, read_export_args
from groupchat.tui.replay_app import COMMAND_TABLE

NAMES = ["planner", "critic", "Carol"]


def test_new_commands_parse_with_their_arguments() -> None:
    assert parse_command("/kick critic") is not None
    assert parse_command("/invite") is not None
    assert parse_command("/export html notes.html") is not None
    with pytest.raises(CommandError, match="usage: /kick NAME"):
        parse_command("/kick")
    with pytest.raises(CommandError, match="unknown command /"):
        parse_command("/")
    assert COMMANDS["kick"].placeholders == ("NAME",)
    assert COMMANDS["export"].placeholders == ("FORMAT", "FILE")
    assert "/export" not in help_text("console") and "/export" in help_text("tui")


def test_a_replay_reads_its_own_table() -> None:
    parsed = parse_command("/seek 12", COMMAND_TABLE)
    assert parsed is not None and parsed.args == ("12",)
    with pytest.raises(CommandError, match="unknown command /kick"):
        parse_command("/kick x", COMMAND_TABLE)


def test_command_names_complete_with_their_help() -> None:
    found = suggest("/ne", NAMES)
    assert [(s.text, s.replace, s.help) for s in found] == [
        ("/next ", 3, "make NAME the next speaker")
    ]
    assert [s.label for s in suggest("/", NAMES)] == [f"/{c}" for c in COMMANDS]
    assert [s.label for s in suggest("/", NAMES, frontend="console")] == [
        f"/{name}" for name, c in COMMANDS.items() if "console" in c.where
    ]


def test_arguments_complete_from_names_formats_and_values() -> None:
    assert [s.text for s in suggest("/next c", NAMES)] == ["critic", "Carol"]
    assert [s.text for s in suggest("/kick @pl", NAMES)] == ["planner"]
    assert [s.text for s in suggest("/export h", NAMES)] == ["html"]
    assert [s.text for s in suggest("/theme no", NAMES, values={"THEME": ["nord"]})] == ["nord"]
    assert suggest("/next critic ", NAMES) == []  # no second argument


def test_mentions_complete_anywhere_in_a_message() -> None:
    found = suggest("ask @c", NAMES, descriptions={"critic": "Looks for risks.\nMore."})
    assert [(s.text, s.replace, s.help) for s in found] == [
        ("@critic ", 2, "Looks for risks."),
        ("@Carol ", 2, ""),
    ]
    assert suggest("no mention here", NAMES) == []
    assert suggest("//ne", NAMES) == []


def test_hints_say_usage_or_what_is_wrong() -> None:
    assert command_hint("/next cr") == "/next NAME — make NAME the next speaker"
    assert command_hint("/ne") == "/next NAME — make NAME the next speaker"
    assert command_hint("/s") == "commands: /skip  /stop"
    assert command_hint("/zzz") == "unknown command /zzz; /help lists the commands"
    assert command_hint("hello") is None


def test_the_console_completer_offers_the_same() -> None:
    completer = PromptCompleter(lambda: NAMES, lambda: {"planner": "Plans."})
    completions = list(completer.get_completions(Document("hi @pl"), CompleteEvent()))
    assert [(c.text, c.start_position, c.display_meta_text) for c in completions] == [
        ("@planner ", -3, "Plans.")
    ]
    commands = list(completer.get_completions(Document("/ex"), CompleteEvent()))
    assert commands == []  # /export is the full-screen app's


def test_export_arguments() -> None:
    assert read_export_args([], "abc") == ("md", Path("groupchat-abc.md"))
    assert read_export_args(["html"], "abc") == ("html", Path("groupchat-abc.html"))
    assert read_export_args(["out.jsonl"], "abc") == ("jsonl", Path("out.jsonl"))
    assert read_export_args(["md", "notes.txt"], "abc") == ("md", Path("notes.txt"))
    with pytest.raises(ExportError, match="which format"):
        read_export_args(["notes.txt"], "abc")


async def test_kick_invite_and_steer_through_the_control() -> None:
    you = HumanParticipant("you")
    critic = ScriptedAgent("critic", ["hm"])
    chat = GroupChat([you, ScriptedAgent("planner", ["hi"]), critic], max_turns=2)
    control = ChatControl(chat, "you")
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("go"))
    await probe.wait_for(HumanInputRequested)  # the chat runs; it is your turn
    assert control.steer("@CRITIC") == "critic speaks next"
    assert "was removed" in await control.kick("critic")
    assert control.invitable() == ["critic"]
    with pytest.raises(ControlError, match="cannot remove yourself"):
        await control.kick("you")
    with pytest.raises(ControlError, match="no participant 'nobody'"):
        control.steer("nobody")
    with pytest.raises(ControlError, match="already in the chat"):
        await control.invite("planner")
    assert await control.invite("Critic") == "critic is back in the chat"
    assert chat.participants["critic"] is critic
    you.send("over to critic")
    await run
    await probe.drain()
    kinds = [e.type for e in probe.seen]
    assert kinds.index("participant_left") < kinds.index("participant_joined")
    assert [m.sender for m in chat.messages][-1] == "critic"  # steered, kicked, invited back


async def test_the_console_kicks_invites_and_names_app_only_commands() -> None:
    import io

    from rich.console import Console

    from groupchat.tui.console import ConsoleSession

    you = HumanParticipant("you")
    chat = GroupChat([you, ScriptedAgent("critic", ["hm"])], max_turns=1)
    out = io.StringIO()
    session = ConsoleSession(chat, human=you, console=Console(file=out, width=100))
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("go"))
    await probe.wait_for(HumanInputRequested)
    await session.handle_line("/export")
    await session.handle_line("/kick critic")
    await session.handle_line("/invite")
    await session.handle_line("/invite critic")
    await session.handle_line("/help")
    you.send("done")
    await run
    shown = out.getvalue()
    assert "/export is in the full-screen app only" in shown
    assert "critic was removed" in shown and "can come back: critic" in shown
    assert "critic is back in the chat" in shown
    assert "/kick NAME" in shown and "/export" not in shown.split("Commands:")[1]
