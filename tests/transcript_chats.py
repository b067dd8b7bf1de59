"""Chats for the transcript tests: one real chat with every event type, and hand-built events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from groupchat.chat import GroupChat
from groupchat.events import (
    MANAGER,
    ChatEnded,
    ChatStarted,
    ErrorEvent,
    Event,
    HumanInputRequested,
    MessagePosted,
    ParticipantInfo,
    SpeakerSelected,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnStarted,
)
from groupchat.messages import Message, ToolCallPart, ToolResultPart, Usage
from groupchat.participant import ChatView, Pass, TurnItem
from groupchat.policies import FunctionPolicy
from groupchat.testing import ChatProbe, HumanParticipant, ScriptedAgent

ALL_TYPES = frozenset(
    {
        "chat_started",
        "human_input",
        "control",
        "participant_joined",
        "participant_left",
        "speaker_selected",
        "turn_started",
        "text_delta",
        "message_posted",
        "tool_call",
        "tool_result",
        "human_input_requested",
        "turn_skipped",
        "paused",
        "resumed",
        "error",
        "chat_ended",
    }
)
"""The event types a chat manager publishes (the committed schema)."""


class Gated:
    """Streams ``before``, then waits until :attr:`release` is set (or it is interrupted)."""

    kind = "gated"

    def __init__(self, name: str, before: str) -> None:
        self.name = name
        self.description = f"{name} waits for a gate."
        self.before = before
        self.release = asyncio.Event()

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        yield self.before
        await self.release.wait()
        yield "after"


class Items:
    """Yields a fixed list of turn items (tool parts, text, a closing item)."""

    kind = "tool-user"

    def __init__(self, name: str, items: Sequence[TurnItem]) -> None:
        self.name = name
        self.description = f"{name} uses tools."
        self.items = tuple(items)

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        for item in self.items:
            yield item


class Failing:
    """Streams ``partial`` (if any), then raises."""

    def __init__(self, name: str, partial: str = "") -> None:
        self.name = name
        self.description = f"{name} always fails."
        self.partial = partial

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        if self.partial:
            yield self.partial
        raise RuntimeError("boom")


ORDER = (
    "alice",
    "tooly",
    "you",
    "gated",
    "failing",
    "broken",
    "passer",
    "carol",
    "you",
)
"""Who speaks in the first run of :func:`rich_chat`, in order."""


async def rich_chat(
    text: str = "Hello team, this is the plan.", task: str = "Plan the launch"
) -> GroupChat:
    """A real two-run chat that publishes every event type of the schema.

    Run 1: alice speaks (streamed, with usage), tooly calls tools, you (a human) answer on your
    turn, you interject while gated speaks, the chat is paused and resumed, carol joins, gated
    is interrupted, failing fails after some text, broken fails at once, passer passes, carol
    speaks, carol is removed, you speak again; it ends after nine turns. Run 2 continues the
    same chat with a new task: alice speaks again, then ends the chat.
    """
    order = [*ORDER, "alice", "alice"]

    def pick(view: ChatView, candidates: Sequence[str]) -> tuple[str, str]:
        name = order.pop(0)
        return name, f"next in the script: {name}"

    you = HumanParticipant("you", "The person at the keyboard.")
    gated = Gated("gated", "half a thought ")
    carol = ScriptedAgent("carol", ["Hi, I am new here."], description="Joins late.")
    chat = GroupChat(
        [
            ScriptedAgent(
                "alice", [text, "Back again."], chunk="word", report_usage=True, when_done="end"
            ),
            Items(
                "tooly",
                [
                    ToolCallPart(call_id="c1", name="search", arguments={"q": "launch"}),
                    ToolResultPart(call_id="c1", name="search", content="3 hits"),
                    ToolCallPart(call_id="c2", name="deploy", arguments={}),
                    ToolResultPart(call_id="c2", name="deploy", content="denied", is_error=True),
                    "Found 3 hits.",
                ],
            ),
            you,
            gated,
            Failing("failing", partial="I was saying"),
            Failing("broken"),
            ScriptedAgent("passer", [Pass("nothing to add")]),
        ],
        policy=FunctionPolicy(pick, name="scripted_order"),
        max_turns=len(ORDER),
        on_error="continue",
        metadata={"team": "launch crew"},
    )
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run(task))
    await probe.wait_for(HumanInputRequested, participant="you")
    you.send("Sounds good @alice")
    turn = await probe.wait_for(TurnStarted, speaker="gated")
    await probe.wait_for(TextDelta, message_id=turn.message_id)
    you.send("wait, one question")  # not their turn: an interjection
    await chat.pause(by="you")
    await chat.add(carol)
    await chat.resume(by="you")
    assert await chat.interrupt(by="you")
    await probe.wait_for(HumanInputRequested, participant="you")
    await chat.remove("carol", reason="finished")
    you.send("Thanks all.")
    await asyncio.wait_for(run, 5)
    await asyncio.wait_for(chat.run("One more thing"), 5)
    probe.close()
    return chat


async def rich_events(text: str = "Hello team, this is the plan.") -> list[Event]:
    return (await rich_chat(text)).events()


T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class Events:
    """Builds a hand-made chat log: stamps chat id, gap-free seq and times one second apart."""

    def __init__(self, chat_id: str = "hand-1") -> None:
        self.chat_id = chat_id
        self.events: list[Event] = []

    def add(self, cls: type[Any], sender: str = MANAGER, **fields: Any) -> Event:
        seq = len(self.events)
        event: Event = cls(
            chat_id=self.chat_id,
            seq=seq,
            time=T0 + timedelta(seconds=seq),
            sender=sender,
            **fields,
        )
        self.events.append(event)
        return event


def tool_events(
    *, name: str = "search", text: str = "Here is what I found.", who: str = "tooly"
) -> list[Event]:
    """A hand-built chat whose one turn calls two tools (one fails) and posts a message."""
    log = Events()
    log.add(
        ChatStarted,
        task="Find things",
        participants=(ParticipantInfo(name=who, description="uses tools", kind="tool-user"),),
        policy="round_robin",
        metadata={"team": "tools"},
    )
    log.add(
        SpeakerSelected,
        speaker=who,
        candidates=(who,),
        reason="only one",
        policy="round_robin",
        turn=1,
    )
    log.add(TurnStarted, speaker=who, message_id="m1", turn=1)
    log.add(ToolCall, who, message_id="m1", call_id="k1", name=name, arguments={"q": "cats"})
    log.add(ToolResult, who, message_id="m1", call_id="k1", name=name, content="12 cats\nmore")
    log.add(ToolCall, who, message_id="m1", call_id="k2", name="delete", arguments={"all": True})
    log.add(
        ToolResult,
        who,
        message_id="m1",
        call_id="k2",
        name="delete",
        content="refused",
        is_error=True,
    )
    log.add(TextDelta, who, message_id="m1", text=text)
    parts = (
        ToolCallPart(call_id="k1", name=name, arguments={"q": "cats"}),
        ToolResultPart(call_id="k1", name=name, content="12 cats\nmore"),
        ToolCallPart(call_id="k2", name="delete", arguments={"all": True}),
        ToolResultPart(call_id="k2", name="delete", content="refused", is_error=True),
        ToolCallPart(call_id="k3", name="summarise", arguments={"n": 3}),
    )
    message = Message(
        id="m1", sender=who, content=text, parts=parts, usage=Usage(input_tokens=7, output_tokens=5)
    )
    log.add(MessagePosted, who, message=message)
    log.add(ErrorEvent, error="ValueError: bad", detail="turn", participant=who, fatal=False)
    log.add(
        ChatEnded,
        reason="done",
        status="completed",
        messages=1,
        usage=Usage(input_tokens=7, output_tokens=5),
    )
    return log.events
