"""Every consumer of a chat's events tells the same story: the TUI's screen state, the export
digest, the plain console, the store's chat summary and the manager's own fold (and the
``chat_ended`` totals) agree on who takes part, what was said, who used how many tokens, what is
asked of whom and how the chat ended, after every event of a rich chat."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from rich.console import Console

from groupchat.chat import GroupChat
from groupchat.events import (
    ChatEnded,
    Event,
    HumanInputRequested,
    MessagePosted,
    Paused,
    TextDelta,
    TurnStarted,
)
from groupchat.magentic import MagenticManager, plan_json, progress_json
from groupchat.messages import Usage
from groupchat.participant import ChatView, HandTo, TurnItem
from groupchat.policies import RoundRobinPolicy, SelectionPolicy
from groupchat.selector import LLMSelectorPolicy
from groupchat.state import SELECTOR, ChatState
from groupchat.testing import (
    ChatProbe,
    HumanParticipant,
    ScriptedAgent,
    ScriptedModel,
    reply,
    tool_call,
)
from groupchat.transcripts.digest import Digest, Said, digest
from groupchat.transcripts.summary import ChatRowFold
from groupchat.tui.console import ConsoleRenderer
from groupchat.tui.model import ChatScreenState, MessageEntry

FIFTEEN = Usage(input_tokens=10, output_tokens=5)
GATE = object()
"""In an :class:`Actor`'s turn: wait here until the test opens the gate."""


class Actor:
    """Says its turns' items in order; a turn may wait at ``gate`` after its first piece, so the
    test can act while it is mid-message; an item that is an exception is raised."""

    kind = "scripted"
    human = False

    def __init__(self, name: str, turns: Sequence[Sequence[Any]]) -> None:
        self.name = name
        self.description = f"{name}, an actor"
        self.turns = list(turns)
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        for item in self.turns.pop(0) if self.turns else ["(nothing left)"]:
            if item is GATE:
                self.waiting.set()
                await self.gate.wait()
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item


async def run_chat(chat: GroupChat, task: str, answers: Sequence[str] = ()) -> list[Event]:
    """Run ``chat``; each person asked for a turn answers with the next of ``answers``."""
    people = {n: p for n, p in chat.participants.items() if isinstance(p, HumanParticipant)}
    pending = list(answers)
    sub = chat.bus.subscribe(chat.chat_id, start=chat.bus.next_seq(chat.chat_id), maxsize=1 << 20)

    async def answer() -> None:
        async for event in sub:
            if isinstance(event, HumanInputRequested):
                people[event.participant].send(pending.pop(0) if pending else "")

    reader = asyncio.create_task(answer())
    await asyncio.wait_for(chat.run(task), 5)
    await reader
    return list(chat.events())


# ------------------------------------------------------------------------------ the chats


async def round_robin_with_tools() -> tuple[list[Event], SelectionPolicy]:
    from groupchat.agents import LLMAgent

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    model = ScriptedModel(
        [
            reply("Adding.", tool_call("add", "c1", a=2, b=3), usage=FIFTEEN),
            reply("It is 5.", usage=FIFTEEN),
        ]
    )
    calc = LLMAgent("calc", model, tools=[add])
    critic = ScriptedAgent("critic", ["Checked: 5."], chunk="word")
    policy = RoundRobinPolicy()
    chat = GroupChat([calc, critic], policy=policy, max_turns=2)
    return await run_chat(chat, "What is 2 + 3?"), policy


async def selector_with_failed_attempts() -> tuple[list[Event], SelectionPolicy]:
    model = ScriptedModel(
        [
            reply("nobody", usage=FIFTEEN),
            reply("bob", usage=FIFTEEN),
            reply("alice", usage=FIFTEEN),
        ],
        when_done="cycle",
    )
    policy = LLMSelectorPolicy(model)
    alice = ScriptedAgent("alice", ["alice here"], description="Starts.", chunk="word")
    bob = ScriptedAgent("bob", ["bob here"], description="Follows.", chunk="word")
    chat = GroupChat([alice, bob], policy=policy, max_turns=2)
    return await run_chat(chat, "Talk"), policy


async def magentic_four_calls() -> tuple[list[Event], SelectionPolicy]:
    plan = plan_json(["alice answers"], given=["a task"])
    go = progress_json("alice", "Answer it.", reason="alice knows")
    done = progress_json(satisfied=True, reason="answered")
    answers = [reply(text, usage=FIFTEEN) for text in (plan, go, done, "The answer.")]
    policy = MagenticManager(ScriptedModel(answers, name="scripted:manager", chunk="all"))
    alice = ScriptedAgent("alice", ["here it is"], description="Answers.")
    chat = GroupChat([alice], policy=policy)
    return await run_chat(chat, "Answer"), policy


async def people_and_trouble() -> tuple[list[Event], SelectionPolicy]:
    """Interrupted mid-message, paused, someone removed and invited back, a person's turns
    (one answered, one passed), a handoff, a failing turn, an interjection."""
    ada = Actor(
        "ada",
        [
            ["the first words ", GATE, "never said"],
            [HandTo("you", "your call"), "over to you"],
            [RuntimeError("ada broke")],
        ],
    )
    you = HumanParticipant("you")
    bob = ScriptedAgent("bob", ["bob here", "bob is back"], chunk="word")
    policy = RoundRobinPolicy()
    chat = GroupChat([ada, you, bob], policy=policy, max_turns=6, on_error="continue")
    probe = ChatProbe.of(chat)
    running = asyncio.create_task(chat.run("Work together"))
    await asyncio.wait_for(ada.waiting.wait(), 5)
    await chat.pause(by="you")
    assert await chat.interrupt(by="you")
    await probe.wait_for(Paused)
    await probe.wait_for(MessagePosted, sender="ada")
    await chat.say("you", "a word in between")
    await chat.remove("bob", reason="not needed", by="you")
    await probe.wait_for(lambda e: e.type == "participant_left")
    await chat.resume(by="you")
    await probe.wait_for(HumanInputRequested, participant="you")
    you.send("my answer")
    await probe.wait_for(TurnStarted, speaker="ada")
    await probe.wait_for(HumanInputRequested, participant="you")
    await chat.invite("bob", by="you")
    await probe.wait_for(lambda e: e.type == "participant_joined")
    you.send("")
    await asyncio.wait_for(running, 5)
    return list(chat.events()), policy


CHATS = [round_robin_with_tools, selector_with_failed_attempts, magentic_four_calls]
CHATS.append(people_and_trouble)


# ------------------------------------------------------------------------------ the consumers


class Consumers:
    """Every consumer, fed one event at a time."""

    def __init__(self, events: list[Event], policy: SelectionPolicy) -> None:
        self.events = events
        self.screen = ChatScreenState("you")
        self.out = io.StringIO()
        self.console = ConsoleRenderer(
            Console(file=self.out, width=200, color_system=None), me="you"
        )
        self.summary = ChatRowFold(events[0].chat_id)
        self.manager = ChatState(events[0].chat_id, str(getattr(policy, "usage_key", SELECTOR)))
        self.seen: list[Event] = []

    def apply(self, event: Event) -> None:
        self.seen.append(event)
        self.screen.apply(event)
        self.console.render(event)
        self.summary.apply(event)
        self.manager.apply(event)

    def digest(self) -> Digest:
        return digest(self.seen)

    def check(self) -> None:
        """Everyone agrees on what the events so far say."""
        screen, manager, d = self.screen, self.manager, self.digest()
        # members
        present = screen.names()
        assert self.summary.participants == present
        assert self.console.timeline.names() == present
        assert [m for m in present if m in manager.left] == []
        assert set(present) <= set(d.people)
        # what was said: posted, and streamed but not posted yet
        posted = [m.content for m in manager.messages]
        shown = [e for e in screen.entries if isinstance(e, MessageEntry)]
        assert [e.text for e in shown if not e.streaming and e.message is not None] == posted
        said = [e.message.content for e in d.entries if isinstance(e, Said)]
        assert said == [e.text for e in shown if e.message is not None or e.streaming]
        assert screen.messages == self.summary.messages == len(posted)
        # tokens, by whom
        by = {name: u for name, u in screen.usage_by.items() if u.total_tokens}
        assert by == {name: u for name, u in manager.usage_by.items() if u.total_tokens}
        assert {name: s.usage for name, s in d.stats.items() if s.usage.total_tokens} == by
        assert self.summary.usage == screen.usage == manager.usage
        # what is asked of whom
        assert self.console.request == screen.request
        # how it ended
        end = d.end
        if end is not None:
            assert screen.state == "ended" and screen.end_status == end.status
            assert self.summary.status == end.status
            assert f"chat ended ({end.status})" in self.out.getvalue()
            assert {k: u for k, u in end.usage_by.items() if u.total_tokens} == by


@pytest.mark.parametrize("make", CHATS, ids=lambda f: f.__name__)
async def test_every_consumer_agrees_after_every_event(make: Any) -> None:
    events, policy = await make()
    consumers = Consumers(events, policy)
    for event in events:
        consumers.apply(event)
        if not isinstance(event, TextDelta) or event.seq % 3 == 0:
            consumers.check()
    (end,) = [e for e in events if isinstance(e, ChatEnded)]
    assert consumers.screen.usage_by == dict(end.usage_by)
    for text in [m.content for m in consumers.manager.messages if m.kind in ("turn",)]:
        assert text.strip().splitlines()[0] in consumers.out.getvalue()


async def test_a_magentic_chat_bills_its_four_calls_to_the_manager_while_it_runs() -> None:
    events, _ = await magentic_four_calls()
    screen = ChatScreenState()
    for event in events:
        if isinstance(event, ChatEnded):
            break
        screen.apply(event)
    assert screen.usage_by == {"manager": Usage(input_tokens=40, output_tokens=20)}
    (end,) = [e for e in events if isinstance(e, ChatEnded)]
    assert end.usage_by["manager"].total_tokens == 60
    assert "selector" not in digest(events).stats
    assert digest(events).stats["manager"].usage.total_tokens == 60


async def test_the_rich_chat_has_every_thing_it_is_meant_to_show() -> None:
    events, _ = await people_and_trouble()
    kinds = {e.type for e in events}
    assert {
        "paused",
        "resumed",
        "participant_left",
        "participant_joined",
        "handoff",
        "error",
        "human_input_requested",
        "human_input",
        "turn_skipped",
    } <= kinds
    assert any(isinstance(e, MessagePosted) and e.message.interrupted for e in events)
    assert any(isinstance(e, MessagePosted) and e.message.kind == "interjection" for e in events)


def test_an_attempt_stored_without_whom_it_bills_counts_under_the_folds_key() -> None:
    from datetime import UTC, datetime

    from groupchat.events import SelectorAttempt, dump_event, parse_event
    from groupchat.timeline import Timeline

    old = (
        '{"chat_id":"c","seq":0,"time":"2024-05-01T00:00:00Z","sender":"manager",'
        '"type":"selector_attempt","policy":"magentic","attempt":1,"answer":"{}",'
        '"accepted":true,"problem":"","usage":{"input_tokens":10,"output_tokens":5}}'
    )
    event = parse_event(old)
    assert isinstance(event, SelectorAttempt) and event.billed_to is None
    assert dump_event(event) == old  # byte for byte
    manager = ChatState("c", "manager")
    manager.apply(event)
    assert list(manager.usage_by) == ["manager"]
    timeline = Timeline()
    timeline.apply(event)
    assert list(timeline.usage_by) == ["selector"]
    new = event.model_copy(update={"billed_to": "manager"})
    assert '"billed_to":"manager"' in dump_event(new)
    assert parse_event(dump_event(new)) == new
    timeline = Timeline()
    timeline.apply(new)
    assert list(timeline.usage_by) == ["manager"]
    end = ChatEnded(
        chat_id="c",
        seq=1,
        time=datetime(2024, 5, 1, tzinfo=UTC),
        sender="manager",
        reason="done",
        usage=FIFTEEN,
        usage_by={"manager": FIFTEEN},
    )
    old_fold = Timeline()
    old_fold.replay([event, end])
    assert old_fold.usage_by == {"manager": FIFTEEN}  # the chat's own totals are the truth
