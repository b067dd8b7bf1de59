"""The LLM selector with scripted models: reading answers, re-asking, falling back, counting."""

from __future__ import annotations

import pytest

from groupchat.agents import HumanParticipant, ScriptedAgent
from groupchat.chat import GroupChat
from groupchat.events import ChatEnded, SelectorAttempt, SpeakerSelected
from groupchat.messages import Usage
from groupchat.models import ModelRequest, RateLimitError, ScriptedModel, reply
from groupchat.policies import RandomPolicy
from groupchat.selector import LLMSelectorPolicy, match_speaker
from groupchat.termination import MaxMessages, TokenBudget

NAMES = ("planner", "code_writer", "critic")


def agents() -> list[ScriptedAgent]:
    return [
        ScriptedAgent("planner", ["plan"], description="Makes the plan.", when_done="cycle"),
        ScriptedAgent("code_writer", ["code"], description="Writes code.", when_done="cycle"),
        ScriptedAgent("critic", ["critique"], description="Finds flaws.", when_done="cycle"),
    ]


async def run(policy: LLMSelectorPolicy, turns: int = 1, **options: object) -> GroupChat:
    chat = GroupChat(agents(), policy=policy, max_turns=turns, **options)  # type: ignore[arg-type]
    await chat.run("Build a todo app")
    return chat


def attempts(chat: GroupChat) -> list[SelectorAttempt]:
    return [e for e in chat.events() if isinstance(e, SelectorAttempt)]


def selections(chat: GroupChat) -> list[SpeakerSelected]:
    return [e for e in chat.events() if isinstance(e, SpeakerSelected)]


# ----------------------------------------------------------------------------- reading answers


@pytest.mark.parametrize(
    ("answer", "chosen"),
    [
        ("critic", "critic"),
        ("Critic", "critic"),
        ("  CRITIC.  ", "critic"),
        ("@critic", "critic"),
        ("`code_writer`", "code_writer"),
        ("**code_writer**", "code_writer"),
        ("code writer", "code_writer"),
        ("Code-Writer", "code_writer"),
        ('"planner"', "planner"),
        ("I think the critic should speak next.", "critic"),
        ("Next: Code Writer, to implement the plan", "code_writer"),
    ],
)
def test_answers_are_read_tolerantly(answer: str, chosen: str) -> None:
    assert match_speaker(answer, NAMES) == (chosen, "")


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("", "the answer was empty"),
        ("the tester", "the answer names no candidate"),
        ("criticism", "the answer names no candidate"),
        ("planner, then critic", "the answer names more than one candidate (planner, critic)"),
    ],
)
def test_unusable_answers_say_why(answer: str, problem: str) -> None:
    assert match_speaker(answer, NAMES) == (None, problem)


def test_a_participant_who_may_not_speak_now_is_named() -> None:
    assert match_speaker("planner", ("critic",), NAMES) == (None, "planner cannot speak now")


# ----------------------------------------------------------------------------- in a chat


async def test_a_good_name_is_chosen_with_one_attempt_event() -> None:
    model = ScriptedModel([reply("critic", usage=Usage(input_tokens=90, output_tokens=1))])
    chat = await run(LLMSelectorPolicy(model, window=4))
    (attempt,) = attempts(chat)
    assert (attempt.attempt, attempt.answer, attempt.accepted, attempt.problem) == (
        1,
        "critic",
        True,
        "",
    )
    assert attempt.usage == Usage(input_tokens=90, output_tokens=1)
    (selected,) = selections(chat)
    assert (selected.speaker, selected.reason, selected.policy) == (
        "critic",
        "scripted chose critic",
        "llm_selector",
    )


async def test_the_prompt_lists_candidates_with_descriptions_and_a_window() -> None:
    model = ScriptedModel(["planner", "critic", "code_writer"])
    await run(LLMSelectorPolicy(model, window=2), turns=3)
    prompt = model.requests[2].messages[0].content
    assert prompt is not None
    assert (
        "- planner: Makes the plan.\n- code_writer: Writes code.\n- critic: Finds flaws." in prompt
    )
    assert "The task: Build a todo app" in prompt
    history = prompt.split("most recent last:\n")[1].split("\n\n")[0]
    assert history == "planner: plan\ncritic: critique"  # the last two messages only
    assert prompt.endswith(
        "Answer with exactly one name from: planner, code_writer, critic. Only the name."
    )


async def test_a_name_in_a_sentence_is_accepted() -> None:
    model = ScriptedModel(["Given the plan, the code writer should go next."])
    chat = await run(LLMSelectorPolicy(model))
    assert selections(chat)[0].speaker == "code_writer"


async def test_an_unknown_name_is_re_asked_with_a_correction() -> None:
    model = ScriptedModel(["the tester", "critic"])
    chat = await run(LLMSelectorPolicy(model))
    first, second = attempts(chat)
    assert (first.accepted, first.problem) == (False, "the answer names no candidate")
    assert (second.attempt, second.accepted) == (2, True)
    retry = model.requests[1].messages
    assert [m.role for m in retry] == ["user", "assistant", "user"]
    assert retry[1].content == "the tester"
    assert retry[2].content == (
        "That answer cannot be used: the answer names no candidate. Answer with exactly one "
        "name from: planner, code_writer, critic. Only the name."
    )
    assert selections(chat)[0].reason == "scripted chose critic (attempt 2)"


async def test_exhausted_retries_fall_back_predictably() -> None:
    model = ScriptedModel(["nobody", "still nobody", "planner or critic"])
    chat = await run(LLMSelectorPolicy(model, max_attempts=3, fallback=RandomPolicy(seed=1)))
    assert [a.accepted for a in attempts(chat)] == [False, False, False]
    (selected,) = selections(chat)
    assert selected.policy == "random"
    assert selected.reason.startswith(
        "llm_selector: no usable answer in 3 attempts (last: the answer names more than one "
        "candidate (planner, critic)); random pick among"
    )
    assert model.calls == 3


async def test_the_default_fallback_is_round_robin() -> None:
    chat = await run(LLMSelectorPolicy(ScriptedModel(["?"], when_done="cycle"), max_attempts=1))
    (selected,) = selections(chat)
    assert (selected.speaker, selected.policy) == ("planner", "round_robin")


async def test_a_failed_model_call_goes_to_the_fallback_at_once() -> None:
    model = ScriptedModel([RateLimitError("m: rate limited (HTTP 429)")])
    chat = await run(LLMSelectorPolicy(model))
    (attempt,) = attempts(chat)
    assert (attempt.accepted, attempt.answer) == (False, "")
    assert attempt.problem == "the model call failed: m: rate limited (HTTP 429)"
    assert selections(chat)[0].policy == "round_robin"
    assert chat.result is not None and chat.result.status == "max_turns"


async def test_without_repeats_the_last_speaker_is_no_candidate() -> None:
    model = ScriptedModel(["planner", "planner", "critic"])
    chat = await run(LLMSelectorPolicy(model, allow_repeated_speaker=False), turns=2)
    tries = attempts(chat)
    assert [(a.answer, a.accepted, a.problem) for a in tries] == [
        ("planner", True, ""),
        ("planner", False, "planner cannot speak now"),
        ("critic", True, ""),
    ]
    assert "from: code_writer, critic." in (model.requests[1].messages[0].content or "")


async def test_repeats_are_allowed_by_default() -> None:
    chat = await run(LLMSelectorPolicy(ScriptedModel(["critic", "critic"])), turns=2)
    assert [s.speaker for s in selections(chat)] == ["critic", "critic"]


async def test_a_single_candidate_needs_no_call() -> None:
    model = ScriptedModel(["never"])

    def only_critic(view: object, candidates: object) -> list[str]:
        return ["critic"]

    chat = await run(LLMSelectorPolicy(model, candidate_filter=only_critic))
    assert model.calls == 0
    assert selections(chat)[0].reason == "critic is the only candidate"


async def test_a_candidate_filter_narrows_what_the_model_may_pick() -> None:
    model = ScriptedModel(["planner", "critic"])

    def no_planner(view: object, candidates: list[str]) -> list[str]:
        return [c for c in candidates if c != "planner"]

    chat = await run(LLMSelectorPolicy(model, candidate_filter=no_planner))
    assert [a.problem for a in attempts(chat)] == ["planner cannot speak now", ""]
    assert selections(chat)[0].speaker == "critic"


async def test_a_custom_prompt_template_and_function() -> None:
    model = ScriptedModel(["critic", "critic"])
    template = "Pick from {candidates} after {last_speaker}. {task}History:\n{history}"
    await run(LLMSelectorPolicy(model, prompt=template))
    assert model.requests[0].messages[0].content == (
        "Pick from planner, code_writer, critic after nobody. "
        "The task: Build a todo app\n\nHistory:\ntask: Build a todo app"
    )

    def ask(view: object, candidates: list[str]) -> str:
        return "Who? " + "/".join(candidates)

    model = ScriptedModel(["critic"])
    await run(LLMSelectorPolicy(model, prompt=ask))
    assert model.requests[0].messages[0].content == "Who? planner/code_writer/critic"


def test_a_template_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        LLMSelectorPolicy(ScriptedModel(["x"]), prompt="Pick from {people}")


async def test_selector_tokens_count_in_the_chat_totals_and_the_budget() -> None:
    selector = ScriptedModel([reply("planner", usage=Usage(input_tokens=60, output_tokens=1))] * 3)
    team = [
        ScriptedAgent("planner", ["plan"], when_done="cycle", report_usage=True),
        ScriptedAgent("critic", ["critique"], when_done="cycle"),
    ]
    chat = GroupChat(
        team,
        policy=LLMSelectorPolicy(selector),
        termination=TokenBudget(120) | MaxMessages(10),
    )
    result = await chat.run()
    # Two selections (122 tokens) and two one-word messages: the budget ends the chat.
    assert result.reason == "token budget of 120 used (124 tokens)"
    assert result.usage_by == {
        "selector": Usage(input_tokens=120, output_tokens=2),
        "planner": Usage(output_tokens=2),
    }
    assert result.usage == Usage(input_tokens=120, output_tokens=4)
    ended = chat.events()[-1]
    assert isinstance(ended, ChatEnded) and ended.usage_by["selector"].total_tokens == 122


async def test_a_person_can_be_chosen() -> None:
    you = HumanParticipant("you", "The product owner.")
    model = ScriptedModel(["you"])
    chat = GroupChat([*agents(), you], policy=LLMSelectorPolicy(model), max_turns=1)
    you.channel.close()
    await chat.run("go")
    assert selections(chat)[0].speaker == "you"
    assert "- you (a person): The product owner." in (model.requests[0].messages[0].content or "")


def test_requests_carry_the_sampling_options() -> None:
    policy = LLMSelectorPolicy(ScriptedModel(["x"]), temperature=0.0, max_tokens=5)
    assert (policy.temperature, policy.max_tokens) == (0.0, 5)
    assert policy.describe() == "llm_selector(scripted)"
    assert ModelRequest(messages=(), temperature=0.0).temperature == 0.0
