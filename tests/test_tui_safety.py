"""Hostile text in the TUI: shown as text, never as markup or terminal control sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textual.widgets import Markdown
from tui_support import fixed_clock, screen_text, until, until_shown

from groupchat import GroupChat, HumanParticipant, MaxMessages, RoundRobinPolicy, ScriptedAgent
from groupchat.events import (
    ChatStarted,
    Event,
    MessagePosted,
    ParticipantInfo,
    SpeakerSelected,
    TextDelta,
    TurnStarted,
)
from groupchat.messages import Message
from groupchat.tui.live import LiveChatApp
from groupchat.tui.model import MessageEntry
from groupchat.tui.replay_app import ReplayApp
from groupchat.tui.widgets.message import MAX_SHOWN, MessageView

SIZE = (120, 50)

MARKUP = "[bold red]not red[/] [@click=app.quit]quit[/] [link=https://evil.example]x[/link]"
ANSI = "\x1b[31mred\x1b[0m \x1b[2J cleared? \x9b31m"
OSC8 = "\x1b]8;;https://evil.example\x07click me\x1b]8;;\x07 \x1b]0;title\x07"
BIDI = "abc\u202edef\u2066"
LONG_LINE = "A" * 100_000
ONE_MB = "word " * 210_000

CONTROL = {chr(c) for c in range(0x20) if c not in (0x0A,)} | {chr(c) for c in range(0x7F, 0xA0)}


def _no_control_sequences(app: LiveChatApp | ReplayApp) -> None:
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            assert not CONTROL & set(segment.text), repr(segment.text[:80])


async def test_hostile_agent_text_is_shown_literally() -> None:
    you = HumanParticipant("you")
    hostile = f"{MARKUP}\n\n{ANSI}\n\n{OSC8} {BIDI}"
    agent = ScriptedAgent("agent", [hostile, "bye"], chunk=7)
    chat = GroupChat([agent, you], policy=RoundRobinPolicy(), termination=MaxMessages(3))
    app = LiveChatApp(chat, MARKUP, human=you, clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.my_request is not None, "your turn")
        await pilot.press(*"[b]me[/b] \\[x]", "enter")
        await until(pilot, lambda: app.result is not None, "the end")
        await until_shown(pilot)
        shown = screen_text(app)
        assert "[bold red]not red[/] [@click=app.quit]quit[/]" in shown
        assert "␛[31mred␛[0m ␛[2J cleared?" in shown
        assert "␛]8;;https://evil.example" in shown
        assert "[b]me[/b] [x]" in shown  # Markdown's own escape; never Rich markup
        _no_control_sequences(app)
        # Clicking where the text looks like an action does nothing.
        row = next(n for n, line in enumerate(shown.splitlines()) if "[@click=app.quit]" in line)
        column = shown.splitlines()[row].index("quit[/]")
        await pilot.click(offset=(column, row))
        await pilot.pause()
        assert app.is_running
        await app.action_quit()


def _events(messages: list[tuple[str, str]]) -> list[Event]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    names = sorted({name for name, _ in messages})
    events: list[Event] = [
        ChatStarted(
            chat_id="c",
            seq=0,
            time=start,
            sender="manager",
            task=MARKUP,
            participants=tuple(ParticipantInfo(name=n, description=ANSI) for n in names),
            policy="[b]policy[/b]",
            metadata={"team": "\x1b[5mteam[/]"},
        )
    ]
    for number, (name, text) in enumerate(messages, 1):
        time = start + timedelta(seconds=number)
        mid = f"m{number}"
        events.append(
            SpeakerSelected(
                chat_id="c",
                time=time,
                seq=len(events),
                sender="manager",
                speaker=name,
                candidates=tuple(names),
                reason=f"because {MARKUP} {ANSI}",
                policy="p",
                turn=number,
            )
        )
        events.append(
            TurnStarted(
                chat_id="c",
                time=time,
                seq=len(events),
                sender="manager",
                speaker=name,
                message_id=f"m{number}",
                turn=number,
            )
        )
        for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
            events.append(
                TextDelta(
                    chat_id="c",
                    time=time,
                    seq=len(events),
                    sender=name,
                    message_id=f"m{number}",
                    text=piece,
                )
            )
        message = Message(id=mid, sender=name, content=text)
        events.append(
            MessagePosted(chat_id="c", time=time, seq=len(events), sender=name, message=message)
        )
    return events


async def test_hostile_names_long_lines_and_a_1_mb_message_in_a_replay() -> None:
    evil = "[red]x[/red]\x1b[2J"
    events = _events(
        [(evil, MARKUP), ("long", LONG_LINE), ("big", ONE_MB), ("after", "still **here**")]
    )
    app = ReplayApp(events, speed=0, clock=fixed_clock, animate=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.finished, "the replay")
        await until_shown(pilot)
        shown = screen_text(app)
        _no_control_sequences(app)
        assert "[red]x[/red]␛[2J" in shown
        assert "still here" in shown
        big = next(v for v in app.query(MessageView) if v.entry.sender == "big")
        assert big.entry.length == len(ONE_MB)
        assert big.has_class("-cut")
        assert len(big.query_one(Markdown).source) <= MAX_SHOWN
        assert f"showing {MAX_SHOWN:,} of {len(ONE_MB):,} characters" in shown or big.region.y < 0
        long = next(
            e for e in app.model.entries if isinstance(e, MessageEntry) and e.sender == "long"
        )
        assert long.text == LONG_LINE
        # Still responsive: the command line opens and takes keys.
        await pilot.press("slash", *"help")
        assert app.command_line.editor.text == "/help"
