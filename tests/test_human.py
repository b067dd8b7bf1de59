"""People in a chat: HumanParticipant and InputChannel together with the GroupChat manager."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

import pytest

from groupchat.channel import ChannelClosedError, InputChannel
from groupchat.chat import ChatResult, GroupChat
from groupchat.events import (
    MANAGER,
    ChatEnded,
    EventBase,
    HumanInputRequested,
    MessagePosted,
    SpeakerSelected,
    TextDelta,
    TurnSkipped,
    TurnStarted,
)
from groupchat.messages import Message
from groupchat.participant import ChatView, TurnItem
from groupchat.policies import FunctionPolicy, ManualPolicy, MentionPolicy
from groupchat.testing import ChatProbe, HumanParticipant, ScriptedAgent

E = TypeVar("E", bound=EventBase)

TINY = 0.02  # seconds a test human waits for input before timing out


# ---------------------------------------------------------------- helpers


class GatedAgent:
    """Streams ``before``, waits until :attr:`release` is set, then streams ``after``."""

    def __init__(self, name: str, before: str = "before ", after: str = "after") -> None:
        self.name = name
        self.description = f"Gated participant {name}."
        self.before = before
        self.after = after
        self.release = asyncio.Event()

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        yield self.before
        await self.release.wait()
        yield self.after


class Recorder:
    """A script function that records the messages the speaker could see when its turn began."""

    def __init__(self, reply: str = "ok") -> None:
        self.reply = reply
        self.seen: list[list[Message]] = []

    def __call__(self, view: ChatView) -> str:
        self.seen.append(list(view.messages))
        return self.reply


def events_of(chat: GroupChat, kind: type[E]) -> list[E]:
    return [event for event in chat.events() if isinstance(event, kind)]


def speakers(chat: GroupChat) -> list[str]:
    return [event.speaker for event in events_of(chat, SpeakerSelected)]


def start(chat: GroupChat, task: str | None = "task") -> asyncio.Task[ChatResult]:
    return asyncio.create_task(chat.run(task))


async def finish(task: asyncio.Task[ChatResult]) -> ChatResult:
    return await asyncio.wait_for(task, 5)


# ---------------------------------------------------------------- the human's turn


async def test_human_turn_requests_input_and_the_sent_line_becomes_the_message() -> None:
    a = ScriptedAgent("a", ["over to you"])
    you = HumanParticipant("you", prompt="Your move.")
    chat = GroupChat([a, you], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)

    request = await probe.wait_for(HumanInputRequested, participant="you")

    assert request.request == "turn"
    assert request.sender == MANAGER
    assert request.prompt == "Your move."
    assert request.timeout is None
    turn = events_of(chat, TurnStarted)[-1]
    assert turn.speaker == "you"
    assert turn.seq < request.seq
    assert you.channel.requested

    you.send("here is my answer")

    result = await finish(task)
    message = result.messages[-1]
    assert (message.sender, message.content, message.kind) == ("you", "here is my answer", "turn")
    assert message.id == turn.message_id
    event = events_of(chat, MessagePosted)[-1]
    assert event.sender == "you"
    assert not any(m.kind == "interjection" for m in result.messages)
    assert result.status == "max_turns"


async def test_human_participant_info_marks_a_person() -> None:
    you = HumanParticipant("you", "The user.")
    chat = GroupChat([ScriptedAgent("a", ["x"]), you], max_turns=1)
    await chat.run("go")
    info = chat.view.participants["you"]
    assert info.human is True
    assert info.kind == "human"
    assert info.description == "The user."
    assert chat.view.humans() == ["you"]


async def test_line_sent_out_of_turn_is_an_interjection_the_next_speaker_sees() -> None:
    a = GatedAgent("a")
    rec = Recorder("b replies")
    you = HumanParticipant("you")
    chat = GroupChat([a, ScriptedAgent("b", rec), you], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")
    assert not you.channel.requested

    you.send("quick note from me")

    posted = await probe.wait_for(MessagePosted, sender="you")
    assert posted.message.kind == "interjection"
    assert posted.message.content == "quick note from me"
    assert chat.speaker == "a"  # posted while a was still speaking
    a.release.set()
    result = await finish(task)
    assert len(rec.seen) == 1
    assert posted.message in rec.seen[0]
    assert [m.content for m in rec.seen[0]] == ["task", "quick note from me", "before after"]
    assert not events_of(chat, HumanInputRequested)
    assert speakers(chat) == ["a", "b"]
    assert result.messages[-1].content == "b replies"


async def test_mention_in_an_interjection_is_followed_by_mention_policy() -> None:
    a = GatedAgent("a")
    rec_b, rec_c = Recorder("b here"), Recorder("c here")
    you = HumanParticipant("you")
    chat = GroupChat(
        [a, ScriptedAgent("b", rec_b), ScriptedAgent("c", rec_c), you],
        policy=MentionPolicy(),
        max_turns=2,
    )
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    you.send("@c what do you think?")

    posted = await probe.wait_for(MessagePosted, sender="you")
    assert posted.message.mentions == ("c",)
    a.release.set()
    await finish(task)
    selected = events_of(chat, SpeakerSelected)[1]
    assert selected.speaker == "c"
    assert selected.policy == "mention"
    assert "you" in selected.reason
    assert rec_b.seen == []
    assert len(rec_c.seen) == 1


# ---------------------------------------------------------------- timeouts and passing


async def test_timeout_skip_skips_the_turn() -> None:
    you = HumanParticipant("you", timeout=TINY, on_timeout="skip")
    chat = GroupChat([you, ScriptedAgent("a", ["a goes on"])], max_turns=2)

    result = await chat.run("go")

    request = events_of(chat, HumanInputRequested)[0]
    assert request.timeout == TINY
    skipped = events_of(chat, TurnSkipped)
    assert [s.speaker for s in skipped] == ["you"]
    assert "no answer" in skipped[0].reason
    assert [m.sender for m in result.messages] == [MANAGER, "a"]
    assert speakers(chat) == ["you", "a"]
    assert not you.channel.requested


async def test_timeout_default_posts_the_default_reply() -> None:
    you = HumanParticipant("you", timeout=TINY, on_timeout="default", default_reply="(away)")
    chat = GroupChat([you, ScriptedAgent("a", ["a goes on"])], max_turns=2)

    result = await chat.run("go")

    assert not events_of(chat, TurnSkipped)
    mine = [m for m in result.messages if m.sender == "you"]
    assert [(m.content, m.kind) for m in mine] == [("(away)", "turn")]
    assert result.messages[-1].content == "a goes on"


async def test_timeout_end_ends_the_chat() -> None:
    you = HumanParticipant("you", timeout=TINY, on_timeout="end")
    chat = GroupChat([you, ScriptedAgent("a", ["never said"])])

    result = await chat.run("go")

    assert result.status == "completed"
    assert "you" in result.reason
    assert speakers(chat) == ["you"]
    assert [m.sender for m in result.messages] == [MANAGER]
    ended = chat.events()[-1]
    assert isinstance(ended, ChatEnded)
    assert ended.status == "completed"


async def test_answer_before_the_timeout_is_used() -> None:
    you = HumanParticipant("you", timeout=5, on_timeout="end")
    chat = GroupChat([you], max_turns=1)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(HumanInputRequested)

    you.send("in time")

    result = await finish(task)
    assert result.status == "max_turns"
    assert result.messages[-1].content == "in time"


@pytest.mark.parametrize("line", ["", "   ", "\n"])
async def test_blank_line_passes_the_turn(line: str) -> None:
    you = HumanParticipant("you")
    chat = GroupChat([you, ScriptedAgent("a", ["a speaks"])], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(HumanInputRequested)

    you.send(line)

    result = await finish(task)
    skipped = events_of(chat, TurnSkipped)
    assert [(s.speaker, s.reason) for s in skipped] == [("you", "passed")]
    assert [m.sender for m in result.messages] == [MANAGER, "a"]


async def test_closing_the_channel_passes_the_open_and_every_later_turn() -> None:
    you = HumanParticipant("you")
    a = ScriptedAgent("a", ["a speaks"], when_done="cycle")
    chat = GroupChat([you, a], max_turns=5)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(HumanInputRequested)

    you.channel.close()

    result = await finish(task)
    assert speakers(chat) == ["you", "a", "you", "a", "you"]
    skipped = events_of(chat, TurnSkipped)
    assert [(s.speaker, s.reason) for s in skipped] == [("you", "input ended")] * 3
    assert not any(m.sender == "you" for m in result.messages)
    with pytest.raises(ChannelClosedError):
        you.send("I'm back")


async def test_a_human_who_left_before_the_run_passes_every_turn() -> None:
    you = HumanParticipant("you")
    you.channel.close()
    chat = GroupChat([you, ScriptedAgent("a", ["a"], when_done="cycle")], max_turns=3)

    result = await chat.run("go")

    skipped = events_of(chat, TurnSkipped)
    assert [(s.speaker, s.reason) for s in skipped] == [("you", "input ended")] * 2
    assert [m.sender for m in result.messages] == [MANAGER, "a"]


async def test_interrupting_a_waiting_human_skips_their_turn() -> None:
    you = HumanParticipant("you")
    chat = GroupChat([you, ScriptedAgent("a", ["a speaks"])], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(HumanInputRequested)

    assert await chat.interrupt() is True

    result = await finish(task)
    skipped = events_of(chat, TurnSkipped)
    assert [(s.speaker, s.reason) for s in skipped] == [("you", "interrupted")]
    assert not you.channel.requested
    assert result.messages[-1].sender == "a"


async def test_line_sent_before_the_run_is_posted_as_an_interjection() -> None:
    you = HumanParticipant("you")
    you.send("said before the start")
    only_a = FunctionPolicy(lambda view, candidates: "a", name="only_a")
    chat = GroupChat(
        [ScriptedAgent("a", ["a"], when_done="cycle"), you], policy=only_a, max_turns=2
    )

    await chat.run("go")

    posted = [e.message for e in events_of(chat, MessagePosted)]
    assert [(m.sender, m.kind) for m in posted if m.content == "said before the start"] == [
        ("you", "interjection")
    ]
    assert list(chat.messages) == posted


async def test_line_sent_as_an_agent_finishes_is_not_lost() -> None:
    a = GatedAgent("a")
    rec = Recorder("b replies")
    you = HumanParticipant("you")
    chat = GroupChat([a, ScriptedAgent("b", rec), you], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")

    a.release.set()  # a finishes ...
    you.send("one more thing")  # ... and the person speaks before b is even selected

    await finish(task)  # the run is over: every event is in the history
    posted = [e.message for e in events_of(chat, MessagePosted)]
    assert [(m.sender, m.kind) for m in posted if m.content == "one more thing"] == [
        ("you", "interjection")
    ]
    assert "one more thing" in [m.content for m in rec.seen[0]]


async def test_a_human_added_mid_chat_can_interject_and_leaves_cleanly() -> None:
    a = GatedAgent("a")
    chat = GroupChat([a, ScriptedAgent("b", ["b speaks"])], max_turns=2)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(TextDelta, sender="a")
    late = HumanParticipant("late")

    await chat.add(late)
    late.send("hello all")
    posted = await probe.wait_for(MessagePosted, sender="late")
    assert posted.message.kind == "interjection"

    await chat.remove("late")
    late.send("talking to nobody")  # no longer routed to the chat
    a.release.set()
    result = await finish(task)
    assert [m.content for m in result.messages if m.sender == "late"] == ["hello all"]
    assert await late.channel.receive(timeout=TINY) == "talking to nobody"


# ---------------------------------------------------------------- the human picks the speaker


async def test_manual_policy_lets_the_human_pick_through_the_same_channel() -> None:
    a = ScriptedAgent("a", ["a speaks"])
    b = ScriptedAgent("b", ["b speaks"])
    you = HumanParticipant("you")
    chat = GroupChat([a, b, you], policy=ManualPolicy(), max_turns=3)
    probe = ChatProbe.of(chat)
    task = start(chat)

    ask = await probe.wait_for(HumanInputRequested, request="select_speaker")
    assert ask.participant == "you"
    assert ask.choices == ("a", "b", "you")
    assert ask.sender == MANAGER
    you.send("b")
    first = await probe.wait_for(SpeakerSelected)
    assert (first.speaker, first.policy) == ("b", "manual")
    assert "you" in first.reason

    await probe.wait_for(HumanInputRequested, request="select_speaker")
    you.send("3")  # by number: the third candidate
    second = await probe.wait_for(SpeakerSelected)
    assert second.speaker == "you"
    await probe.wait_for(HumanInputRequested, request="turn")
    you.send("my own turn")

    await probe.wait_for(HumanInputRequested, request="select_speaker")
    you.send("@A")  # case-insensitive, with an @
    third = await probe.wait_for(SpeakerSelected)
    assert third.speaker == "a"

    result = await finish(task)
    assert [(m.sender, m.content) for m in result.messages] == [
        (MANAGER, "task"),
        ("b", "b speaks"),
        ("you", "my own turn"),
        ("a", "a speaks"),
    ]
    assert not any(m.kind == "interjection" for m in result.messages)


async def test_manual_policy_reasks_after_a_wrong_name() -> None:
    you = HumanParticipant("you")
    chat = GroupChat([ScriptedAgent("a", ["a"]), you], policy=ManualPolicy(), max_turns=1)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(HumanInputRequested, request="select_speaker")

    you.send("zed")

    retry = await probe.wait_for(HumanInputRequested, request="select_speaker")
    assert "zed" in retry.prompt
    you.send("a")
    await finish(task)
    selected = events_of(chat, SpeakerSelected)
    assert [(s.speaker, s.policy) for s in selected] == [("a", "manual")]


async def test_manual_policy_falls_back_when_the_human_does_not_answer() -> None:
    you = HumanParticipant("you")
    policy = ManualPolicy(timeout=TINY)
    chat = GroupChat([ScriptedAgent("a", ["a"]), you], policy=policy, max_turns=1)

    await chat.run("go")

    asks = events_of(chat, HumanInputRequested)
    assert [(r.request, r.timeout) for r in asks] == [("select_speaker", TINY)]
    selected = events_of(chat, SpeakerSelected)
    assert [(s.speaker, s.policy) for s in selected] == [("a", "round_robin")]
    assert "did not answer" in selected[0].reason


async def test_manual_policy_falls_back_once_the_human_has_left() -> None:
    you = HumanParticipant("you")
    chat = GroupChat([ScriptedAgent("a", ["a"]), you], policy=ManualPolicy(), max_turns=1)
    probe = ChatProbe.of(chat)
    task = start(chat)
    await probe.wait_for(HumanInputRequested, request="select_speaker")

    you.channel.close()

    await finish(task)
    selected = events_of(chat, SpeakerSelected)
    assert [(s.speaker, s.policy) for s in selected] == [("a", "round_robin")]


# ---------------------------------------------------------------- HumanParticipant itself


def test_human_participant_validates_its_options() -> None:
    with pytest.raises(ValueError):
        HumanParticipant("you", on_timeout="shrug")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        HumanParticipant("you", on_timeout="default")
    with pytest.raises(ValueError):
        HumanParticipant("you", timeout=0)
    channel = InputChannel()
    assert HumanParticipant("you", channel=channel).channel is channel


# ---------------------------------------------------------------- InputChannel


async def test_channel_buffers_lines_while_unattached() -> None:
    channel = InputChannel()
    channel.send("one")
    channel.send("two")

    assert await channel.receive() == "one"
    assert await channel.receive() == "two"


async def test_channel_attach_flushes_the_buffer_and_routes_unrequested_lines() -> None:
    channel = InputChannel()
    got: list[str] = []
    channel.send("early")

    channel.attach(got.append)
    assert got == ["early"]
    channel.send("later")
    assert got == ["early", "later"]

    channel.attach(None)
    channel.send("buffered again")
    assert got == ["early", "later"]
    assert await channel.receive() == "buffered again"


async def test_an_attached_channel_publishes_a_line_and_the_request_waits_for_it() -> None:
    channel = InputChannel()
    got: list[str] = []
    channel.attach(got.append)
    waiting = asyncio.create_task(channel.receive())
    assert await channel.wait_requested() is True

    channel.send("answer")

    assert got == ["answer"]  # on its way through the chat
    assert not channel.requested  # a line was sent for this request
    assert channel.deliver("answer")
    assert await waiting == "answer"


async def test_channel_receive_timeout_raises_and_clears_the_request() -> None:
    channel = InputChannel()

    with pytest.raises(TimeoutError):
        await channel.receive(timeout=TINY)

    assert not channel.requested
    channel.send("after the timeout")
    assert await channel.receive(timeout=TINY) == "after the timeout"


async def test_channel_close_ends_requests_and_refuses_sends() -> None:
    channel = InputChannel()
    waiting = asyncio.create_task(channel.receive())
    await channel.wait_requested()

    channel.close()

    assert await waiting is None
    assert channel.closed
    assert await channel.receive() is None
    assert await channel.receive(timeout=TINY) is None
    with pytest.raises(ChannelClosedError):
        channel.send("too late")


async def test_channel_close_keeps_lines_sent_before_it() -> None:
    channel = InputChannel()
    channel.send("last words")
    channel.close()

    assert await channel.receive() == "last words"
    assert await channel.receive() is None


async def test_channel_wait_requested() -> None:
    channel = InputChannel()
    waiter = asyncio.create_task(channel.wait_requested())
    await asyncio.sleep(0)
    assert not waiter.done()

    receiving = asyncio.create_task(channel.receive())
    assert await asyncio.wait_for(waiter, 5) is True
    assert channel.requested
    assert await channel.wait_requested() is True  # already open: at once

    channel.send("done")
    assert await receiving == "done"
    closer = asyncio.create_task(channel.wait_requested())
    await asyncio.sleep(0)
    channel.close()
    assert await asyncio.wait_for(closer, 5) is False
    assert await channel.wait_requested() is False


async def test_channel_send_threadsafe_from_another_thread() -> None:
    channel = InputChannel()
    loop = asyncio.get_running_loop()
    receiving = asyncio.create_task(channel.receive())
    await channel.wait_requested()

    await asyncio.to_thread(channel.send_threadsafe, loop, "from a thread")

    assert await asyncio.wait_for(receiving, 5) == "from a thread"


async def test_channel_refuses_non_text_and_a_second_request() -> None:
    channel = InputChannel()
    with pytest.raises(TypeError):
        channel.send(42)  # type: ignore[arg-type]
    first = asyncio.create_task(channel.receive())
    await channel.wait_requested()
    with pytest.raises(RuntimeError):
        await channel.receive()
    channel.send("for the first")
    assert await first == "for the first"


async def test_a_pause_stops_the_clock_of_a_persons_turn() -> None:
    """The turn's timeout does not run while the chat is paused, and resumes with what was
    left. The loop's own clock is moved by hand: nothing waits on real time."""
    loop = asyncio.get_running_loop()
    now = [loop.time()]
    real_time = loop.time
    loop.time = lambda: now[0]  # type: ignore[method-assign]

    async def advance(seconds: float) -> None:
        now[0] += seconds
        for _ in range(10):  # let the timers now due run
            await asyncio.sleep(0)

    try:
        you = HumanParticipant("you", timeout=10, on_timeout="skip")
        chat = GroupChat([you, ScriptedAgent("bot", ["hi"])], max_turns=2)
        probe = ChatProbe.of(chat)
        run = asyncio.create_task(chat.run("go"))
        await probe.wait_for(HumanInputRequested, participant="you")
        await advance(4)
        await chat.pause(by="you")
        await advance(600)  # paused for ten minutes: the turn is still asked
        assert you.channel.requested
        await chat.resume(by="you")
        await advance(5.5)  # 4 + 5.5 of the 10 s have run
        assert you.channel.requested
        await advance(1)
        skipped = await probe.wait_for(TurnSkipped, speaker="you")
        assert skipped.reason == "no answer within 10 s"
        await run
    finally:
        loop.time = real_time  # type: ignore[method-assign]
