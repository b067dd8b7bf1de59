"""The LLM agent: its view of the chat, streaming, usage, tools, approvals, failures."""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

import pytest
from chat_completions_server import Answer, Call, ChatCompletionsServer
from pydantic import Field

from groupchat.agents import HumanParticipant, LLMAgent, ScriptedAgent, Tool, tool
from groupchat.chat import GroupChat
from groupchat.events import (
    ErrorEvent,
    HumanInputRequested,
    TextDelta,
    ToolCall,
    ToolResult,
)
from groupchat.frozen import FrozenDict
from groupchat.messages import ToolCallPart, Usage
from groupchat.models import (
    OpenAICompatModel,
    RetryPolicy,
    ScriptedModel,
    ServerError,
    reply,
    tool_call,
)
from groupchat.policies import RoundRobinPolicy
from groupchat.testing import ChatProbe


def results(chat: GroupChat) -> list[ToolResult]:
    return [e for e in chat.events() if isinstance(e, ToolResult)]


async def solo(agent: LLMAgent, task: str = "go", **options: object) -> GroupChat:
    chat = GroupChat([agent], max_turns=1, **options)  # type: ignore[arg-type]
    await chat.run(task)
    return chat


# ----------------------------------------------------------------------------- the request


async def test_the_request_frames_the_chat_for_the_model() -> None:
    model = ScriptedModel(["Agreed."])
    agent = LLMAgent("bob", model, system_prompt="You are terse.", description="Reviews")
    chat = GroupChat(
        [ScriptedAgent("alice", ["Ship it?"], description="Writes code"), agent],
        policy=RoundRobinPolicy(),
        max_turns=2,
    )
    await chat.run("Review the patch")
    system, *history = model.requests[0].messages
    assert system.role == "system"
    assert system.content is not None
    assert system.content.startswith("You are terse.\n\nYou are bob, one participant")
    assert "- alice: Writes code" in system.content
    assert "task" not in system.content  # the task is in the window
    assert [(m.role, m.content) for m in history] == [
        ("user", "Task: Review the patch"),
        ("user", "alice: Ship it?"),
    ]


async def test_own_messages_are_the_assistants_and_the_window_is_bounded() -> None:
    model = ScriptedModel(["b1", "b2", "b3"])
    agent = LLMAgent("bob", model, window=3)
    alice = ScriptedAgent("alice", ["a1", "a2", "a3"])
    chat = GroupChat([alice, agent], max_turns=6)
    await chat.run("the task")
    last = model.requests[-1].messages
    assert [(m.role, m.content) for m in last[1:]] == [
        ("user", "alice: a2"),
        ("assistant", "b2"),
        ("user", "alice: a3"),
    ]
    assert last[0].content is not None and "The chat's task: the task" in last[0].content


async def test_the_token_budget_drops_what_does_not_fit() -> None:
    model = ScriptedModel(["ok"])
    agent = LLMAgent("bob", model, window=None, max_context_tokens=30)
    alice = ScriptedAgent("alice", ["y" * 400])
    carol = ScriptedAgent("carol", ["tiny"])
    chat = GroupChat([alice, carol, agent], max_turns=3)
    await chat.run()
    assert [m.content for m in model.requests[0].messages[1:]] == ["carol: tiny"]


# ----------------------------------------------------------------------------- the turn


async def test_text_streams_to_the_bus_and_the_message_carries_the_usage() -> None:
    usage = Usage(input_tokens=40, output_tokens=3)
    agent = LLMAgent("bob", ScriptedModel([reply("one two three", usage=usage)]))
    chat = await solo(agent)
    deltas = [e.text for e in chat.events() if isinstance(e, TextDelta)]
    assert deltas == ["one ", "two ", "three"]
    message = chat.messages[-1]
    assert (message.sender, message.content, message.usage) == ("bob", "one two three", usage)
    assert chat.result is not None and chat.result.usage_by == {"bob": usage}


async def test_without_streaming_the_whole_text_comes_at_once() -> None:
    agent = LLMAgent("bob", ScriptedModel(["one two"]), stream=False)
    chat = await solo(agent)
    assert not [e for e in chat.events() if isinstance(e, TextDelta)]
    assert chat.messages[-1].content == "one two"


async def test_tool_calls_run_and_their_results_go_back_to_the_model() -> None:
    calls: list[tuple[int, int]] = []

    @tool
    def add(a: int, b: Annotated[int, Field(description="the other one")]) -> int:
        """Add two numbers."""
        calls.append((a, b))
        return a + b

    model = ScriptedModel(
        [
            reply("Adding.", tool_call("add", "c1", a=2, b=3)),
            "It is 5.",
        ]
    )
    chat = await solo(LLMAgent("calc", model, tools=[add]))
    assert calls == [(2, 3)]
    message = chat.messages[-1]
    assert message.content == "Adding.\n\nIt is 5."
    assert [type(p).__name__ for p in message.parts] == ["ToolCallPart", "ToolResultPart"]
    events = [e for e in chat.events() if isinstance(e, (ToolCall, ToolResult))]
    assert [(type(e).__name__, e.name) for e in events] == [
        ("ToolCall", "add"),
        ("ToolResult", "add"),
    ]
    assert isinstance(events[0], ToolCall) and events[0].arguments == {"a": 2, "b": 3}
    second = model.requests[1]
    assert [m.role for m in second.messages[-2:]] == ["assistant", "tool"]
    assert second.messages[-1].content == "5"
    assert second.messages[-1].tool_call_id == "c1"
    spec = second.tools[0]
    assert spec.name == "add" and spec.description == "Add two numbers."
    assert spec.parameters["properties"]["b"]["description"] == "the other one"
    # usage of both calls is on the message
    assert message.usage is not None and message.usage.output_tokens > 0


async def test_a_tool_that_raises_is_an_error_result_not_a_crash() -> None:
    async def lookup(city: str) -> str:
        raise LookupError(f"no weather for {city}")

    model = ScriptedModel([reply("", tool_call("lookup", city="Atlantis")), "Sorry."])
    chat = await solo(LLMAgent("bob", model, tools=[lookup]))
    (result,) = results(chat)
    assert result.is_error
    assert result.content == "LookupError: no weather for Atlantis"
    assert model.requests[1].messages[-1].content == "LookupError: no weather for Atlantis"
    assert chat.messages[-1].content == "Sorry."
    assert chat.result is not None and chat.result.status == "max_turns"


async def test_bad_arguments_and_unknown_tools_are_told_to_the_model() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    from groupchat.models import ModelToolCall

    broken = ModelToolCall(id="c3", name="add", arguments="{not json")
    model = ScriptedModel(
        [
            reply("", tool_call("add", "c1", a="two", b=1), tool_call("nope", "c2"), broken),
            "Done.",
        ]
    )
    chat = await solo(LLMAgent("bob", model, tools=[add]))
    first, second, third = results(chat)
    assert first.is_error and first.content.startswith("invalid arguments: a: Input should be")
    assert second.is_error and second.content == "unknown tool 'nope'; your tools: add"
    assert third.is_error and third.content.startswith("invalid arguments: arguments are not")


def _collector(seen: list[tuple[Any, ...]]) -> Tool:
    def tag(paths: list[str], options: dict[str, list[int]], extra: Any = None) -> str:
        """Tag files; changes its own arguments, which must not reach the chat's record."""
        seen.append((paths, options, extra))
        paths.append("changed")
        options["added"] = [0]
        return "tagged"

    return Tool(tag)


ARGUMENTS: dict[str, Any] = {
    "paths": ["a.py", "b.py"],
    "options": {"levels": [1, 2]},
    "extra": {"nested": [{"deep": True}]},
}


async def test_tools_get_plain_lists_and_dicts_from_frozen_arguments() -> None:
    seen: list[tuple[Any, ...]] = []
    frozen = FrozenDict(ARGUMENTS)
    outcome = await _collector(seen).run(frozen)
    assert outcome.content == "tagged" and not outcome.is_error
    ((paths, options, extra),) = seen
    assert type(paths) is list and paths == ["a.py", "b.py", "changed"]
    assert type(options) is dict and type(options["levels"]) is list
    assert (
        type(extra) is dict and type(extra["nested"]) is list and type(extra["nested"][0]) is dict
    )
    assert extra == ARGUMENTS["extra"]
    assert frozen == ARGUMENTS  # the tool changed its own copy


async def test_a_tool_changing_its_arguments_changes_no_event() -> None:
    seen: list[tuple[Any, ...]] = []
    model = ScriptedModel([reply("", tool_call("tag", "c1", **ARGUMENTS)), "Tagged."])
    chat = await solo(LLMAgent("bob", model, tools=[_collector(seen)]))
    ((paths, options, extra),) = seen
    assert paths == ["a.py", "b.py", "changed"] and options == {"levels": [1, 2], "added": [0]}
    assert extra == {"nested": [{"deep": True}]} and type(extra["nested"]) is list
    (call,) = [e for e in chat.events() if isinstance(e, ToolCall)]
    assert call.arguments == ARGUMENTS
    (part,) = [p for p in chat.messages[-1].parts if isinstance(p, ToolCallPart)]
    assert part.arguments == ARGUMENTS
    assert results(chat)[0].content == "tagged"


async def test_sync_tools_run_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    ran_in: list[int] = []

    def where() -> str:
        ran_in.append(threading.get_ident())
        return "here"

    model = ScriptedModel([reply("", tool_call("where")), "ok"])
    await solo(LLMAgent("bob", model, tools=[where]))
    assert ran_in and ran_in[0] != loop_thread


async def test_the_tool_loop_stops_at_its_limit() -> None:
    model = ScriptedModel([reply("", tool_call("ping"))] * 3 + ["never asked"])
    agent = LLMAgent("bob", model, tools=[Tool(lambda: "pong", name="ping")], max_tool_rounds=2)
    chat = await solo(agent)
    assert len(results(chat)) == 2  # the third round's call is not run
    assert [r.tool_choice for r in model.requests] == [None, None, "none"]
    assert model.calls == 3
    assert len(chat.messages[-1].parts) == 4


async def test_a_failing_model_fails_the_turn_with_a_one_line_error() -> None:
    agent = LLMAgent("bob", ScriptedModel([ServerError("m: server error (HTTP 500)")]))
    chat = await solo(agent)
    (error,) = [e for e in chat.events() if isinstance(e, ErrorEvent)]
    assert error.error == "ServerError: m: server error (HTTP 500)"
    assert error.participant == "bob"


async def test_an_agent_on_a_real_endpoint_with_a_tool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUPCHAT_TEST_KEY", "sk-0123456789abcdef")

    def double(n: int) -> int:
        """Double a number."""
        return 2 * n

    steps = [
        Answer("", calls=[Call("double", {"n": 21}, id="call_d")], usage=(30, 8)),
        Answer("The answer is 42.", usage=(50, 6)),
    ]
    async with ChatCompletionsServer(steps) as server:
        model = OpenAICompatModel(
            "m", base_url=server.base_url, key_env="GROUPCHAT_TEST_KEY", retry=RetryPolicy()
        )
        chat = await solo(LLMAgent("bob", model, tools=[double]), "double 21")
        await model.aclose()
    message = chat.messages[-1]
    assert message.content == "The answer is 42."
    assert message.usage == Usage(input_tokens=80, output_tokens=14)
    assert results(chat)[0].content == "42"
    sent = server.requests[1].body["messages"]
    assert sent[-1] == {"role": "tool", "content": "42", "tool_call_id": "call_d"}
    assert server.requests[0].body["tools"][0]["function"]["name"] == "double"


# ----------------------------------------------------------------------------- approval


def approval_team() -> tuple[GroupChat, HumanParticipant, list[str], ScriptedModel]:
    deleted: list[str] = []

    @tool(requires_approval=True)
    def delete(path: str) -> str:
        """Delete a file."""
        deleted.append(path)
        return f"deleted {path}"

    model = ScriptedModel([reply("", tool_call("delete", path="/tmp/x")), "Noted."])
    you = HumanParticipant("you")
    agent = LLMAgent("ops", model, tools=[delete], approval_timeout=5)
    chat = GroupChat([agent, you], max_turns=1)
    return chat, you, deleted, model


@pytest.mark.parametrize("answer", ["yes", " Y ", "approve"])
async def test_an_approved_tool_runs(answer: str) -> None:
    chat, you, deleted, _ = approval_team()
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("clean up"))
    asked = await probe.wait_for(HumanInputRequested, request="approval")
    assert asked.participant == "you"
    assert asked.choices == ("yes", "no")
    assert asked.prompt == 'ops wants to run delete({"path": "/tmp/x"}). Allow it? yes/no'
    you.send(answer)
    await run
    assert deleted == ["/tmp/x"]
    assert results(chat)[0].content == "deleted /tmp/x"


@pytest.mark.parametrize(
    ("answer", "told"),
    [
        ("no", "not run: you declined"),
        ("not on a Friday", "not run: you declined: not on a Friday"),
        (None, "not run: you gave no answer"),
    ],
)
async def test_without_an_explicit_yes_the_tool_does_not_run(answer: str | None, told: str) -> None:
    chat, you, deleted, model = approval_team()
    probe = ChatProbe.of(chat)
    run = asyncio.create_task(chat.run("clean up"))
    await probe.wait_for(HumanInputRequested, request="approval")
    if answer is None:
        you.channel.close()
    else:
        you.send(answer)
    await run
    assert deleted == []
    (result,) = results(chat)
    assert (result.is_error, result.content) == (True, told)
    assert model.requests[1].messages[-1].content == told


async def test_with_no_person_in_the_chat_an_approval_tool_never_runs() -> None:
    ran: list[bool] = []

    @tool(requires_approval=True)
    def launch() -> str:
        """Launch."""
        ran.append(True)
        return "launched"

    model = ScriptedModel([reply("", tool_call("launch")), "ok"])
    chat = await solo(LLMAgent("ops", model, tools=[launch]))
    assert ran == []
    assert results(chat)[0].content.startswith("not run: launch needs a person's approval")


def test_tool_names_must_suit_model_apis_and_be_unique() -> None:
    with pytest.raises(ValueError, match="tool name 'bad name'"):
        Tool(lambda: 1, name="bad name")
    with pytest.raises(ValueError, match="two tools are named 'f'"):
        LLMAgent("a", ScriptedModel(["x"]), tools=[Tool(lambda: 1, name="f")] * 2)
    with pytest.raises(ValueError, match="reserved"):
        LLMAgent("a", ScriptedModel(["x"]), tools=[Tool(lambda: 1, name="transfer_to_b")])


def test_a_tool_schema_comes_from_the_signature_and_docstring() -> None:
    def search(query: str, limit: int = 5, exact: bool = False) -> list[str]:
        """Search the notes.

        Args:
            query: what to look for,
                in plain words.
            limit: at most this many results.
        """
        return []

    spec = Tool(search).spec
    assert spec.description == "Search the notes."
    props = spec.parameters["properties"]
    assert props["query"] == {"type": "string", "description": "what to look for, in plain words."}
    assert props["limit"] == {
        "type": "integer",
        "default": 5,
        "description": "at most this many results.",
    }
    assert spec.parameters["required"] == ["query"]


async def test_a_headless_person_approves_from_standard_input() -> None:
    import io

    from groupchat.tui.headless import run_headless

    chat, _you, deleted, _ = approval_team()
    out, err = io.StringIO(), io.StringIO()
    await run_headless(chat, "clean up", stdin=io.StringIO("yes\n"), stdout=out, stderr=err)
    assert deleted == ["/tmp/x"]


def test_the_console_shows_an_approval_request() -> None:
    import io
    from datetime import UTC, datetime

    from rich.console import Console

    from groupchat.tui.console import ConsoleRenderer

    buf = io.StringIO()
    renderer = ConsoleRenderer(Console(file=buf, width=120, color_system=None), me="you")
    renderer.render(
        HumanInputRequested(
            chat_id="c",
            seq=0,
            time=datetime.now(UTC),
            sender="manager",
            participant="you",
            request="approval",
            prompt='ops wants to run delete({"path": "/tmp/x"}). Allow it? yes/no',
            choices=("yes", "no"),
        )
    )
    assert '» ops wants to run delete({"path": "/tmp/x"}). Allow it? yes/no' in buf.getvalue()
