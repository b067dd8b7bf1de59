"""Commands reach the manager as events on the bus: whoever publishes them, from wherever."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from groupchat import GroupChat, HumanParticipant, ManualPolicy, ScriptedAgent
from groupchat.bus import EventBus, EventsUnavailableError
from groupchat.events import (
    ControlRequested,
    HumanInput,
    HumanInputRequested,
    MessagePosted,
    ParticipantJoined,
    ParticipantLeft,
    Paused,
    Resumed,
    SpeakerSelected,
    TextDelta,
    TurnStarted,
)
from groupchat.participant import ChatView, PolicyView, TurnItem
from groupchat.policies import Selection
from groupchat.testing import ChatProbe


class Held:
    """Streams a word, then waits for :attr:`release` before it ends its turn."""

    kind = "held"

    def __init__(self, name: str) -> None:
        self.name = name
        self.description = "waits"
        self.release = asyncio.Event()

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        yield "thinking "
        await self.release.wait()
        self.release.clear()
        yield "done"


async def _bounded(awaitable: object) -> object:
    return await asyncio.wait_for(awaitable, timeout=10)  # type: ignore[arg-type]


async def test_a_steer_is_recorded_with_who_asked_and_then_followed() -> None:
    held = Held("a")
    chat = GroupChat([held, ScriptedAgent("b", ["b"]), ScriptedAgent("c", ["c"])], max_turns=2)
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("go"))
    await _bounded(probe.wait_for(TextDelta, sender="a"))
    chat.steer("c", by="b")
    held.release.set()
    await _bounded(run)
    events = chat.events()
    steer = [e for e in events if isinstance(e, ControlRequested)]
    assert [(e.sender, e.command, e.name) for e in steer] == [("b", "steer", "c")]
    chosen = [e for e in events if isinstance(e, SpeakerSelected)]
    assert [(e.speaker, e.policy, e.reason) for e in chosen][1] == ("c", "steer", "b asked for c")
    assert events.index(steer[0]) < events.index(chosen[1])


async def test_commands_published_on_the_bus_by_a_person_pause_resume_and_stop_the_chat() -> None:
    """What another process does: publish the command as the person; no method is called."""
    held = Held("a")
    bob = HumanParticipant("bob")
    chat = GroupChat([held, bob], max_turns=10)
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("go"))
    await _bounded(probe.wait_for(TextDelta, sender="a"))
    as_bob = chat.bus.publisher(chat.chat_id, "bob")

    as_bob.emit_nowait(ControlRequested, command="pause")
    paused = await _bounded(probe.wait_for(Paused))
    assert paused.by == "bob" and chat.paused  # type: ignore[attr-defined]
    as_bob.emit_nowait(ControlRequested, command="resume")
    await _bounded(probe.wait_for(Resumed, by="bob"))
    assert not chat.paused

    as_bob.emit_nowait(ControlRequested, command="stop", reason="enough")
    result = await _bounded(run)
    assert (result.status, result.reason) == ("stopped", "enough by bob")  # type: ignore[attr-defined]
    assert result.messages[-1].content == "thinking "  # type: ignore[attr-defined]
    assert result.messages[-1].interrupted  # type: ignore[attr-defined]


async def test_a_line_published_on_the_bus_answers_the_persons_turn() -> None:
    you = HumanParticipant("you")
    chat = GroupChat([you], max_turns=1)
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run())
    await _bounded(probe.wait_for(HumanInputRequested, participant="you"))
    chat.bus.publisher(chat.chat_id, "you").emit_nowait(HumanInput, text="hello from afar")
    result = await _bounded(run)
    assert [(m.sender, m.content, m.kind) for m in result.messages] == [  # type: ignore[attr-defined]
        ("you", "hello from afar", "turn")
    ]


async def test_a_line_sent_out_of_turn_is_published_then_posted_as_an_interjection() -> None:
    held = Held("a")
    you = HumanParticipant("you")
    chat = GroupChat([held, you], max_turns=1)
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run())
    await _bounded(probe.wait_for(TextDelta, sender="a"))
    you.send("a thought")
    posted = await _bounded(probe.wait_for(MessagePosted, sender="you"))
    held.release.set()
    await _bounded(run)
    heard = [e for e in chat.events() if isinstance(e, HumanInput)]
    assert [(e.sender, e.text) for e in heard] == [("you", "a thought")]
    assert posted.message.kind == "interjection"  # type: ignore[attr-defined]
    assert heard[0].seq < posted.seq


async def test_a_kicked_participant_is_invited_back_by_a_command_on_the_bus() -> None:
    held = Held("a")
    chat = GroupChat([held, ScriptedAgent("b", ["b1", "b2"])], max_turns=4)
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run())
    await _bounded(probe.wait_for(TextDelta, sender="a"))
    await chat.remove("b", reason="quiet please", by="a")
    assert "b" not in chat.participants and chat.departed == ["b"]
    chat.bus.publisher(chat.chat_id, "a").emit_nowait(ControlRequested, command="invite", name="B")
    await _bounded(probe.wait_for(ParticipantJoined))
    assert "b" in chat.participants
    held.release.set()
    await _bounded(probe.wait_for(TurnStarted, speaker="b"))
    await chat.stop()
    await _bounded(run)
    left = [e for e in chat.events() if isinstance(e, ParticipantLeft)]
    assert [(e.name, e.reason) for e in left] == [("b", "quiet please")]


async def test_a_command_that_cannot_be_done_is_an_error_event_and_the_chat_goes_on() -> None:
    held = Held("a")
    chat = GroupChat([held, ScriptedAgent("b", ["b"])], max_turns=2)
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run())
    await _bounded(probe.wait_for(TextDelta, sender="a"))
    chat.bus.publisher(chat.chat_id, "b").emit_nowait(ControlRequested, command="kick", name="x")
    held.release.set()
    result = await _bounded(run)
    errors = [e for e in chat.events() if e.type == "error"]
    assert len(errors) == 1 and "kick from b failed" in errors[0].error  # type: ignore[attr-defined]
    assert not errors[0].fatal  # type: ignore[attr-defined]
    assert result.turns == 2  # type: ignore[attr-defined]


async def test_policies_get_a_policy_view_and_participants_a_read_only_one() -> None:
    seen: dict[str, object] = {}

    class Looking:
        name = "looking"

        def validate(self, names: object) -> None: ...

        def restore(self, events: object) -> None: ...

        def describe(self) -> str:
            return self.name

        async def select(self, view: PolicyView, candidates: tuple[str, ...]) -> Selection:
            seen["policy"] = view
            return Selection(candidates[0], "first")

    async def speak(view: ChatView) -> str:
        seen["participant"] = view
        return "hi"

    chat = GroupChat([ScriptedAgent("a", speak)], policy=Looking(), max_turns=1)  # type: ignore[arg-type]
    await chat.run()
    assert isinstance(seen["policy"], PolicyView)
    assert not hasattr(seen["participant"], "report_attempt")


async def test_events_refuses_to_return_a_part_of_the_chat() -> None:
    chat = GroupChat(
        [ScriptedAgent("a", [f"line {i}" for i in range(50)])],
        bus=EventBus(retain=8),
        max_turns=50,
    )
    await chat.run()
    with pytest.raises(EventsUnavailableError, match="no longer holds"):
        chat.events()
    whole = GroupChat([ScriptedAgent("a", ["x"])], bus=EventBus(retain=None), max_turns=50)
    await whole.run()
    assert whole.events()[0].type == "chat_started"


async def test_a_loaded_chat_has_the_state_the_live_one_had() -> None:
    def team() -> list[object]:
        return [
            ScriptedAgent("a", ["one @b", "three"], report_usage=True),
            ScriptedAgent("b", ["two"], report_usage=True),
            HumanParticipant("you"),
        ]

    you = HumanParticipant("you")
    live = GroupChat(
        [*team()[:2], you], policy=ManualPolicy(), max_turns=3, bus=EventBus(retain=None)
    )  # type: ignore[list-item]
    probe = ChatProbe.of(live)
    run = asyncio.create_task(live.run("task"))
    for name in ("a", "b", "a"):
        await _bounded(probe.wait_for(HumanInputRequested, request="select_speaker"))
        you.send(name)
    await _bounded(run)

    loaded = GroupChat(team(), policy=ManualPolicy(), chat_id=live.chat_id)  # type: ignore[arg-type]
    loaded.load(live.events())
    live_state, loaded_state = live._state, loaded._state
    assert loaded_state.usage_by == live_state.usage_by
    assert loaded_state.messages == live_state.messages
    assert (loaded_state.turn, loaded_state.last_speaker, loaded_state.task) == (
        live_state.turn,
        live_state.last_speaker,
        live_state.task,
    )
    assert loaded_state.message_count == live_state.message_count


async def test_selection_calls_count_under_the_policys_usage_key_live_and_after_load() -> None:
    from groupchat.messages import Usage

    class Router:
        name = "router"
        usage_key = "routing"

        def validate(self, names: object) -> None: ...

        def restore(self, events: object) -> None: ...

        def describe(self) -> str:
            return self.name

        async def select(self, view: PolicyView, candidates: tuple[str, ...]) -> Selection:
            await view.report_attempt(
                self.name, 1, candidates[0], accepted=True, usage=Usage(input_tokens=7)
            )
            return Selection(candidates[0], "first")

    live = GroupChat(
        [ScriptedAgent("a", ["x", "y"])], policy=Router(), max_turns=2, bus=EventBus(retain=None)
    )  # type: ignore[arg-type]
    result = await live.run()
    assert result.usage_by["routing"].input_tokens == 14
    loaded = GroupChat([ScriptedAgent("a", ["z"])], policy=Router(), chat_id=live.chat_id)  # type: ignore[arg-type]
    loaded.load(live.events())
    assert loaded.view.usage_by["routing"].input_tokens == 14
