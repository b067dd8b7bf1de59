"""Who answers from one terminal (hot seat), independent of any front-end."""

from __future__ import annotations

import asyncio

import pytest

from groupchat import GroupChat, HumanInputRequested, HumanParticipant, ScriptedAgent
from groupchat.testing import ChatProbe
from groupchat.tui.control import ControlError
from groupchat.tui.seats import Seats, addressed


def _team() -> tuple[GroupChat, HumanParticipant, HumanParticipant]:
    alice, bob = HumanParticipant("alice"), HumanParticipant("bob")
    return GroupChat([ScriptedAgent("host", ["hi"]), alice, bob], max_turns=3), alice, bob


def test_addressing_names_the_person_but_not_you() -> None:
    assert addressed("bob", "Who speaks next?") == "bob, who speaks next?"
    assert addressed("You", "Who speaks next?") == "Who speaks next?"


async def test_every_person_of_the_chat_is_here_and_one_is_seated() -> None:
    chat, alice, _bob = _team()
    seats = Seats(chat, alice)
    assert (seats.names, seats.me, seats.watching) == (["alice", "bob"], "alice", False)
    assert seats.here("bob") and not seats.here("host")
    assert seats.sit("@BOB") == "you are bob now; /as NAME switches again"
    assert seats.me == "bob"
    assert seats.who() == "you are bob; you also answer for alice when asked"
    with pytest.raises(ControlError, match=r"'host' is not one of the people here \(alice, bob\)"):
        seats.sit("host")
    await chat.add(HumanParticipant("carol"))  # someone who joins later is here too
    assert seats.names == ["alice", "bob", "carol"]


async def test_only_the_people_given_are_here() -> None:
    chat, alice, _bob = _team()
    seats = Seats(chat, people=[alice])
    assert (seats.names, seats.me) == (["alice"], "alice")
    with pytest.raises(ControlError, match="bob does not speak from this terminal"):
        seats.post("hello", "bob")
    with pytest.raises(ControlError, match="not one of the people here"):
        seats.sit("bob")


def test_a_terminal_with_nobody_seated_only_watches() -> None:
    chat, _alice, _bob = _team()
    seats = Seats(chat)
    assert seats.watching and seats.names == []
    with pytest.raises(ControlError, match="the people in this chat answer elsewhere"):
        seats.post("hello")
    alone = Seats(GroupChat([ScriptedAgent("host", ["hi"])]))
    with pytest.raises(ControlError, match="there is no person in this team"):
        alone.post("hello")


async def test_lines_go_to_whoever_is_asked_else_to_the_one_seated() -> None:
    chat, alice, bob = _team()
    seats = Seats(chat, alice)
    probe = ChatProbe.of(chat)
    runner = asyncio.create_task(chat.run("plan"))
    await probe.wait_for(HumanInputRequested, participant="alice")
    assert seats.asked() == "alice"
    assert seats.post("  ") == "alice"  # a blank line passes the open turn
    await probe.wait_for(HumanInputRequested, participant="bob")
    assert seats.post("as the seated one", "alice") == "alice"  # out of turn
    assert seats.post("", "alice") is None  # nothing to pass for alice
    assert seats.skip("bob") == "bob"
    result = await asyncio.wait_for(runner, 5)
    assert [(m.sender, m.content, m.kind) for m in result.messages if m.kind != "task"] == [
        ("host", "hi", "turn"),
        ("alice", "as the seated one", "interjection"),
    ]
    with pytest.raises(ControlError, match="there is no turn to pass"):
        seats.skip("alice")
    bob.channel.close()
    with pytest.raises(ControlError, match="bob has left this chat"):
        seats.post("hello", "bob")
    await chat.remove("alice")
    with pytest.raises(ControlError, match="alice is not in the chat"):
        seats.post("hello")
