"""A magentic chat stopped in the middle goes on with the same plan, round, stall count and
replans; a review that had no answer is asked again; the demo resumes from the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from groupchat.agents import HumanParticipant, ScriptedAgent
from groupchat.bus import EventBus
from groupchat.chat import GroupChat
from groupchat.events import (
    Event,
    HumanInputRequested,
    MessagePosted,
    PlanReview,
    ProgressLedger,
    Replan,
    TaskLedger,
)
from groupchat.magentic import MagenticManager, ManagerState, plan_json, progress_json
from groupchat.magentic.ledger import PLAN_FORMAT, PROGRESS_FORMAT
from groupchat.magentic.state import needs_review
from groupchat.models import ScriptedModel
from groupchat.testing import ChatProbe

ROOT = Path(__file__).resolve().parent.parent
CHAT = "magentic-1"
TASK = "Sort the library"
PLAN = plan_json(["alice sorts fiction", "bob sorts the rest"], to_look_up=["how many shelves"])
NEW_PLAN = plan_json(["bob sorts everything"])
ANSWER = "Sorted."


def go(speaker: str, progress: bool = True) -> str:
    return progress_json(speaker, f"{speaker}, sort.", progress=progress, reason=f"{speaker} next")


DONE = progress_json(satisfied=True, reason="all sorted")


def team() -> list[ScriptedAgent]:
    return [
        ScriptedAgent("alice", ["fiction done"], description="Sorts fiction.", when_done="cycle"),
        ScriptedAgent("bob", ["the rest done"], description="Sorts the rest.", when_done="cycle"),
    ]


def chat_with(
    answers: Sequence[str],
    participants: Any = None,
    *,
    max_turns: int | None = None,
    **options: Any,
) -> GroupChat:
    model = ScriptedModel(list(answers), name="scripted:manager", chunk="all")
    options.setdefault("max_stalls", 5)
    return GroupChat(
        participants or team(),
        policy=MagenticManager(model, **options),
        chat_id=CHAT,
        bus=EventBus(retain=None),
        max_turns=max_turns,
    )


def model_of(chat: GroupChat) -> ScriptedModel:
    policy = chat.policy
    assert isinstance(policy, MagenticManager) and isinstance(policy.model, ScriptedModel)
    return policy.model


def rounds(events: Sequence[Event]) -> list[tuple[int, int, str]]:
    return [
        (e.round, e.stalls, e.next_speaker.answer) for e in events if isinstance(e, ProgressLedger)
    ]


def contents(events: Sequence[Event]) -> list[str]:
    return [e.message.content for e in events if isinstance(e, MessagePosted)]


ROUNDS = [go("alice", False), go("bob", False), go("alice", False), go("bob"), DONE]


async def test_a_resumed_task_goes_on_with_the_same_plan_round_and_stalls() -> None:
    reference = chat_with([PLAN, *ROUNDS, ANSWER])
    await reference.run(TASK)

    first = chat_with([PLAN, *ROUNDS[:2]], max_turns=2)
    await first.run(TASK)
    stored = first.events()
    assert rounds(stored) == [(1, 1, "alice"), (2, 2, "bob")]

    resumed = chat_with([*ROUNDS[2:], ANSWER])
    resumed.load(stored)
    manager = resumed.policy
    assert isinstance(manager, MagenticManager)
    assert (manager.state.round, manager.state.stalls, manager.state.phase) == (2, 2, "run")
    result = await asyncio.wait_for(resumed.run(), 5)

    # No new plan: the first call after the resume is the next progress ledger, asked exactly
    # as the chat that never stopped asked it.
    requests = model_of(resumed).requests
    assert requests[0].response_format is not None
    assert requests[0].response_format.name == PROGRESS_FORMAT
    assert requests[0] == model_of(reference).requests[3]
    assert rounds(resumed.events()) == [(3, 3, "alice"), (4, 2, "bob"), (5, 1, "")]
    assert rounds(stored) + rounds(resumed.events()) == rounds(reference.events())
    assert contents(stored) + contents(resumed.events()) == contents(reference.events())
    assert result.status == "completed"
    assert reference.result is not None
    assert result.usage_by == reference.result.usage_by  # the manager's earlier calls too


async def test_a_review_left_unanswered_is_asked_again_after_a_resume() -> None:
    you = HumanParticipant("you")
    first = chat_with([PLAN], [*team(), you], plan_review="before")
    probe = ChatProbe.of(first)
    running = asyncio.create_task(first.run(TASK))
    await probe.wait_for(HumanInputRequested, request="approval")
    await first.stop("closed the terminal")
    await asyncio.wait_for(running, 5)

    you_again = HumanParticipant("you")
    resumed = chat_with([go("alice"), DONE, ANSWER], [*team(), you_again], plan_review="before")
    resumed.load(first.events())
    probe = ChatProbe.of(resumed, start=resumed.bus.next_seq(CHAT))
    running = asyncio.create_task(resumed.run())
    await probe.wait_for(HumanInputRequested, request="approval")
    you_again.send("approve")
    result = await asyncio.wait_for(running, 5)
    assert result.status == "completed"
    reviews = [e for e in resumed.events() if isinstance(e, PlanReview)]
    assert [(r.revision, r.decision) for r in reviews] == [(0, "approve")]
    assert not any(isinstance(e, TaskLedger) for e in resumed.events())
    assert model_of(resumed).requests[0].response_format.name == PROGRESS_FORMAT  # type: ignore[union-attr]


async def test_a_chat_cut_after_a_replan_makes_the_new_plan_on_resume() -> None:
    whole = chat_with([PLAN, go("alice", False), NEW_PLAN, DONE, ANSWER], max_stalls=0)
    await whole.run(TASK)
    events = whole.events()
    replan = next(e for e in events if isinstance(e, Replan))
    cut = [e for e in events if e.seq <= replan.seq]

    resumed = chat_with([NEW_PLAN, DONE, ANSWER], max_stalls=0)
    resumed.load(cut)
    state = resumed.policy.state  # type: ignore[attr-defined]
    assert (state.phase, state.cause, state.resets, state.stalls) == ("plan", "stall", 1, 0)
    await asyncio.wait_for(resumed.run(), 5)
    [ledger] = [e for e in resumed.events() if isinstance(e, TaskLedger)]
    assert (ledger.revision, ledger.cause, ledger.reason) == (1, "stall", replan.reason)
    request = model_of(resumed).requests[0]
    assert request.response_format is not None and request.response_format.name == PLAN_FORMAT
    assert "This replaces an earlier plan" in (request.messages[-1].content or "")
    assert "1. alice sorts fiction" in (request.messages[-1].content or "")


async def test_the_state_is_rebuilt_from_events_alone() -> None:
    chat = chat_with([PLAN, go("alice", False), NEW_PLAN, go("bob")], max_stalls=0, max_turns=1)
    await chat.run(TASK)
    events = chat.events()
    state = ManagerState(review="never")
    state.replay(events)
    assert state.task == TASK
    assert state.ledger is not None and state.ledger.plan == ("bob sorts everything",)
    assert (state.phase, state.revision, state.round, state.stalls, state.resets) == (
        "run",
        2,
        2,
        0,
        1,
    )
    assert state.messages == sum(isinstance(e, MessagePosted) for e in events)


def test_which_plans_go_to_review() -> None:
    table = {
        mode: [needs_review(mode, cause) for cause in ("task", "stall", "review")]  # type: ignore[arg-type]
        for mode in ("before", "after_replan", "always", "never")
    }
    assert table == {
        "before": [True, False, True],
        "after_replan": [False, True, True],
        "always": [True, True, True],
        "never": [False, False, False],
    }


# ---------------------------------------------------------------------------- the demo


def gc(*args: str, stdin: str = "", db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groupchat", *args, "--db", str(db)],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_magentic_demo_runs_offline_with_you_reviewing_and_deciding() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "groupchat", "demo", "--magentic", "--headless", "--delay", "0"],
        cwd=ROOT,
        input="approve\nFriday 3 May, at the library\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("task: Write a short announcement")
    assert lines[1].startswith("manager: Here is the plan.")
    assert "you: Friday 3 May, at the library" in lines
    assert any("When and where: Friday 3 May, at the library." in line for line in lines)
    assert lines[-1].startswith("manager: The announcement is ready")
    assert proc.stderr.endswith(
        "chat ended (completed): magentic: the request is satisfied: "
        "the announcement is written and checked\n"
    )


def test_the_plain_demo_is_not_the_magentic_one() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "groupchat", "demo", "--headless", "--delay", "0", "--no-store"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "manager:" not in proc.stdout
    assert proc.stderr == "chat ended (completed): planner said 'DONE'\n"


def test_a_rejected_magentic_demo_resumes_with_a_new_plan(tmp_path: Path) -> None:
    db = tmp_path / "chats.db"
    first = gc("demo", "--magentic", "--headless", "--delay", "0", stdin="reject: later\n", db=db)
    assert first.returncode == 0, first.stderr
    assert "chat ended (stopped): magentic: you rejected the plan: later" in first.stderr
    listing = gc("list", db=db).stdout
    chat_id = listing.split("\n")[1].split()[0]

    resumed = gc("resume", chat_id, "--headless", stdin="\nSunday, in the park\n", db=db)
    assert resumed.returncode == 0, resumed.stderr
    lines = resumed.stdout.splitlines()
    assert lines[0].startswith("manager: Here is the revised plan.")
    assert "critic checks it against your review notes" in lines[0]
    assert any("When and where: Sunday, in the park." in line for line in lines)
    assert "chat ended (completed)" in resumed.stderr


async def test_a_person_asked_when_the_chat_was_stopped_is_asked_again_after_a_resume() -> None:
    """Quitting while the manager waits on the person's answer: the resumed manager gives the
    person the turn again, and does not go on as if they had answered."""
    you = HumanParticipant("you", description="Knows the shelves.")
    first = chat_with([PLAN, go("you")], [*team(), you])
    probe = ChatProbe.of(first)
    running = asyncio.create_task(first.run(TASK))
    await probe.wait_for(HumanInputRequested, participant="you", request="turn")
    await first.stop("stopped", by="you")  # what Ctrl+Q does
    await asyncio.wait_for(running, 5)
    assert [e.reason for e in first.events() if e.type == "turn_skipped"] == ["cancelled"]  # type: ignore[attr-defined]

    you_again = HumanParticipant("you", description="Knows the shelves.")
    resumed = chat_with([DONE, ANSWER], [*team(), you_again])
    resumed.load(first.events())
    probe = ChatProbe.of(resumed, start=resumed.bus.next_seq(CHAT))
    running = asyncio.create_task(resumed.run())
    await probe.wait_for(HumanInputRequested, participant="you", request="turn")
    you_again.send("three shelves")
    result = await asyncio.wait_for(running, 5)
    assert result.status == "completed"
    said = [
        (e.message.sender, e.message.content)
        for e in resumed.events()
        if isinstance(e, MessagePosted)
    ]
    assert said[0] == ("you", "three shelves")
    assert said[-1] == ("manager", ANSWER)
    assert rounds(resumed.events()) == [(2, 0, "")]  # the next ledger follows the answer
