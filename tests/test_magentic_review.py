"""A person reviews the magentic manager's plan: approve, revise with feedback, reject; when
reviews happen; what happens without an answer or without a person."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from groupchat.agents import HumanParticipant, ScriptedAgent
from groupchat.chat import ChatResult, GroupChat
from groupchat.events import HumanInputRequested, PlanReview, ProgressLedger, TaskLedger
from groupchat.magentic import MagenticManager, plan_json, progress_json, read_review
from groupchat.models import ScriptedModel
from groupchat.testing import ChatProbe

TASK = "Plan a team offsite"
PLAN = plan_json(["alice books a venue"])
REVISED = plan_json(["alice books a venue", "alice checks the budget"])
GO = progress_json("alice", "Book it.", reason="alice books")
DONE = progress_json(satisfied=True, reason="booked")
ANSWER = "Booked."


class Review:
    """A chat with a person who reviews the plan, and a probe to answer at the right moment."""

    def __init__(self, answers: Sequence[str], **options: Any) -> None:
        self.you = HumanParticipant("you", "Runs the team.")
        self.model = ScriptedModel(list(answers), name="scripted:manager", chunk="all")
        agent = ScriptedAgent("alice", ["Done."], description="Books things.", when_done="cycle")
        options.setdefault("plan_review", "before")
        self.chat = GroupChat([agent, self.you], policy=MagenticManager(self.model, **options))
        self.probe = ChatProbe.of(self.chat)
        self.running = asyncio.create_task(self.chat.run(TASK))

    async def answer(self, text: str) -> HumanInputRequested:
        request = await self.probe.wait_for(HumanInputRequested, request="approval")
        self.you.send(text)
        return request

    async def result(self) -> ChatResult:
        return await asyncio.wait_for(self.running, 5)

    def reviews(self) -> list[PlanReview]:
        return [e for e in self.chat.events() if isinstance(e, PlanReview)]

    def ledgers(self) -> list[TaskLedger]:
        return [e for e in self.chat.events() if isinstance(e, TaskLedger)]


async def test_an_approved_plan_runs() -> None:
    review = Review([PLAN, GO, DONE, ANSWER])
    request = await review.answer("approve")
    assert request.participant == "you"
    assert request.choices == ("approve", "revise", "reject")
    assert request.prompt.startswith("Review the plan above: approve (Enter)")
    result = await review.result()
    assert result.status == "completed"
    [verdict] = review.reviews()
    assert (verdict.reviewer, verdict.revision, verdict.decision, verdict.feedback) == (
        "you",
        0,
        "approve",
        "",
    )
    kinds = [m.kind for m in result.messages]
    assert kinds[:3] == ["task", "plan", "instruction"]  # the review came before any round


async def test_revise_replans_with_the_feedback_and_asks_again() -> None:
    review = Review([PLAN, REVISED, GO, DONE, ANSWER])
    await review.answer("revise: check the budget first")
    again = await review.answer("")  # Enter approves
    assert again.request == "approval"
    result = await review.result()
    assert result.status == "completed"
    assert [(r.revision, r.decision, r.feedback) for r in review.reviews()] == [
        (0, "revise", "check the budget first"),
        (1, "approve", ""),
    ]
    _first, second = review.ledgers()
    assert (second.revision, second.cause) == (1, "review")
    assert second.reason == "you asked for changes: check the budget first"
    assert second.plan == ("alice books a venue", "alice checks the budget")
    prompt = review.model.requests[1].messages[-1].content or ""
    assert "This replaces an earlier plan. Why: you asked for changes: check the budget" in prompt
    assert "1. alice books a venue" in prompt
    assert [m.kind for m in result.messages].count("plan") == 2


async def test_free_text_is_read_as_what_to_change() -> None:
    review = Review([PLAN, REVISED, GO, DONE, ANSWER])
    await review.answer("No venue outside the city, please")
    await review.answer("ok")
    await review.result()
    assert review.reviews()[0].decision == "revise"
    assert review.reviews()[0].feedback == "No venue outside the city, please"


async def test_reject_ends_the_chat_without_running_the_plan() -> None:
    review = Review([PLAN, GO])
    await review.answer("reject: too expensive")
    result = await review.result()
    assert (result.status, result.reason) == (
        "stopped",
        "magentic: you rejected the plan: too expensive",
    )
    assert review.model.calls == 1
    assert [m.kind for m in result.messages] == ["task", "plan"]
    assert review.reviews()[0].decision == "reject"


async def test_after_replan_reviews_only_replans() -> None:
    stuck = progress_json("alice", "Book it.", progress=False, reason="no venue answers")
    review = Review([PLAN, stuck, REVISED, DONE, ANSWER], plan_review="after_replan", max_stalls=0)
    await review.answer("approve")
    result = await review.result()
    assert result.status == "completed"
    [verdict] = review.reviews()
    assert verdict.revision == 1
    events = review.chat.events()
    kinds = [
        type(e).__name__ for e in events if type(e) in (TaskLedger, PlanReview, ProgressLedger)
    ]
    assert kinds == ["TaskLedger", "ProgressLedger", "TaskLedger", "PlanReview", "ProgressLedger"]


async def test_always_reviews_the_first_plan_and_every_replan() -> None:
    stuck = progress_json("alice", "Book it.", progress=False, reason="stuck")
    review = Review([PLAN, stuck, REVISED, DONE, ANSWER], plan_review="always", max_stalls=0)
    await review.answer("1")
    await review.answer("yes")
    await review.result()
    assert [(r.revision, r.decision) for r in review.reviews()] == [(0, "approve"), (1, "approve")]


async def test_no_answer_lets_the_plan_run() -> None:
    review = Review([PLAN, GO, DONE, ANSWER])
    await review.probe.wait_for(HumanInputRequested, request="approval")
    review.you.channel.close()  # the person left
    result = await review.result()
    assert result.status == "completed"
    assert review.reviews()[0].decision == "no_answer"


async def test_without_a_person_the_plan_runs_and_the_event_says_why() -> None:
    model = ScriptedModel([PLAN, DONE, ANSWER], chunk="all")
    agent = ScriptedAgent("alice", ["Done."])
    chat = GroupChat([agent], policy=MagenticManager(model, plan_review="before"))
    result = await asyncio.wait_for(chat.run(TASK), 5)
    assert result.status == "completed"
    [verdict] = [e for e in chat.events() if isinstance(e, PlanReview)]
    assert (verdict.reviewer, verdict.decision) == ("", "no_answer")
    assert verdict.feedback == "nobody in the chat can review the plan"


@pytest.mark.parametrize(
    ("answer", "decision", "feedback"),
    [
        (None, "no_answer", ""),
        ("", "approve", ""),
        ("  approve  ", "approve", ""),
        ("Approved!", "approve", ""),
        ("ok", "approve", ""),
        ("LGTM", "approve", ""),
        ("1", "approve", ""),
        ("revise: add a budget step", "revise", "add a budget step"),
        ("Revise - shorter", "revise", "shorter"),
        ("2", "revise", ""),
        ("add a budget step", "revise", "add a budget step"),
        ("ok but add a budget step", "revise", "ok but add a budget step"),
        ("no problem, but shorter", "revise", "no problem, but shorter"),
        ("reject", "reject", ""),
        ("reject: too expensive", "reject", "too expensive"),
        ("no", "reject", ""),
        ("3", "reject", ""),
    ],
)
def test_review_answers_are_read_plainly(answer: str | None, decision: str, feedback: str) -> None:
    assert read_review(answer) == (decision, feedback)
