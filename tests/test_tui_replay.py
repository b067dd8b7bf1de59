"""Replay in the TUI: the same view as live, and play/pause, step, back, seek, speed."""

from __future__ import annotations

import pytest
from tui_support import fixed_clock, noticed, until, until_shown

from groupchat import GroupChat, HumanParticipant, MentionPolicy, ScriptedAgent, TextMention
from groupchat.bus import EventBus
from groupchat.events import Event, MessagePosted
from groupchat.transcripts.replay import read_events, sample_path
from groupchat.tui.live import LiveChatApp
from groupchat.tui.model import ChatScreenState, MessageEntry
from groupchat.tui.replay_app import ReplayApp
from groupchat.tui.widgets.composer import ComposerBox
from groupchat.tui.widgets.replay_bar import Scrubber

SIZE = (120, 40)


def _sample() -> list[Event]:
    return read_events(sample_path("code-review"))


def _app(events: list[Event], **options: object) -> ReplayApp:
    return ReplayApp(events, clock=fixed_clock, animate=False, **options)


def _said(model: ChatScreenState) -> list[tuple[str, str, str, bool]]:
    return [
        (e.sender, e.kind, e.text, e.interrupted)
        for e in model.entries
        if isinstance(e, MessageEntry)
    ]


def _shown_messages(app: ReplayApp) -> int:
    return sum(1 for e in app.model.entries if isinstance(e, MessageEntry) and not e.streaming)


async def test_a_replay_plays_to_the_end_and_shows_every_message() -> None:
    events = _sample()
    app = _app(events, speed=0)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.finished, "the replay to finish")
        await until_shown(pilot)
        posted = [e.message for e in events if isinstance(e, MessagePosted)]
        assert [(s, t) for s, _, t, _ in _said(app.model)] == [
            (m.sender, m.content) for m in posted
        ]
        assert app.model.state == "ended"
        assert app.state.message == app.state.messages == len(posted)


async def test_step_back_seek_and_restart() -> None:
    events = _sample()
    app = _app(events, paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: _shown_messages(app) == 1, "the first message")
        await pilot.press("n")
        await until(pilot, lambda: _shown_messages(app) == 2, "the second message")
        await pilot.press("n")
        await until(pilot, lambda: _shown_messages(app) == 3, "the third message")
        await pilot.press("b")
        await until(pilot, lambda: _shown_messages(app) == 2, "one message back")
        assert app.replayer.paused
        await pilot.press("e")
        await until(pilot, lambda: app.finished, "the end")
        await until(pilot, lambda: _shown_messages(app) == app.state.messages, "every message")
        await pilot.press("r")
        await until(pilot, lambda: app.replayer.position == app.replayer.start, "the start")
        await until_shown(pilot)
        assert _shown_messages(app) == 0


async def test_play_pause_and_speed_keys() -> None:
    app = _app(_sample(), speed=1)
    async with app.run_test(size=SIZE) as pilot:
        assert app.state.playing
        await pilot.press("space")
        assert app.replayer.paused and not app.state.playing
        await pilot.press("plus")
        assert app.replayer.speed == 2
        await pilot.press("minus", "minus")
        assert app.replayer.speed == 0.5
        await pilot.press("space")
        assert not app.replayer.paused
        await until_shown(pilot)
        label = str(app.replay_bar.query_one(".replay-state").render())
        assert "playing" in label and "0.5×" in label


async def test_the_command_line_seeks_and_the_scrubber_too() -> None:
    events = _sample()
    app = _app(events, paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        box = app.query_one(ComposerBox)
        assert box.display and box.editor.has_focus and box.editor.text == "/"
        await pilot.press(*"seek 40", "enter")
        await until(pilot, lambda: app.replayer.position == 40, "event 40")
        assert not box.display
        await pilot.press("slash", *"bogus", "enter")
        await until(pilot, lambda: noticed(app, "unknown command /bogus"), "the error")
        await pilot.press("slash", *"seek 10", "enter")
        await until(pilot, lambda: app.replayer.position == 10, "back to event 10")
        await until_shown(pilot)
        assert app.model.last_seq == 9
        scrubber = app.query_one(Scrubber)
        await pilot.click(scrubber, offset=(scrubber.size.width - 1, 0))
        await until(pilot, lambda: app.finished, "the end, from the scrubber")


async def test_a_replay_shows_the_same_as_the_live_chat() -> None:
    bus = EventBus(retain=None)
    you = HumanParticipant("you")
    chat = GroupChat(
        [
            ScriptedAgent("planner", ["Hello **all**, @you?", "Done. END"], chunk="word"),
            ScriptedAgent("critic", ["Risky."]),
            you,
        ],
        policy=MentionPolicy(),
        termination=TextMention("END"),
        bus=bus,
    )
    live = LiveChatApp(chat, "Plan", human=you, clock=fixed_clock, animate=False)
    async with live.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: live.model.my_request is not None, "your turn")
        await pilot.press(*"Fine by me", "enter")
        await until(pilot, lambda: live.result is not None, "the live chat to end")
        await until_shown(pilot)
    events = chat.events()
    replay = _app(events, speed=0)
    async with replay.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: replay.finished, "the replay")
        await until_shown(pilot)
    assert _said(replay.model) == _said(live.model)
    assert [m.state for m in replay.model.members.values()] == [
        m.state for m in live.model.members.values()
    ]
    assert replay.model.usage == live.model.usage
    assert len(replay.model.entries) == len(live.model.entries)


async def test_an_event_the_views_cannot_show_is_reported_and_the_rest_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from groupchat.tui import model as model_module

    def broken(self: ChatScreenState, event: object) -> None:
        raise RuntimeError("no way to show this")

    monkeypatch.setitem(model_module._HANDLERS, "handoff", broken)
    monkeypatch.setitem(model_module._HANDLERS, "selector_attempt", broken)
    monkeypatch.setitem(model_module._HANDLERS, "speaker_selected", broken)
    events = _sample()
    app = _app(events, speed=0)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.finished, "the replay to finish")
        await until_shown(pilot)
        assert noticed(app, "could not show a speaker_selected event: no way to show this")
        assert app.model.messages == len([e for e in events if isinstance(e, MessagePosted)])


def test_tool_arguments_reach_the_view_as_plain_json_values() -> None:
    import json
    from datetime import UTC, datetime

    from groupchat.events import ToolCall
    from groupchat.messages import Message, ToolCallPart
    from groupchat.tui.widgets.message import ToolView

    arguments = {"paths": ["a.py"], "opts": {"force": False, "levels": [1, 2]}}
    stamp = {"chat_id": "c", "time": datetime(2024, 5, 1, tzinfo=UTC), "sender": "ada"}
    model = ChatScreenState()
    model.apply(
        ToolCall(seq=0, **stamp, message_id="m1", call_id="c1", name="tag", arguments=arguments)
    )
    part = ToolCallPart(call_id="c2", name="tag", arguments=arguments)
    message = Message(id="m2", sender="ada", content="done", parts=(part,))
    model.apply(MessagePosted(seq=1, **stamp, message=message))
    tools = [t for e in model.entries if isinstance(e, MessageEntry) for t in e.tools]
    assert [t.call_id for t in tools] == ["c1", "c2"]
    for entry in tools:
        assert type(entry.arguments) is dict and type(entry.arguments["opts"]) is dict
        assert entry.arguments == arguments
        assert json.loads(json.dumps(entry.arguments)) == arguments
        assert json.dumps(arguments, indent=2) in str(ToolView(entry)._body())


async def test_the_scrubber_and_a_message_s_menu_say_where_to_fork() -> None:
    from textual.widgets import OptionList, Static

    from groupchat.tui.message_menu import MessageMenu
    from groupchat.tui.widgets.message import MessageView

    events = _sample()
    posted = [e for e in events if isinstance(e, MessagePosted)]
    app = _app(events, paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *f"seek {posted[2].seq + 1}", "enter")
        await until(pilot, lambda: app.replayer.position == posted[2].seq + 1, "the seek")
        await until_shown(pilot)
        position = str(app.replay_bar.query_one(".replay-position", Static).render())
        assert f"message 3/{len(posted)}" in position
        assert f"fork --at {posted[2].seq}" in position
        third = [v for v in app.query(MessageView) if v.entry.seq == posted[2].seq]
        assert third, "the third message is shown"
        await pilot.click(third[0], offset=(2, 0))
        await until(pilot, lambda: isinstance(app.screen, MessageMenu), "the message's menu")
        menu = app.screen
        title = str(menu.query_one(".dialog-title", Static).render())
        assert f"message #3 · seq {posted[2].seq}" in title
        chat_id = events[0].chat_id
        assert menu.commands == [
            f"groupchat fork {chat_id} --message 3",
            f"groupchat fork {chat_id} --at {posted[2].seq}",
        ]
        assert menu.query_one(OptionList).has_focus
        await pilot.press("enter")  # the first: copy the --message command
        await until(pilot, lambda: not isinstance(app.screen, MessageMenu), "the menu to close")
        assert app.clipboard == f"groupchat fork {chat_id} --message 3"
        assert noticed(app, "copied: groupchat fork")
