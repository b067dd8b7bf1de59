"""A scripted ledger model: the magentic manager run offline, for tests, the demo and benchmarks.

:func:`plan_json` and :func:`progress_json` write the answers a model would give;
:class:`ScriptedLedgerModel` hands them out by kind of request (plan, progress ledger, final
answer), which it tells apart by the request's response format.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

from groupchat.magentic.ledger import PLAN_FORMAT
from groupchat.models.base import ModelRequest, StreamEvent
from groupchat.models.scripted import ScriptedModel

__all__ = ["ScriptedLedgerModel", "plan_json", "progress_json"]


def plan_json(
    plan: Sequence[str],
    *,
    given: Sequence[str] = (),
    to_look_up: Sequence[str] = (),
    to_derive: Sequence[str] = (),
    guesses: Sequence[str] = (),
) -> str:
    """A plan answer (the task ledger's facts and steps) as a model writes it."""
    return json.dumps(
        {
            "given_or_verified_facts": list(given),
            "facts_to_look_up": list(to_look_up),
            "facts_to_derive": list(to_derive),
            "educated_guesses": list(guesses),
            "plan": list(plan),
        }
    )


def progress_json(
    next_speaker: str = "",
    instruction: str = "",
    *,
    satisfied: bool = False,
    in_loop: bool = False,
    progress: bool = True,
    reason: str = "",
) -> str:
    """A progress-ledger answer as a model writes it; ``reason`` goes with every answer."""
    return json.dumps(
        {
            "is_request_satisfied": {"reason": reason, "answer": satisfied},
            "is_in_loop": {"reason": reason, "answer": in_loop},
            "is_progress_being_made": {"reason": reason, "answer": progress},
            "next_speaker": {"reason": reason, "answer": next_speaker},
            "instruction_or_question": {"reason": reason, "answer": instruction},
        }
    )


class ScriptedLedgerModel:
    """Answers plan requests with ``plans``, progress-ledger requests with ``rounds`` and
    final-answer requests with ``answers``, each list in turn and starting over when used up.

    With ``satisfied_after=N`` every progress ledger after the N-th says the request is
    satisfied. Token usage is estimated as for :class:`~groupchat.models.ScriptedModel`.
    The manager must ask for JSON (its ``output`` is not ``"none"``): that is how requests are
    told apart.
    """

    def __init__(
        self,
        plans: Sequence[str],
        rounds: Sequence[str],
        answers: Sequence[str] = ("The team has finished the task.",),
        *,
        satisfied_after: int | None = None,
        name: str = "scripted:ledger",
    ) -> None:
        if satisfied_after is not None and satisfied_after < 0:
            raise ValueError("satisfied_after must not be negative")

        def script(items: Sequence[str]) -> ScriptedModel:
            return ScriptedModel(
                list(items), name=name, chunk="all", when_done="cycle", keep_requests=False
            )

        self.name = name
        self.satisfied_after = satisfied_after
        self.progress_calls = 0
        self._plans = script(plans)
        self._rounds = script(rounds)
        self._done = script([progress_json(satisfied=True, reason="the work is done")])
        self._answers = script(answers)

    def __repr__(self) -> str:
        return f"ScriptedLedgerModel({self.name!r})"

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        fmt = request.response_format
        if fmt is None:
            return self._answers.stream(request)
        if fmt.name == PLAN_FORMAT:
            return self._plans.stream(request)
        self.progress_calls += 1
        if self.satisfied_after is not None and self.progress_calls > self.satisfied_after:
            return self._done.stream(request)
        return self._rounds.stream(request)
