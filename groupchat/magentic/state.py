"""Where the magentic manager stands, kept by reading its own events.

The manager applies every event it publishes to a :class:`ManagerState`, and a resumed chat
applies the stored events to a new one, so a resumed manager goes on with the same task, plan,
round, stall count and replans, and asks again for a review that had no answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeAlias

from groupchat.events import (
    Event,
    MessagePosted,
    PlanReview,
    ProgressLedger,
    Replan,
    TaskLedger,
)

__all__ = ["Cause", "ManagerState", "Phase", "PlanReviewMode", "needs_review"]

Phase: TypeAlias = Literal["plan", "review", "run"]
"""What the manager does next: make a plan, have it reviewed, or run a round."""
Cause: TypeAlias = Literal["task", "stall", "review"]
"""Why a plan is made: a new task, a replan after stalls, a reviewer's answer."""
PlanReviewMode: TypeAlias = Literal["before", "after_replan", "always", "never"]


def needs_review(mode: PlanReviewMode, cause: Cause) -> bool:
    """Whether a plan made for ``cause`` goes to the reviewer. A plan revised on a reviewer's
    feedback goes back to them (unless reviews are off)."""
    if mode == "never":
        return False
    if mode == "always" or cause == "review":
        return True
    return (mode == "before") == (cause == "task")


@dataclass(slots=True)
class ManagerState:
    """The manager's memory: the request, the current ledger and the counters."""

    review: PlanReviewMode = "never"
    task: str | None = None
    ledger: TaskLedger | None = None
    phase: Phase = "plan"
    cause: Cause = "task"
    why: str = ""
    """Why the next plan is needed (a replan's reason, a reviewer's feedback)."""
    revision: int = 0
    """The revision number the next plan gets."""
    round: int = 0
    stalls: int = 0
    resets: int = 0
    messages: int = 0
    """Messages seen so far (new task messages start the work over)."""

    def new_task(self, task: str) -> None:
        """A task message: plan for it from scratch."""
        self.task = task
        self.ledger = None
        self.phase, self.cause, self.why = "plan", "task", ""
        self.revision = self.round = self.stalls = self.resets = 0

    def apply(self, event: Event) -> None:
        """Take one event into account (the manager's own, or a task message)."""
        if isinstance(event, MessagePosted):
            self.messages += 1
            if event.message.kind == "task":
                self.new_task(event.message.content)
        elif isinstance(event, TaskLedger):
            self.ledger = event
            self.task = event.task
            self.revision = event.revision + 1
            self.phase = "review" if needs_review(self.review, event.cause) else "run"
            self.why = ""
        elif isinstance(event, PlanReview):
            if event.decision in ("approve", "no_answer"):
                self.phase = "run"
                return
            who = event.reviewer
            said = f": {event.feedback}" if event.feedback else ""
            self.phase, self.cause = "plan", "review"
            self.why = (
                f"{who} asked for changes{said}"
                if event.decision == "revise"
                else f"{who} rejected the plan{said}"
            )
        elif isinstance(event, ProgressLedger):
            self.round = event.round
            self.stalls = event.stalls
        elif isinstance(event, Replan):
            self.stalls = 0
            self.resets = event.resets
            self.phase, self.cause, self.why = "plan", "stall", event.reason

    def replay(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)
