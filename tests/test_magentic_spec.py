"""The magentic manager in team specs, the research example run offline, the console's view of
ledgers, and the benchmark pattern."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from groupchat.agents import HumanParticipant
from groupchat.events import (
    BoolAnswer,
    FactSheet,
    HumanInputRequested,
    MessagePosted,
    PlanReview,
    ProgressLedger,
    Replan,
    TaskLedger,
    TextAnswer,
)
from groupchat.magentic import MagenticManager, ScriptedLedgerModel, plan_json, progress_json
from groupchat.magentic.ledger import json_object
from groupchat.messages import Message
from groupchat.models import ChatModel, ScriptedModel
from groupchat.spec import SpecError, load_spec, parse_spec
from groupchat.testing import ChatProbe
from groupchat.tui.console import ConsoleRenderer

ROOT = Path(__file__).resolve().parent.parent

TEAM = """\
name: magentic team
task: Find a name for the project
participants:
  - {kind: scripted, name: alice, script: ["How about 'Ledger'?"]}
  - {kind: human, name: you}
manager:
  kind: magentic
  model: openai:gpt-4.1
  max_stalls: 1
  max_resets: 4
  max_rounds: 7
  plan_review: after_replan
  reviewer: you
  review_timeout: 60
  window: 12
  max_attempts: 2
  output: json_object
  temperature: 0.1
termination: {max_messages: 30}
"""


def test_a_spec_with_a_magentic_manager_builds_it_with_its_options() -> None:
    spec = parse_spec(TEAM)
    assert spec.manager is not None and spec.manager.kind == "magentic"
    chat = spec.build(models=lambda name: ScriptedModel(["x"], name=name))
    manager = chat.policy
    assert isinstance(manager, MagenticManager)
    assert manager.describe() == "magentic(openai:gpt-4.1)"
    assert (manager.max_stalls, manager.max_resets, manager.max_rounds) == (1, 4, 7)
    assert (manager.plan_review, manager.reviewer, manager.review_timeout) == (
        "after_replan",
        "you",
        60,
    )
    assert manager.max_attempts == 2


def test_model_overrides_reach_the_manager() -> None:
    spec = parse_spec(TEAM).with_model("ollama:llama3.2")
    assert spec.manager is not None and spec.manager.model == "ollama:llama3.2"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        pytest.param(
            "reviewer: you",
            "reviewer: alice",
            "manager (line 6): reviewer: 'alice' is not a human participant",
            id="reviewer-who-is-not-human",
        ),
        pytest.param(
            "max_stalls: 1",
            "max_stalls: -1",
            "manager.max_stalls (line 9): Input should be greater than or equal",
            id="negative-max-stalls",
        ),
        pytest.param(
            "plan_review: after_replan",
            "plan_review: sometimes",
            "manager.plan_review (line 12): Input should be 'before'",
            id="unknown-plan-review",
        ),
    ],
)
def test_bad_manager_options_name_the_field_and_line(old: str, new: str, problem: str) -> None:
    assert old in TEAM
    with pytest.raises(SpecError) as caught:
        parse_spec(TEAM.replace(old, new), source="team.yaml")
    assert f"team.yaml: {problem}" in str(caught.value)


def test_a_team_with_a_manager_has_no_policy() -> None:
    text = TEAM.replace("manager:\n", "policy: {kind: mention}\nmanager:\n")
    with pytest.raises(SpecError, match="a team with a manager has no policy"):
        parse_spec(text)


def test_a_plan_review_needs_a_person() -> None:
    text = TEAM.replace("  - {kind: human, name: you}\n", "").replace("  reviewer: you\n", "")
    with pytest.raises(SpecError, match="plan_review 'after_replan' needs a human participant"):
        parse_spec(text)
    parse_spec(text.replace("plan_review: after_replan", "plan_review: never"))


def test_a_stored_spec_with_a_manager_loads_again() -> None:
    spec = parse_spec(TEAM)
    again = parse_spec(json.dumps(spec.model_dump(mode="json")), format="json")
    assert again == spec


def test_a_fork_with_another_policy_replaces_the_manager() -> None:
    from groupchat.app.resume import _with_policy

    forked = _with_policy(parse_spec(TEAM), "round_robin")
    assert not isinstance(forked, dict)
    assert forked.manager is None and forked.policy.kind == "round_robin"


def test_check_describes_the_manager(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(TEAM)
    out = subprocess.run(
        [sys.executable, "-m", "groupchat", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "policy:       magentic(openai:gpt-4.1)" in out


# ------------------------------------------------------------------------ the research example


async def test_the_research_example_runs_offline_on_scripted_models() -> None:
    spec = load_spec(ROOT / "examples" / "research_team.yaml")
    assert spec.manager is not None and spec.manager.plan_review == "before"
    ledger = ScriptedLedgerModel(
        [plan_json(["researcher gathers facts", "analyst weighs them", "writer recommends"])],
        [
            progress_json("researcher", "Gather the facts.", reason="facts first"),
            progress_json("analyst", "Weigh them.", reason="facts are in"),
            progress_json("writer", "Write the recommendation.", reason="conclusion reached"),
        ],
        ["SQLite: simple, fast enough, one file."],
        satisfied_after=3,
    )
    models: dict[str, ChatModel] = {spec.manager.model: ledger}

    def model(name: str) -> ChatModel:
        return models.get(name) or ScriptedModel([f"{name} says so."], name=name, when_done="cycle")

    chat = spec.build(models=model)
    you = chat.participants["you"]
    assert isinstance(you, HumanParticipant)
    probe = ChatProbe.of(chat)
    running = asyncio.create_task(chat.run(spec.task))
    await probe.wait_for(HumanInputRequested, request="approval")
    you.send("approve")
    result = await asyncio.wait_for(running, 10)
    assert result.status == "completed"
    turns = [m.sender for m in result.messages if m.kind == "turn"]
    assert turns == ["researcher", "analyst", "writer"]
    assert result.messages[-1].content == "SQLite: simple, fast enough, one file."
    assert {"manager", "researcher", "analyst", "writer"} <= set(result.usage_by)


def test_the_readme_example_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [code] = [
        block
        for block in re.findall(r"```python\n(.*?)```", readme, re.S)
        if "MagenticManager(ledger" in block
    ]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.splitlines() == [
        "magentic: the request is satisfied: the work is done",
        "Tardigrades survive space, boiling and decades without water.",
        "True",
    ]


# ------------------------------------------------------------------------ the console


def render(*events: Any) -> str:
    out = io.StringIO()
    renderer = ConsoleRenderer(Console(file=out, width=100, highlight=False, color_system=None))
    for event in events:
        renderer.render(event)
    return out.getvalue()


def base(seq: int) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "chat_id": "c",
        "seq": seq,
        "time": datetime(2024, 1, 1, tzinfo=UTC),
        "sender": "manager",
    }


def test_the_console_shows_plans_rounds_replans_reviews_and_the_answer() -> None:
    ledger = TaskLedger(
        **base(1),
        revision=1,
        task="t",
        facts=FactSheet(given=("one day",), to_look_up=("venue",)),
        plan=("alice books", "bob \x1b[31mwrites"),
        cause="stall",
        reason="2 stalled rounds",
    )
    plan_message = MessagePosted(
        **base(2),
        message=Message(id="m1", sender="manager", content="Here is the plan", kind="plan"),
    )
    progress = ProgressLedger(
        **base(3),
        round=4,
        satisfied=BoolAnswer(answer=False),
        in_loop=BoolAnswer(answer=True),
        making_progress=BoolAnswer(answer=False),
        next_speaker=TextAnswer(answer="alice"),
        instruction=TextAnswer(answer="Book it."),
        stalls=2,
        max_stalls=3,
    )
    done = progress.model_copy(
        update={"round": 5, "satisfied": BoolAnswer(answer=True, reason="all booked")}
    )
    replan = Replan(**base(4), reason="3 stalled rounds", stalls=3, resets=1, max_resets=2)
    review = PlanReview(
        **base(5), reviewer="you", revision=1, decision="revise", feedback="cheaper"
    )
    answer = MessagePosted(
        **base(6), message=Message(id="m2", sender="manager", content="Booked.", kind="answer")
    )
    text = render(ledger, plan_message, progress, done, replan, review, answer)
    assert "plan, revision 1 · 2 stalled rounds" in text
    assert "  1. alice books" in text and "  2. bob ␛[31mwrites" in text
    assert "known: one day" in text and "to look up: venue" in text
    assert "Here is the plan" not in text  # shown from the ledger event instead
    assert "round 4 · progress ✗ · in a loop · stalls 2/3" in text
    assert "round 5 · the request is satisfied: all booked" in text
    assert "↻ replanning (1 of 2): 3 stalled rounds" in text
    assert "✎ you asked for changes: cheaper" in text
    assert "final answer from manager" in text and "Booked." in text


# ------------------------------------------------------------------------ the benchmark


def test_the_benchmark_pattern_runs_and_checks_itself() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench.orchestration", "--pattern", "magentic", "--messages", "40"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    report = json.loads(out)
    assert report["pattern"] == "magentic" and report["messages"] == 40
    assert "ok" not in report, report.get("problem")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the answer was empty"),
        ("no braces here", "the answer holds no JSON object"),
        ("[1, 2]", "the answer holds no JSON object"),
        ('{"a": }', "the answer is not valid JSON (Expecting value at line 1)"),
    ],
)
def test_json_objects_that_cannot_be_read_say_why(text: str, problem: str) -> None:
    assert json_object(text) == (None, problem)


@pytest.mark.parametrize(
    "text",
    ['{"a": 1}', ' {"a": 1} trailing words', 'Sure: {"a": 1}', '```json\n{"a": 1}\n```'],
)
def test_json_objects_are_found_in_chatty_answers(text: str) -> None:
    assert json_object(text) == ({"a": 1}, "")
