"""The OpenAI-compatible client against a real chat-completions server on loopback.

Nothing in the SDK is patched: requests go over HTTP to ``tests/chat_completions_server.py``.
"""

from __future__ import annotations

import sys

import pytest
from chat_completions_server import Answer, Broken, Call, ChatCompletionsServer, Hang, Status
from pydantic import BaseModel

from groupchat.messages import Usage
from groupchat.models import (
    AuthError,
    Completed,
    MissingExtraError,
    ModelMessage,
    ModelRequest,
    ModelTimeout,
    OpenAICompatModel,
    RetryPolicy,
    ServerError,
    StreamBroken,
    TextChunk,
    ToolCallChunk,
    ToolSpec,
    complete,
    complete_structured,
)

KEY = "sk-test-0123456789abcdefghijklmnop"
ENV = "GROUPCHAT_TEST_KEY"
NO_WAIT = RetryPolicy(max_retries=2, initial_delay=0, jitter=0)

HELLO = ModelRequest(messages=(ModelMessage(role="user", content="hello"),))


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, KEY)


def client(server: ChatCompletionsServer, **options: object) -> OpenAICompatModel:
    settings: dict[str, object] = {"key_env": ENV, "retry": NO_WAIT, "timeout": 5.0}
    settings.update(options)
    return OpenAICompatModel(
        "test-model",
        name="test:test-model",
        base_url=server.base_url,
        **settings,  # type: ignore[arg-type]
    )


async def collect(model: OpenAICompatModel, request: ModelRequest = HELLO) -> list[object]:
    return [event async for event in model.stream(request)]


def assert_keyless(message: str) -> None:
    assert "\n" not in message
    for size in (8, 12, len(KEY)):
        for start in range(len(KEY) - size + 1):
            assert KEY[start : start + size] not in message, message


# ----------------------------------------------------------------------------- answers


async def test_a_streamed_answer_arrives_in_pieces_with_usage() -> None:
    async with ChatCompletionsServer([Answer("Hello there, world", usage=(12, 4))]) as server:
        events = await collect(client(server))
    assert [e.text for e in events if isinstance(e, TextChunk)] == ["Hello ", "there, ", "world"]
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.response.content == "Hello there, world"
    assert final.response.usage == Usage(input_tokens=12, output_tokens=4)
    assert final.response.finish_reason == "stop"
    sent = server.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "test-model"
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"] == [{"role": "user", "content": "hello"}]


async def test_streamed_tool_call_deltas_are_joined_into_one_call() -> None:
    tools = (ToolSpec(name="add", description="Add.", parameters={"type": "object"}),)
    request = HELLO.model_copy(update={"tools": tools, "tool_choice": "auto"})
    answer = Answer("Let me add.", calls=[Call("add", {"a": 1, "b": 2}, id="call_7")])
    async with ChatCompletionsServer([answer]) as server:
        events = await collect(client(server), request)
    calls = [e.call for e in events if isinstance(e, ToolCallChunk)]
    assert len(calls) == 1
    assert (calls[0].id, calls[0].name) == ("call_7", "add")
    assert calls[0].parsed_arguments() == {"a": 1, "b": 2}
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.response.tool_calls == tuple(calls)
    assert final.response.finish_reason == "tool_calls"
    body = server.requests[0].body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "add", "description": "Add.", "parameters": {"type": "object"}},
        }
    ]
    assert body["tool_choice"] == "auto"


async def test_history_with_tool_results_is_sent_in_the_api_shape() -> None:
    from groupchat.models import ModelToolCall

    call = ModelToolCall(id="c1", name="add", arguments='{"a": 1}')
    request = ModelRequest(
        messages=(
            ModelMessage(role="system", content="be brief"),
            ModelMessage(role="assistant", tool_calls=(call,)),
            ModelMessage(role="tool", tool_call_id="c1", content="2"),
        ),
        temperature=0.0,
        max_tokens=20,
        seed=3,
    )
    async with ChatCompletionsServer([Answer("two")]) as server:
        await complete(client(server), request)
    body = server.requests[0].body
    assert body["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
        ],
    }
    assert body["messages"][2] == {"role": "tool", "content": "2", "tool_call_id": "c1"}
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 20, 3)


async def test_a_whole_answer_without_streaming() -> None:
    answer = Answer("done", calls=[Call("look", {"q": "x"})], usage=(3, 2))
    async with ChatCompletionsServer([answer]) as server:
        events = await collect(client(server, streaming=False))
    assert [type(e) for e in events] == [TextChunk, ToolCallChunk, Completed]
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.response.usage == Usage(input_tokens=3, output_tokens=2)
    assert "stream" not in server.requests[0].body


async def test_structured_output_asks_for_the_schema_and_validates_the_answer() -> None:
    class Verdict(BaseModel):
        winner: str
        score: int

    async with ChatCompletionsServer([Answer('{"winner": "pro", "score": 7}')]) as server:
        verdict, usage = await complete_structured(client(server), HELLO, Verdict)
    assert verdict == Verdict(winner="pro", score=7)
    assert usage.total_tokens == 15
    fmt = server.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Verdict"
    assert fmt["json_schema"]["schema"]["required"] == ["winner", "score"]


# ----------------------------------------------------------------------------- failures


async def test_a_rejected_key_is_one_clear_line_without_the_key() -> None:
    async with ChatCompletionsServer([Answer("never")], api_key="sk-the-right-one") as server:
        model = client(server)
        with pytest.raises(AuthError) as info:
            await complete(model, HELLO)
    message = str(info.value)
    assert message == f"test:test-model: the API key was rejected (HTTP 401); check {ENV}"
    assert_keyless(message)
    assert_keyless(repr(model))
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert len(server.requests) == 1  # not retried


async def test_a_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV)
    async with ChatCompletionsServer([Answer("never")]) as server:
        with pytest.raises(AuthError, match=f"no API key: set {ENV}"):
            await complete(client(server), HELLO)
    assert server.requests == []


async def test_a_local_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV)
    async with ChatCompletionsServer([Answer("hi")]) as server:
        response = await complete(client(server, key_required=False), HELLO)
    assert response.content == "hi"


async def test_rate_limited_then_answered() -> None:
    steps = [Status(429, "slow down", headers={"retry-after": "0"}), Answer("made it")]
    async with ChatCompletionsServer(steps) as server:
        response = await complete(client(server), HELLO)
    assert response.content == "made it"
    assert len(server.requests) == 2


async def test_server_errors_are_retried_then_reported() -> None:
    async with ChatCompletionsServer([Status(500, "boom")]) as server:
        with pytest.raises(ServerError, match=r"server error \(HTTP 500\)"):
            await complete(client(server), HELLO)
    assert len(server.requests) == 3  # the first try and two retries


async def test_a_server_error_then_success() -> None:
    async with ChatCompletionsServer([Status(503), Answer("back")]) as server:
        assert (await complete(client(server), HELLO)).content == "back"


async def test_a_stream_cut_off_midway_is_an_error_after_the_text_so_far() -> None:
    async with ChatCompletionsServer([Broken("half of an answer")]) as server:
        seen: list[str] = []
        with pytest.raises(StreamBroken) as info:
            async for event in client(server).stream(HELLO):
                if isinstance(event, TextChunk):
                    seen.append(event.text)
    assert "".join(seen) == "half of an answer"
    assert "\n" not in str(info.value)
    assert len(server.requests) == 1  # text had reached the chat: not retried


async def test_a_slow_answer_times_out_and_is_retried() -> None:
    async with ChatCompletionsServer([Hang()]) as server:
        model = client(server, timeout=0.2, retry=RetryPolicy(max_retries=1, initial_delay=0))
        with pytest.raises(ModelTimeout, match=r"no answer within 0.2 s"):
            await complete(model, HELLO)
    assert len(server.requests) == 2


async def test_a_rejected_request_says_what_the_server_said() -> None:
    from groupchat.models import RequestRejected

    async with ChatCompletionsServer([Status(404, "The model `nope` does not exist")]) as server:
        with pytest.raises(RequestRejected, match=r"HTTP 404\): The model `nope` does not exist"):
            await complete(client(server), HELLO)
    assert len(server.requests) == 1


async def test_an_unreachable_server_is_a_connection_error() -> None:
    from groupchat.models import ModelConnectionError

    async with ChatCompletionsServer() as server:
        url = server.base_url
    model = OpenAICompatModel(
        "m", base_url=url, key_env=ENV, retry=RetryPolicy(max_retries=0), timeout=5
    )
    with pytest.raises(ModelConnectionError, match=r"cannot connect to http://127\.0\.0\.1"):
        await complete(model, HELLO)


async def test_without_the_sdk_the_error_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    model = OpenAICompatModel("m", base_url="http://127.0.0.1:9/v1", key_env=ENV)
    with pytest.raises(MissingExtraError, match=r"pip install 'groupchat\[openai\]'"):
        await complete(model, HELLO)


async def test_a_rejected_key_never_reaches_the_chats_events() -> None:
    from groupchat.agents import LLMAgent
    from groupchat.chat import GroupChat
    from groupchat.events import ErrorEvent, dump_event

    async with ChatCompletionsServer([Answer("never")], api_key="sk-the-right-one") as server:
        chat = GroupChat([LLMAgent("bob", client(server))], max_turns=1)
        result = await chat.run("hi")
    assert result.status == "error"
    (error,) = [e for e in chat.events() if isinstance(e, ErrorEvent)]
    assert error.error == (
        f"AuthError: test:test-model: the API key was rejected (HTTP 401); check {ENV}"
    )
    for event in chat.events():
        assert_keyless(dump_event(event))
