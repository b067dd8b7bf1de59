"""Team specs with models: LLM participants, the LLM selector, hand-offs, the model cache,
``--model``, and the LLM example run offline."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from chat_completions_server import Answer, ChatCompletionsServer

from groupchat.agents import LLMAgent
from groupchat.app.cli import main
from groupchat.handoff import HandoffPolicy
from groupchat.models import (
    CachedModel,
    ChatModel,
    FunctionModel,
    ModelRequest,
    OpenAICompatModel,
    ScriptedModel,
)
from groupchat.policies import CandidateFilter, MentionPolicy
from groupchat.selector import LLMSelectorPolicy
from groupchat.spec import SpecError, load_spec, parse_spec
from groupchat.tui.headless import run_headless

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "llm_team.yaml"


def lookup(city: str, days: int = 1) -> str:
    """Look up the weather."""
    return f"{city}: sunny for {days} days"


def delete_file(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


TEAM = """\
name: helpers
model_cache: {path: PATH, mode: record}
participants:
  - kind: llm
    name: helper
    model: openai:gpt-4.1-mini
    description: Answers questions.
    system_prompt: Be brief.
    window: 6
    max_context_tokens: 2000
    tools:
      - test_llm_spec:lookup
      - {function: "test_llm_spec:delete_file", requires_approval: true, name: rm}
    max_tool_rounds: 3
    temperature: 0.2
    max_tokens: 300
    approver: you
    approval_timeout: 30
    timeout: 20
    max_retries: 1
  - kind: llm
    name: expert
    model: ollama:llama3.2
  - kind: human
    name: you
policy:
  kind: llm_selector
  model: openai:gpt-4.1-mini
  window: 5
  max_attempts: 2
  allow_repeated_speaker: false
  prompt: "Pick one of {candidates}.\\n{history}"
  candidates: [helper, expert]
  temperature: 0
  fallback: {kind: mention}
termination: {max_messages: 4}
"""


def team_text(tmp_path: Path) -> str:
    return TEAM.replace("PATH", str(tmp_path / "calls.sqlite"))


def spec_error(text: str, tmp_path: Path) -> str:
    path = tmp_path / "team.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return str(info.value)


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


# ----------------------------------------------------------------------------- building


def test_every_llm_field_is_built(tmp_path: Path) -> None:
    chat = parse_spec(team_text(tmp_path), source="team.yaml").build()
    helper = chat.participants["helper"]
    assert isinstance(helper, LLMAgent)
    assert (helper.system_prompt, helper.description, helper.window) == (
        "Be brief.",
        "Answers questions.",
        6,
    )
    assert (helper.max_context_tokens, helper.max_tool_rounds) == (2000, 3)
    assert (helper.temperature, helper.max_tokens, helper.approver) == (0.2, 300, "you")
    assert list(helper.tools) == ["lookup", "rm"]
    assert helper.tools["rm"].requires_approval and not helper.tools["lookup"].requires_approval
    assert isinstance(helper.model, CachedModel)  # the team's cache
    inner = helper.model.model
    assert isinstance(inner, OpenAICompatModel)
    assert (inner.name, inner.timeout, inner.retry.max_retries) == ("openai:gpt-4.1-mini", 20, 1)
    expert = chat.participants["expert"]
    assert isinstance(expert, LLMAgent) and expert.model.name == "ollama:llama3.2"
    assert isinstance(expert.model, CachedModel) and expert.model.cache is helper.model.cache

    policy = chat.policy
    assert isinstance(policy, LLMSelectorPolicy)
    assert (policy.window, policy.max_attempts, policy.allow_repeated_speaker) == (5, 2, False)
    assert policy.prompt == "Pick one of {candidates}.\n{history}"
    assert isinstance(policy.fallback, MentionPolicy)
    assert policy.candidate_filter is not None
    assert policy.candidate_filter(chat.view, ["helper", "you", "expert"]) == ["helper", "expert"]
    assert isinstance(policy.model, CachedModel) and policy.model.cache is helper.model.cache


def test_a_models_factory_replaces_the_clients() -> None:
    text = (
        "participants:\n  - {kind: llm, name: a, model: 'openai:x'}\n"
        "policy: {kind: llm_selector, model: 'vllm:y'}\n"
    )
    made: list[str] = []

    def models(name: str) -> ChatModel:
        made.append(name)
        return ScriptedModel(["hi"], name=f"double of {name}")

    chat = parse_spec(text).build(models=models)
    assert made == ["openai:x", "vllm:y"]
    assert chat.participants["a"].model.name == "double of openai:x"  # type: ignore[attr-defined]


def test_handoff_policy_gives_agents_their_transfer_tools() -> None:
    text = """\
participants:
  - {kind: llm, name: triage, model: "openai:m"}
  - {kind: llm, name: billing, model: "openai:m"}
  - {kind: human, name: you}
policy:
  kind: handoff
  start: triage
  handoffs: {triage: [billing, you], billing: [triage]}
  follow_mentions: false
"""
    chat = parse_spec(text).build()
    assert isinstance(chat.policy, HandoffPolicy)
    assert chat.policy.start == "triage" and not chat.policy.follow_mentions
    assert chat.participants["triage"].handoffs == ("billing", "you")  # type: ignore[attr-defined]
    assert chat.participants["billing"].handoffs == ("triage",)  # type: ignore[attr-defined]


def test_a_wrapped_handoff_policy_is_attached_too() -> None:
    text = """\
participants:
  - {kind: llm, name: a, model: "openai:m"}
  - {kind: llm, name: b, model: "openai:m"}
policy: {kind: handoff, exclude_last_speaker: true}
"""
    chat = parse_spec(text).build()
    assert isinstance(chat.policy, CandidateFilter)
    assert chat.participants["a"].handoffs == ("b",)  # type: ignore[attr-defined]


def test_with_model_replaces_every_model_nested_ones_too() -> None:
    text = """\
participants:
  - {kind: llm, name: a, model: "openai:one"}
  - {kind: scripted, name: s, script: [x]}
policy:
  kind: mention
  fallback: {kind: llm_selector, model: "openai:two"}
"""
    spec = parse_spec(text).with_model("ollama:llama3.2")
    assert spec.participants[0].model == "ollama:llama3.2"  # type: ignore[union-attr]
    assert spec.policy.fallback.model == "ollama:llama3.2"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown provider"):
        parse_spec(text).with_model("acme:x")


# ----------------------------------------------------------------------------- mistakes


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        pytest.param(
            "model: ollama:llama3.2",
            "model: llama3.2",
            "participants[1].model",
            "write PROVIDER:MODEL",
            id="model-without-a-provider",
        ),
        pytest.param(
            "- test_llm_spec:lookup",
            "- test_llm_spec:nothing_here",
            "participants[0].tools[0]",
            "cannot import 'test_llm_spec:nothing_here'",
            id="tool-that-cannot-be-imported",
        ),
        pytest.param(
            "approver: you",
            "approver: expert",
            "participants",
            "helper.approver: 'expert' is not a human participant",
            id="approver-who-is-not-human",
        ),
        pytest.param(
            "candidates: [helper, expert]",
            "candidates: [helper, ghost]",
            "policy",
            "ghost",
            id="selector-candidate-who-is-not-there",
        ),
        pytest.param(
            'prompt: "Pick',
            'prompt: "{people} Pick',
            "policy.prompt",
            "unknown field(s) people",
            id="selector-prompt-with-an-unknown-field",
        ),
        pytest.param(
            "mode: record",
            "mode: sometimes",
            "model_cache.mode",
            "'record', 'replay' or 'auto'",
            id="model-cache-mode",
        ),
        pytest.param(
            "temperature: 0.2",
            "temperature: 7",
            "participants[0].temperature",
            "less than or equal",
            id="temperature-out-of-range",
        ),
    ],
)
def test_mistakes_name_the_field_and_line(
    tmp_path: Path, old: str, new: str, field: str, problem: str
) -> None:
    text = team_text(tmp_path)
    assert old in text
    text = text.replace(old, new)
    message = spec_error(text, tmp_path)
    assert f": {field} " in message, message
    assert problem in message, message
    assert "(line " in message


def test_unknown_names_in_a_handoff_policy(tmp_path: Path) -> None:
    text = (
        "participants:\n  - {kind: llm, name: a, model: 'openai:m'}\n"
        "policy: {kind: handoff, start: zed}\n"
    )
    message = spec_error(text, tmp_path)
    assert "policy (line 3)" in message and "unknown participants: zed" in message


# ----------------------------------------------------------------------------- the example


def example_model(request: ModelRequest) -> str:
    """Plays every model of examples/llm_team.yaml: the selector and both agents."""
    first = request.messages[0].content or ""
    said = [m.content or "" for m in request.messages]
    if first.startswith("You choose who speaks next"):
        history = first.split("most recent last:\n")[1]
        last = history.split("\n\n")[0].splitlines()[-1]
        if last.startswith("task:"):
            return "ideas"
        if last.startswith("ideas:"):
            return "The critic should go next."
        if "@you" in last:
            return "you"
        return "critic"
    if "You are ideas" in first:
        return "Splitr: split a bill in one command. Or Tabby: tabs for your table."
    if any(s.startswith("you: ") for s in said):
        return "Splitr it is. DONE"
    return "Tabby sounds like a cat. @you, Splitr or Tabby?"


async def test_the_llm_example_runs_offline_on_a_scripted_model() -> None:
    spec = load_spec(EXAMPLE)
    chat = spec.build(models=lambda name: FunctionModel(example_model, name=name))
    out, err = io.StringIO(), io.StringIO()
    result = await run_headless(
        chat, spec.task, stdin=io.StringIO("Splitr\n"), stdout=out, stderr=err
    )
    assert result.status == "completed", result.reason
    assert result.reason == "critic said 'DONE'"
    assert [m.sender for m in result.messages] == ["manager", "ideas", "critic", "you", "critic"]
    assert set(result.usage_by) == {"selector", "ideas", "critic"}
    assert all(m.usage is not None for m in result.messages if m.sender in ("ideas", "critic"))


# ----------------------------------------------------------------------------- the command line


def test_a_bad_model_on_the_command_line_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", str(EXAMPLE), "--model", "acme:thing", "--headless"]) == 2
    err = capsys.readouterr().err
    assert "unknown provider 'acme'" in err
    assert "Traceback" not in err


async def test_model_on_the_command_line_runs_the_team_on_that_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GROUPCHAT_DB", str(tmp_path / "chats.sqlite"))
    monkeypatch.delenv("GROUPCHAT_API_KEY", raising=False)
    spec = tmp_path / "team.yaml"
    spec.write_text(
        "task: say hi\n"
        "participants:\n  - {kind: llm, name: a, model: 'openai:never-used'}\n"
        "termination: {max_messages: 1}\n",
        encoding="utf-8",
    )
    async with ChatCompletionsServer([Answer("hello from the local server")]) as server:
        model = f"{server.base_url}#tiny"
        code = await asyncio.to_thread(main, ["run", str(spec), "--model", model, "--headless"])
    assert code == 0, capsys.readouterr().err
    assert "a: hello from the local server" in capsys.readouterr().out
    assert server.requests[0].body["model"] == "tiny"
    assert server.requests[0].headers["authorization"] == "Bearer not-needed"  # no key sent
