"""What the magentic manager says: its prompts to the model, and its messages to the team.

The questions follow Magentic-One's orchestrator: a fact survey and a plan (the task ledger),
then each round five questions with a reason for each answer (the progress ledger), and a
final answer written for the person who asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from groupchat.events import FactSheet, ParticipantInfo, TaskLedger
from groupchat.messages import Message
from groupchat.participant import ChatView

__all__ = [
    "SYSTEM",
    "History",
    "answer_prompt",
    "correction",
    "instruction_message",
    "ledger_message",
    "plan_prompt",
    "progress_head",
    "team_listing",
]

SYSTEM = (
    "You are the manager of a team that works on a request in a group chat. You survey the "
    "facts, make the plan, track progress and tell each member what to do next; the members "
    "do the work. When asked for JSON, answer with one JSON object and nothing else."
)

_PLAN_SCHEMA = """\
{
  "given_or_verified_facts": [string, ...],
  "facts_to_look_up": [string, ...],
  "facts_to_derive": [string, ...],
  "educated_guesses": [string, ...],
  "plan": [string, ...]
}"""

_PROGRESS_SCHEMA = """\
{
  "is_request_satisfied": {"reason": string, "answer": boolean},
  "is_in_loop": {"reason": string, "answer": boolean},
  "is_progress_being_made": {"reason": string, "answer": boolean},
  "next_speaker": {"reason": string, "answer": string (one of: %s)},
  "instruction_or_question": {"reason": string, "answer": string}
}"""


def team_listing(team: Iterable[ParticipantInfo]) -> str:
    """One line per member: name, whether a person, what they do."""
    return "\n".join(
        f"- {info.name}{' (a person)' if info.human else ''}"
        + (f": {info.description}" if info.description else "")
        for info in team
    )


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items) if items else "- (none)"


def _fact_sheet(facts: FactSheet) -> str:
    return (
        f"Given or verified facts:\n{_bullets(facts.given)}\n\n"
        f"Facts to look up:\n{_bullets(facts.to_look_up)}\n\n"
        f"Facts to derive:\n{_bullets(facts.to_derive)}\n\n"
        f"Educated guesses:\n{_bullets(facts.guesses)}"
    )


def _steps(plan: Sequence[str]) -> str:
    return "\n".join(f"{i}. {step}" for i, step in enumerate(plan, 1))


class History:
    """The last ``window`` messages of the chat as ``name: text`` lines, each cut to ``limit``
    characters; the manager's plan messages are left out (the prompts hold the plan). Each
    message is rendered once, however many prompts it stays in."""

    __slots__ = ("_lines", "limit", "window")

    def __init__(self, window: int | None, limit: int) -> None:
        self.window = window
        self.limit = limit
        self._lines: dict[str, tuple[Message, str]] = {}

    def _line(self, message: Message) -> str:
        text = message.content
        if len(text) > self.limit:
            text = text[: self.limit - 1] + "…"
        return f"{'task' if message.kind == 'task' else message.sender}: {text}"

    def render(self, view: ChatView) -> str:
        log = view.messages
        window = log[-self.window :] if self.window is not None else log[:]
        lines = self._lines
        out: list[str] = []
        for message in window:
            if message.kind == "plan":
                continue
            entry = lines.get(message.id)
            if entry is None or entry[0] is not message:
                entry = lines[message.id] = (message, self._line(message))
            out.append(entry[1])
        if len(lines) > 2 * len(window) + 32:
            self._lines = {m.id: lines[m.id] for m in window if m.id in lines}
        return "\n".join(out) if out else "(nothing yet)"


def plan_prompt(
    task: str,
    team: Iterable[ParticipantInfo],
    history: str,
    previous: TaskLedger | None = None,
    why: str = "",
) -> str:
    """Ask for a fact sheet and a plan; with ``previous``, for a revision of it and ``why``."""
    parts = [
        f"We are working on this request:\n\n{task}",
        f"The team:\n\n{team_listing(team)}",
        f"The conversation so far, most recent last:\n\n{history}",
    ]
    if previous is not None:
        parts.append(
            "This replaces an earlier plan."
            + (f" Why: {why}" if why else "")
            + f"\n\nThe earlier fact sheet:\n\n{_fact_sheet(previous.facts)}"
            + f"\n\nThe earlier plan:\n\n{_steps(previous.plan)}"
            + "\n\nUpdate the fact sheet with what has been learned, and make a new plan that "
            "overcomes the problems and does not repeat the same mistakes."
        )
    parts.append(
        "Survey the facts: those given in the request or verified, those to look up, those "
        "to derive (by computation or reasoning), and educated guesses. Then write a short "
        "plan of concrete steps for this team; not every member needs to take part, and a "
        "person can be asked for what only they know or decide."
    )
    parts.append(
        "Answer with one JSON object, parsable as-is, in exactly this form:\n\n" + _PLAN_SCHEMA
    )
    return "\n\n".join(parts)


def progress_head(
    task: str, team: Iterable[ParticipantInfo], plan: Sequence[str], names: Sequence[str]
) -> tuple[str, str]:
    """The progress prompt around the conversation: what comes before it and after it (they
    change only with the plan or the team, so the manager keeps them)."""
    before = (
        f"Recall we are working on this request:\n\n{task}\n\n"
        f"The team:\n\n{team_listing(team)}\n\n"
        f"The plan:\n\n{_steps(plan)}\n\n"
        "The conversation so far, most recent last:\n\n"
    )
    after = (
        "\n\nTo make progress on the request, answer these questions, each with its reason:\n\n"
        "- Is the request fully satisfied? (true only if it has been SUCCESSFULLY and FULLY "
        "addressed)\n"
        "- Are we in a loop, repeating the same requests or getting the same responses? "
        "(loops can span several turns)\n"
        "- Are we making forward progress? (true if just starting or recent messages add "
        "value; false if stuck or facing a barrier such as missing information)\n"
        f"- Who should speak next? (one of: {', '.join(names)})\n"
        "- What instruction or question would you give them? (speak to them directly and "
        "include what they need to know)\n\n"
        "Answer with one JSON object, parsable as-is, in exactly this form:\n\n"
        + _PROGRESS_SCHEMA
        % ", ".join(names)
    )
    return before, after


def answer_prompt(task: str, history: str, outcome: str) -> str:
    """Ask for the final answer; ``outcome`` says whether the team finished and, if not, why."""
    return (
        f"We were working on this request:\n\n{task}\n\n"
        f"The conversation, most recent last:\n\n{history}\n\n"
        f"{outcome}\n\n"
        "Based on what was gathered, write the final answer to the request, addressed to the "
        "person who asked. If something is still missing, say so plainly."
    )


def correction(problem: str, *, json: bool = True) -> str:
    """What the model is told when its answer cannot be used."""
    again = (
        "Answer again with one JSON object in the form asked for, and nothing else."
        if json
        else "Answer again."
    )
    return f"That answer cannot be used: {problem}. {again}"


def ledger_message(ledger: TaskLedger) -> str:
    """The task ledger as the team reads it (Markdown)."""
    head = "Here is the plan." if ledger.revision == 0 else "Here is the revised plan."
    return (
        f"{head} We are working on this request:\n\n{ledger.task}\n\n"
        f"The team:\n\n{team_listing(ledger.team)}\n\n"
        f"{_fact_sheet(ledger.facts)}\n\n"
        f"The plan:\n\n{_steps(ledger.plan)}"
    )


def instruction_message(speaker: str, instruction: str) -> str:
    """The manager's instruction to the next speaker."""
    return f"@{speaker} {instruction.strip()}"
