"""Model names, the clients they make, the scripted doubles, retry delays and prices."""

from __future__ import annotations

import subprocess
import sys

import pytest

from groupchat.messages import Usage
from groupchat.models import (
    Completed,
    FunctionModel,
    ModelError,
    ModelMessage,
    ModelRequest,
    OpenAICompatModel,
    Price,
    PriceTable,
    RateLimitError,
    RetryPolicy,
    ScriptedModel,
    TextChunk,
    ToolCallChunk,
    complete,
    models_in,
    parse_model_name,
    reply,
    resolve_model,
    tool_call,
)

HELLO = ModelRequest(messages=(ModelMessage(role="user", content="hello there"),))


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("text", "provider", "model", "url"),
    [
        ("openai:gpt-4.1-mini", "openai", "gpt-4.1-mini", None),
        ("azure:my-deployment", "azure", "my-deployment", None),
        ("ollama:llama3.2", "ollama", "llama3.2", None),
        ("ollama:qwen2.5:7b", "ollama", "qwen2.5:7b", None),
        ("vllm:meta/llama", "vllm", "meta/llama", None),
        ("lmstudio:phi", "lmstudio", "phi", None),
        ("llamacpp:any", "llamacpp", "any", None),
        ("http://localhost:8000/v1#qwen", "url", "qwen", "http://localhost:8000/v1"),
    ],
)
def test_model_names_parse(text: str, provider: str, model: str, url: str | None) -> None:
    name = parse_model_name(text)
    assert (name.provider, name.model, name.base_url) == (provider, model, url)
    assert str(name) == text


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("gpt-4", "write PROVIDER:MODEL"),
        ("openai:", "write PROVIDER:MODEL"),
        ("acme:model", "unknown provider 'acme'"),
        ("http://localhost:8000/v1", "put the model after the URL"),
    ],
)
def test_bad_model_names_say_what_is_accepted(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_model_name(text)


def test_providers_find_their_servers_and_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OLLAMA_HOST", "VLLM_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    openai = resolve_model("openai:gpt-4.1-mini")
    assert isinstance(openai, OpenAICompatModel)
    assert (openai.base_url, openai.key_env, openai.key_required) == (None, "OPENAI_API_KEY", True)
    ollama = resolve_model("ollama:llama3.2")
    assert isinstance(ollama, OpenAICompatModel)
    assert ollama.base_url == "http://localhost:11434/v1"
    assert not ollama.key_required
    monkeypatch.setenv("OLLAMA_HOST", "10.0.0.5:11434")
    assert resolve_model("ollama:llama3.2").base_url == "http://10.0.0.5:11434/v1"  # type: ignore[attr-defined]
    monkeypatch.setenv("VLLM_BASE_URL", "http://gpu:9000/v1/")
    assert resolve_model("vllm:m").base_url == "http://gpu:9000/v1"  # type: ignore[attr-defined]
    url = resolve_model("http://127.0.0.1:5000/v1#tiny", timeout=3)
    assert isinstance(url, OpenAICompatModel)
    assert (url.model, url.name, url.timeout) == ("tiny", "http://127.0.0.1:5000/v1#tiny", 3)
    assert url.key_env == "GROUPCHAT_API_KEY"  # never OPENAI_API_KEY for somebody's URL


def test_azure_takes_endpoint_and_version_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example-resource.invalid")
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-01-01")
    model = resolve_model("azure:deploy")
    assert isinstance(model, OpenAICompatModel)
    assert model.azure is not None
    assert (model.azure.endpoint, model.azure.api_version) == (
        "https://example-resource.invalid",
        "2025-01-01",
    )
    assert (model.key_env, model.model) == ("AZURE_OPENAI_API_KEY", "deploy")


async def test_azure_without_an_endpoint_fails_at_the_first_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k" * 20)
    model = resolve_model("azure:deploy")  # building needs nothing
    with pytest.raises(ModelError, match="set AZURE_OPENAI_ENDPOINT"):
        await complete(model, HELLO)


def test_importing_the_models_loads_no_sdk() -> None:
    code = (
        "import groupchat, groupchat.models as m, sys\n"
        "m.resolve_model('openai:gpt-4.1-mini'); m.ScriptedModel(['x']); m.ModelCache('x.db')\n"
        "groupchat.LLMAgent('a', 'openai:m'); groupchat.LLMSelectorPolicy('ollama:m')\n"
        "groupchat.HandoffPolicy; groupchat.tool; import groupchat.testing\n"
        "print('openai' in sys.modules, 'aiosqlite' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ----------------------------------------------------------------------------- doubles


async def test_a_scripted_model_streams_its_answers_and_estimates_usage() -> None:
    model = ScriptedModel(["one two three", reply("", tool_call("look", "c1", q="x"))])
    events = [e async for e in model.stream(HELLO)]
    assert [e.text for e in events if isinstance(e, TextChunk)] == ["one ", "two ", "three"]
    final = events[-1]
    assert isinstance(final, Completed)
    assert final.response.usage == Usage(input_tokens=3, output_tokens=4)
    events = [e async for e in model.stream(HELLO)]
    assert [type(e) for e in events] == [ToolCallChunk, Completed]
    assert events[0].call.parsed_arguments() == {"q": "x"}  # type: ignore[union-attr]
    assert model.requests == [HELLO, HELLO]
    with pytest.raises(ModelError, match="no answer left"):
        await complete(model, HELLO)


async def test_a_scripted_model_keeps_given_usage_raises_given_errors_and_cycles() -> None:
    usage = Usage(input_tokens=100, output_tokens=1)
    model = ScriptedModel(
        [reply("a", usage=usage), RateLimitError("slow")], when_done="cycle", chunk="all"
    )
    assert (await complete(model, HELLO)).usage == usage
    with pytest.raises(RateLimitError):
        await complete(model, HELLO)
    assert (await complete(model, HELLO)).content == "a"


async def test_a_function_model_answers_from_the_request() -> None:
    async def echo(request: ModelRequest) -> str:
        return f"you said {request.messages[-1].content}"

    model = FunctionModel(echo, name="echo")
    assert (await complete(model, HELLO)).content == "you said hello there"
    assert model.calls == 1


# ----------------------------------------------------------------------------- retries, prices


def test_retry_delays_grow_and_follow_the_servers_hint() -> None:
    policy = RetryPolicy(initial_delay=1, multiplier=2, max_delay=5, jitter=0)
    error = ModelError("x")
    assert [policy.delay(n, error) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    assert policy.delay(1, RateLimitError("x", retry_after=0.25)) == 0.25


def test_prices_give_the_cost_per_participant_and_in_all() -> None:
    table = PriceTable(
        prices={
            "openai:gpt-4.1-mini": Price(input=0.4, output=1.6),
            "llama3.2": Price(input=0, output=0),
        }
    )
    assert table.cost("openai:gpt-4.1-mini", Usage(input_tokens=1_000_000)) == pytest.approx(0.4)
    assert table.cost("ollama:llama3.2", Usage(output_tokens=5)) == 0
    assert table.cost("openai:other", Usage()) is None
    usage_by = {
        "alice": Usage(input_tokens=500_000, output_tokens=100_000),
        "selector": Usage(input_tokens=250_000),
        "bob": Usage(input_tokens=10),
    }
    cost = table.chat_cost(
        usage_by,
        {"alice": "openai:gpt-4.1-mini", "selector": "openai:gpt-4.1-mini", "bob": "x:y"},
    )
    assert cost.total == pytest.approx(0.46)
    assert cost.by == {"alice": pytest.approx(0.36), "selector": pytest.approx(0.1)}
    assert cost.unpriced == ("bob",)


def test_models_in_finds_agents_and_the_selector() -> None:
    from groupchat.agents import LLMAgent, ScriptedAgent
    from groupchat.chat import GroupChat
    from groupchat.policies import exclude_last_speaker
    from groupchat.selector import LLMSelectorPolicy

    chat = GroupChat(
        [LLMAgent("a", ScriptedModel(["x"], name="m1")), ScriptedAgent("b", ["y"])],
        policy=exclude_last_speaker(LLMSelectorPolicy(ScriptedModel(["a"], name="m2"))),
    )
    assert models_in(chat) == {"a": "m1", "selector": "m2"}
