"""Behaviour of the GroupChat manager: the events of a run, control from outside, membership."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TypeVar

import pytest

from groupchat.bus import ChatClosedError, EventBus
from groupchat.chat import ChatResult, GroupChat
from groupchat.events import (
    MANAGER,
    ChatEnded,
    ChatStarted,
    ErrorEvent,
    EventBase,
    Handoff,
    MessagePosted,
    ParticipantJoined,
    ParticipantLeft,
    Paused,
    Resumed,
    SelectorAttempt,
    SpeakerSelected,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnSkipped,
    TurnStarted,
)
from groupchat.messages import Message, ToolCallPart, ToolResultPart, Usage
from groupchat.participant import ChatView, EndChat, HandTo, Pass, Reply, TurnItem
from groupchat.policies import FunctionPolicy
from groupchat.testing import ChatProbe, ScriptedAgent

E = TypeVar("E", bound=EventBase)

# ---------------------------------------------------------------- helpers


class GatedAgent:
    """Streams ``before`` (nothing when empty), waits until :attr:`release` is set, then streams
    ``after``."""

    kind = "gated"

    def __init__(self, name: str, before: str = "before ", after: str = "after") -> None:
        self.name = name
        self.description = f"Gated participant {name}."
        self.before = before
        self.after = after
        self.release = asyncio.Event()
        self.turns = 0

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        self.turns += 1
        if self.before:
            yield self.before
        await self.release.wait()
        yield self.after


class Items:
    """Yields a fixed list of turn items each turn (tool parts, text, a closing item)."""

    def __init__(self, name: str, items: Sequence[TurnItem]) -> None:
        self.name = name
        self.description = f"Participant {name} yielding fixed items."
        self.items = tuple(items)

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        for item in self.items:
            yield item


class Failing:
    """Streams ``partial`` (if any) and then raises."""

    def __init__(self, name: str, partial: str = "") -> None:
        self.name = name
        self.description = "Always fails."
        self.partial = partial

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        if self.partial:
            yield self.partial
        raise RuntimeError("boom")


class Recorder:
    """A script function that records what the speaker could see when its turn began."""

    def __init__(self, reply: str = "ok") -> None:
        self.reply = reply
        self.views: list[ChatView] = []
        self.seen: list[list[Message]] = []

    def __call__(self, view: ChatView) -> str:
        self.views.append(view)
        self.seen.append(list(view.messages))
        return self.reply


def events_of(chat: GroupChat, kind: type[E]) -> list[E]:
    return [event for event in chat.events() if isinstance(event, kind)]


def posted(chat: GroupChat) -> list[Message]:
    return [event.message for event in events_of(chat, MessagePosted)]


def speakers(chat: GroupChat) -> list[str]:
    return [event.speaker for event in events_of(chat, SpeakerSelected)]


def deltas_for(chat: GroupChat, message_id: str) -> str:
    return "".join(e.text for e in events_of(chat, TextDelta) if e.message_id == message_id)


def start(chat: GroupChat, task: str | None = "task") -> asyncio.Task[ChatResult]:
    return asyncio.create_task(chat.run(task))


async def finish(task: asyncio.Task[ChatResult]) -> ChatResult:
    return await asyncio.wait_for(task, 5)


async def settle(rounds: int = 50) -> None:
    """Let every task that can run, run (no wall-clock waiting)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


# ---------------------------------------------------------------- a simple run


async def test_simple_run_publishes_the_expected_event_sequence() -> None:
    agent = ScriptedAgent("alice", ["hello big world"], chunk="word")
    chat = GroupChat([agent], max_turns=1)

    result = await chat.run("say hello")

    events = chat.events()
    assert [e.type for e in events] == [
        "chat_started",
        "message_posted",
        "speaker_selected",
        "turn_started",
        "text_delta",
        "text_delta",
        "text_delta",
        "message_posted",
        "chat_ended",
    ]
    assert [e.seq for e in events] == list(range(len(events)))
    assert {e.chat_id for e in events} == {chat.chat_id}
    assert [e.sender for e in events] == [MANAGER] * 4 + ["alice"] * 4 + [MANAGER]

    started = events[0]
    assert isinstance(started, ChatStarted)
    assert started.task == "say hello"
    assert [p.name for p in started.participants] == ["alice"]
    assert started.policy == "round_robin"

    task_message = events[1]
    assert isinstance(task_message, MessagePosted)
    assert task_message.message.kind == "task"
    assert task_message.message.sender == MANAGER
    assert task_message.message.content == "say hello"

    selected = events[2]
    assert isinstance(selected, SpeakerSelected)
    assert selected.speaker == "alice"
    assert selected.candidates == ("alice",)
    assert selected.policy == "round_robin"
    assert selected.turn == 1
    assert selected.reason

    turn = events[3]
    assert isinstance(turn, TurnStarted)
    assert (turn.speaker, turn.turn) == ("alice", 1)

    reply = events[7]
    assert isinstance(reply, MessagePosted)
    assert reply.message.id == turn.message_id
    assert reply.message.sender == "alice"
    assert reply.message.kind == "turn"
    assert reply.message.content == "hello big world"
    assert not reply.message.interrupted
    assert all(isinstance(e, TextDelta) and e.message_id == turn.message_id for e in events[4:7])

    ended = events[-1]
    assert isinstance(ended, ChatEnded)
    assert ended.status == result.status == "max_turns"
    assert ended.messages == 2


async def test_run_returns_chat_result() -> None:
    a = ScriptedAgent("a", ["one"], report_usage=True)
    b = ScriptedAgent("b", ["two words"], report_usage=True)
    chat = GroupChat([a, b], max_turns=2)

    result = await chat.run("go")

    assert isinstance(result, ChatResult)
    assert result is chat.result
    assert result.chat_id == chat.chat_id
    assert result.status == "max_turns"
    assert result.reason == "reached 2 turns"
    assert [(m.sender, m.content) for m in result.messages] == [
        (MANAGER, "go"),
        ("a", "one"),
        ("b", "two words"),
    ]
    assert result.messages == chat.messages
    assert result.turns == 2
    assert result.usage == Usage(output_tokens=3) == chat.usage
    assert result.error is None
    assert not chat.running
    assert chat.bus.is_closed(chat.chat_id)
    ended = chat.events()[-1]
    assert isinstance(ended, ChatEnded)
    assert ended.usage == result.usage


async def test_stream_yields_the_same_events_as_the_log() -> None:
    a = ScriptedAgent("a", ["first reply"], chunk="word")
    b = ScriptedAgent("b", ["second reply"], chunk="word")
    chat = GroupChat([a, b], max_turns=2)

    streamed = [event async for event in chat.stream("topic")]

    assert streamed == chat.events()
    assert streamed[0].type == "chat_started"
    assert isinstance(streamed[-1], ChatEnded)
    assert chat.result is not None
    assert chat.result.status == "max_turns"
    assert not chat.running


async def test_leaving_the_stream_early_stops_the_chat_cleanly() -> None:
    a = ScriptedAgent("a", ["ping"], when_done="cycle")
    b = ScriptedAgent("b", ["pong"], when_done="cycle")
    chat = GroupChat([a, b], bus=EventBus(retain=None))  # would never end on its own

    seen: list[EventBase] = []
    async with contextlib.aclosing(chat.stream("go")) as events:
        async for event in events:
            seen.append(event)
            if isinstance(event, MessagePosted) and event.message.sender == "b":
                break

    assert not chat.running
    assert chat.result is not None
    log = chat.events()
    assert log[: len(seen)] == seen
    ended = log[-1]
    assert isinstance(ended, ChatEnded)
    assert ended.status == chat.result.status
    assert ended.status in ("stopped", "cancelled")
    assert chat.bus.is_closed(chat.chat_id)
    await settle()
    assert chat.events() == log  # nothing happens after the end


async def test_max_turns_ends_the_run() -> None:
    agents = [ScriptedAgent(n, [f"{n} speaks"], when_done="cycle") for n in ("a", "b", "c")]
    chat = GroupChat(agents, max_turns=4)

    result = await chat.run("go")

    assert result.status == "max_turns"
    assert speakers(chat) == ["a", "b", "c", "a"]
    assert [e.turn for e in events_of(chat, TurnStarted)] == [1, 2, 3, 4]
    assert result.turns == 4
    assert len(result.messages) == 5


def test_constructor_validates_its_arguments() -> None:
    agent = ScriptedAgent("a", ["x"])
    with pytest.raises(ValueError):
        GroupChat([agent], max_turns=0)
    with pytest.raises(ValueError):
        GroupChat([agent], on_error="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        GroupChat([])


async def test_running_twice_at_once_is_refused() -> None:
    gated = GatedAgent("a")
    chat = GroupChat([gated], max_turns=1)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    with pytest.raises(RuntimeError):
        await chat.run("again")

    gated.release.set()
    result = await finish(task)
    assert result.status == "max_turns"
    assert len(events_of(chat, ChatStarted)) == 1


# ---------------------------------------------------------------- history and views


async def test_manager_owns_history_and_every_participant_reads_the_same_view() -> None:
    rec_a, rec_b = Recorder("from a"), Recorder("from b")
    chat = GroupChat([ScriptedAgent("a", rec_a), ScriptedAgent("b", rec_b)], max_turns=4)

    await chat.run("go")

    views = rec_a.views + rec_b.views
    assert len(views) == 4
    assert all(view is chat.view for view in views)
    assert all(view.messages is chat.view.messages for view in views)
    # each turn saw everything posted before it, and the one view grew as the chat went on
    assert [len(s) for s in rec_a.seen] == [1, 3]
    assert [len(s) for s in rec_b.seen] == [2, 4]
    assert rec_b.seen[0] == list(chat.messages[:2])
    assert list(chat.view.messages) == list(chat.messages)
    assert len(chat.view.messages) == 5
    assert not hasattr(chat.view.messages, "append")


async def test_streamed_deltas_join_to_the_posted_message() -> None:
    a = ScriptedAgent("a", ["streamed char by char"], chunk="char")
    b = ScriptedAgent("b", ["streamed in threes"], chunk=3)
    c = ScriptedAgent("c", ["streamed word by word"], chunk="word")
    chat = GroupChat([a, b, c], max_turns=3)

    await chat.run("go")

    turns = [m for m in posted(chat) if m.kind == "turn"]
    assert [m.sender for m in turns] == ["a", "b", "c"]
    for message in turns:
        assert deltas_for(chat, message.id) == message.content
    deltas = events_of(chat, TextDelta)
    assert len([d for d in deltas if d.sender == "a"]) == len("streamed char by char")
    sender_of = {m.id: m.sender for m in turns}
    assert all(d.sender == sender_of[d.message_id] for d in deltas)


# ---------------------------------------------------------------- pause and resume


async def test_pause_lets_the_turn_finish_and_holds_the_chat_until_resume() -> None:
    a = GatedAgent("a")
    b = ScriptedAgent("b", ["b speaks"])
    chat = GroupChat([a, b], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    await chat.pause(by="you")
    assert chat.paused
    paused = await probe.wait_for(Paused)
    assert paused.by == "you"
    assert paused.sender == MANAGER

    a.release.set()
    message = (await probe.wait_for(MessagePosted, sender="a")).message
    assert message.content == "before after"
    assert not message.interrupted

    await settle()
    assert not task.done()
    assert speakers(chat) == ["a"]
    after_pause = [e for e in chat.events() if e.seq > paused.seq]
    assert not any(isinstance(e, (SpeakerSelected, TurnStarted)) for e in after_pause)

    # people may still post while the chat is paused
    note = await chat.say("a", "noted while paused")
    assert note.kind == "interjection"

    await chat.resume(by="you")
    assert not chat.paused
    resumed = await probe.wait_for(Resumed)
    assert resumed.by == "you"
    selected = await probe.wait_for(SpeakerSelected)
    assert selected.speaker == "b"
    assert selected.seq > resumed.seq

    result = await finish(task)
    assert result.status == "max_turns"
    assert [m.content for m in result.messages] == [
        "task",
        "before after",
        "noted while paused",
        "b speaks",
    ]


async def test_pause_and_resume_twice_publish_once() -> None:
    chat = GroupChat([GatedAgent("a")], max_turns=1)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta)

    await chat.pause()
    await chat.pause()
    await chat.resume()
    await chat.resume()

    await chat.stop()
    await finish(task)
    assert [e.type for e in chat.events() if isinstance(e, (Paused, Resumed))] == [
        "paused",
        "resumed",
    ]


async def test_stop_while_paused_ends_the_chat() -> None:
    a = GatedAgent("a")
    chat = GroupChat([a, ScriptedAgent("b", ["never"])])
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta)
    await chat.pause()
    a.release.set()
    await probe.wait_for(MessagePosted, sender="a")
    await settle()

    await chat.stop()

    result = await finish(task)
    assert result.status == "stopped"
    assert speakers(chat) == ["a"]


async def test_pause_during_a_slow_selection_holds_the_next_turn() -> None:
    decide = asyncio.Event()
    asked = asyncio.Event()

    async def slow_selector(view: ChatView, candidates: Sequence[str]) -> str:
        asked.set()
        await decide.wait()  # like an LLM selector thinking
        return candidates[0]

    policy = FunctionPolicy(slow_selector, name="slow")
    chat = GroupChat([ScriptedAgent("a", ["a speaks"])], policy=policy, max_turns=1)
    task = start(chat)
    await asyncio.wait_for(asked.wait(), 5)  # the selector is thinking

    await chat.pause()
    decide.set()
    await settle()

    paused = events_of(chat, Paused)[0]
    # "Hold the chat before the next turn": no turn may start while paused
    assert not [e for e in events_of(chat, TurnStarted) if e.seq > paused.seq]
    await chat.resume()
    result = await finish(task)
    assert result.messages[-1].content == "a speaks"


# ---------------------------------------------------------------- interrupt and stop


async def test_interrupt_posts_the_partial_text_and_the_chat_goes_on() -> None:
    slow = GatedAgent("slow", before="the first words ", after="and the rest")  # never released
    nxt = ScriptedAgent("next", ["my turn now"])
    chat = GroupChat([slow, nxt], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    first = await probe.wait_for(TextDelta, sender="slow")

    assert await chat.interrupt(by="you") is True

    cut = (await probe.wait_for(MessagePosted, sender="slow")).message
    assert cut.interrupted is True
    assert cut.id == first.message_id
    assert cut.content
    assert cut.content == deltas_for(chat, cut.id)
    assert cut.content.strip() == "the first words"

    selected = await probe.wait_for(SpeakerSelected)
    assert selected.speaker == "next"
    result = await finish(task)
    assert result.status == "max_turns"
    assert result.messages[-1].content == "my turn now"
    assert not result.messages[-1].interrupted


async def test_interrupt_before_any_text_skips_the_turn() -> None:
    slow = GatedAgent("slow", before="", after="too late")  # never released: says nothing
    nxt = ScriptedAgent("next", ["go on"])
    chat = GroupChat([slow, nxt], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    turn = await probe.wait_for(TurnStarted, speaker="slow")

    assert await chat.interrupt() is True

    skipped = await probe.wait_for(TurnSkipped)
    assert (skipped.speaker, skipped.reason) == ("slow", "interrupted")
    assert skipped.message_id == turn.message_id
    assert skipped.sender == MANAGER
    result = await finish(task)
    assert [m.sender for m in result.messages] == [MANAGER, "next"]
    assert speakers(chat) == ["slow", "next"]


async def test_interrupt_with_no_turn_running_does_nothing() -> None:
    chat = GroupChat([ScriptedAgent("a", ["x"])], max_turns=1)
    assert await chat.interrupt() is False
    await chat.run("go")
    assert await chat.interrupt() is False
    assert chat.result is not None
    assert chat.result.status == "max_turns"


async def test_stop_mid_turn_keeps_the_text_and_ends_the_chat() -> None:
    a = GatedAgent("a")
    b = ScriptedAgent("b", ["never said"])
    chat = GroupChat([a, b])
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    await chat.stop("enough", by="you")

    result = await finish(task)
    assert result.status == "stopped"
    assert result.reason == "enough by you"
    last = result.messages[-1]
    assert (last.sender, last.content, last.interrupted) == ("a", "before ", True)
    assert speakers(chat) == ["a"]
    ended = chat.events()[-1]
    assert isinstance(ended, ChatEnded)
    assert (ended.status, ended.reason) == ("stopped", "enough by you")


async def test_cancelling_the_run_task_ends_the_chat_as_cancelled() -> None:
    a = GatedAgent("a")
    chat = GroupChat([a, ScriptedAgent("b", ["never said"])])
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    ended = chat.events()[-1]
    assert isinstance(ended, ChatEnded)
    assert ended.status == "cancelled"
    assert chat.result is not None
    assert chat.result.status == "cancelled"
    assert not chat.running
    assert speakers(chat) == ["a"]
    assert chat.messages[-1].interrupted


# ---------------------------------------------------------------- how turns end


async def test_failing_participant_ends_the_chat_with_on_error_end() -> None:
    bad = Failing("bad", partial="half a thought")
    good = ScriptedAgent("good", ["never said"])
    chat = GroupChat([bad, good], on_error="end")

    result = await chat.run("go")

    errors = events_of(chat, ErrorEvent)
    assert len(errors) == 1
    assert errors[0].participant == "bad"
    assert errors[0].fatal is True
    assert "boom" in errors[0].error
    assert result.status == "error"
    assert "boom" in result.reason
    assert speakers(chat) == ["bad"]
    kept = result.messages[-1]
    assert (kept.sender, kept.content, kept.interrupted) == ("bad", "half a thought", True)
    ended = chat.events()[-1]
    assert isinstance(ended, ChatEnded)
    assert ended.status == "error"


async def test_failing_participant_is_skipped_with_on_error_continue() -> None:
    bad = Failing("bad")
    good = ScriptedAgent("good", ["still here"])
    chat = GroupChat([bad, good], on_error="continue", max_turns=2)

    result = await chat.run("go")

    errors = events_of(chat, ErrorEvent)
    assert len(errors) == 1
    assert errors[0].participant == "bad"
    assert errors[0].fatal is False
    skipped = events_of(chat, TurnSkipped)
    assert [(s.speaker, s.reason) for s in skipped] == [("bad", "failed")]
    assert speakers(chat) == ["bad", "good"]
    assert result.status == "max_turns"
    assert result.messages[-1].content == "still here"


async def test_a_turn_yielding_something_else_is_an_error() -> None:
    weird = Items("weird", [42])  # type: ignore[list-item]
    chat = GroupChat([weird, ScriptedAgent("b", ["x"])], on_error="end")

    result = await chat.run("go")

    assert result.status == "error"
    errors = events_of(chat, ErrorEvent)
    assert [e.participant for e in errors] == ["weird"]


async def test_pass_skips_the_turn_without_a_message() -> None:
    quiet = ScriptedAgent("quiet", [Pass("nothing to add")])
    talker = ScriptedAgent("talker", ["something"])
    chat = GroupChat([quiet, talker], max_turns=2)

    result = await chat.run("go")

    skipped = events_of(chat, TurnSkipped)
    assert [(s.speaker, s.reason) for s in skipped] == [("quiet", "nothing to add")]
    assert [m.sender for m in result.messages] == [MANAGER, "talker"]
    assert speakers(chat) == ["quiet", "talker"]


async def test_end_chat_posts_what_was_streamed_and_ends_the_chat() -> None:
    closer = Items("closer", ["bye for now", EndChat("done")])
    other = ScriptedAgent("other", ["never said"])
    chat = GroupChat([closer, other])

    result = await chat.run("go")

    assert result.status == "completed"
    assert "done" in result.reason
    assert result.messages[-1].sender == "closer"
    assert result.messages[-1].content == "bye for now"
    assert not result.messages[-1].interrupted
    assert speakers(chat) == ["closer"]
    ended = chat.events()[-1]
    assert isinstance(ended, ChatEnded)
    assert ended.status == "completed"


async def test_end_chat_without_text_skips_the_turn_and_ends() -> None:
    a = ScriptedAgent("a", ["only line"], when_done="end")
    chat = GroupChat([a])

    result = await chat.run("go")

    assert result.status == "completed"
    assert speakers(chat) == ["a", "a"]
    skipped = events_of(chat, TurnSkipped)
    assert [(s.speaker, s.reason) for s in skipped] == [("a", "script finished")]
    assert [m.content for m in result.messages] == ["go", "only line"]


async def test_reply_content_replaces_the_streamed_text() -> None:
    a = Items("a", ["draft text", Reply("final text")])
    chat = GroupChat([a], max_turns=1)

    result = await chat.run("go")

    assert result.messages[-1].content == "final text"


# ---------------------------------------------------------------- tools


async def test_tool_parts_become_events_and_message_parts() -> None:
    call = ToolCallPart(call_id="c1", name="add", arguments={"x": 2, "y": 2})
    res = ToolResultPart(call_id="c1", name="add", content="4")
    user = Items("calc", [call, res, "The answer is 4.", Reply()])
    chat = GroupChat([user], max_turns=1)

    result = await chat.run("what is 2+2?")

    turn = events_of(chat, TurnStarted)[0]
    kinds = [e.type for e in chat.events() if e.seq > turn.seq]
    assert kinds == ["tool_call", "tool_result", "text_delta", "message_posted", "chat_ended"]
    tool_call = events_of(chat, ToolCall)[0]
    assert (tool_call.message_id, tool_call.call_id, tool_call.name) == (
        turn.message_id,
        "c1",
        "add",
    )
    assert tool_call.arguments == {"x": 2, "y": 2}
    assert tool_call.sender == "calc"
    tool_result = events_of(chat, ToolResult)[0]
    assert (tool_result.message_id, tool_result.call_id) == (turn.message_id, "c1")
    assert (tool_result.content, tool_result.is_error) == ("4", False)
    assert tool_result.sender == "calc"
    message = result.messages[-1]
    assert message.id == turn.message_id
    assert message.parts == (call, res)
    assert message.content == "The answer is 4."


async def test_a_turn_with_only_tool_parts_is_still_a_message() -> None:
    call = ToolCallPart(call_id="c9", name="lookup")
    user = Items("tooly", [call])
    chat = GroupChat([user], max_turns=1)

    result = await chat.run("go")

    assert not events_of(chat, TurnSkipped)
    assert result.messages[-1].parts == (call,)
    assert result.messages[-1].content == ""
    assert len(events_of(chat, ToolCall)) == 1


# ---------------------------------------------------------------- membership


async def test_add_mid_chat_makes_a_new_candidate() -> None:
    a = GatedAgent("a")
    b = ScriptedAgent("b", ["b here"])
    chat = GroupChat([a, b], max_turns=3)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    await chat.add(ScriptedAgent("c", ["c joined"], description="newcomer"))

    joined = await probe.wait_for(ParticipantJoined)
    assert joined.participant.name == "c"
    assert joined.participant.description == "newcomer"
    assert joined.sender == MANAGER
    assert "c" in chat.participants
    a.release.set()
    result = await finish(task)
    selections = events_of(chat, SpeakerSelected)
    assert [s.candidates for s in selections] == [
        ("a", "b"),
        ("a", "b", "c"),
        ("a", "b", "c"),
    ]
    assert speakers(chat) == ["a", "b", "c"]
    assert result.messages[-1].content == "c joined"


async def test_add_with_a_taken_name_is_refused_mid_chat() -> None:
    a = GatedAgent("a")
    chat = GroupChat([a], max_turns=1)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta)

    with pytest.raises(ValueError):
        await chat.add(ScriptedAgent("a", ["impostor"]))

    a.release.set()
    await finish(task)
    assert not events_of(chat, ParticipantJoined)
    assert chat.participants["a"] is a


async def test_remove_mid_chat_drops_a_candidate() -> None:
    a = GatedAgent("a")
    b = ScriptedAgent("b", ["never said"])
    c = ScriptedAgent("c", ["c here"])
    chat = GroupChat([a, b, c], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    await chat.remove("b", reason="went home")

    left = await probe.wait_for(ParticipantLeft)
    assert (left.name, left.reason, left.sender) == ("b", "went home", MANAGER)
    assert "b" not in chat.participants
    a.release.set()
    await finish(task)
    selections = events_of(chat, SpeakerSelected)
    assert [s.candidates for s in selections] == [("a", "b", "c"), ("a", "c")]
    assert speakers(chat) == ["a", "c"]
    with pytest.raises(KeyError):
        await chat.remove("b")


async def test_removing_the_current_speaker_cuts_its_turn_short() -> None:
    a = GatedAgent("a")  # never released: only the removal ends its turn
    b = ScriptedAgent("b", ["b here"])
    c = ScriptedAgent("c", ["c here"])
    chat = GroupChat([a, b, c], max_turns=3)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    await chat.remove("a")

    result = await finish(task)
    cut = [m for m in result.messages if m.sender == "a"]
    assert [(m.content, m.interrupted) for m in cut] == [("before ", True)]
    selections = events_of(chat, SpeakerSelected)
    assert selections[0].speaker == "a"
    assert all(s.candidates == ("b", "c") for s in selections[1:])
    assert "a" not in speakers(chat)[1:]
    assert len(events_of(chat, ParticipantLeft)) == 1
    assert a.turns == 1


async def test_removing_the_current_speaker_ends_its_turn_before_it_leaves() -> None:
    a = GatedAgent("a")
    chat = GroupChat([a, ScriptedAgent("b", ["b here"])], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    await chat.remove("a")

    await finish(task)
    left = events_of(chat, ParticipantLeft)[0]
    cut = next(e for e in events_of(chat, MessagePosted) if e.message.sender == "a")
    # "if it is speaking, its turn is cut short first"
    assert cut.seq < left.seq


async def test_round_robin_after_removing_the_current_speaker_goes_to_the_next_in_order() -> None:
    a = GatedAgent("a")
    b = ScriptedAgent("b", ["b here"])
    c = ScriptedAgent("c", ["c here"])
    chat = GroupChat([a, b, c], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    await chat.remove("a")

    await finish(task)
    # a joined before b, so b follows a; round robin must not skip b
    assert speakers(chat) == ["a", "b"]


# ---------------------------------------------------------------- steering and names


async def test_steer_overrides_the_policy_once() -> None:
    a = GatedAgent("a")
    b = ScriptedAgent("b", ["b here"])
    c = ScriptedAgent("c", ["c here"])
    chat = GroupChat([a, b, c], max_turns=3)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    chat.steer("c", by="you")

    a.release.set()
    await finish(task)
    selections = events_of(chat, SpeakerSelected)
    assert [s.speaker for s in selections] == ["a", "c", "a"]
    assert [s.policy for s in selections] == ["round_robin", "steer", "round_robin"]
    assert "you" in selections[1].reason
    assert selections[1].candidates == ("a", "b", "c")


def test_steer_to_an_unknown_participant_is_refused() -> None:
    chat = GroupChat([ScriptedAgent("a", ["x"])])
    with pytest.raises(KeyError):
        chat.steer("ghost")


@pytest.mark.parametrize(
    "name",
    ["", "1abc", "has space", "dot.ted", "@at", "x" * 65, "manager", "Manager", "MANAGER"],
)
def test_invalid_or_reserved_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        GroupChat([ScriptedAgent(name, ["x"])])


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError):
        GroupChat([ScriptedAgent("a", ["x"]), ScriptedAgent("a", ["y"])])


@pytest.mark.parametrize("name", ["a", "_hidden", "Bob-2", "x" * 64])
def test_valid_names_are_accepted(name: str) -> None:
    chat = GroupChat([ScriptedAgent(name, ["x"])])
    assert list(chat.participants) == [name]


# ---------------------------------------------------------------- say


async def test_say_posts_an_interjection_at_once_and_the_next_speaker_sees_it() -> None:
    a = GatedAgent("a")
    rec = Recorder("b answers")
    chat = GroupChat([a, ScriptedAgent("b", rec), ScriptedAgent("c", ["c"])], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    message = await chat.say("c", "hold on, @b")

    assert message.kind == "interjection"
    assert message.sender == "c"
    assert message.mentions == ("b",)
    event = chat.events()[-1]
    assert isinstance(event, MessagePosted)
    assert event.message == message
    assert event.sender == "c"
    assert message in chat.messages

    a.release.set()
    await finish(task)
    assert len(rec.seen) == 1
    assert message in rec.seen[0]
    assert [m.content for m in rec.seen[0]] == ["task", "hold on, @b", "before after"]


async def test_say_checks_the_sender_and_that_the_chat_started() -> None:
    chat = GroupChat([ScriptedAgent("a", ["x"])], max_turns=1)
    with pytest.raises(RuntimeError):
        await chat.say("a", "too early")
    assert chat.events() == []
    await chat.run("go")
    with pytest.raises(KeyError):
        await chat.say("ghost", "boo")


async def test_say_after_the_end_keeps_history_and_event_log_in_step() -> None:
    chat = GroupChat([ScriptedAgent("a", ["x"])], max_turns=1)
    await chat.run("go")

    with contextlib.suppress(ChatClosedError):
        await chat.say("a", "after the end")

    assert list(chat.messages) == posted(chat)


async def test_say_for_a_scripted_agent_does_not_use_up_its_script() -> None:
    a = GatedAgent("a")
    b = ScriptedAgent("b", ["b line one", "b line two"])
    chat = GroupChat([a, b], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    await chat.say("b", "an aside")

    a.release.set()
    result = await finish(task)
    assert result.messages[-1].content == "b line one"


# ---------------------------------------------------------------- running again


async def test_run_again_after_the_end_continues_the_same_chat() -> None:
    agents = [ScriptedAgent(n, [f"{n}1", f"{n}2"]) for n in ("a", "b", "c")]
    chat = GroupChat(agents, max_turns=2)

    first = await chat.run("first task")
    count = len(chat.events())
    second = await chat.run("second task")

    events = chat.events()
    assert [e.seq for e in events] == list(range(len(events)))
    later = events[count:]
    assert later[0].seq == count
    assert not any(isinstance(e, ChatStarted) for e in later)
    assert len(events_of(chat, ChatEnded)) == 2
    new_task = later[0]
    assert isinstance(new_task, MessagePosted)
    assert (new_task.message.kind, new_task.message.content) == ("task", "second task")
    assert first.status == second.status == "max_turns"
    assert speakers(chat) == ["a", "b", "c", "a"]
    assert [m.content for m in second.messages] == [
        "first task",
        "a1",
        "b1",
        "second task",
        "c1",
        "a2",
    ]
    assert second.turns == 4
    assert chat.view.task == "first task"
    assert len({m.id for m in second.messages}) == len(second.messages)


async def test_a_round_in_which_everyone_passes_ends_the_chat() -> None:
    a = ScriptedAgent("a", ["only line"])  # passes once its line is said
    b = ScriptedAgent("b", ["reply"])
    chat = GroupChat([a, b])
    result = await chat.run("go")
    assert [m.content for m in result.messages if m.kind == "turn"] == ["only line", "reply"]
    assert result.status == "completed"
    assert result.reason == "nobody said anything for a round"
    assert [e.speaker for e in chat.events() if isinstance(e, TurnSkipped)] == ["a", "b"]


async def test_idle_rounds_counts_whole_rounds_and_a_message_resets_it() -> None:
    a = ScriptedAgent("a", [Pass(), "back"])  # then passes for good
    b = ScriptedAgent("b", [Pass()])
    chat = GroupChat([a, b], idle_rounds=2, max_turns=50)
    result = await chat.run()
    # a passes, b passes, a speaks (the count restarts), then 4 passes in a row = 2 rounds.
    assert [m.content for m in result.messages] == ["back"]
    assert result.reason == "nobody said anything for 2 rounds"
    assert result.turns == 7
    assert len([e for e in chat.events() if isinstance(e, TurnSkipped)]) == 6


async def test_idle_rounds_none_never_ends_on_passes() -> None:
    chat = GroupChat([ScriptedAgent("a", [Pass()])], idle_rounds=None, max_turns=5)
    result = await chat.run()
    assert result.status == "max_turns"
    assert result.turns == 5


def test_idle_rounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="idle_rounds"):
        GroupChat([ScriptedAgent("a", ["x"])], idle_rounds=0)


async def test_a_handoff_is_an_event_and_visible_to_the_next_selection() -> None:
    seen: list[tuple[str, str] | None] = []

    class Handing:
        name = "lead"
        description = "hands over"

        async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
            yield "over to you"
            yield HandTo("helper", "take the tests")

    def pick(view: ChatView, candidates: Sequence[str]) -> str:
        seen.append(view.handoff)
        return view.handoff[0] if view.handoff else "lead"

    chat = GroupChat(
        [Handing(), ScriptedAgent("helper", ["on it"])],
        policy=FunctionPolicy(pick),
        max_turns=2,
    )
    result = await chat.run()
    handoffs = [e for e in chat.events() if isinstance(e, Handoff)]
    assert [(e.sender, e.target, e.note) for e in handoffs] == [
        ("lead", "helper", "take the tests")
    ]
    assert seen == [None, ("helper", "take the tests")]
    assert [m.sender for m in result.messages] == ["lead", "helper"]


async def test_selector_attempts_are_events_and_count_in_the_totals() -> None:
    async def ask_model(view: ChatView, candidates: Sequence[str]) -> str:
        await view.report_attempt(
            "model",
            1,
            "nobody",
            accepted=False,
            problem="unknown name",
            usage=Usage(input_tokens=7),
        )
        await view.report_attempt("model", 2, "b", accepted=True, usage=Usage(output_tokens=2))
        return "b"

    b = ScriptedAgent("b", ["hi"], report_usage=True)
    chat = GroupChat([b], policy=FunctionPolicy(ask_model), max_turns=1)
    result = await chat.run()
    attempts = [e for e in chat.events() if isinstance(e, SelectorAttempt)]
    assert [(e.attempt, e.accepted, e.problem) for e in attempts] == [
        (1, False, "unknown name"),
        (2, True, ""),
    ]
    assert result.usage == Usage(input_tokens=7, output_tokens=3)
    assert result.usage_by == {
        "selector": Usage(input_tokens=7, output_tokens=2),
        "b": Usage(output_tokens=1),
    }
    ended = chat.events()[-1]
    assert isinstance(ended, ChatEnded) and ended.usage_by == result.usage_by


def test_selector_is_a_reserved_name() -> None:
    with pytest.raises(ValueError, match="reserved"):
        GroupChat([ScriptedAgent("selector", ["x"])])


async def test_a_results_usage_by_cannot_be_changed() -> None:
    chat = GroupChat([ScriptedAgent("a", ["x"])], max_turns=1)
    result = await chat.run("go")
    with pytest.raises(TypeError):
        result.usage_by["a"] = Usage(input_tokens=1)  # type: ignore[index]
    assert "a" not in result.usage_by
