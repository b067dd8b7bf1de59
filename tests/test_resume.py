"""Resuming a stored chat continues exactly where it stopped, for every policy."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest

from groupchat import (
    EventBus,
    GroupChat,
    HumanInputRequested,
    HumanParticipant,
    ManualPolicy,
    MentionPolicy,
    RandomPolicy,
    RoundRobinPolicy,
    ScriptedAgent,
    SelectionPolicy,
    TransitionGraphPolicy,
    exclude_last_speaker,
)
from groupchat.events import (
    ChatStarted,
    Event,
    MessagePosted,
    SpeakerSelected,
    TextDelta,
    TurnStarted,
)
from groupchat.messages import Usage
from groupchat.participant import ChatView
from groupchat.policies import FunctionPolicy
from groupchat.testing import ChatProbe

CHAT = "resume-test"


def team() -> list[ScriptedAgent]:
    return [
        ScriptedAgent(
            "ana",
            [f"ana {i} @cleo" if i % 3 == 0 else f"ana {i}" for i in range(12)],
            report_usage=True,
        ),
        ScriptedAgent("ben", [f"ben {i} @ana" if i % 2 else f"ben {i}" for i in range(12)]),
        ScriptedAgent("cleo", [f"cleo {i}" for i in range(12)], report_usage=True),
    ]


def by_turn(view: ChatView, candidates: Sequence[str]) -> str:
    return candidates[(view.turn * 7) % len(candidates)]


POLICIES: dict[str, Callable[[], SelectionPolicy]] = {
    "round_robin": RoundRobinPolicy,
    "random": lambda: RandomPolicy(11),
    "random_no_repeat": lambda: RandomPolicy(3, allow_repeat=False),
    "mention": MentionPolicy,
    "graph": lambda: TransitionGraphPolicy(
        {"ana": ["ben", "cleo"], "ben": ["cleo", "ana"], "cleo": ["ana"]}, then=RandomPolicy(5)
    ),
    "function": lambda: FunctionPolicy(by_turn),
    "exclude_last": lambda: exclude_last_speaker(RandomPolicy(9)),
}


def summary(events: Sequence[Event]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for event in events:
        if isinstance(event, SpeakerSelected):
            out.append(("selected", event.speaker))
        elif isinstance(event, MessagePosted):
            out.append((event.message.sender, event.message.content))
    return out


async def run_whole(policy: Callable[[], SelectionPolicy], turns: int) -> list[Event]:
    chat = GroupChat(
        team(), policy=policy(), max_turns=turns, chat_id=CHAT, bus=EventBus(retain=None)
    )
    await chat.run("task")
    return chat.events()


@pytest.mark.parametrize("name", list(POLICIES))
async def test_resume_continues_as_if_never_stopped(name: str) -> None:
    policy = POLICIES[name]
    reference = await run_whole(policy, 9)

    first = await run_whole(policy, 4)
    resumed = GroupChat(
        team(), policy=policy(), max_turns=5, chat_id=CHAT, bus=EventBus(retain=None)
    )
    resumed.load(first)
    result = await resumed.run()

    assert summary(first) + summary(resumed.events()) == summary(reference)
    # Numbering continues: seq from the stored chat, message ids without reuse.
    assert resumed.events()[0].seq == first[-1].seq + 1
    ids = [m.id for m in result.messages]
    assert len(ids) == len(set(ids))
    # Token totals include what was used before the stop.
    whole = reference[-1]
    assert result.usage == whole.usage  # type: ignore[attr-defined]
    assert result.usage_by == whole.usage_by  # type: ignore[attr-defined]


async def test_a_turn_cut_off_mid_stream_is_given_again_first() -> None:
    chat = GroupChat(team(), chat_id=CHAT, bus=EventBus(retain=None), max_turns=3)
    await chat.run("task")
    events = chat.events()
    # Cut the log just after the 3rd turn started and streamed a piece: as if the process died.
    third = next(e for e in events if isinstance(e, TurnStarted) and e.turn == 3)
    cut = [e for e in events if e.seq <= third.seq]
    cut.append(
        TextDelta(
            chat_id=CHAT,
            seq=third.seq + 1,
            time=third.time,
            sender=third.speaker,
            message_id=third.message_id,
            text="half a sen",
        )
    )
    resumed = GroupChat(team(), chat_id=CHAT, bus=EventBus(retain=None), max_turns=2)
    resumed.load(cut)
    await resumed.run()
    selected = [e for e in resumed.events() if isinstance(e, SpeakerSelected)]
    assert selected[0].speaker == third.speaker
    assert selected[0].reason == f"resumed: {third.speaker}'s turn had not finished"
    assert selected[0].policy == "steer"
    assert selected[1].speaker != third.speaker  # round robin goes on after the redone turn
    started = [e for e in resumed.events() if isinstance(e, TurnStarted)]
    assert started[0].turn == 4 and started[0].message_id != third.message_id


async def test_a_pending_human_turn_is_asked_again() -> None:
    you = HumanParticipant("you")
    chat = GroupChat(
        [ScriptedAgent("bot", ["hi", "bye"]), you], chat_id=CHAT, bus=EventBus(retain=None)
    )
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("task"))
    asked_before = await probe.wait_for(HumanInputRequested, participant="you")
    run.cancel()  # Ctrl+C while the person is being asked
    with pytest.raises(asyncio.CancelledError):
        await run
    events = chat.events()
    assert events[-1].type == "chat_ended" and events[-2].type == "turn_skipped"
    assert events[-2].reason == "cancelled"  # type: ignore[union-attr]
    killed = [e for e in events if e.seq <= asked_before.seq]  # as if the process was killed

    for stored in (events, killed):
        you2 = HumanParticipant("you")
        resumed = GroupChat(
            [ScriptedAgent("bot", ["hi", "bye"]), you2],
            chat_id=CHAT,
            bus=EventBus(retain=None),
            max_turns=2,
        )
        resumed.load(stored)
        probe2 = ChatProbe.of(resumed)
        run2 = asyncio.create_task(resumed.run())
        selected = await probe2.wait_for(SpeakerSelected)
        assert selected.speaker == "you" and selected.reason.startswith("resumed:")
        await probe2.wait_for(HumanInputRequested, participant="you")
        you2.send("here again")
        result = await run2
        assert [(m.sender, m.content) for m in result.messages if m.kind == "turn"] == [
            ("bot", "hi"),
            ("you", "here again"),
            ("bot", "bye"),
        ]


async def test_manual_choice_pending_is_asked_again() -> None:
    you = HumanParticipant("you")
    chat = GroupChat(
        [ScriptedAgent("bot", ["one", "two"]), you],
        policy=ManualPolicy(),
        chat_id=CHAT,
        bus=EventBus(retain=None),
    )
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("task"))
    await probe.wait_for(HumanInputRequested, request="select_speaker")
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    events = [e for e in chat.events() if e.type != "chat_ended"]

    you2 = HumanParticipant("you")
    resumed = GroupChat(
        [ScriptedAgent("bot", ["one", "two"]), you2],
        policy=ManualPolicy(),
        chat_id=CHAT,
        bus=EventBus(retain=None),
        max_turns=1,
    )
    resumed.load(events)
    probe2 = ChatProbe.of(resumed)
    run2 = asyncio.create_task(resumed.run())
    await probe2.wait_for(HumanInputRequested, request="select_speaker")
    you2.send("bot")
    result = await run2
    assert [m.content for m in result.messages if m.kind == "turn"] == ["one"]


async def test_an_ended_chat_continues_with_a_new_task() -> None:
    chat = GroupChat(team(), chat_id=CHAT, bus=EventBus(retain=None), max_turns=2)
    await chat.run("first task")
    resumed = GroupChat(team(), chat_id=CHAT, bus=EventBus(retain=None), max_turns=1)
    resumed.load(chat.events())
    result = await resumed.run("second task")
    assert [m.content for m in result.messages] == [
        "first task",
        "ana 0 @cleo",
        "ben 0",
        "second task",
        "cleo 0",
    ]
    assert resumed.view.task == "first task"
    assert not any(isinstance(e, ChatStarted) for e in resumed.events())


async def test_participants_who_left_stay_gone() -> None:
    chat = GroupChat(team(), chat_id=CHAT, bus=EventBus(retain=None), max_turns=1)
    await chat.run("task")
    await chat.remove("ben", reason="done")  # between runs: announced when the next run starts
    await chat.run()
    assert [e.type for e in chat.events()].count("participant_left") == 1
    resumed = GroupChat(team(), chat_id=CHAT, bus=EventBus(retain=None), max_turns=2)
    resumed.load(chat.events())
    result = await resumed.run()
    assert "ben" not in resumed.participants
    assert [m.sender for m in result.messages if m.kind == "turn"] == ["ana", "cleo", "ana", "cleo"]


def test_load_refuses_what_is_not_a_whole_chat() -> None:
    chat = GroupChat(team(), chat_id=CHAT)
    with pytest.raises(ValueError, match="chat_started"):
        chat.load([])


async def test_load_refuses_another_chats_events_and_gaps() -> None:
    source = GroupChat(team(), chat_id="other", bus=EventBus(retain=None), max_turns=1)
    await source.run("task")
    with pytest.raises(ValueError, match="belongs to chat other"):
        GroupChat(team(), chat_id=CHAT).load(source.events())
    same = GroupChat(team(), chat_id="other")
    with pytest.raises(ValueError, match="not a whole chat"):
        same.load([source.events()[0], *source.events()[2:]])


async def test_load_after_running_is_refused() -> None:
    chat = GroupChat(team(), max_turns=1)
    await chat.run("task")
    with pytest.raises(RuntimeError, match="has not run"):
        chat.load(chat.events())


def test_usage_type_is_the_one_of_messages() -> None:
    assert Usage(input_tokens=1) + Usage(output_tokens=2) == Usage(input_tokens=1, output_tokens=2)


async def test_a_person_asked_when_the_chat_was_stopped_is_asked_again() -> None:
    """Quitting the app stops the chat (``chat.stop``) while the person is asked: their turn
    was not passed, and a resumed chat asks them again, as after Ctrl+C or a kill."""
    you = HumanParticipant("you")
    chat = GroupChat(
        [ScriptedAgent("bot", ["hi", "bye"]), you], chat_id=CHAT, bus=EventBus(retain=None)
    )
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("task"))
    await probe.wait_for(HumanInputRequested, participant="you")
    await chat.stop("stopped", by="you")  # what Ctrl+Q and /stop do
    result = await asyncio.wait_for(run, 5)
    assert result.status == "stopped"
    events = chat.events()
    skipped = [e for e in events if e.type == "turn_skipped"]
    assert [e.reason for e in skipped] == ["cancelled"]  # type: ignore[union-attr]

    you2 = HumanParticipant("you")
    resumed = GroupChat(
        [ScriptedAgent("bot", ["hi", "bye"]), you2],
        chat_id=CHAT,
        bus=EventBus(retain=None),
        max_turns=2,
    )
    resumed.load(events)
    probe2 = ChatProbe.of(resumed)
    run2 = asyncio.create_task(resumed.run())
    selected = await probe2.wait_for(SpeakerSelected)
    assert selected.speaker == "you"
    assert selected.reason == "resumed: you's turn had not finished"
    await probe2.wait_for(HumanInputRequested, participant="you")
    you2.send("here again")
    result2 = await asyncio.wait_for(run2, 5)
    assert [(m.sender, m.content) for m in result2.messages if m.kind == "turn"] == [
        ("bot", "hi"),
        ("you", "here again"),
        ("bot", "bye"),
    ]
