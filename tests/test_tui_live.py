"""The live TUI driven as a person would: answering, interjecting, interrupting, steering."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_support import GatedAgent, fixed_clock, noticed, until, until_shown

from groupchat import (
    GroupChat,
    HumanParticipant,
    ManualPolicy,
    MaxMessages,
    MentionPolicy,
    RoundRobinPolicy,
    ScriptedAgent,
    TextMention,
)
from groupchat.tui.live import LiveChatApp
from groupchat.tui.model import MessageEntry
from groupchat.tui.widgets.composer import ComposerBox
from groupchat.tui.widgets.message import MessageView
from groupchat.tui.widgets.sidebar import Sidebar

SIZE = (120, 40)


def _app(
    chat: GroupChat, human: HumanParticipant | None, task: str = "Plan the day"
) -> LiveChatApp:
    return LiveChatApp(chat, task, human=human, clock=fixed_clock, animate=False)


def _messages(app: LiveChatApp) -> list[MessageEntry]:
    return [e for e in app.model.entries if isinstance(e, MessageEntry)]


async def _type(pilot: object, app: LiveChatApp, text: str) -> None:
    editor = app.query_one(ComposerBox).editor
    editor.focus()
    editor.insert(text)
    await pilot.press("enter")  # type: ignore[attr-defined]


async def test_the_person_is_called_on_and_answers() -> None:
    you = HumanParticipant("you")
    critic = ScriptedAgent("critic", ["What do you think, @you?", "Thanks, @you."])
    chat = GroupChat(
        [critic, you],
        policy=MentionPolicy(fallback=RoundRobinPolicy()),
        termination=TextMention("Thanks"),
    )
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one(ComposerBox)
        await until(pilot, lambda: box.editor.has_class("-turn"), "the person's turn")
        assert box.editor.has_focus
        assert "your turn" in str(box.editor.border_title)
        assert app.model.members["you"].state == "your turn"
        await pilot.press(*"Trade judging for build time")
        await pilot.press("enter")
        await until(pilot, lambda: app.result is not None, "the chat to end")
        await until_shown(pilot)
        said = [(m.sender, m.text, m.kind) for m in _messages(app)]
        assert ("you", "Trade judging for build time", "turn") in said
        assert not box.editor.has_class("-turn")
        assert "chat ended" in str(box.editor.border_title)


async def test_interjecting_while_an_agent_streams() -> None:
    you = HumanParticipant("you")
    writer = GatedAgent("writer", ["Drafting ", "the plan"], [" and done."])
    chat = GroupChat([writer, you], policy=RoundRobinPolicy(), termination=MaxMessages(3))
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, writer.waiting.is_set, "the writer to be mid-message")
        await until(
            pilot,
            lambda: bool(_messages(app)) and "the plan" in _messages(app)[-1].text,
            "the draft to stream",
        )
        assert app.model.members["writer"].state == "speaking"
        await _type(pilot, app, "Keep it short!")
        await until(
            pilot,
            lambda: any(m.kind == "interjection" for m in _messages(app)),
            "the interjection",
        )
        writer.open()
        await until(
            pilot,
            lambda: bool(writer.turns) and not _messages(app)[1].streaming,
            "the writer to finish",
        )
        posted = [m for m in chat.messages if m.sender in ("writer", "you")]
        assert posted[0].kind == "interjection" and posted[0].content == "Keep it short!"
        assert posted[1].content == "Drafting the plan and done."
        await app.action_quit()


async def test_escape_interrupts_the_speaker_and_the_message_is_marked() -> None:
    you = HumanParticipant("you")
    writer = GatedAgent("writer", ["A long ", "answer"], ["never said"])
    chat = GroupChat([writer, you], policy=RoundRobinPolicy(), termination=MaxMessages(2))
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, writer.waiting.is_set, "the writer to be mid-message")
        await pilot.press("escape", "escape")  # the second press, at once, interrupts
        await until(
            pilot,
            lambda: any(m.interrupted for m in _messages(app)),
            "the interrupted message",
        )
        await until_shown(pilot)
        entry = next(m for m in _messages(app) if m.sender == "writer")
        assert entry.text == "A long answer" and entry.interrupted
        view = next(v for v in app.query(MessageView) if v.entry is entry)
        assert "interrupted" in str(view.query_one(".message-header").render())
        await app.action_quit()


async def test_the_person_picks_the_next_speaker_from_the_sidebar() -> None:
    you = HumanParticipant("you")
    first = GatedAgent("first", ["one"], [" more"])
    second = ScriptedAgent("second", ["two"])
    third = ScriptedAgent("third", ["three"])
    chat = GroupChat(
        [first, second, third, you], policy=RoundRobinPolicy(), termination=MaxMessages(3)
    )
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, first.waiting.is_set, "the first speaker")
        await until_shown(pilot)
        app.query_one(Sidebar).post_message(Sidebar.Picked("third"))
        await pilot.pause()
        first.open()
        await until(pilot, lambda: len(chat.messages) >= 3, "the next message")
        assert [m.sender for m in chat.messages][1:3] == ["first", "third"]
        await app.action_quit()


async def test_slash_next_and_ctrl_n_steer_and_unknown_commands_say_so() -> None:
    you = HumanParticipant("you")
    first = GatedAgent("first", ["one"], [" more"])
    chat = GroupChat(
        [first, ScriptedAgent("second", ["two"]), ScriptedAgent("third", ["three"]), you],
        policy=RoundRobinPolicy(),
        termination=MaxMessages(4),
    )
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, first.waiting.is_set, "the first speaker")
        await _type(pilot, app, "/frobnicate")
        await until(pilot, lambda: noticed(app, "unknown command /frobnicate"), "the notice")
        await _type(pilot, app, "/next @Third")
        await pilot.pause()
        first.open()
        await until(pilot, lambda: len(chat.messages) >= 3, "the steered speaker")
        assert chat.messages[2].sender == "third"
        await app.action_quit()


async def test_a_choice_of_speaker_asked_of_the_person_opens_a_dialog() -> None:
    you = HumanParticipant("you")
    chat = GroupChat(
        [ScriptedAgent("alice", ["hi"]), ScriptedAgent("bob", ["hello"]), you],
        policy=ManualPolicy(),
        max_turns=1,
    )
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        from groupchat.tui.screens import ChooseScreen

        await until(pilot, lambda: isinstance(app.screen, ChooseScreen), "the dialog")
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.result is not None, "the chat to end")
        assert [m.sender for m in chat.messages if m.kind == "turn"] == ["bob"]


async def test_a_steer_marks_its_pick_next_in_the_sidebar_at_once() -> None:
    """After Ctrl+N picks third while first speaks, the sidebar shows ▶ third before the
    manager gets to it (and the chat then goes to third)."""
    you = HumanParticipant("you")
    first = GatedAgent("first", ["one"], [" more"])
    chat = GroupChat(
        [first, ScriptedAgent("second", ["two"]), ScriptedAgent("third", ["three"]), you],
        policy=RoundRobinPolicy(),
        termination=MaxMessages(3),
    )
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, first.waiting.is_set, "the first speaker")
        await until_shown(pilot)
        await pilot.press("ctrl+n")
        from groupchat.tui.screens import ChooseScreen

        await until(pilot, lambda: isinstance(app.screen, ChooseScreen), "the dialog")
        await pilot.press("down", "down", "enter")  # first, second, third
        await until(pilot, lambda: app.model.next_speaker == "third", "the pick marked")
        sidebar = app.query_one(Sidebar)
        sidebar.sync()
        members = sidebar.query_one("#members")
        rows = [str(members.get_option_at_index(i).prompt) for i in range(4)]  # type: ignore[attr-defined]
        assert rows[2].startswith("▶ third") and not rows[1].startswith("▶")
        first.open()
        await until(pilot, lambda: len(chat.messages) >= 3, "the steered speaker")
        assert chat.messages[2].sender == "third"
        await app.action_quit()


async def test_a_click_on_a_name_answers_who_speaks_next() -> None:
    you = HumanParticipant("you")
    chat = GroupChat(
        [ScriptedAgent("alice", ["hi"]), ScriptedAgent("bob", ["hello"]), you],
        policy=ManualPolicy(),
        max_turns=1,
    )
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        from groupchat.tui.screens import ChooseScreen

        await until(pilot, lambda: isinstance(app.screen, ChooseScreen), "the dialog")
        app.query_one(Sidebar).post_message(Sidebar.Picked("bob"))
        await until(pilot, lambda: app.result is not None, "the chat to end")
        assert [m.sender for m in chat.messages if m.kind == "turn"] == ["bob"]
        assert not isinstance(app.screen, ChooseScreen)


async def test_pause_resume_stop_from_keys_and_commands() -> None:
    you = HumanParticipant("you")
    first = GatedAgent("first", ["one"], [" two"])
    chat = GroupChat([first, ScriptedAgent("other", ["x"]), you], policy=RoundRobinPolicy())
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, first.waiting.is_set, "the first speaker")
        await pilot.press("f2")
        await until(pilot, lambda: app.model.state == "paused", "paused")
        await _type(pilot, app, "/resume")
        await until(pilot, lambda: app.model.state == "running", "resumed")
        await _type(pilot, app, "/stop")
        await until(pilot, lambda: app.result is not None, "the chat to stop")
        assert app.result is not None and app.result.status == "stopped"
        assert app.model.state == "ended"


async def test_kick_and_invite_back() -> None:
    you = HumanParticipant("you")
    first = GatedAgent("first", ["one"], [" two"])
    chat = GroupChat([first, ScriptedAgent("other", ["x"], when_done="cycle"), you])
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, first.waiting.is_set, "the first speaker")
        await _type(pilot, app, "/kick other")
        await until(pilot, lambda: app.model.members["other"].left, "other to leave")
        assert "other" not in chat.participants
        await _type(pilot, app, "/kick you")
        await until(
            pilot,
            lambda: any("cannot remove yourself" in n.message for n in app._notifications),
            "the refusal",
        )
        await _type(pilot, app, "/invite other")
        await until(pilot, lambda: not app.model.members["other"].left, "other to come back")
        assert "other" in chat.participants
        await app.action_quit()


async def test_history_and_mention_completion_in_the_input() -> None:
    you = HumanParticipant("you")
    first = GatedAgent("first", ["one"], [" two"])
    chat = GroupChat([first, ScriptedAgent("critic", ["x"]), you])
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, first.waiting.is_set, "the first speaker")
        box = app.query_one(ComposerBox)
        await _type(pilot, app, "first line")
        await _type(pilot, app, "second line")
        await pilot.press("up")
        assert box.editor.text == "second line"
        await pilot.press("up")
        assert box.editor.text == "first line"
        await pilot.press("down", "down")
        assert box.editor.text == ""
        await pilot.press(*"ask @cr")
        await pilot.pause()
        assert [s.label for s in box.suggestions] == ["@critic"]
        await pilot.press("tab")
        assert box.editor.text == "ask @critic "
        await pilot.press("enter")
        await until(pilot, lambda: _messages(app)[-1].text == "ask @critic ", "the message")
        await pilot.press(*"/ne")
        await pilot.pause()
        assert [s.label for s in box.suggestions] == ["/next"]
        assert "/next NAME — make NAME the next speaker" in str(box.editor.border_subtitle)
        await pilot.press("tab", *"th")
        await pilot.pause()
        assert [s.text for s in box.suggestions] == ["third"] or box.editor.text == "/next th"
        await app.action_quit()


async def test_a_turn_with_a_time_limit_counts_down() -> None:
    you = HumanParticipant("you", timeout=30)
    chat = GroupChat([ScriptedAgent("critic", ["@you?"]), you], max_turns=2)
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one(ComposerBox)
        await until(pilot, lambda: "s left" in str(box.editor.border_title), "the countdown")
        left = int(str(box.editor.border_title).split(" · ")[1].split(" s")[0])
        assert 0 < left <= 30
        await until_shown(pilot)
        assert "your turn · " in str(app.status_bar.query_one(".status-right").render())
        await pilot.press("enter")  # an empty line passes
        await until(pilot, lambda: app.result is not None, "the end")
        assert not box.editor.has_class("-turn")


async def test_the_status_line_shows_tokens_and_cost_with_prices() -> None:
    from groupchat.agents import LLMAgent
    from groupchat.models.pricing import Price, PriceTable
    from groupchat.testing import ScriptedModel

    model = ScriptedModel(["A priced answer."])
    chat = GroupChat([LLMAgent("analyst", model)], max_turns=1)
    prices = PriceTable(prices={model.name: Price(input=1000.0, output=2000.0)})
    app = LiveChatApp(chat, "go", prices=prices, clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.result is not None, "the end")
        await until_shown(pilot)
        assert app.result is not None
        usage = app.result.usage
        assert usage.total_tokens > 0
        status = str(app.status_bar.query_one(".status-left").render())
        expected = (usage.input_tokens * 1000 + usage.output_tokens * 2000) / 1e6
        assert f"{usage.total_tokens:,} tokens" in status and f"${expected:.4f}" in status
        assert "watching" in str(app.composer.editor.border_title) or app.model.state == "ended"


async def test_typing_anywhere_goes_to_the_input() -> None:
    you = HumanParticipant("you")
    first = GatedAgent("first", ["one"], [" two"])
    chat = GroupChat([first, you], policy=RoundRobinPolicy(), max_turns=2)
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, first.waiting.is_set, "the first speaker")
        app.conversation.focus()
        await pilot.press("h", "i")
        editor = app.query_one(ComposerBox).editor
        assert editor.has_focus and editor.text == "hi"
        await pilot.press("f3")
        assert not app.sidebar.display
        await app.action_quit()


async def test_export_saves_every_event_of_the_chat(tmp_path: Path) -> None:
    from groupchat.bus import EventBus
    from groupchat.transcripts.jsonl import read_transcript

    you = HumanParticipant("you")
    chat = GroupChat(
        [ScriptedAgent("critic", ["Fine, @you?"], chunk="word"), you],
        max_turns=2,
        bus=EventBus(retain=None),
    )
    app = _app(chat, you)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.my_request is not None, "your turn")
        await pilot.press(*"Yes", "enter")
        await until(pilot, lambda: app.result is not None, "the end")
        target = tmp_path / "chat.jsonl"
        await _type(pilot, app, f"/export {target}")
        await until(pilot, lambda: noticed(app, "saved"), "the export")
        await _type(pilot, app, f"/export md {tmp_path / 'chat.md'}")
        await until(pilot, lambda: (tmp_path / "chat.md").exists(), "the Markdown export")
    assert read_transcript(target) == chat.events()
    assert "Fine, @you?" in (tmp_path / "chat.md").read_text()


def test_the_app_keeps_textuals_log_method() -> None:
    # Textual's ``log`` calls ``App._log`` once its devtools console is connected: the app's
    # own state must not take that name.
    you = HumanParticipant("you")
    app = _app(GroupChat([ScriptedAgent("a", ["hi"]), you]), you)
    assert callable(app._log)


async def test_the_countdown_of_a_persons_turn_stops_while_paused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Paused, the countdown shows what was left at the pause however long the pause lasts
    (the app's clock is moved five minutes on: no waiting), and goes on when resumed."""
    from datetime import datetime, timedelta

    import groupchat.tui.asked as asked

    you = HumanParticipant("you", timeout=600)
    chat = GroupChat([you, ScriptedAgent("bot", ["hi"])], max_turns=2)
    app = _app(chat, you, "go")
    async with app.run_test(size=SIZE) as pilot:
        title = lambda: str(app.query_one(ComposerBox).editor.border_title)  # noqa: E731
        await until(pilot, lambda: "s left" in title(), "your turn, timed")
        await pilot.press("f2")
        await until(pilot, lambda: app.model.state == "paused", "the pause")

        class Later(datetime):
            @classmethod
            def now(cls, tz: object = None) -> Later:  # type: ignore[override]
                return datetime.now(tz) + timedelta(minutes=5)  # type: ignore[arg-type,return-value]

        monkeypatch.setattr(asked, "datetime", Later)
        app._set_turn_title()
        assert any(f"{s} s left" in title() for s in (598, 599, 600)), title()
        await pilot.press("f2")
        await until(pilot, lambda: app.model.state == "running", "resumed")
        app._set_turn_title()  # five minutes have gone by since the resume, as this clock says
        assert any(f"{s} s left" in title() for s in (298, 299, 300)), title()
        await app.action_quit()
