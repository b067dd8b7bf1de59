"""The offline magentic demo: a manager run by a scripted ledger model directs three scripted
agents and you to write a hackathon announcement.

It needs no model and no network, and shows the magentic loop: the plan (which you review
first: approve, revise or reject), one progress ledger per round with the manager's
instruction, you directed like any member when a decision is yours, and the final answer.
"""

from __future__ import annotations

from collections.abc import Callable

from groupchat.agents import HumanParticipant, ScriptedAgent
from groupchat.app.demo import _excerpt, _latest_from
from groupchat.chat import GroupChat
from groupchat.magentic.ledger import PLAN_FORMAT
from groupchat.magentic.manager import MagenticManager
from groupchat.magentic.scripted import plan_json, progress_json
from groupchat.models.base import ModelRequest
from groupchat.models.scripted import FunctionModel
from groupchat.participant import ChatView, Participant

__all__ = ["MAGENTIC_DEMO_TASK", "build_magentic_demo"]

MAGENTIC_DEMO_TASK = "Write a short announcement for a one-day offline hackathon for 40 people."

_PLAN = [
    "researcher lists what a one-day hackathon for 40 people needs",
    "writer drafts the announcement, leaving the date and the place open",
    "{you} {decides} the date and the place",
    "writer completes the announcement",
    "critic checks it for anything missing",
]
_FACTS = {
    "given": ["one day, offline, about 40 people"],
    "to_look_up": ["what such a day usually includes"],
    "to_derive": ["a schedule that fits one day"],
    "guesses": ["newcomers will want a short kickoff"],
}
_DEFAULT_WHEN_WHERE = "Saturday 14 June, at the community hall"

_NOTES = (
    "What a one-day hackathon for 40 people needs:\n\n"
    "1. a 10:00 kickoff and team forming\n"
    "2. build time, with lunch and snacks on site\n"
    "3. demos and judging from 17:30\n\n"
    "Plan on about `2 m²` per person, one power outlet each, and Wi-Fi for 80 devices."
)


def _writer(human: str) -> Callable[[ChatView], str]:
    def speak(view: ChatView) -> str:
        drafts = sum(1 for m in view.messages if m.sender == view.speaker and m.kind == "turn")
        if drafts == 0:
            return (
                "**Hack the Day** — a one-day offline hackathon for 40 people.\n\n"
                "Kickoff at 10:00, build all day with lunch on us, demos from 17:30. "
                "Date and place: *to be decided*."
            )
        said = _latest_from(view, human) or _DEFAULT_WHEN_WHERE
        return (
            "**Hack the Day** — a one-day offline hackathon for 40 people.\n\n"
            f"When and where: {_excerpt(said, 80)}. Kickoff at 10:00, build all day with "
            "lunch on us, demos from 17:30. Bring a laptop; we bring power and Wi-Fi."
        )

    return speak


def _ledger_model(human: str) -> FunctionModel:
    """The demo's ledger model. It reads how far the team got from the conversation in the
    prompt (the manager's instructions so far), so a resumed demo goes on where it stopped."""
    decides = "decide" if human.lower() == "you" else "decides"  # "you decide", "ada decides"
    plan = [step.format(you=human, decides=decides) for step in _PLAN]
    revised = [*plan[:-1], "critic checks it against your review notes", plan[-1]]
    ask = "Which date and place should the announcement give?"
    rounds = [
        progress_json(
            "researcher",
            "List what a one-day hackathon for 40 people needs.",
            reason="the facts come first",
        ),
        progress_json(
            "writer",
            "Draft the announcement from the researcher's notes; leave date and place open.",
            reason="the notes are in",
        ),
        progress_json(human, ask, reason="only the person can decide this"),
        progress_json(
            "writer",
            f"Complete the announcement with the date and place {human} gave.",
            reason="the decision is made",
        ),
        progress_json(
            "critic", "Check the announcement for anything missing.", reason="a last check"
        ),
    ]
    done = progress_json(satisfied=True, reason="the announcement is written and checked")

    def answer(request: ModelRequest) -> str:
        prompt = request.messages[-1].content or ""
        if request.response_format is None:
            return (
                "The announcement is ready: it is the writer's last message above, checked by "
                "the critic. Publish it as it is."
            )
        if request.response_format.name == PLAN_FORMAT:
            return plan_json(revised if "replaces an earlier plan" in prompt else plan, **_FACTS)
        done_rounds = prompt.count("\nmanager: @")
        return rounds[done_rounds] if done_rounds < len(rounds) else done

    return FunctionModel(answer, name="scripted:ledger", chunk="all")


def build_magentic_demo(
    *,
    delay: float = 0.03,
    human_name: str = "you",
    timeout: float | None = None,
    chat_id: str | None = None,
) -> tuple[GroupChat, HumanParticipant]:
    """The magentic demo chat and its human participant (who reviews the plan and decides)."""
    human = HumanParticipant(
        human_name,
        "The person at the keyboard; reviews the plan and decides what the team cannot.",
        timeout=timeout,
    )
    team: list[Participant] = [
        ScriptedAgent(
            "researcher",
            [_NOTES],
            description="Finds out what the event needs.",
            chunk="word",
            delay=delay,
            when_done="cycle",
        ),
        ScriptedAgent(
            "writer",
            _writer(human_name),
            description="Writes and revises the announcement.",
            chunk="word",
            delay=delay,
        ),
        ScriptedAgent(
            "critic",
            ["Checked: date, place, times, food and what to bring are all there. Good to go."],
            description="Checks the result for gaps.",
            chunk="word",
            delay=delay,
            when_done="cycle",
        ),
        human,
    ]
    manager = MagenticManager(
        _ledger_model(human_name),
        plan_review="before",
        reviewer=human_name,
        max_rounds=12,
        window=None,  # the whole (short) chat: the ledger model counts the rounds in it
    )
    chat = GroupChat(
        team,
        policy=manager,
        metadata={"team": "magentic demo: a hackathon announcement"},
        chat_id=chat_id,
    )
    return chat, human
