"""``groupchat join`` in the full-screen app, against a chat shared in this process: the chat so
far and live, bob's turn answered from here, commands, leaving, and a connection that goes."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from textual.pilot import Pilot
from tui_support import fixed_clock, noticed, screen_text, until, until_shown

from groupchat import (
    GroupChat,
    HumanInputRequested,
    HumanParticipant,
    MentionPolicy,
    ScriptedAgent,
)
from groupchat.events import ControlRequested, Event, MessagePosted, SeatClaimed
from groupchat.testing import ChatProbe
from groupchat.tui.claims import Claims
from groupchat.tui.screens import HelpScreen
from groupchat.tui.seats import Seats
from groupchat.tui.share.client import Incoming
from groupchat.tui.share.join import open_seat
from groupchat.tui.share.join_app import JoinChatApp
from groupchat.tui.share.protocol import Bye, Hello, Ok, Send
from groupchat.tui.share.server import FELL_BEHIND, ShareServer
from groupchat.tui.widgets.composer import ComposerBox

SIZE = (120, 36)


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short private folder for sockets (a socket path must fit in 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="gc-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _team() -> tuple[GroupChat, Seats]:
    """host asks bob, bob answers (@host), host thanks him; ada is the first terminal's."""
    ada, bob = HumanParticipant("ada"), HumanParticipant("bob")
    host = ScriptedAgent("host", ["Bob, what do you think? @bob", "Thanks, bob."])
    chat = GroupChat([host, bob, ada], policy=MentionPolicy(), max_turns=3)
    return chat, Seats(chat, ada, claims=Claims())


def _app(client: Any, name: str) -> JoinChatApp:
    return JoinChatApp(client, name, clock=fixed_clock, animate=False)


def _title(app: JoinChatApp) -> str:
    return str(app.query_one(ComposerBox).editor.border_title)


def _notices(app: JoinChatApp) -> list[str]:
    return [notification.message for notification in app._notifications]


async def _type(pilot: Pilot[None], app: JoinChatApp, text: str) -> None:
    editor = app.query_one(ComposerBox).editor
    editor.focus()
    editor.insert(text)
    await pilot.press("enter")


async def _bob_asked(chat: GroupChat) -> asyncio.Task[Any]:
    """Run ``chat`` until bob is asked (host has spoken: the joiner's history)."""
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("Plan the picnic"))
    await probe.wait_for(HumanInputRequested, participant="bob")
    return run


async def test_the_chat_so_far_and_live_and_bob_speaks_from_here(folder: Path) -> None:
    chat, seats = _team()
    async with ShareServer(chat, seats.claims, folder=folder):
        run = await _bob_asked(chat)
        client, name = await open_seat(chat.chat_id[:6], "bob", folder=folder)
        app = _app(client, name)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "bob, your turn" in _title(app), "bob's turn")
            assert "Enter sends as bob" in _title(app)
            await until_shown(pilot)
            assert "Bob, what do you think?" in screen_text(app)  # from before joining
            await _type(pilot, app, "Sounds good to me, @host.")
            await until(pilot, lambda: app.model.state == "ended", "the end of the chat")
            await until_shown(pilot)
            shown = screen_text(app)
            assert "Sounds good to me, @host." in shown and "Thanks, bob." in shown  # live
            assert "chat ended" in _title(app)
        await run
        await client.close()
    said = [(m.sender, m.content) for m in chat.messages if m.kind == "turn"]
    assert said == [
        ("host", "Bob, what do you think? @bob"),
        ("bob", "Sounds good to me, @host."),
        ("host", "Thanks, bob."),
    ]
    assert app.exit_status == 0 and app.lost is None


async def test_a_command_reaches_the_chat_and_leaving_gives_bob_back(folder: Path) -> None:
    chat, seats = _team()
    claims = seats.claims
    async with ShareServer(chat, claims, folder=folder):
        run = await _bob_asked(chat)
        client, name = await open_seat(chat.chat_id, folder=folder)  # not ada: she is at home
        assert name == "bob" and not seats.here("bob")
        back = asyncio.Event()
        claims.listen(lambda who, holder: back.set() if holder is None else None)
        app = _app(client, name)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "bob, your turn" in _title(app), "bob's turn")
            await _type(pilot, app, "/pause")
            await until(pilot, lambda: app.model.state == "paused", "the pause to come back")
            assert chat.paused
            await until(pilot, lambda: noticed(app, "paused"), "the reply")
            await pilot.press("ctrl+q")
        await back.wait()
        assert seats.here("bob") and seats.waiting("bob")  # answered from the first terminal
        posted = asyncio.create_task(ChatProbe.of(chat).wait_for(MessagePosted, sender="bob"))
        assert seats.post("bob, from the first terminal") == "bob"
        await posted
        await chat.stop()
        await run
    assert app.exit_status == 0
    assert [m.content for m in chat.messages if m.sender == "bob"] == [
        "bob, from the first terminal"
    ]


async def test_a_lost_connection_is_shown_and_the_app_stays_read_only(folder: Path) -> None:
    chat, seats = _team()
    server = ShareServer(chat, seats.claims, folder=folder, grace=0)
    await server.start()
    run = await _bob_asked(chat)
    client, name = await open_seat(chat.chat_id, "bob", folder=folder)
    app = _app(client, name)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "bob, your turn" in _title(app), "bob's turn")
        await server.close()  # as if the chat's process went away
        await until(pilot, lambda: app.lost is not None, "the connection to go")
        await until_shown(pilot)
        shown = screen_text(app)
        assert "✕ disconnected" in shown
        assert "the connection to the chat was lost — this screen is read-only" in shown
        assert "disconnected — read-only" in _title(app)
        assert app.model.my_request is None  # nobody can answer from here now
        await _type(pilot, app, "anyone there?")
        await until(pilot, lambda: noticed(app, "nothing can be sent from here"), "the refusal")
    assert app.exit_status == 1
    await client.close()
    await chat.stop()
    await run
    assert not any(m.sender == "bob" for m in chat.messages)


async def test_as_takes_another_persons_seat_and_gives_the_old_one_back(folder: Path) -> None:
    """``/as ada`` from the terminal joined as bob: ada answers from here now (the claim is
    recorded as her ``seat_claimed``), bob's open turn goes back to the chat's own terminal,
    and what is typed next is posted as ada."""
    chat, seats = _team()
    async with ShareServer(chat, seats.claims, folder=folder):
        run = await _bob_asked(chat)
        client, name = await open_seat(chat.chat_id, "bob", folder=folder)
        app = _app(client, name)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "bob, your turn" in _title(app), "bob's turn")
            await _type(pilot, app, "/as host")
            await until(pilot, lambda: noticed(app, "is not a person"), "the refusal")
            assert app.person == "bob" and seats.claims.holder("bob") is not None
            await _type(pilot, app, "/as ADA")
            await until(pilot, lambda: app.person == "ada", "the switch")
            assert noticed(app, "you are ada")
            assert app.model.my_request is None  # bob's turn is not answered from here now
            await until(pilot, lambda: "message as ada" in _title(app), "the idle title")
            assert seats.claims.names == ["ada"]
            assert seats.here("bob") and seats.waiting("bob")  # the first terminal has him
            await _type(pilot, app, "/as")
            await until(pilot, lambda: _notices(app).count("you are ada") == 2, "who you are")
            posted = asyncio.create_task(ChatProbe.of(chat).wait_for(MessagePosted, sender="ada"))
            await _type(pilot, app, "ada here, from the other terminal")
            await posted
            await pilot.press("ctrl+q")
        await chat.stop()
        await run
    seats_taken = [(e.type, e.sender) for e in chat.events() if e.type.startswith("seat_")]
    assert seats_taken[:3] == [
        ("seat_claimed", "bob"),
        ("seat_released", "bob"),
        ("seat_claimed", "ada"),
    ]
    assert [m.content for m in chat.messages if m.sender == "ada"] == [
        "ada here, from the other terminal"
    ]


async def test_kick_and_invite_from_the_joined_terminal(folder: Path) -> None:
    """``/kick`` and ``/invite`` act on the chat as at its own terminal, as the joiner (the
    ``control`` event's sender), and ``/invite`` alone says who can come back."""
    chat, seats = _team()
    async with ShareServer(chat, seats.claims, folder=folder):
        run = await _bob_asked(chat)
        client, name = await open_seat(chat.chat_id, "bob", folder=folder)
        app = _app(client, name)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "bob, your turn" in _title(app), "bob's turn")
            await _type(pilot, app, "/kick bob")
            await until(pilot, lambda: noticed(app, "you cannot remove yourself"), "the refusal")
            await _type(pilot, app, "/invite")
            await until(pilot, lambda: noticed(app, "nobody has left"), "nobody to invite")
            await _type(pilot, app, "/kick @Host")
            await until(pilot, lambda: "host" not in app.model.names(), "host to leave")
            assert "host" not in chat.participants
            assert noticed(app, "host was removed; /invite host brings them back")
            await _type(pilot, app, "/invite")
            await until(pilot, lambda: noticed(app, "can come back: host"), "who can come back")
            await _type(pilot, app, "/invite host")
            await until(pilot, lambda: "host" in app.model.names(), "host to come back")
            assert "host" in chat.participants and noticed(app, "host is back in the chat")
            await pilot.press("ctrl+q")
        await chat.stop()
        await run
    asked = [
        (e.sender, e.command, e.name) for e in chat.events() if isinstance(e, ControlRequested)
    ]
    assert ("bob", "kick", "host") in asked and ("bob", "invite", "host") in asked


async def test_the_joined_terminal_offers_as_kick_and_invite() -> None:
    """In the help, in the completion of ``/`` (with the people for ``/as``) and the palette."""
    events = await _events_until_bob_is_asked()
    app = _app(ScriptedConnection(events), "bob")
    async with app.run_test(size=(120, 60)) as pilot:  # the help fits, all of it
        box = app.query_one(ComposerBox)
        box.editor.focus()
        box.editor.insert("/")
        await until(pilot, lambda: bool(box.suggestions), "the commands")
        labels = [s.label for s in box.suggestions]
        assert {"/as", "/kick", "/invite"} <= set(labels)
        box.editor.clear()
        box.editor.insert("/as ")
        people = ["bob", "ada"]
        await until(pilot, lambda: [s.label for s in box.suggestions] == people, "the people")
        titles = [title for title, _help, _do in app.palette_commands()]
        assert "Speak as ada" in titles and "Remove host" in titles
        assert "Speak as bob" not in titles and "Remove bob" not in titles
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        await until_shown(pilot)
        shown = screen_text(app)
        assert "/as [PERSON]" in shown and "/kick NAME" in shown and "/invite [NAME]" in shown


class ScriptedConnection:
    """A joined chat that sends ``events``, then ``end`` (``None``: stays open, sends nothing)."""

    def __init__(self, events: Sequence[Event], end: Bye | None = None) -> None:
        self.hello = Hello(chat_id=events[0].chat_id, humans=["bob", "ada"])
        self.events = events
        self.end = end
        self.sent: list[Send] = []

    async def incoming(self) -> AsyncIterator[Incoming]:
        for event in self.events:
            yield event
        if self.end is None:
            await asyncio.Event().wait()
        else:
            yield self.end

    async def request(self, message: Send) -> Ok:
        self.sent.append(message)
        return Ok(id=message.id, text="ok")

    async def close(self) -> None:
        pass


async def _events_until_bob_is_asked() -> list[Event]:
    chat, _seats = _team()
    run = await _bob_asked(chat)
    events = chat.events()
    await chat.stop()
    await run
    return events


async def test_falling_behind_is_said_like_a_lost_connection() -> None:
    events = await _events_until_bob_is_asked()
    app = _app(ScriptedConnection(events[3:], Bye(reason=FELL_BEHIND)), "bob")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.lost is not None, "the goodbye")
        await until_shown(pilot)
        shown = screen_text(app)
        assert "the chat's first 3 events are not here" in shown  # neither on the bus nor stored
        assert "Bob, what do you think?" in shown
        assert FELL_BEHIND in shown
    assert app.lost == FELL_BEHIND and app.exit_status == 1


async def test_a_seat_note_names_the_person_once() -> None:
    events = await _events_until_bob_is_asked()
    last = events[-1]
    seat = SeatClaimed(
        chat_id=last.chat_id,
        seq=last.seq + 1,
        time=last.time,
        sender="bob",
        holder="joined terminal 2",
    )
    app = _app(ScriptedConnection([*events, seat]), "bob")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model.entries[-1].kind == "seat", "the seat note")
        await until_shown(pilot)
        shown = screen_text(app)
    assert "bob answers from joined terminal 2" in shown
    assert "bobbob" not in shown


def test_snapshot_joined_as_bob_on_his_turn(snap_compare: Any) -> None:
    """Joined as bob: the title says ``groupchat join``; host's question in the conversation;
    the sidebar lists host, bob (you) on his turn and ada (a person); the input is highlighted
    and titled "bob, your turn — Enter sends as bob"; the status line shows "⌛ bob, your turn"."""
    events = asyncio.run(_events_until_bob_is_asked())
    app = _app(ScriptedConnection(events), "bob")

    async def bobs_turn(pilot: Pilot[None]) -> None:
        joined = cast(JoinChatApp, pilot.app)
        await until(pilot, lambda: joined.model.my_request is not None, "bob's turn")
        await until_shown(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=bobs_turn)


def test_the_join_app_keeps_textuals_log_method() -> None:
    # Textual's ``log`` calls ``App._log`` once its devtools console is connected: the app's
    # own state must not take that name.
    class Joined:
        hello = Hello(chat_id="c", humans=["bob"])

    assert callable(_app(Joined(), "bob")._log)
