"""Behaviour of the termination conditions and their combinations in running chats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

import pytest

from groupchat import (
    ChatEnded,
    ChatResult,
    ChatStarted,
    ChatView,
    ExternalStop,
    GroupChat,
    HumanInputRequested,
    HumanParticipant,
    ManualPolicy,
    Message,
    MessagePosted,
    Pass,
    Reply,
    ScriptedAgent,
    SourceMatch,
    SpeakerSelected,
    Termination,
    TextDelta,
    TextMention,
    Timeout,
    TokenBudget,
    TurnSkipped,
    TurnStarted,
)
from groupchat.events import MANAGER, Event
from groupchat.messages import MessageKind
from groupchat.participant import TurnItem
from groupchat.termination import AllOf, AnyOf, MaxMessages
from groupchat.testing import ChatProbe

E = TypeVar("E")

# ---------------------------------------------------------------------------------------- helpers


def agent(name: str, *lines: str | Pass, usage: bool = False) -> ScriptedAgent:
    """An agent that repeats its lines for ever (by default: '<name> speaks')."""
    return ScriptedAgent(
        name, list(lines) or [f"{name} speaks"], when_done="cycle", report_usage=usage
    )


class Puppet:
    """A scripted agent whose every turn waits until the test hands it the line to say."""

    def __init__(self, name: str) -> None:
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self.agent = ScriptedAgent(name, self._next_line)

    async def _next_line(self, view: ChatView) -> str:
        return await self.lines.get()

    def say(self, line: str) -> None:
        self.lines.put_nowait(line)


class Streamer:
    """Streams its pieces, then holds the turn open until released (or cut short)."""

    kind = "test"

    def __init__(self, name: str, *pieces: str) -> None:
        self.name = name
        self.description = "streams, then waits"
        self.pieces = pieces
        self.release = asyncio.Event()

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        for piece in self.pieces:
            yield piece
        await self.release.wait()
        yield Reply()


LONG_TEXT = " ".join(f"word{i}" for i in range(200))


def slow_agent(name: str = "slow") -> ScriptedAgent:
    """Streams LONG_TEXT a word at a time with a tiny delay: far longer than the timeouts used."""
    return ScriptedAgent(name, [LONG_TEXT], chunk="word", delay=0.002, when_done="cycle")


def events_of(chat: GroupChat, cls: type[E]) -> list[E]:
    return [e for e in chat.events() if isinstance(e, cls)]


def last_end(chat: GroupChat) -> ChatEnded:
    found = events_of(chat, ChatEnded)
    assert found, "the chat has not ended"
    return found[-1]


def turn_messages(chat: GroupChat) -> list[tuple[str, str]]:
    return [(m.sender, m.content) for m in chat.messages if m.kind == "turn"]


def speakers(chat: GroupChat) -> list[str]:
    return [e.speaker for e in events_of(chat, SpeakerSelected)]


def is_interjection(event: Event) -> bool:
    return isinstance(event, MessagePosted) and event.message.kind == "interjection"


def probe_of(chat: GroupChat) -> ChatProbe:
    """A probe that reads the chat from its next event on (so it works for a later run too)."""
    return ChatProbe.of(chat, start=chat.bus.next_seq(chat.chat_id))


def start(chat: GroupChat, task: str | None = "task") -> asyncio.Task[ChatResult]:
    return asyncio.create_task(chat.run(task))


async def finish(task: asyncio.Task[ChatResult]) -> ChatResult:
    return await asyncio.wait_for(task, 5)


async def run_to_end(chat: GroupChat, task: str | None = "task") -> ChatResult:
    return await asyncio.wait_for(chat.run(task), 5)


def pair(termination: Termination, *, max_turns: int = 10) -> GroupChat:
    return GroupChat([agent("a"), agent("b")], termination=termination, max_turns=max_turns)


# ---------------------------------------------------------------------------------- max messages


async def test_max_messages_counts_turn_messages_but_not_the_task() -> None:
    chat = pair(MaxMessages(3))
    result = await run_to_end(chat)

    assert [m.kind for m in chat.messages] == ["task", "turn", "turn", "turn"]
    assert result.turns == 3
    assert (result.status, result.reason) == ("completed", "reached 3 messages")
    end = last_end(chat)
    assert (end.status, end.reason, end.messages) == ("completed", "reached 3 messages", 4)


async def test_max_messages_without_a_task() -> None:
    chat = pair(MaxMessages(2))
    result = await run_to_end(chat, None)

    assert [m.kind for m in chat.messages] == ["turn", "turn"]
    assert result.reason == "reached 2 messages"


async def test_max_messages_counts_interjections() -> None:
    a = Puppet("a")
    human = HumanParticipant("you")
    chat = GroupChat([a.agent, human], termination=MaxMessages(2), max_turns=10)
    probe = probe_of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="a")
    human.send("hello from the side")
    await probe.wait_for(is_interjection)
    a.say("my turn's message")
    result = await finish(run)

    assert [(m.sender, m.kind) for m in chat.messages] == [
        (MANAGER, "task"),
        ("you", "interjection"),
        ("a", "turn"),
    ]
    assert (result.status, result.reason, result.turns) == ("completed", "reached 2 messages", 1)
    assert not any(m.interrupted for m in chat.messages)


async def test_max_messages_does_not_count_passed_turns() -> None:
    chat = GroupChat(
        [agent("a", "one", Pass("thinking"), "two")],
        termination=MaxMessages(2),
        max_turns=10,
        idle_rounds=None,
    )
    result = await run_to_end(chat)

    assert result.turns == 3
    assert turn_messages(chat) == [("a", "one"), ("a", "two")]
    assert [e.reason for e in events_of(chat, TurnSkipped)] == ["thinking"]


def test_max_messages_needs_a_positive_count() -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        MaxMessages(0)


# ---------------------------------------------------------------------------------- text mention


async def test_text_mention_ends_the_chat_on_the_message_that_contains_it() -> None:
    chat = GroupChat(
        [agent("a", "working on it"), agent("b", "all DONE now")],
        termination=TextMention("DONE"),
        max_turns=10,
    )
    result = await run_to_end(chat)

    assert turn_messages(chat) == [("a", "working on it"), ("b", "all DONE now")]
    assert (result.status, result.reason) == ("completed", "b said 'DONE'")
    assert last_end(chat).reason == "b said 'DONE'"


async def test_text_mention_ignores_the_task_text() -> None:
    chat = GroupChat(
        [agent("a", "working"), agent("b", "DONE")],
        termination=TextMention("DONE"),
        max_turns=10,
    )
    result = await run_to_end(chat, "say DONE when you are DONE")

    assert result.turns == 2
    assert result.reason == "b said 'DONE'"


async def test_text_mention_only_listens_to_its_sources() -> None:
    chat = GroupChat(
        [agent("a", "DONE, says a"), agent("b", "thinking", "DONE")],
        termination=TextMention("DONE", sources=["b"]),
        max_turns=10,
    )
    result = await run_to_end(chat)

    assert speakers(chat) == ["a", "b", "a", "b"]
    assert result.reason == "b said 'DONE'"


async def test_text_mention_is_case_sensitive_by_default() -> None:
    chat = GroupChat(
        [agent("a", "done"), agent("b", "Done.")], termination=TextMention("DONE"), max_turns=3
    )
    result = await run_to_end(chat)

    assert (result.status, result.reason) == ("max_turns", "reached 3 turns")


async def test_text_mention_can_ignore_case() -> None:
    chat = GroupChat(
        [agent("a", "not yet"), agent("b", "Done.")],
        termination=TextMention("DONE", case_sensitive=False),
        max_turns=5,
    )
    result = await run_to_end(chat)

    assert result.turns == 2
    assert result.reason == "b said 'DONE'"


async def test_text_mention_in_an_interjection_ends_after_the_running_turn() -> None:
    a = Puppet("a")
    human = HumanParticipant("you")
    chat = GroupChat([a.agent, human], termination=TextMention("STOP"), max_turns=10)
    probe = probe_of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="a")
    human.send("please STOP after this")
    await probe.wait_for(is_interjection)
    a.say("finishing my thought")
    result = await finish(run)

    assert result.reason == "you said 'STOP'"
    assert turn_messages(chat) == [("a", "finishing my thought")]
    assert not any(m.interrupted for m in chat.messages)
    assert speakers(chat) == ["a"]


def test_text_mention_needs_text() -> None:
    with pytest.raises(ValueError):
        TextMention("")


# ---------------------------------------------------------------------------------- source match


async def test_source_match_ends_when_the_source_posts() -> None:
    chat = GroupChat([agent("a"), agent("b"), agent("c")], termination=SourceMatch("b"))
    result = await run_to_end(chat)

    assert turn_messages(chat) == [("a", "a speaks"), ("b", "b speaks")]
    assert (result.status, result.reason) == ("completed", "b posted")


async def test_source_match_with_several_sources_ends_on_the_first_of_them() -> None:
    chat = GroupChat([agent("a"), agent("b"), agent("c")], termination=SourceMatch(["c", "b"]))
    result = await run_to_end(chat)

    assert result.reason == "b posted"
    assert result.turns == 2


async def test_source_match_ignores_a_passed_turn() -> None:
    chat = GroupChat(
        [agent("a"), agent("b", Pass("not now"), "here")],
        termination=SourceMatch("b"),
        max_turns=10,
    )
    result = await run_to_end(chat)

    assert speakers(chat) == ["a", "b", "a", "b"]
    assert turn_messages(chat)[-1] == ("b", "here")
    assert result.reason == "b posted"


async def test_source_match_ignores_the_task() -> None:
    chat = pair(SourceMatch(MANAGER) | MaxMessages(2))
    result = await run_to_end(chat)

    assert result.reason == "reached 2 messages"


async def test_source_match_on_a_human_interjection() -> None:
    a = Puppet("a")
    human = HumanParticipant("you")
    chat = GroupChat([a.agent, agent("b"), human], termination=SourceMatch("you"))
    probe = probe_of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="a")
    human.send("I'm here")
    await probe.wait_for(is_interjection)
    a.say("done")
    result = await finish(run)

    assert result.reason == "you posted"
    assert speakers(chat) == ["a"]
    assert turn_messages(chat) == [("a", "done")]


def test_source_match_needs_a_source() -> None:
    with pytest.raises(ValueError):
        SourceMatch([])


# ---------------------------------------------------------------------------------- token budget


async def test_token_budget_ends_when_the_total_reaches_it() -> None:
    chat = GroupChat(
        [agent("a", "one two three", usage=True), agent("b", "four five", usage=True)],
        termination=TokenBudget(5),
        max_turns=10,
    )
    result = await run_to_end(chat)

    assert turn_messages(chat) == [("a", "one two three"), ("b", "four five")]
    assert [m.usage.output_tokens for m in chat.messages if m.usage is not None] == [3, 2]
    assert (result.status, result.reason) == ("completed", "token budget of 5 used (5 tokens)")
    assert result.usage.total_tokens == 5
    end = last_end(chat)
    assert end.usage == result.usage
    assert end.usage.output_tokens == 5


async def test_token_budget_reports_an_overshoot() -> None:
    chat = GroupChat(
        [agent("a", "one two three", usage=True), agent("b", "four five", usage=True)],
        termination=TokenBudget(4),
        max_turns=10,
    )
    result = await run_to_end(chat)

    assert result.turns == 2
    assert result.reason == "token budget of 4 used (5 tokens)"


async def test_token_budget_is_not_spent_by_messages_without_usage() -> None:
    chat = pair(TokenBudget(1), max_turns=4)
    result = await run_to_end(chat)

    assert (result.status, result.usage.total_tokens) == ("max_turns", 0)


def test_token_budget_needs_a_positive_budget() -> None:
    with pytest.raises(ValueError):
        TokenBudget(0)


# --------------------------------------------------------------------------------------- timeout


async def test_timeout_interrupts_a_slowly_streaming_turn_and_keeps_its_text() -> None:
    chat = GroupChat([slow_agent(), agent("b")], termination=Timeout(0.05))
    result = await run_to_end(chat)

    assert (result.status, result.reason) == ("completed", "timed out after 0.05 s")
    end = last_end(chat)
    assert chat.events()[-1] == end
    assert (end.status, end.reason, end.messages) == ("completed", "timed out after 0.05 s", 2)

    last = chat.messages[-1]
    assert (last.sender, last.kind, last.interrupted) == ("slow", "turn", True)
    assert last.content
    assert LONG_TEXT.startswith(last.content)
    assert last.content != LONG_TEXT
    deltas = [e.text for e in events_of(chat, TextDelta) if e.message_id == last.id]
    assert "".join(deltas) == last.content
    assert speakers(chat) == ["slow"]  # nobody is selected after the timeout


async def test_timeout_interrupts_a_human_who_does_not_answer() -> None:
    human = HumanParticipant("you")
    chat = GroupChat([human, agent("b")], termination=Timeout(0.02))
    result = await run_to_end(chat)

    assert result.reason == "timed out after 0.02 s"
    assert [e.request for e in events_of(chat, HumanInputRequested)] == ["turn"]
    skipped = events_of(chat, TurnSkipped)
    assert [(e.speaker, e.reason) for e in skipped] == [("you", "interrupted")]
    assert turn_messages(chat) == []
    assert not human.channel.requested


async def test_timeout_interrupts_a_speaker_selection_that_waits_for_a_human() -> None:
    human = HumanParticipant("you")
    chat = GroupChat([agent("a"), human], policy=ManualPolicy(), termination=Timeout(0.02))
    result = await run_to_end(chat)

    assert result.reason == "timed out after 0.02 s"
    assert [e.request for e in events_of(chat, HumanInputRequested)] == ["select_speaker"]
    assert speakers(chat) == []


async def test_timeout_does_not_end_a_chat_that_finished_first() -> None:
    timeout = Timeout(30)
    chat = pair(timeout | MaxMessages(2))
    result = await run_to_end(chat)

    assert result.reason == "reached 2 messages"
    assert timeout.reason is None


def test_timeout_needs_a_positive_duration() -> None:
    with pytest.raises(ValueError):
        Timeout(0)
    assert Timeout(0.05).describe() == "timeout(0.05s)"


# --------------------------------------------------------------------------------- external stop


async def test_external_stop_interrupts_the_running_turn() -> None:
    stop = ExternalStop()
    streamer = Streamer("s", "partial ", "text")
    chat = GroupChat([streamer, agent("b")], termination=stop)
    probe = probe_of(chat)
    run = start(chat)

    await probe.wait_for(TextDelta, text="text")

    async def press_stop() -> None:
        stop.set("user pressed stop")

    await asyncio.create_task(press_stop())
    result = await finish(run)

    assert (result.status, result.reason) == ("completed", "user pressed stop")
    assert stop.reason == "user pressed stop"
    last = chat.messages[-1]
    assert (last.sender, last.content, last.interrupted) == ("s", "partial text", True)
    assert speakers(chat) == ["s"]
    assert last_end(chat).reason == "user pressed stop"


async def test_external_stop_before_any_text_skips_the_turn() -> None:
    stop = ExternalStop()
    chat = GroupChat([Streamer("s"), agent("b")], termination=stop)
    probe = probe_of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="s")
    stop.set()
    result = await finish(run)

    assert result.reason == "stopped externally"
    assert turn_messages(chat) == []
    assert [(e.speaker, e.reason) for e in events_of(chat, TurnSkipped)] == [("s", "interrupted")]


async def test_external_stop_keeps_the_first_reason() -> None:
    stop = ExternalStop()
    chat = GroupChat([Streamer("s", "hi"), agent("b")], termination=stop)
    probe = probe_of(chat)
    run = start(chat)

    await probe.wait_for(TextDelta, text="hi")
    stop.set("first")
    stop.set("second")
    result = await finish(run)

    assert result.reason == "first"
    assert stop.reason == "first"


async def test_external_stop_set_before_the_run_ends_it_without_a_turn() -> None:
    stop = ExternalStop()
    stop.set()
    chat = pair(stop, max_turns=3)
    result = await run_to_end(chat)

    assert result.reason == "stopped externally"
    assert turn_messages(chat) == []


# ------------------------------------------------------------------------------ runs and resets


async def test_running_again_resets_the_conditions_and_continues_the_chat() -> None:
    chat = GroupChat(
        [agent("a", "a1", "a2"), agent("b", "b1", "b2")], termination=MaxMessages(2), max_turns=9
    )
    first = await run_to_end(chat)
    second = await run_to_end(chat, "more")

    assert first.reason == second.reason == "reached 2 messages"
    assert [(m.sender, m.content) for m in chat.messages] == [
        (MANAGER, "task"),
        ("a", "a1"),
        ("b", "b1"),
        (MANAGER, "more"),
        ("a", "a2"),
        ("b", "b2"),
    ]
    assert first.turns == 2
    assert second.turns == 4
    assert second.messages == chat.messages
    assert chat.result == second
    assert len(events_of(chat, ChatStarted)) == 1
    assert [e.reason for e in events_of(chat, ChatEnded)] == ["reached 2 messages"] * 2
    seqs = [e.seq for e in chat.events()]
    assert seqs == list(range(len(seqs)))


async def test_a_text_mention_that_fired_does_not_end_the_next_run_at_once() -> None:
    chat = GroupChat(
        [agent("a", "DONE first", "DONE again"), agent("b", "still working")],
        termination=TextMention("DONE"),
        max_turns=9,
    )
    first = await run_to_end(chat)
    second = await run_to_end(chat, None)

    assert first.turns == 1
    assert turn_messages(chat) == [
        ("a", "DONE first"),
        ("b", "still working"),
        ("a", "DONE again"),
    ]
    assert (second.status, second.reason, second.turns) == ("completed", "a said 'DONE'", 3)


async def test_an_external_stop_from_the_last_run_does_not_stop_the_next() -> None:
    stop = ExternalStop()
    a = Puppet("a")
    chat = GroupChat([a.agent, agent("b")], termination=stop | MaxMessages(2))
    probe = probe_of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="a")
    stop.set()
    first = await finish(run)
    a.say("back again")
    second = await run_to_end(chat, "go on")

    assert first.reason == "stopped externally"
    assert (second.status, second.reason) == ("completed", "reached 2 messages")
    assert turn_messages(chat) == [("b", "b speaks"), ("a", "back again")]


async def test_a_timeout_starts_again_with_each_run() -> None:
    chat = GroupChat(
        [agent("a", "quick"), slow_agent()], termination=SourceMatch("a") | Timeout(0.05)
    )
    first = await run_to_end(chat)
    second = await run_to_end(chat, None)

    assert first.reason == "a posted"
    assert second.reason == "timed out after 0.05 s"
    assert speakers(chat) == ["a", "slow"]
    assert chat.messages[-1].interrupted


# ---------------------------------------------------------------------------------- combinations


async def test_any_of_ends_with_the_first_condition_to_fire() -> None:
    termination = MaxMessages(10) | TextMention("DONE")
    chat = GroupChat([agent("a", "go"), agent("b", "DONE")], termination=termination)
    result = await run_to_end(chat)

    assert (result.status, result.reason, result.turns) == ("completed", "b said 'DONE'", 2)
    started = events_of(chat, ChatStarted)[0]
    assert started.termination == "(max_messages(10) | text_mention('DONE'))"


@pytest.mark.parametrize(
    ("termination", "reason"),
    [
        (TextMention("DONE") | MaxMessages(1), "a said 'DONE'"),
        (MaxMessages(1) | TextMention("DONE"), "reached 1 message"),
    ],
)
async def test_any_of_on_one_message_reports_the_first_listed(
    termination: Termination, reason: str
) -> None:
    chat = GroupChat([agent("a", "DONE")], termination=termination)
    result = await run_to_end(chat)

    assert result.turns == 1
    assert result.reason == reason


async def test_all_of_waits_for_every_condition_across_messages() -> None:
    termination = SourceMatch("a") & SourceMatch("b")
    chat = GroupChat([agent("a"), agent("b"), agent("c")], termination=termination)
    result = await run_to_end(chat)

    assert speakers(chat) == ["a", "b"]
    assert (result.status, result.reason) == ("completed", "a posted; b posted")


async def test_all_of_with_one_condition_fired_does_not_end_the_chat() -> None:
    mention = TextMention("DONE")
    never = SourceMatch("c")
    chat = GroupChat(
        [agent("a", "DONE"), agent("b"), agent("c")],
        termination=mention & never,
        max_turns=2,
    )
    result = await run_to_end(chat)

    assert (result.status, result.reason) == ("max_turns", "reached 2 turns")
    assert mention.reason == "a said 'DONE'"
    assert never.reason is None
    assert chat.termination is not None and chat.termination.reason is None


async def test_all_of_does_not_interrupt_when_only_an_external_stop_fired() -> None:
    stop = ExternalStop()
    a = Puppet("a")
    chat = GroupChat([a.agent, agent("b")], termination=stop & MaxMessages(3))
    probe = probe_of(chat)
    run = start(chat)

    await probe.wait_for(TurnStarted, speaker="a")
    stop.set()
    a.say("still here")
    a.say("and again")
    result = await finish(run)

    assert stop.reason == "stopped externally"
    assert turn_messages(chat) == [("a", "still here"), ("b", "b speaks"), ("a", "and again")]
    assert not any(m.interrupted for m in chat.messages)
    assert events_of(chat, TurnSkipped) == []
    assert result.reason == "stopped externally; reached 3 messages"


async def test_all_of_completed_by_an_external_stop_interrupts_the_turn() -> None:
    stop = ExternalStop()
    streamer = Streamer("s", "half a ", "sentence")
    chat = GroupChat([agent("a"), streamer], termination=MaxMessages(1) & stop)
    probe = probe_of(chat)
    run = start(chat)

    await probe.wait_for(TextDelta, text="sentence")
    stop.set()
    result = await finish(run)

    assert result.reason == "reached 1 message; stopped externally"
    assert chat.messages[-1].content == "half a sentence"
    assert chat.messages[-1].interrupted


async def test_nested_all_of_inside_any_of() -> None:
    termination = (TextMention("DONE") & SourceMatch("c")) | MaxMessages(10)
    chat = GroupChat([agent("a", "DONE"), agent("b"), agent("c")], termination=termination)
    result = await run_to_end(chat)

    assert speakers(chat) == ["a", "b", "c"]
    assert result.reason == "a said 'DONE'; c posted"
    assert termination.describe() == (
        "((text_mention('DONE') & source_match(c)) | max_messages(10))"
    )


async def test_nested_any_of_inside_all_of() -> None:
    termination = (SourceMatch("x") | SourceMatch("b")) & TextMention("DONE")
    chat = GroupChat([agent("a", "DONE"), agent("b"), agent("x", "hi")], termination=termination)
    result = await run_to_end(chat)

    assert speakers(chat) == ["a", "b"]
    assert result.reason == "b posted; a said 'DONE'"


async def test_nested_external_stop_fires_through_both_levels() -> None:
    stop = ExternalStop()
    streamer = Streamer("s", "cut ")
    termination = (stop & SourceMatch("a")) | MaxMessages(10)
    chat = GroupChat([agent("a"), streamer], termination=termination)
    probe = probe_of(chat)
    run = start(chat)

    await probe.wait_for(TextDelta, text="cut ")
    stop.set("enough")
    result = await finish(run)

    assert result.reason == "enough; a posted"
    assert chat.messages[-1].interrupted
    assert chat.messages[-1].content == "cut "


async def test_combined_conditions_reset_their_parts_between_runs() -> None:
    count = MaxMessages(2)
    source = SourceMatch("a")
    chat = pair(count & source)
    await run_to_end(chat)
    second = await run_to_end(chat, None)

    assert second.reason == "reached 2 messages; a posted"
    assert second.turns == 4


def test_operators_flatten_chains_of_the_same_kind() -> None:
    a, b, c = MaxMessages(1), TextMention("x"), SourceMatch("s")

    any_of = (a | b) | c
    all_of = a & (b & c)
    mixed = a | (b & c)

    assert isinstance(any_of, AnyOf)
    assert any_of.conditions == (a, b, c)
    assert isinstance(all_of, AllOf)
    assert all_of.conditions == (a, b, c)
    assert isinstance(mixed, AnyOf)
    assert mixed.conditions[0] is a
    assert isinstance(mixed.conditions[1], AllOf)
    assert any_of.describe() == "(max_messages(1) | text_mention('x') | source_match(s))"
    assert repr(mixed) == "(max_messages(1) | (text_mention('x') & source_match(s)))"


def test_combining_with_something_else_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        MaxMessages(1) | "DONE"  # type: ignore[operator]
    with pytest.raises(TypeError):
        AllOf(MaxMessages(1), 3)  # type: ignore[arg-type]


async def test_a_custom_condition_by_overriding_check() -> None:
    class QuestionCount(Termination):
        def __init__(self, n: int) -> None:
            super().__init__()
            self.n = n
            self.seen = 0

        def _check(self, message: Message, view: ChatView) -> str | None:
            self.seen += message.content.count("?")
            return f"{self.seen} questions" if self.seen >= self.n else None

    chat = GroupChat([agent("a", "why?"), agent("b", "how? when?")], termination=QuestionCount(3))
    result = await run_to_end(chat)

    assert (result.status, result.reason, result.turns) == ("completed", "3 questions", 2)
    assert events_of(chat, ChatStarted)[0].termination == "QuestionCount"


def message(sender: str, content: str, kind: MessageKind = "turn") -> Message:
    return Message(id=f"{sender}-{content}", sender=sender, content=content, kind=kind)


def test_conditions_checked_directly_stay_fired_until_reset() -> None:
    view = GroupChat([agent("a")]).view
    count = MaxMessages(2)
    mention = TextMention("done", sources=["a"], case_sensitive=False)

    assert count.check(message(MANAGER, "the task", "task"), view) is None
    assert count.check(message("a", "one"), view) is None
    assert count.check(message("you", "psst", "interjection"), view) == "reached 2 messages"
    assert count.check(message("a", "three"), view) == "reached 2 messages"
    assert count.reason == "reached 2 messages"
    count.reset()
    assert count.reason is None
    assert count.check(message("a", "one again"), view) is None

    assert mention.check(message(MANAGER, "say DONE", "task"), view) is None
    assert mention.check(message("b", "DONE"), view) is None
    assert mention.check(message("a", "We are Done."), view) == "a said 'done'"


# ---------------------------------------------------------------------------- chat end and result


async def test_chat_ended_is_the_last_event_and_matches_the_result() -> None:
    chat = GroupChat(
        [agent("a", "one two", usage=True), agent("b", "three", usage=True)],
        termination=MaxMessages(3),
    )
    result = await run_to_end(chat)

    end = chat.events()[-1]
    assert isinstance(end, ChatEnded)
    assert end.sender == MANAGER
    assert (end.reason, end.status, end.messages) == (result.reason, result.status, 4)
    assert end.usage == result.usage
    assert result.usage.output_tokens == 5
    assert chat.result == result
    assert result.chat_id == chat.chat_id
    assert result.messages == chat.messages
    assert result.turns == 3
    assert result.error is None
    assert not chat.running
    assert chat.bus.is_closed(chat.chat_id)


async def test_max_turns_before_the_condition_gives_status_max_turns() -> None:
    chat = pair(MaxMessages(5), max_turns=3)
    result = await run_to_end(chat)

    assert (result.status, result.reason) == ("max_turns", "reached 3 turns")
    assert (last_end(chat).status, last_end(chat).reason) == ("max_turns", "reached 3 turns")


async def test_the_condition_before_max_turns_gives_status_completed() -> None:
    chat = pair(MaxMessages(3), max_turns=3)
    result = await run_to_end(chat)

    assert (result.status, result.reason) == ("completed", "reached 3 messages")


async def test_external_stop_set_before_the_run_ends_it_inside_a_combination() -> None:
    stop = ExternalStop()
    chat = GroupChat(
        [ScriptedAgent("a", ["x"], when_done="cycle")], termination=stop | MaxMessages(5)
    )
    stop.set("not today")
    result = await chat.run("task")
    assert result.status == "completed"
    assert result.reason == "not today"
    assert [m.kind for m in result.messages] == ["task"]


async def test_the_end_reason_counts_in_good_english() -> None:
    one = ScriptedAgent("a", ["x", "y"], when_done="cycle")
    assert (await GroupChat([one], max_turns=1).run("go")).reason == "reached 1 turn"
    chat = GroupChat([ScriptedAgent("a", ["x"], when_done="cycle")], termination=MaxMessages(1))
    assert (await chat.run("go")).reason == "reached 1 message"


def test_only_the_limits_of_a_run_end_only_the_run() -> None:
    from groupchat.termination import ends_only_the_run

    assert ends_only_the_run("reached 1 message")
    assert ends_only_the_run("reached 12 messages")
    assert ends_only_the_run("timed out after 0.5 s")
    assert not ends_only_the_run("planner said 'DONE'")
    assert not ends_only_the_run("magentic: the request is satisfied: done")
    assert not ends_only_the_run("nobody said anything for a round")
