"""The magentic manager driven by scripted ledger models: plans, rounds, stalls, replans, limits,
answers that have to be asked again, failures, people directed like any member."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, TypeVar

import pytest

from groupchat.agents import HumanParticipant, ScriptedAgent
from groupchat.chat import GroupChat
from groupchat.events import (
    ChatEnded,
    ErrorEvent,
    EventBase,
    HumanInputRequested,
    Paused,
    ProgressLedger,
    Replan,
    SelectorAttempt,
    SpeakerSelected,
    TaskLedger,
)
from groupchat.magentic import MagenticManager, plan_json, progress_json
from groupchat.magentic.ledger import PLAN_FORMAT, PROGRESS_FORMAT
from groupchat.models import ModelError, ModelRequest, RequestRejected, ScriptedModel
from groupchat.models.pricing import models_in
from groupchat.models.scripted import FunctionModel
from groupchat.participant import ChatView
from groupchat.policies import SelectionError
from groupchat.termination import MaxMessages, TextMention, TokenBudget
from groupchat.testing import ChatProbe

E = TypeVar("E", bound=EventBase)

TASK = "Write a limerick about queues"
PLAN = plan_json(
    ["alice finds rhymes", "bob writes the limerick"],
    given=["a limerick has five lines"],
    to_look_up=["rhymes for queue"],
    guesses=["it should be funny"],
)
DONE = progress_json(satisfied=True, reason="the limerick is written")
ANSWER = "Here is the limerick: ..."


def go(speaker: str, instruction: str = "Go on.", **flags: Any) -> str:
    return progress_json(speaker, instruction, reason=f"{speaker} is next", **flags)


def team() -> list[ScriptedAgent]:
    return [
        ScriptedAgent(
            "alice", ["rhymes: blue, through"], description="Finds rhymes.", when_done="cycle"
        ),
        ScriptedAgent(
            "bob", ["There once was a queue..."], description="Writes.", when_done="cycle"
        ),
    ]


def scripted(answers: Sequence[str | ModelError]) -> ScriptedModel:
    return ScriptedModel(list(answers), name="scripted:manager", chunk="all")


async def run(
    answers: Sequence[str | ModelError],
    *,
    participants: Sequence[Any] | None = None,
    task: str | None = TASK,
    **options: Any,
) -> tuple[GroupChat, ScriptedModel]:
    model = scripted(answers)
    chat = GroupChat(participants or team(), policy=MagenticManager(model, **options))
    await asyncio.wait_for(chat.run(task), 5)
    return chat, model


def of(chat: GroupChat, cls: type[E]) -> list[E]:
    return [e for e in chat.events() if isinstance(e, cls)]


def said(chat: GroupChat) -> list[tuple[str, str]]:
    return [(m.sender, m.kind) for m in chat.messages]


def formats(model: ScriptedModel) -> list[str | None]:
    return [r.response_format.name if r.response_format else None for r in model.requests]


# ------------------------------------------------------------------------------ a whole task


async def test_a_plan_followed_to_completion() -> None:
    chat, model = await run(
        [PLAN, go("alice", "Find rhymes."), go("bob", "Write it."), DONE, ANSWER]
    )
    result = chat.result
    assert result is not None
    assert (result.status, result.reason) == (
        "completed",
        "magentic: the request is satisfied: the limerick is written",
    )
    assert said(chat) == [
        ("manager", "task"),
        ("manager", "plan"),
        ("manager", "instruction"),
        ("alice", "turn"),
        ("manager", "instruction"),
        ("bob", "turn"),
        ("manager", "answer"),
    ]
    instruction = chat.messages[2]
    assert instruction.content == "@alice Find rhymes."
    assert instruction.mentions == ("alice",)
    assert chat.messages[-1].content == ANSWER
    assert formats(model) == [PLAN_FORMAT, PROGRESS_FORMAT, PROGRESS_FORMAT, PROGRESS_FORMAT, None]

    [ledger] = of(chat, TaskLedger)
    assert (ledger.revision, ledger.cause, ledger.reason, ledger.task) == (0, "task", "", TASK)
    assert ledger.plan == ("alice finds rhymes", "bob writes the limerick")
    assert ledger.facts.given == ("a limerick has five lines",)
    assert ledger.facts.to_look_up == ("rhymes for queue",)
    assert [info.name for info in ledger.team] == ["alice", "bob"]
    assert "1. alice finds rhymes" in chat.messages[1].content

    rounds = of(chat, ProgressLedger)
    assert [r.round for r in rounds] == [1, 2, 3]
    assert [r.next_speaker.answer for r in rounds[:2]] == ["alice", "bob"]
    assert rounds[0].instruction.answer == "Find rhymes."
    assert rounds[0].next_speaker.reason == "alice is next"
    assert [r.satisfied.answer for r in rounds] == [False, False, True]
    assert [r.stalls for r in rounds] == [0, 0, 0]

    picks = of(chat, SpeakerSelected)
    assert [(p.speaker, p.policy, p.reason) for p in picks] == [
        ("alice", "magentic", "round 1: alice is next"),
        ("bob", "magentic", "round 2: bob is next"),
    ]
    [ended] = of(chat, ChatEnded)
    assert ended.reason == result.reason


async def test_the_managers_tokens_count_in_the_chats_totals_under_manager() -> None:
    chat, _ = await run([PLAN, go("alice"), DONE, ANSWER])
    result = chat.result
    assert result is not None
    attempts = of(chat, SelectorAttempt)
    assert [a.policy for a in attempts] == ["magentic"] * 4
    assert all(a.usage is not None and a.usage.total_tokens for a in attempts)
    spent = sum(a.usage.total_tokens for a in attempts if a.usage is not None)
    assert result.usage_by["manager"].total_tokens == spent
    assert result.usage.total_tokens == spent  # the scripted agents report none
    assert "selector" not in result.usage_by
    [ended] = of(chat, ChatEnded)
    assert ended.usage_by["manager"] == result.usage_by["manager"]
    assert models_in(chat) == {"manager": "scripted:manager"}


async def test_a_token_budget_counts_the_managers_calls() -> None:
    model = scripted([PLAN, go("alice"), DONE, ANSWER])
    chat = GroupChat(team(), policy=MagenticManager(model), termination=TokenBudget(50))
    result = await asyncio.wait_for(chat.run(TASK), 5)
    assert result.reason.startswith("token budget of 50 used")
    assert [m.kind for m in result.messages if m.sender != "manager"] == []  # nobody spoke


async def test_only_what_members_say_counts_for_max_messages_and_text_mention() -> None:
    """The plan quotes the stop word and the manager posts two messages before anyone speaks:
    neither ends the chat; the members' two turns do."""
    plan = plan_json(["alice finds rhymes", "bob writes and then says TERMINATE"])
    model = scripted([plan, go("alice", "Say TERMINATE when done."), go("bob"), DONE, ANSWER])
    chat = GroupChat(team(), policy=MagenticManager(model), termination=TextMention("TERMINATE"))
    result = await asyncio.wait_for(chat.run(TASK), 5)
    assert result.reason == "magentic: the request is satisfied: the limerick is written"

    model = scripted([PLAN, go("alice"), go("bob"), go("alice"), DONE, ANSWER])
    chat = GroupChat(team(), policy=MagenticManager(model), termination=MaxMessages(2))
    result = await asyncio.wait_for(chat.run(TASK), 5)
    assert result.reason == "reached 2 messages"
    assert [s for s, kind in said(chat) if kind == "turn"] == ["alice", "bob"]


async def test_the_progress_prompt_holds_the_plan_the_team_and_the_conversation() -> None:
    _, model = await run([PLAN, go("alice"), go("bob"), DONE, ANSWER])
    prompt = model.requests[2].messages[-1].content or ""
    assert TASK in prompt
    assert "- alice: Finds rhymes." in prompt and "- bob: Writes." in prompt
    assert "1. alice finds rhymes" in prompt
    assert "alice: rhymes: blue, through" in prompt  # what alice said in round 1
    assert "manager: @alice Go on." in prompt
    assert "Here is the plan" not in prompt  # the plan message is not repeated as history
    assert "one of: alice, bob" in prompt
    request = model.requests[1]
    assert request.response_format is not None
    assert request.response_format.type == "json_schema"
    assert "is_request_satisfied" in json.dumps(request.response_format.json_schema)
    assert request.messages[0].role == "system"


async def test_a_new_task_starts_the_work_over_with_a_new_plan() -> None:
    answers = [PLAN, go("alice"), DONE, ANSWER, PLAN, go("bob"), DONE, "Second answer."]
    model = scripted(answers)
    chat = GroupChat(team(), policy=MagenticManager(model))
    await chat.run(TASK)
    result = await chat.run("Now a haiku about stacks")
    assert result.status == "completed"
    ledgers = of(chat, TaskLedger)
    assert [(x.task, x.revision) for x in ledgers] == [(TASK, 0), ("Now a haiku about stacks", 0)]
    assert [r.round for r in of(chat, ProgressLedger)] == [1, 2, 1, 2]
    assert chat.messages[-1].content == "Second answer."


async def test_people_are_directed_like_any_member() -> None:
    you = HumanParticipant("you", "Knows what they want.")
    model = scripted([PLAN, go("you", "Which tone: silly or dry?"), DONE, "A silly one."])
    chat = GroupChat([*team(), you], policy=MagenticManager(model))
    probe = ChatProbe.of(chat)
    running = asyncio.create_task(chat.run(TASK))
    await probe.wait_for(HumanInputRequested, participant="you", request="turn")
    you.send("silly, please")
    result = await asyncio.wait_for(running, 5)
    assert [(m.sender, m.content) for m in result.messages[2:4]] == [
        ("manager", "@you Which tone: silly or dry?"),
        ("you", "silly, please"),
    ]
    assert "- you (a person): Knows what they want." in (
        model.requests[0].messages[-1].content or ""
    )


async def test_a_choice_the_chat_did_not_use_is_given_again_without_a_new_round() -> None:
    chat: GroupChat | None = None
    calls: list[str] = []
    answers = iter([PLAN, go("alice", "Find rhymes."), DONE])

    async def ledger(request: ModelRequest) -> str:
        fmt = request.response_format
        calls.append(fmt.name if fmt else "answer")
        if fmt is not None and fmt.name == PROGRESS_FORMAT and len(calls) == 2:
            assert chat is not None
            await chat.pause(by="you")  # paused while the manager chooses
        return next(answers) if fmt is not None else ANSWER

    chat = GroupChat(team(), policy=MagenticManager(FunctionModel(ledger)))
    probe = ChatProbe.of(chat)
    running = asyncio.create_task(chat.run(TASK))
    await probe.wait_for(Paused)
    await chat.resume(by="you")
    result = await asyncio.wait_for(running, 5)
    assert calls == [PLAN_FORMAT, PROGRESS_FORMAT, PROGRESS_FORMAT, "answer"]
    assert [m.content for m in result.messages if m.kind == "instruction"] == [
        "@alice Find rhymes."
    ]
    assert [(p.speaker, p.reason) for p in of(chat, SpeakerSelected)] == [
        ("alice", "round 1: alice is next")
    ]
    assert [r.round for r in of(chat, ProgressLedger)] == [1, 2]


# ------------------------------------------------------------------------------ stalls and limits


async def test_stalls_go_up_without_progress_or_in_a_loop_and_down_with_progress() -> None:
    rounds = [
        go("alice", progress=False),
        go("bob"),
        go("alice", in_loop=True),
        go("bob", in_loop=True),
    ]
    chat, _ = await run([PLAN, *rounds, DONE, ANSWER], max_stalls=5)
    assert [r.stalls for r in of(chat, ProgressLedger)] == [1, 0, 1, 2, 1]
    assert all(r.max_stalls == 5 for r in of(chat, ProgressLedger))
    assert of(chat, Replan) == []


async def test_a_stall_past_max_stalls_triggers_a_replan() -> None:
    new_plan = plan_json(["bob writes without rhymes"], given=["alice is stuck"])
    answers = [
        PLAN,
        go("alice", progress=False),  # stalls 1
        go("alice", in_loop=True, instruction="Rhymes, again."),  # stalls 2 > 1: replan
        new_plan,
        go("bob"),
        DONE,
        ANSWER,
    ]
    chat, model = await run(answers, max_stalls=1)
    assert chat.result is not None and chat.result.status == "completed"
    [replan] = of(chat, Replan)
    assert (replan.stalls, replan.resets, replan.max_resets) == (2, 1, 2)
    assert replan.reason == "2 stalled rounds (alice is next)"
    _first, second = of(chat, TaskLedger)
    assert (second.revision, second.cause, second.reason) == (1, "stall", replan.reason)
    assert second.plan == ("bob writes without rhymes",)
    assert [r.stalls for r in of(chat, ProgressLedger)] == [1, 2, 0, 0]
    assert [p.speaker for p in of(chat, SpeakerSelected)] == ["alice", "bob"]  # not after round 2
    replan_prompt = model.requests[3].messages[-1].content or ""
    assert "This replaces an earlier plan. Why: 2 stalled rounds" in replan_prompt
    assert "1. alice finds rhymes" in replan_prompt  # the earlier plan
    assert "- rhymes for queue" in replan_prompt  # the earlier facts
    assert "alice: rhymes: blue, through" in replan_prompt  # what happened
    assert [m.kind for m in chat.messages].count("plan") == 2
    assert "Here is the revised plan." in chat.messages[-4].content


async def test_the_reset_limit_ends_the_chat_with_the_best_answer() -> None:
    stuck = go("alice", progress=False)
    answers = [PLAN, stuck, PLAN, stuck, "Best effort: no limerick."]
    chat, model = await run(answers, max_stalls=0, max_resets=1)
    result = chat.result
    assert result is not None
    assert result.status == "max_turns"
    assert result.reason == (
        "magentic: still stalled after 1 replan (the limit): 1 stalled round (alice is next)"
    )
    assert len(of(chat, Replan)) == 1
    assert result.messages[-1].kind == "answer"
    assert result.messages[-1].content == "Best effort: no limerick."
    assert "The team could not finish: still stalled" in (
        model.requests[-1].messages[-1].content or ""
    )
    assert of(chat, SpeakerSelected) == []


async def test_the_round_limit_ends_the_chat_with_the_best_answer() -> None:
    chat, model = await run([PLAN, go("alice"), go("bob"), "Partial."], max_rounds=2)
    result = chat.result
    assert result is not None
    assert (result.status, result.reason) == (
        "max_turns",
        "magentic: reached the limit of 2 rounds",
    )
    assert formats(model) == [PLAN_FORMAT, PROGRESS_FORMAT, PROGRESS_FORMAT, None]
    assert result.messages[-1].content == "Partial."


# ------------------------------------------------------------------------------ hard answers


async def test_malformed_json_is_asked_again_with_a_correction() -> None:
    fenced = f"Here is the ledger:\n```json\n{go('alice')}\n```\nHope it helps!"
    answers = [PLAN, "Sure! {not json at all", fenced, DONE, ANSWER]
    chat, model = await run(answers)
    assert chat.result is not None and chat.result.status == "completed"
    bad, good = of(chat, SelectorAttempt)[1:3]
    assert (bad.attempt, bad.accepted, bad.answer) == (1, False, "Sure! {not json at all")
    assert bad.problem.startswith("the answer is not valid JSON (")
    assert (good.attempt, good.accepted, good.problem) == (2, True, "")
    retry = model.requests[2].messages
    assert [m.role for m in retry] == ["system", "user", "assistant", "user"]
    assert retry[2].content == "Sure! {not json at all"
    assert retry[3].content is not None
    assert retry[3].content.startswith("That answer cannot be used: the answer is not valid JSON")
    assert [p.speaker for p in of(chat, SpeakerSelected)] == ["alice"]


async def test_a_plan_missing_its_steps_is_asked_again() -> None:
    no_steps = json.dumps({"given_or_verified_facts": ["x"]})
    chat, _ = await run([no_steps, PLAN, go("alice"), DONE, ANSWER])
    first = of(chat, SelectorAttempt)[0]
    assert not first.accepted
    assert first.problem == "the JSON does not match the schema: plan: Field required"
    assert len(of(chat, TaskLedger)) == 1


async def test_loose_but_clear_answers_are_accepted() -> None:
    flat = json.dumps(
        {
            "is_request_satisfied": "false",
            "is_in_loop": False,
            "is_progress_being_made": {"answer": "true", "reason": None, "confidence": 0.9},
            "next_speaker": {"answer": "**Alice**", "reason": "rhymes first"},
            "instruction_or_question": "Find rhymes.",
            "extra": "ignored",
        }
    )
    steps = json.dumps({"plan": "1. alice finds rhymes\n2. bob writes", "facts_to_look_up": "- x"})
    chat, _ = await run([steps, flat, DONE, ANSWER])
    [ledger] = of(chat, TaskLedger)
    assert ledger.plan == ("alice finds rhymes", "bob writes")
    assert ledger.facts.to_look_up == ("x",)
    first = of(chat, ProgressLedger)[0]
    assert first.next_speaker.answer == "alice"
    assert first.instruction.answer == "Find rhymes."
    assert first.making_progress.answer is True
    assert chat.messages[2].content == "@alice Find rhymes."


async def test_an_unknown_next_speaker_is_asked_again() -> None:
    answers = [PLAN, go("carol"), go("@Alice"), DONE, ANSWER]
    chat, model = await run(answers)
    bad, good = of(chat, SelectorAttempt)[1:3]
    assert not bad.accepted
    assert bad.problem == "next_speaker 'carol': the answer names no candidate"
    assert good.accepted
    assert [p.speaker for p in of(chat, SpeakerSelected)] == ["alice"]
    assert of(chat, ProgressLedger)[0].next_speaker.answer == "alice"
    assert "next_speaker 'carol'" in (model.requests[2].messages[-1].content or "")


async def test_an_empty_instruction_is_asked_again() -> None:
    chat, _ = await run([PLAN, go("alice", "  "), go("alice"), DONE, ANSWER])
    assert of(chat, SelectorAttempt)[1].problem == "instruction_or_question.answer is empty"


async def test_no_usable_answer_within_max_attempts_ends_with_a_clear_error() -> None:
    chat, model = await run([PLAN, "nope", "still nope", go("alice")], max_attempts=2)
    result = chat.result
    assert result is not None
    assert result.status == "error"
    assert result.reason.startswith("magentic: no usable progress ledger in 2 attempts (last: ")
    [error] = of(chat, ErrorEvent)
    assert error.fatal and error.error == result.reason
    assert model.calls == 3


async def test_a_failed_model_call_ends_with_a_clear_error() -> None:
    chat, _ = await run([PLAN, ModelError("scripted:manager: the server is down")])
    result = chat.result
    assert result is not None
    assert result.status == "error"
    assert result.reason == (
        "magentic: the progress ledger call failed: scripted:manager: the server is down"
    )
    assert of(chat, SelectorAttempt)[-1].problem.startswith("the call failed: ")


async def test_a_failed_final_answer_still_ends_the_chat_and_says_so() -> None:
    chat, _ = await run([PLAN, DONE, ModelError("gone")])
    result = chat.result
    assert result is not None
    assert result.status == "completed"
    assert result.reason == (
        "magentic: the request is satisfied: the limerick is written "
        "(no final answer: the model failed)"
    )
    [error] = of(chat, ErrorEvent)
    assert not error.fatal and "final answer" in error.error
    assert [m.kind for m in result.messages] == ["task", "plan"]


async def test_an_endpoint_without_structured_output_is_asked_for_plain_json() -> None:
    seen: list[str | None] = []
    progress = iter([go("alice"), DONE])

    def endpoint(request: ModelRequest) -> str:
        fmt = request.response_format
        seen.append(fmt.type if fmt else None)
        if fmt is not None and fmt.type == "json_schema":
            raise RequestRejected("response_format json_schema is not supported")
        if fmt is None:
            return ANSWER
        return PLAN if fmt.name == PLAN_FORMAT else next(progress)

    chat = GroupChat(team(), policy=MagenticManager(FunctionModel(endpoint)))
    result = await asyncio.wait_for(chat.run(TASK), 5)
    assert result.status == "completed"
    assert seen == ["json_schema", "json_object", "json_object", "json_object", None]
    refused = of(chat, SelectorAttempt)[0]
    assert not refused.accepted and refused.attempt == 1
    assert "refused json_schema output" in refused.problem
    assert "asking with json_object from now on" in refused.problem


async def test_output_none_asks_in_words_only() -> None:
    _, model = await run([PLAN, go("alice"), DONE, ANSWER], output="none")
    assert all(r.response_format is None for r in model.requests)


# ------------------------------------------------------------------------------ set-up


async def test_a_chat_without_a_task_ends_with_an_error() -> None:
    chat, model = await run([PLAN], task=None)
    assert chat.result is not None
    assert chat.result.reason == "magentic: the chat has no task to plan for"
    assert model.calls == 0


async def test_the_manager_runs_only_inside_a_group_chat() -> None:
    manager = MagenticManager(scripted([PLAN]))
    view: ChatView = GroupChat(team()).view
    with pytest.raises(SelectionError, match="inside a GroupChat"):
        await manager.select(view, ["alice"])


def test_options_are_checked() -> None:
    model = scripted([PLAN])
    assert MagenticManager(model).describe() == "magentic(scripted:manager)"
    with pytest.raises(ValueError, match="reviewer 'zed' is not a participant"):
        MagenticManager(model, reviewer="zed").validate(["alice"])
    for bad in ({"max_stalls": -1}, {"max_rounds": 0}, {"plan_review": "sometimes"}, {"window": 0}):
        with pytest.raises(ValueError):
            MagenticManager(model, **bad)  # type: ignore[arg-type]
