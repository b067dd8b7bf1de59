"""Reading the magentic manager's ledgers from a model's answer.

A plan (the task ledger's facts and steps) and a progress ledger are asked for as JSON, with the
endpoint's structured output or JSON mode where it has one. Answers are read tolerantly: code
fences and text around the object are ignored, a bare ``true`` stands for
``{"answer": true, "reason": ""}``, a list written as one string is split into its lines, and
the next speaker is matched like the LLM selector's answer (case, ``@``, spaces for ``_``).
Whatever cannot be used comes back as a problem, which the manager puts to the model again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from groupchat.events import BoolAnswer, FactSheet, TextAnswer
from groupchat.selector import match_speaker

__all__ = [
    "PLAN_FORMAT",
    "PROGRESS_FORMAT",
    "PlanAnswer",
    "ProgressAnswer",
    "json_object",
    "read_plan",
    "read_progress",
]

PLAN_FORMAT = "TaskLedgerAnswer"
"""The response-format name of plan requests (a scripted ledger model tells calls apart by it)."""
PROGRESS_FORMAT = "ProgressLedgerAnswer"
"""The response-format name of progress-ledger requests."""

_LAX = ConfigDict(extra="ignore")
_FENCE = re.compile(r"```[A-Za-z]*\s*(.*?)```", re.S)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_DECODER = json.JSONDecoder()


def _lines(value: Any) -> Any:
    """A list given as one string (bullets or numbered lines) as a list of its lines."""
    if isinstance(value, str):
        return [_BULLET.sub("", line).strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return value


def _entry(value: Any) -> Any:
    """``{"answer": ..., "reason": ...}`` from a ledger entry, or a bare answer."""
    if isinstance(value, dict):
        reason = value.get("reason")
        return {"answer": value.get("answer"), "reason": "" if reason is None else str(reason)}
    return {"answer": value, "reason": ""}


class PlanAnswer(BaseModel):
    """The facts and the plan a model answers for the task ledger."""

    model_config = _LAX

    given_or_verified_facts: list[str] = Field(default_factory=list)
    facts_to_look_up: list[str] = Field(default_factory=list)
    facts_to_derive: list[str] = Field(default_factory=list)
    educated_guesses: list[str] = Field(default_factory=list)
    plan: list[str] = Field(min_length=1)

    @field_validator(
        "given_or_verified_facts",
        "facts_to_look_up",
        "facts_to_derive",
        "educated_guesses",
        "plan",
        mode="before",
    )
    @classmethod
    def _as_lines(cls, value: Any) -> Any:
        return _lines(value)

    def facts(self) -> FactSheet:
        return FactSheet(
            given=tuple(self.given_or_verified_facts),
            to_look_up=tuple(self.facts_to_look_up),
            to_derive=tuple(self.facts_to_derive),
            guesses=tuple(self.educated_guesses),
        )


class ProgressAnswer(BaseModel):
    """A progress ledger as a model answers it (the Magentic-One questions)."""

    model_config = _LAX

    is_request_satisfied: BoolAnswer
    is_in_loop: BoolAnswer
    is_progress_being_made: BoolAnswer
    next_speaker: TextAnswer
    instruction_or_question: TextAnswer

    @model_validator(mode="before")
    @classmethod
    def _as_entries(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {key: _entry(value) if key in _ENTRIES else value for key, value in data.items()}


_ENTRIES = frozenset(ProgressAnswer.model_fields)


def json_object(text: str) -> tuple[dict[str, Any] | None, str]:
    """The JSON object in a model's answer: ``(object, "")`` or ``(None, what is wrong)``."""
    body = text.strip()
    if not body:
        return None, "the answer was empty"
    if not body.startswith("{"):
        fenced = _FENCE.search(body)
        if fenced is not None:
            body = fenced.group(1).strip()
        if not body.startswith("{"):
            start = body.find("{")
            if start < 0:
                return None, "the answer holds no JSON object"
            body = body[start:]
    try:
        value, _end = _DECODER.raw_decode(body)  # text after the object is ignored
    except json.JSONDecodeError as exc:
        return None, f"the answer is not valid JSON ({exc.msg} at line {exc.lineno})"
    if not isinstance(value, dict):
        return None, "the answer is JSON but not an object"
    return value, ""


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], text: str) -> tuple[M | None, str]:
    data, problem = json_object(text)
    if data is None:
        return None, problem
    try:
        return model.model_validate(data), ""
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()[:3]
        )
        return None, f"the JSON does not match the schema: {problems}"


def read_plan(text: str) -> tuple[PlanAnswer | None, str]:
    """A plan answer, or what is wrong with it."""
    return _validated(PlanAnswer, text)


def read_progress(
    text: str, candidates: Sequence[str], others: Iterable[str] = ()
) -> tuple[ProgressAnswer | None, str]:
    """A progress ledger whose next speaker is one of ``candidates`` (spelled as they are), or
    what is wrong with it. Once the request is satisfied nobody needs to speak next."""
    ledger, problem = _validated(ProgressAnswer, text)
    if ledger is None or ledger.is_request_satisfied.answer:
        return ledger, problem
    said = ledger.next_speaker.answer
    name, problem = match_speaker(said, candidates, others)
    if name is None:
        return None, f"next_speaker {said.strip()[:60]!r}: {problem}"
    if not ledger.instruction_or_question.answer.strip():
        return None, "instruction_or_question.answer is empty"
    if name != said:
        ledger.next_speaker = TextAnswer(answer=name, reason=ledger.next_speaker.reason)
    return ledger, ""
