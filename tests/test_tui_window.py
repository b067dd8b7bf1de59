"""Long chats: only a window of message views is mounted; the rest comes back when scrolled to."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from tui_support import fixed_clock, long_chat_events, until, until_shown

from groupchat import GroupChat, HumanParticipant, RoundRobinPolicy, ScriptedAgent
from groupchat.tui.live import LiveChatApp
from groupchat.tui.model import MessageEntry
from groupchat.tui.replay_app import ReplayApp
from groupchat.tui.widgets.conversation import WINDOW
from groupchat.tui.widgets.message import MessageView, NoteView

SIZE = (120, 40)


def _mounted(app: ReplayApp | LiveChatApp) -> int:
    return len(app.query(MessageView)) + len(app.query(NoteView))


async def test_a_10000_message_chat_mounts_only_a_window() -> None:
    events = long_chat_events(10_000)
    app = ReplayApp(events, speed=0, clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.finished, "the whole chat")
        await until_shown(pilot)
        conversation = app.conversation
        total = len(app.model.entries)
        assert app.model.messages == 10_000 and total > 20_000
        assert _mounted(app) == len(conversation.views) <= WINDOW
        assert conversation.mounted_range.stop == total
        assert conversation.following

        # Scrolling to the top of the window brings the entries before it back.
        first = conversation.mounted_range.start
        conversation.scroll_home(animate=False)
        await until(pilot, lambda: conversation.mounted_range.start < first, "older entries")
        await until_shown(pilot)
        assert _mounted(app) <= WINDOW and not conversation.following

        # Home shows the very first entries; the chat's start is still all there.
        conversation.focus()
        await pilot.press("home")
        await until(pilot, lambda: conversation.mounted_range.start == 0, "the first entries")
        await until_shown(pilot)
        assert _mounted(app) <= WINDOW
        texts = [v.entry.text for v in conversation.views if isinstance(v, MessageView)]
        assert texts[0].startswith("Message **1** from")

        # Scrolling down past the window's end brings the entries after it.
        stop = conversation.mounted_range.stop
        conversation.scroll_end(animate=False)
        await until(pilot, lambda: conversation.mounted_range.stop > stop, "newer entries")
        await until_shown(pilot)
        assert _mounted(app) <= WINDOW

        # End goes back to the latest entries and follows again.
        await pilot.press("end")
        await until(pilot, lambda: conversation.mounted_range.stop == total, "the latest entries")
        await until(pilot, lambda: conversation.following, "following again")
        assert _mounted(app) <= WINDOW


def _mine(app: LiveChatApp) -> int:
    return sum(1 for e in app.model.entries if isinstance(e, MessageEntry) and e.sender == "you")


async def _answer(pilot: Pilot[Any], app: LiveChatApp, times: int) -> None:
    """Answer ``times`` turns, each time as soon as the chat asks."""
    human = app.human
    assert human is not None
    for _ in range(times):
        said = _mine(app)
        await until(pilot, lambda: app.model.my_request is not None, "your turn")
        human.send("x")

        def sent(before: int = said) -> bool:
            return _mine(app) > before

        await until(pilot, sent, "your message")


async def test_a_live_chat_keeps_a_window_and_counts_what_arrives_below() -> None:
    you = HumanParticipant("you")
    talker = ScriptedAgent("talker", [f"Line {n}" for n in range(1, 200)], when_done="cycle")
    chat = GroupChat([talker, you], policy=RoundRobinPolicy(), max_turns=400)
    app = LiveChatApp(chat, "talk", human=you, clock=fixed_clock, animate=False, window=40)
    async with app.run_test(size=SIZE) as pilot:
        await _answer(pilot, app, 15)
        await until_shown(pilot)
        conversation = app.conversation
        assert _mounted(app) <= 40
        assert conversation.mounted_range.stop == len(app.model.entries)
        assert conversation.following
        # Scrolled up, new messages are not mounted past the window; they are counted.
        conversation.scroll_home(animate=False)
        await until(pilot, lambda: not conversation.following, "scrolled up")
        await until_shown(pilot)
        # At rest the window stays put: putting the view back after a batch was mounted above
        # is not the reader scrolling down (it used to load the batch after, then before, ...).
        window = conversation.mounted_range
        for _ in range(5):
            await pilot.pause()
            await until_shown(pilot)
            assert conversation.mounted_range == window
        before = len(app.model.entries)
        await _answer(pilot, app, 8)
        await until_shown(pilot)
        assert len(app.model.entries) > before
        assert _mounted(app) <= 40
        assert conversation.mounted_range.stop < len(app.model.entries)
        assert conversation.unseen > 0
        # Sending a message goes back to the end, to follow what comes.
        await until(pilot, lambda: app.model.my_request is not None, "your turn")
        await pilot.press("z", "enter")
        await until(pilot, lambda: conversation.following, "following again")
        await until_shown(pilot)
        assert conversation.mounted_range.stop == len(app.model.entries)
        await app.action_quit()


async def test_scrolled_up_the_status_says_what_arrived_and_end_in_the_input_follows() -> None:
    """Scrolled up while messages arrive, the status line shows "↓ N new messages (End)"; End
    pressed in the empty input goes back to the latest and follows the chat again."""
    from groupchat.tui.widgets.composer import ComposerBox

    you = HumanParticipant("you")
    talker = ScriptedAgent("talker", [f"Line {n}" for n in range(1, 200)], when_done="cycle")
    chat = GroupChat([talker, you], policy=RoundRobinPolicy(), max_turns=400)
    app = LiveChatApp(chat, "talk", human=you, clock=fixed_clock, animate=False, window=40)
    async with app.run_test(size=SIZE) as pilot:
        await _answer(pilot, app, 15)
        await until_shown(pilot)
        conversation = app.conversation
        conversation.scroll_home(animate=False)
        await until(pilot, lambda: not conversation.following, "scrolled up")
        await _answer(pilot, app, 3)
        await until_shown(pilot)
        status = app.status_bar
        await until(pilot, lambda: status.below >= 6, "the count below")  # 3 of each
        assert "new messages (End)" in str(status.query_one(".status-left").render())
        box = app.query_one(ComposerBox)
        box.editor.focus()
        assert box.editor.text == ""
        await pilot.press("end")
        await until(pilot, lambda: conversation.following, "following again")
        await until(pilot, lambda: status.below == 0, "the count gone")
        assert conversation.mounted_range.stop == len(app.model.entries)
        await app.action_quit()
