"""OpenTelemetry spans made from a chat's events: the tree, its attributes, its tokens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from tracing_support import Traced, tokens

from groupchat.agents import LLMAgent, ScriptedAgent
from groupchat.chat import GroupChat
from groupchat.events import ModelCall, TextDelta
from groupchat.magentic import MagenticManager, plan_json, progress_json
from groupchat.messages import Usage
from groupchat.models import ScriptedModel, ServerError
from groupchat.models.base import ModelRequest, StreamEvent, TextChunk
from groupchat.models.scripted import reply, tool_call
from groupchat.participant import ChatView, TurnItem
from groupchat.selector import LLMSelectorPolicy
from groupchat.testing import ChatProbe
from groupchat.tracing import Tracing, resolve
from groupchat.tracing.subscriber import trace_events


def _sum(spans: list[Any]) -> Usage:
    total = Usage()
    for span in spans:
        i, o = tokens(span)
        total = total + Usage(input_tokens=i, output_tokens=o)
    return total


async def test_a_round_robin_chat_is_one_trace_of_a_root_and_its_turns() -> None:
    traced = Traced()
    agents = [ScriptedAgent("ann", ["hi", "again"]), ScriptedAgent("ben", ["hello"])]
    chat = GroupChat(agents, max_turns=3, tracing=traced.options())
    await chat.run("say hi")

    assert traced.tree() == [
        "invoke_workflow group_chat",
        [["invoke_agent ann", []], ["invoke_agent ben", []], ["invoke_agent ann", []]],
    ]
    root = traced.root()
    assert root.attributes is not None
    assert root.attributes["gen_ai.conversation.id"] == chat.chat_id
    assert root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert root.attributes["groupchat.policy"] == chat.policy.describe()
    assert root.attributes["groupchat.end.status"] == "max_turns"
    assert root.attributes["groupchat.end.reason"] == "reached 3 turns"
    assert "groupchat.task" not in root.attributes  # content only when asked for
    turn = traced.named("invoke_agent ben")[0]
    assert turn.attributes is not None
    assert turn.attributes["gen_ai.agent.name"] == "ben"
    assert turn.attributes["groupchat.selection.reason"]
    assert turn.attributes["groupchat.interrupted"] is False
    assert {s.context.trace_id for s in traced.spans if s.context} == {root.context.trace_id}
    events = chat.events()
    assert root.start_time == int(events[0].time.timestamp() * 1e6) * 1000  # the events' times
    assert root.end_time == int(events[-1].time.timestamp() * 1e6) * 1000


async def test_tracing_is_off_without_a_provider_and_when_turned_off() -> None:
    assert resolve(None) is None  # the tests set no global provider
    assert resolve(False) is None
    assert resolve(Tracing(enabled=False)) is None
    traced = Traced()
    chat = GroupChat([ScriptedAgent("ann", ["hi"])], max_turns=1, tracing=Tracing(enabled=False))
    await chat.run()
    assert traced.spans == []
    assert chat._tracer() is None


def weather(city: str) -> str:
    """The weather in a city."""
    if city == "Atlantis":
        raise ValueError("no such city")
    return f"sunny in {city}"


async def test_an_llm_team_with_a_tool_and_a_selector() -> None:
    traced = Traced()
    alice = LLMAgent(
        "alice",
        ScriptedModel(
            [
                reply("", tool_call("weather", "c1", city="Oslo"), usage=Usage(input_tokens=5)),
                reply(
                    "", tool_call("weather", "c2", city="Atlantis"), usage=Usage(output_tokens=2)
                ),
                reply("It is sunny.", usage=Usage(input_tokens=7, output_tokens=3)),
            ],
            name="scripted:alice",
        ),
        tools=[weather],
    )
    bob = LLMAgent("bob", ScriptedModel(["Good."], name="scripted:bob"))
    selector = LLMSelectorPolicy(
        ScriptedModel(["nobody", "alice", "bob"], name="scripted:selector"), max_attempts=2
    )
    chat = GroupChat([alice, bob], policy=selector, max_turns=2, tracing=traced.options())
    result = await chat.run("weather?")

    assert traced.tree() == [
        "invoke_workflow group_chat",
        [
            ["select_speaker", [["chat scripted:selector", []], ["chat scripted:selector", []]]],
            [
                "invoke_agent alice",
                [
                    ["chat scripted:alice", []],
                    ["execute_tool weather", []],
                    ["chat scripted:alice", []],
                    ["execute_tool weather", []],
                    ["chat scripted:alice", []],
                ],
            ],
            ["select_speaker", [["chat scripted:selector", []]]],
            ["invoke_agent bob", [["chat scripted:bob", []]]],
        ],
    ]
    usage_by = result.ended.usage_by
    for name in ("alice", "bob"):
        calls = traced.named(f"chat scripted:{name}")
        assert _sum(calls) == usage_by[name]
        assert _sum(traced.named(f"invoke_agent {name}")) == usage_by[name]
        assert all(s.attributes and s.attributes["gen_ai.request.model"] for s in calls)
    attempts = traced.named("chat scripted:selector")
    assert _sum(attempts) == usage_by["selector"]
    assert {s.attributes["gen_ai.request.model"] for s in attempts if s.attributes} == {
        "scripted:selector"
    }
    rejected = attempts[0]
    assert rejected.attributes and rejected.attributes["groupchat.attempt.accepted"] is False
    assert rejected.attributes["error.type"] == "rejected_answer"
    chosen = traced.named("select_speaker")[0]
    assert chosen.attributes and chosen.attributes["groupchat.speaker"] == "alice"
    ok, failed = traced.named("execute_tool weather")
    assert ok.attributes and ok.attributes["gen_ai.tool.name"] == "weather"
    assert ok.attributes["gen_ai.tool.call.id"] == "c1"
    assert "gen_ai.tool.call.arguments" not in ok.attributes
    assert failed.attributes and failed.attributes["error.type"] == "tool_error"
    assert failed.status.status_code.name == "ERROR"
    assert _sum([traced.root()]) == result.ended.usage


async def test_content_is_recorded_only_when_asked_for() -> None:
    traced = Traced()
    agent = LLMAgent(
        "alice",
        ScriptedModel([reply("", tool_call("weather", "c1", city="Oslo")), "Sunny."]),
        tools=[weather],
    )
    chat = GroupChat([agent], max_turns=1, tracing=traced.options(capture_content=True))
    await chat.run("weather in Oslo?")
    [tool] = traced.named("execute_tool")
    assert tool.attributes and tool.attributes["gen_ai.tool.call.arguments"] == '{"city": "Oslo"}'
    assert tool.attributes["gen_ai.tool.call.result"] == "sunny in Oslo"
    root = traced.root()
    assert root.attributes and root.attributes["groupchat.task"] == "weather in Oslo?"


async def test_a_magentic_chat_with_a_replan() -> None:
    traced = Traced()

    def go(speaker: str, **flags: Any) -> str:
        return progress_json(speaker, "Go on.", reason=f"{speaker} is next", **flags)

    answers = [
        plan_json(["alice finds rhymes", "bob writes"]),
        go("alice", progress=False),
        go("alice", in_loop=True),
        plan_json(["bob writes without rhymes"]),
        go("bob"),
        progress_json(satisfied=True, reason="done"),
        "The answer.",
    ]
    model = ScriptedModel(answers, name="scripted:manager", chunk="all")
    team = [
        ScriptedAgent("alice", ["rhymes"], when_done="cycle"),
        ScriptedAgent("bob", ["a limerick"], when_done="cycle"),
    ]
    chat = GroupChat(team, policy=MagenticManager(model, max_stalls=1), tracing=traced.options())
    result = await asyncio.wait_for(chat.run("a limerick"), 5)
    assert result.status == "completed"

    names = [child[0] for child in traced.tree()[1]]
    assert names == [
        "plan",
        "select_speaker",
        "invoke_agent alice",
        "select_speaker",
        "plan",
        "select_speaker",
        "invoke_agent bob",
        "final_answer",
    ]
    root = traced.root()
    assert [e.name for e in root.events if e.name == "replan"] == ["replan"]
    replanned = traced.named("plan")[1]
    assert replanned.attributes and replanned.attributes["groupchat.ledger.cause"] == "stall"
    attempts = traced.named("chat scripted:manager")
    assert len(attempts) == len(answers)
    assert _sum(attempts) == result.ended.usage_by["manager"]


class Gated:
    kind = "gated"
    description = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self.release = asyncio.Event()

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        yield "the first words "
        await self.release.wait()
        yield "never"


async def test_an_interrupted_turn() -> None:
    traced = Traced()
    chat = GroupChat(
        [Gated("slow"), ScriptedAgent("next", ["mine"])], max_turns=2, tracing=traced.options()
    )
    probe = ChatProbe.of(chat)
    task = asyncio.create_task(chat.run("go"))
    await probe.wait_for(TextDelta, sender="slow")
    assert await chat.interrupt(by="you") is True
    await asyncio.wait_for(task, 5)
    slow, nxt = traced.named("invoke_agent")
    assert slow.attributes and slow.attributes["groupchat.interrupted"] is True
    assert nxt.attributes and nxt.attributes["groupchat.interrupted"] is False


class Hanging:
    """A model that streams a word, then waits until its call is cut off."""

    name = "slow:model"

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        yield TextChunk("thinking")
        await asyncio.Event().wait()


async def test_a_model_call_cut_off_by_an_interrupt_is_a_span_of_its_own() -> None:
    """The interrupted call is recorded (``model_call`` with ``interrupted``) and traced, so the
    trace shows what the turn was waiting for when it was cut off."""
    traced = Traced()
    agent = LLMAgent("bob", Hanging())
    chat = GroupChat([agent, ScriptedAgent("ann", ["mine"])], max_turns=2, tracing=traced.options())
    probe = ChatProbe.of(chat)
    task = asyncio.create_task(chat.run("go"))
    await probe.wait_for(TextDelta, sender="bob")
    assert await chat.interrupt(by="you") is True
    await asyncio.wait_for(task, 5)

    [call] = [e for e in chat.events() if isinstance(e, ModelCall)]
    assert (call.model, call.interrupted, call.usage, call.error) == (
        "slow:model",
        True,
        None,
        None,
    )
    [span] = traced.named("chat slow:model")
    [turn] = traced.named("invoke_agent bob")
    assert traced.parent_of(span) is turn
    assert span.attributes and span.attributes["groupchat.interrupted"] is True
    assert span.status.status_code.name != "ERROR"
    assert span.end_time == int(call.time.timestamp() * 1e6) * 1000


async def test_a_failed_model_call() -> None:
    traced = Traced()
    agent = LLMAgent("bob", ScriptedModel([ServerError("m: server error (HTTP 500)")]))
    chat = GroupChat([agent], max_turns=1, tracing=traced.options())
    result = await chat.run("go")
    assert result.status == "error"
    [call] = traced.named("chat ")
    assert call.status.status_code.name == "ERROR"
    assert call.attributes and call.attributes["error.type"] == "ServerError"
    [turn] = traced.named("invoke_agent bob")
    assert turn.status.status_code.name == "ERROR"
    assert traced.parent_of(call) is turn
    root = traced.root()
    assert root.status.status_code.name == "ERROR"
    assert root.attributes and root.attributes["groupchat.end.status"] == "error"


async def test_a_stored_chat_traces_as_the_live_one() -> None:
    live = Traced()
    agent = LLMAgent(
        "alice",
        ScriptedModel([reply("", tool_call("weather", "c1", city="Oslo")), "Sunny."]),
        tools=[weather],
    )
    chat = GroupChat([agent, ScriptedAgent("ben", ["ok"])], max_turns=2, tracing=live.options())
    await chat.run("weather?")
    replayed = Traced()
    trace_events(chat.events(), replayed.options())
    assert replayed.tree() == live.tree()

    def timed(traced: Traced) -> list[tuple[str, int | None, int | None]]:
        return sorted((s.name, s.start_time, s.end_time) for s in traced.spans)

    assert timed(replayed) == timed(live)


async def test_a_wait_for_a_persons_approval_is_a_span_of_its_own() -> None:
    from groupchat.agents import HumanParticipant, tool
    from groupchat.events import HumanInputRequested

    @tool(requires_approval=True)
    def delete(path: str) -> str:
        """Delete a file."""
        return f"deleted {path}"

    traced = Traced()
    model = ScriptedModel([reply("", tool_call("delete", path="/tmp/x")), "Noted."])
    you = HumanParticipant("you")
    agent = LLMAgent("ops", model, tools=[delete], approval_timeout=5)
    chat = GroupChat([agent, you], max_turns=1, tracing=traced.options())
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("clean up"))
    await probe.wait_for(HumanInputRequested, request="approval")
    you.send("yes")
    await asyncio.wait_for(run, 5)
    [wait] = traced.named("wait_for_human you")
    assert wait.attributes and wait.attributes["groupchat.human.request"] == "approval"
    assert wait.attributes["groupchat.human.answered"] is True
    assert traced.parent_of(wait) is traced.named("invoke_agent ops")[0]
    [tool_span] = traced.named("execute_tool delete")
    assert tool_span.start_time is not None and wait.start_time is not None
    assert (
        tool_span.start_time <= wait.start_time <= (wait.end_time or 0) <= (tool_span.end_time or 0)
    )


async def test_metrics_count_tokens_durations_messages_per_chat() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    traced = Traced()
    model = ScriptedModel(
        [reply("one", usage=Usage(input_tokens=10, output_tokens=2)), "two"], name="scripted:a"
    )
    chat = GroupChat(
        [LLMAgent("a", model)], max_turns=2, tracing=traced.options(meter_provider=meters)
    )
    result = await chat.run("go")
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points[metric.name] = list(metric.data.data_points)
    by_type = {
        p.attributes["gen_ai.token.type"]: p.sum for p in points["gen_ai.client.token.usage"]
    }
    usage = result.ended.usage_by["a"]
    assert by_type == {"input": usage.input_tokens, "output": usage.output_tokens}
    [duration] = points["gen_ai.client.operation.duration"]
    assert duration.count == 2
    assert duration.attributes["gen_ai.request.model"] == "scripted:a"
    [messages] = points["groupchat.chat.messages"]
    assert (messages.count, messages.sum) == (1, len(result.messages))


async def test_a_resumed_chat_is_traced_from_where_it_goes_on() -> None:
    first = GroupChat([ScriptedAgent("ann", ["a1", "a2"])], max_turns=1)
    await first.run("go")
    traced = Traced()
    again = GroupChat(
        [ScriptedAgent("ann", ["a2"])],
        chat_id=first.chat_id,
        max_turns=1,
        tracing=traced.options(),
    )
    again.load(first.events())
    result = await again.run()
    assert traced.tree() == ["invoke_workflow group_chat", [["invoke_agent ann", []]]]
    root = traced.root()
    assert root.attributes and root.attributes["gen_ai.conversation.id"] == first.chat_id
    assert root.attributes["groupchat.end.status"] == result.status
