"""Record and replay: a chat that ran against models re-runs exactly from the cache, offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from chat_completions_server import Answer, ChatCompletionsServer

from groupchat.agents import LLMAgent, tool
from groupchat.chat import ChatResult, GroupChat
from groupchat.events import Event, SelectorAttempt, TextDelta, ToolCall, ToolResult
from groupchat.models import (
    CacheMiss,
    ChatModel,
    FunctionModel,
    ModelCache,
    ModelError,
    ModelMessage,
    ModelRequest,
    OpenAICompatModel,
    RetryPolicy,
    ScriptedModel,
    complete,
    reply,
    tool_call,
)
from groupchat.selector import LLMSelectorPolicy
from groupchat.termination import MaxMessages

HELLO = ModelRequest(messages=(ModelMessage(role="user", content="hello"),))


@tool
def shout(text: str) -> str:
    """Say it louder."""
    return text.upper()


def unreachable(name: str) -> FunctionModel:
    def fail(request: ModelRequest) -> str:
        raise AssertionError(f"{name} was called during replay")

    return FunctionModel(fail, name=name)


def team(writer: ChatModel, critic: ChatModel, selector: ChatModel) -> GroupChat:
    return GroupChat(
        [LLMAgent("writer", writer, tools=[shout]), LLMAgent("critic", critic)],
        policy=LLMSelectorPolicy(selector),
        termination=MaxMessages(4),
        chat_id="same",
    )


def observable(chat: GroupChat, result: ChatResult) -> list[object]:
    """Everything about a run that must come out the same: messages, deltas, tools, attempts."""
    kept = (TextDelta, ToolCall, ToolResult, SelectorAttempt)
    events: list[Event] = [e for e in chat.events() if isinstance(e, kept)]
    return [
        [m.model_dump() for m in result.messages],
        [e.model_dump(exclude={"time"}) for e in events],
        result.usage,
        result.usage_by,
    ]


async def test_record_then_replay_gives_the_identical_chat(tmp_path: Path) -> None:
    path = tmp_path / "calls.sqlite"
    writer = ScriptedModel(
        [reply("", tool_call("shout", "c1", text="draft")), "DRAFT it is.", "Second draft."],
        name="m:writer",
    )
    critic = ScriptedModel(["Too loud.", "Better."], name="m:critic")
    selector = ScriptedModel(["writer", "the critic", "writer", "critic"], name="m:selector")
    recording = ModelCache(path, "record")
    chat = team(recording.wrap(writer), recording.wrap(critic), recording.wrap(selector))
    first = await chat.run("Write a slogan")
    assert [m.sender for m in first.messages[1:]] == ["writer", "critic", "writer", "critic"]
    assert recording.misses == 9 and recording.hits == 0

    replaying = ModelCache(path, "replay")
    again = team(
        replaying.wrap(unreachable("m:writer")),
        replaying.wrap(unreachable("m:critic")),
        replaying.wrap(unreachable("m:selector")),
    )
    second = await again.run("Write a slogan")
    assert replaying.hits == 9 and replaying.misses == 0
    assert observable(again, second) == observable(chat, first)


async def test_replaying_a_request_never_recorded_is_a_clear_error(tmp_path: Path) -> None:
    cache = ModelCache(tmp_path / "empty.sqlite", "replay")
    with pytest.raises(CacheMiss) as info:
        await complete(cache.wrap(unreachable("m:x")), HELLO)
    message = str(info.value)
    assert message.startswith("m:x: no recorded answer for this request in ")
    assert "record it with cache mode 'record' or 'auto'" in message


async def test_auto_mode_replays_what_it_has_and_records_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "auto.sqlite"
    model = ScriptedModel(["first", "second", "third"], name="m:auto")
    cache = ModelCache(path, "auto")
    assert (await complete(cache.wrap(model), HELLO)).content == "first"
    cache = ModelCache(path, "auto")
    wrapped = cache.wrap(model)
    assert (await complete(wrapped, HELLO)).content == "first"  # replayed
    # The same request again is its own occurrence: not recorded yet, so the model answers.
    assert (await complete(wrapped, HELLO)).content == "second"
    assert (cache.hits, cache.misses, model.calls) == (1, 1, 2)


async def test_failed_calls_are_not_recorded(tmp_path: Path) -> None:
    path = tmp_path / "fail.sqlite"
    cache = ModelCache(path, "record")
    with pytest.raises(ModelError):
        await complete(cache.wrap(ScriptedModel([ModelError("down")], name="m")), HELLO)
    with pytest.raises(CacheMiss):
        await complete(ModelCache(path, "replay").wrap(unreachable("m")), HELLO)


async def test_a_real_client_recorded_once_replays_without_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROUPCHAT_TEST_KEY", "sk-abcdefghijklmnop")
    path = tmp_path / "http.sqlite"
    async with ChatCompletionsServer([Answer("from the wire", usage=(7, 3))]) as server:
        url = server.base_url
        live = OpenAICompatModel("m", base_url=url, key_env="GROUPCHAT_TEST_KEY")
        recorded = await complete(ModelCache(path, "record").wrap(live), HELLO)
    offline = OpenAICompatModel(
        "m", base_url=url, key_env="GROUPCHAT_TEST_KEY", retry=RetryPolicy(max_retries=0)
    )
    replayed = await complete(ModelCache(path, "replay").wrap(offline), HELLO)
    assert replayed == recorded
    assert replayed.content == "from the wire"
    assert b"sk-abcdefghijklmnop" not in path.read_bytes()


def test_unknown_modes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="record, replay or auto"):
        ModelCache(tmp_path / "x", "sometimes")  # type: ignore[arg-type]
