"""Several people at one terminal (hot seat): whoever of them is asked answers from here."""

from __future__ import annotations

import asyncio
import contextlib

from textual.widgets import OptionList
from tui_support import GatedAgent, fixed_clock, noticed, screen_text, until, until_shown

from groupchat import (
    GroupChat,
    HumanInputRequested,
    HumanParticipant,
    ManualPolicy,
    RoundRobinPolicy,
    ScriptedAgent,
    TextMention,
)
from groupchat.agents import LLMAgent, tool
from groupchat.bus import EventBus
from groupchat.testing import ChatProbe, ScriptedModel, reply, tool_call
from groupchat.tui.live import LiveChatApp
from groupchat.tui.screens import ApprovalScreen, ChooseScreen
from groupchat.tui.widgets.composer import ComposerBox

SIZE = (120, 40)


def _title(app: LiveChatApp) -> str:
    return str(app.query_one(ComposerBox).editor.border_title)


async def _type(pilot: object, app: LiveChatApp, text: str) -> None:
    editor = app.query_one(ComposerBox).editor
    editor.focus()
    editor.insert(text)
    await pilot.press("enter")  # type: ignore[attr-defined]


def _said(chat: GroupChat) -> list[tuple[str, str, str]]:
    return [(m.sender, m.content, m.kind) for m in chat.messages if m.kind != "task"]


async def test_the_second_person_s_turn_is_answered_here_as_them() -> None:
    alice, bob = HumanParticipant("alice"), HumanParticipant("bob")
    host = ScriptedAgent("host", ["Hello both."])
    chat = GroupChat([host, alice, bob], policy=RoundRobinPolicy(), max_turns=3)
    app = LiveChatApp(chat, "plan", human=alice, clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "alice, your turn" in _title(app), "alice's turn")
        await _type(pilot, app, "I bring bread")
        await until(pilot, lambda: "bob, your turn" in _title(app), "bob's turn")
        assert app.composer.editor.has_class("-turn")
        await _type(pilot, app, "I bring cheese")
        await until(pilot, lambda: app.result is not None, "the end")
    assert _said(chat) == [
        ("host", "Hello both.", "turn"),
        ("alice", "I bring bread", "turn"),
        ("bob", "I bring cheese", "turn"),
    ]


async def test_a_speaker_choice_asked_of_the_second_person_opens_here() -> None:
    alice, bob = HumanParticipant("alice"), HumanParticipant("bob")
    cook = ScriptedAgent("cook", ["Sandwiches."])
    chat = GroupChat([cook, alice, bob], policy=ManualPolicy(human="bob"), max_turns=1)
    app = LiveChatApp(chat, "plan", human=alice, clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ChooseScreen), "bob's choice")
        assert "bob" in app.screen.title_text  # type: ignore[attr-defined]
        await pilot.press("enter")  # the first candidate: cook
        await until(pilot, lambda: app.result is not None, "the end")
    selected = [e for e in chat.events() if e.type == "speaker_selected"]
    assert selected[0].reason == "chosen by bob"  # type: ignore[union-attr]
    assert _said(chat) == [("cook", "Sandwiches.", "turn")]


async def test_an_approval_asked_of_the_second_person_opens_here() -> None:
    ran: list[str] = []

    @tool(requires_approval=True)
    def delete(path: str) -> str:
        """Delete a file."""
        ran.append(path)
        return f"deleted {path}"

    model = ScriptedModel([reply("", tool_call("delete", path="/tmp/x")), "Done."])
    alice, bob = HumanParticipant("alice"), HumanParticipant("bob")
    ops = LLMAgent("ops", model, tools=[delete], approver="bob", approval_timeout=30)
    chat = GroupChat([ops, alice, bob], max_turns=1)
    app = LiveChatApp(chat, "clean up", human=alice, clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot,
            lambda: isinstance(app.screen, ApprovalScreen) and bool(app.screen.query("#approve")),
            "bob's approval dialog",
        )
        assert "bob" in app.screen.title_text  # type: ignore[attr-defined]
        await pilot.press("ctrl+y")
        await until(pilot, lambda: app.result is not None, "the end")
        await until_shown(pilot)
    assert ran == ["/tmp/x"]


def _status(app: LiveChatApp, side: str) -> str:
    return str(app.status_bar.query_one(f".status-{side}").render())


def _sidebar_you(app: LiveChatApp) -> list[str]:
    members = app.sidebar.query_one(OptionList)
    rows = [str(members.get_option_at_index(i).prompt) for i in range(members.option_count)]
    return [row.split()[1] for row in rows if "(you)" in row]


async def test_who_you_are_is_shown_and_slash_as_switches_it() -> None:
    alice, bob = HumanParticipant("alice"), HumanParticipant("bob")
    writer = GatedAgent("writer", ["Drafting"], [" done."])
    chat = GroupChat([writer, alice, bob], policy=RoundRobinPolicy(), max_turns=3)
    app = LiveChatApp(chat, "plan", human=alice, clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, writer.waiting.is_set, "the writer mid-message")
        await until_shown(pilot)
        editor = app.query_one(ComposerBox).editor
        assert _title(app).startswith("message as alice")
        assert str(editor.placeholder) == "say something as alice…"
        assert "you: alice" in _status(app, "left")
        assert _sidebar_you(app) == ["alice"]
        await _type(pilot, app, "Keep it short")

        await _type(pilot, app, "/as BOB")
        await until_shown(pilot)
        assert noticed(app, "you are bob now")
        assert _title(app).startswith("message as bob")
        assert "you: bob" in _status(app, "left")
        assert _sidebar_you(app) == ["bob"]
        await _type(pilot, app, "And cheap")
        await _type(pilot, app, "/as carol")
        assert noticed(app, "'carol' is not one of the people here (alice, bob)")
        await _type(pilot, app, "/as writer")
        assert noticed(app, "'writer' is not one of the people here (alice, bob)")
        await _type(pilot, app, "/as")
        assert noticed(app, "you are bob; you also answer for alice when asked")

        writer.open()
        # alice is asked although bob is seated: the input names her, and /skip passes for her.
        await until(pilot, lambda: "alice, your turn" in _title(app), "alice's turn")
        await until_shown(pilot)
        assert "Enter sends as alice" in _title(app)
        assert str(editor.placeholder) == "alice, your turn: type your reply, or Enter to pass"
        assert "⌛ alice, your turn" in _status(app, "right")
        assert app.model.members["alice"].state == "your turn"
        await _type(pilot, app, "/skip")
        await until(pilot, lambda: "bob, your turn" in _title(app), "bob's turn")
        await _type(pilot, app, "Done here")
        await until(pilot, lambda: app.result is not None, "the end")
    assert _said(chat) == [
        ("alice", "Keep it short", "interjection"),
        ("bob", "And cheap", "interjection"),
        ("writer", "Drafting done.", "turn"),
        ("bob", "Done here", "turn"),
    ]
    skipped = [e for e in chat.events() if e.type == "turn_skipped"]
    assert [e.speaker for e in skipped] == ["alice"]  # type: ignore[union-attr]


async def test_only_the_listed_humans_are_answered_here() -> None:
    alice, bob = HumanParticipant("alice"), HumanParticipant("bob")
    chat = GroupChat([bob, alice], policy=RoundRobinPolicy(), max_turns=2)
    app = LiveChatApp(chat, "plan", humans=[alice], clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        probe = ChatProbe.of(chat)
        await probe.wait_for(HumanInputRequested, participant="bob")
        await until(pilot, lambda: app.model.request is not None, "bob's request shown")
        assert app.model.my_request is None  # bob answers elsewhere
        assert _title(app).startswith("message as alice")
        await _type(pilot, app, "/as bob")
        assert noticed(app, "'bob' is not one of the people here (alice)")
        bob.send("from elsewhere")
        await until(pilot, lambda: "alice, your turn" in _title(app), "alice's turn")
        await _type(pilot, app, "from here")
        await until(pilot, lambda: app.result is not None, "the end")
    assert _said(chat) == [("bob", "from elsewhere", "turn"), ("alice", "from here", "turn")]


async def test_slash_as_completes_the_people_and_shows_its_usage() -> None:
    alice, bob = HumanParticipant("alice"), HumanParticipant("bob")
    writer = GatedAgent("writer", ["Drafting"], [" done."])
    chat = GroupChat([writer, alice, bob], policy=RoundRobinPolicy(), max_turns=1)
    app = LiveChatApp(chat, "plan", human=bob, clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, writer.waiting.is_set, "the writer mid-message")
        box = app.query_one(ComposerBox)
        box.editor.focus()
        await pilot.press(*"/as ")
        await until(pilot, lambda: bool(box.suggestions), "suggestions")
        assert [s.text for s in box.suggestions] == ["alice", "bob"]
        await until_shown(pilot)
        assert "/as [PERSON] — speak as PERSON when nobody is asked" in screen_text(app)
        writer.open()
        await app.action_quit()


async def test_a_resumed_chat_asks_the_second_person_again_here() -> None:
    def team() -> tuple[GroupChat, HumanParticipant]:
        alice = HumanParticipant("alice")
        host = ScriptedAgent("host", ["Who brings what?", "Thanks."])
        chat = GroupChat(
            [host, alice, HumanParticipant("bob")],
            policy=RoundRobinPolicy(),
            chat_id="picnic",
            bus=EventBus(retain=None),
            termination=TextMention("Thanks"),
        )
        return chat, alice

    first, alice = team()
    probe = ChatProbe.of(first)
    run = asyncio.create_task(first.run("plan"))
    await probe.wait_for(HumanInputRequested, participant="alice")
    alice.send("bread")
    await probe.wait_for(HumanInputRequested, participant="bob")
    run.cancel()  # the terminal closed while bob was asked
    with contextlib.suppress(asyncio.CancelledError):
        await run
    history = first.events()

    chat, alice = team()
    chat.load(history)
    app = LiveChatApp(chat, None, human=alice, history=history, clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "bob, your turn" in _title(app), "bob asked again")
        await _type(pilot, app, "cheese")
        await until(pilot, lambda: app.result is not None, "the end")
    assert [(m.sender, m.content) for m in chat.messages if m.kind == "turn"] == [
        ("host", "Who brings what?"),
        ("alice", "bread"),
        ("bob", "cheese"),
        ("host", "Thanks."),
    ]
