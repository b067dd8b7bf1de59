"""The magentic manager: plans the work, directs each speaker, notices stalls, replans, answers.

Outer loop: the manager surveys the facts and makes a plan, posted as a ``task_ledger`` event
and as a ``plan`` message the team reads; a person may be asked to review it first. Inner
loop, one round per turn: a ``progress_ledger`` (is the request satisfied, are we in a loop,
is progress being made, who speaks next, with what instruction, each with a reason), then an
``instruction`` message to the chosen participant, who takes the turn. The stall count goes up
on a round without progress or in a loop and down otherwise; past ``max_stalls`` the manager
publishes a ``replan`` and starts the outer loop again. When the request is satisfied, or
``max_rounds`` or ``max_resets`` is reached, it writes the final ``answer`` message and ends the
chat, the ``chat_ended`` event saying why.

Every model call is a ``selector_attempt`` event counted in the chat's totals under
``manager``. An answer that cannot be read (bad JSON, a name not in the team) is asked again
with a correction, up to ``max_attempts`` calls; then the chat ends with an error event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, NoReturn, TypeAlias, TypeVar

from pydantic import BaseModel

from groupchat.events import (
    MANAGER,
    ErrorEvent,
    Event,
    ParticipantInfo,
    PlanReview,
    ProgressLedger,
    Replan,
    TaskLedger,
)
from groupchat.magentic.ledger import (
    PLAN_FORMAT,
    PROGRESS_FORMAT,
    PlanAnswer,
    ProgressAnswer,
    read_plan,
    read_progress,
)
from groupchat.magentic.prompts import (
    SYSTEM,
    History,
    answer_prompt,
    correction,
    instruction_message,
    ledger_message,
    plan_prompt,
    progress_head,
)
from groupchat.magentic.review import REVIEW_CHOICES, REVIEW_PROMPT, read_review
from groupchat.magentic.state import ManagerState, PlanReviewMode
from groupchat.models.base import (
    ChatModel,
    ModelError,
    ModelMessage,
    ModelRequest,
    RequestRejected,
    ResponseFormat,
    complete,
)
from groupchat.participant import PolicyView
from groupchat.policies import ChatComplete, Selection, SelectionError, SelectionPolicy

if TYPE_CHECKING:
    from groupchat.chat import ManagerActions
    from groupchat.events import EndStatus

__all__ = ["MagenticManager", "OutputMode"]

OutputMode: TypeAlias = Literal["json_schema", "json_object", "none"]
"""How JSON is asked for: structured output with the schema, any JSON object, or in words only.
An endpoint that refuses a mode is asked with the next one from then on."""

_MODES: tuple[OutputMode, ...] = ("json_schema", "json_object", "none")
_SCHEMAS: dict[str, type[BaseModel]] = {PLAN_FORMAT: PlanAnswer, PROGRESS_FORMAT: ProgressAnswer}
_ANSWER_CHARS = 4000  # of a model's answer kept in its selector_attempt event
T = TypeVar("T")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _read_answer(text: str) -> tuple[str | None, str]:
    return (text.strip(), "") if text.strip() else (None, "the answer was empty")


class MagenticManager(SelectionPolicy):
    """Conducts a group chat the Magentic-One way; see the module docstring.

    ``plan_review`` says when a person reviews the plan: ``before`` it first runs,
    ``after_replan`` (after every replan), ``always`` or ``never``. The reviewer is
    ``reviewer`` or else the chat's first person; they approve, ask for changes (the manager
    revises the plan with their feedback and asks again) or reject it (the chat ends). No
    answer within ``review_timeout`` lets the plan run. ``window`` is how many recent messages
    the manager's prompts show (``None``: all), each cut to ``max_message_chars``.
    """

    name = "magentic"
    usage_key = MANAGER
    """Its model calls count in the chat's totals under ``manager``."""

    def __init__(
        self,
        model: ChatModel | str,
        *,
        max_stalls: int = 3,
        max_resets: int = 2,
        max_rounds: int = 20,
        plan_review: PlanReviewMode = "never",
        reviewer: str | None = None,
        review_timeout: float | None = None,
        window: int | None = 20,
        max_attempts: int = 3,
        max_message_chars: int = 2000,
        output: OutputMode = "json_schema",
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> None:
        if max_stalls < 0 or max_resets < 0:
            raise ValueError("max_stalls and max_resets must not be negative")
        if max_rounds < 1 or max_attempts < 1:
            raise ValueError("max_rounds and max_attempts must be at least 1")
        if window is not None and window < 1:
            raise ValueError("window must be at least 1 (or None for the whole chat)")
        if plan_review not in ("before", "after_replan", "always", "never"):
            raise ValueError("plan_review must be 'before', 'after_replan', 'always' or 'never'")
        if output not in _MODES:
            raise ValueError("output must be 'json_schema', 'json_object' or 'none'")
        if review_timeout is not None and review_timeout <= 0:
            raise ValueError("review_timeout must be positive")
        if isinstance(model, str):
            from groupchat.models.registry import resolve_model

            model = resolve_model(model)
        self.model: ChatModel = model
        self.max_stalls = max_stalls
        self.max_resets = max_resets
        self.max_rounds = max_rounds
        self.plan_review: PlanReviewMode = plan_review
        self.reviewer = reviewer
        self.review_timeout = review_timeout
        self.max_attempts = max_attempts
        self.state = ManagerState(review=plan_review)
        self._actions: ManagerActions | None = None
        self._history = History(window, max_message_chars)
        self._modes = list(_MODES[_MODES.index(output) :])
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._formats = {
            (mode, name): ResponseFormat(
                type=mode,
                name=name,
                json_schema=schema.model_json_schema() if mode == "json_schema" else None,
            )
            for name, schema in _SCHEMAS.items()
            for mode in ("json_schema", "json_object")
        }
        self._system = ModelMessage(role="system", content=SYSTEM)
        self._head: tuple[tuple[object, ...], tuple[str, str]] | None = None
        self._pending: tuple[int, Selection] | None = None

    def describe(self) -> str:
        return f"{self.name}({self.model.name})"

    def bind_chat(self, actions: ManagerActions) -> None:
        """Called by the chat: how the manager publishes its ledgers and posts its messages."""
        self._actions = actions

    def validate(self, participants: Sequence[str]) -> None:
        if self.reviewer is not None and self.reviewer not in participants:
            raise ValueError(f"magentic: reviewer {self.reviewer!r} is not a participant")

    def restore(self, events: Sequence[Event]) -> None:
        self.state = ManagerState(review=self.plan_review)
        self.state.replay(events)

    # ------------------------------------------------------------------ the loops

    async def select(self, view: PolicyView, candidates: Sequence[str]) -> Selection:
        actions = self._actions
        if actions is None:
            raise SelectionError("magentic: the manager runs inside a GroupChat")
        self._catch_up(view)
        state = self.state
        if state.task is None:
            raise SelectionError("magentic: the chat has no task to plan for")
        pending, self._pending = self._pending, None
        if (
            pending is not None
            and pending[0] == view.turn
            and state.phase == "run"
            and pending[1].speaker in candidates
        ):
            # The chat did not use the last choice (it paused while the manager chose): the
            # instruction is posted already, so the same member is given the turn.
            return pending[1]
        while True:
            if state.phase == "plan":
                await self._plan(view, actions)
            elif state.phase == "review":
                await self._review(view, actions)
            else:
                selection = await self._round(view, candidates, actions)
                if selection is not None:
                    self._pending = (view.turn, selection)
                    return selection

    def _catch_up(self, view: PolicyView) -> None:
        """Look at the messages posted since the last call: a new task starts the work over."""
        log = view.messages
        state = self.state
        if len(log) > state.messages:
            for message in log[state.messages :]:
                if message.kind == "task":
                    state.new_task(message.content)
            state.messages = len(log)

    async def _plan(self, view: PolicyView, actions: ManagerActions) -> None:
        state = self.state
        assert state.task is not None
        team = tuple(view.participants.values())
        previous = state.ledger if state.cause != "task" else None
        prompt = plan_prompt(state.task, team, self._history.render(view), previous, state.why)
        answer = await self._call(view, prompt, PLAN_FORMAT, read_plan, "plan")
        ledger = await actions.emit(
            TaskLedger,
            revision=state.revision,
            task=state.task,
            team=team,
            facts=answer.facts(),
            plan=tuple(answer.plan),
            cause=state.cause,
            reason=state.why,
        )
        state.apply(ledger)
        await actions.post(ledger_message(ledger), "plan")

    def _reviewer_in(self, view: PolicyView) -> str | None:
        if self.reviewer is not None:
            return self.reviewer if self.reviewer in view.participants else None
        humans = view.humans()
        return humans[0] if humans else None

    async def _review(self, view: PolicyView, actions: ManagerActions) -> None:
        state = self.state
        assert state.ledger is not None
        reviewer = self._reviewer_in(view)
        if reviewer is None:
            decision, feedback = "no_answer", "nobody in the chat can review the plan"
        else:
            answer = await view.ask(
                reviewer,
                REVIEW_PROMPT,
                request="approval",
                choices=REVIEW_CHOICES,
                timeout=self.review_timeout,
            )
            decision, feedback = read_review(answer)
        review = await actions.emit(
            PlanReview,
            reviewer=reviewer or "",
            revision=state.ledger.revision,
            decision=decision,
            feedback=feedback,
        )
        state.apply(review)
        if decision == "reject":
            said = f": {feedback}" if feedback else ""
            raise ChatComplete(f"magentic: {reviewer} rejected the plan{said}", "stopped")

    async def _round(
        self, view: PolicyView, candidates: Sequence[str], actions: ManagerActions
    ) -> Selection | None:
        """One progress ledger; the selection it makes, or ``None`` after a replan."""
        state = self.state
        if state.round >= self.max_rounds:
            await self._finish(
                view, actions, f"reached the limit of {self.max_rounds} rounds", "max_turns"
            )
        ledger = await self._progress(view, candidates, actions)
        if ledger.satisfied.answer:
            why = f": {_clip(ledger.satisfied.reason, 200)}" if ledger.satisfied.reason else ""
            await self._finish(view, actions, f"the request is satisfied{why}", "completed")
        if state.stalls > self.max_stalls:
            stuck = ledger.in_loop if ledger.in_loop.answer else ledger.making_progress
            why = _count(state.stalls, "stalled round") + (
                f" ({_clip(stuck.reason, 200)})" if stuck.reason else ""
            )
            if state.resets >= self.max_resets:
                await self._finish(
                    view,
                    actions,
                    f"still stalled after {_count(state.resets, 'replan')} (the limit): {why}",
                    "max_turns",
                )
            replan = await actions.emit(
                Replan,
                reason=why,
                stalls=state.stalls,
                resets=state.resets + 1,
                max_resets=self.max_resets,
            )
            state.apply(replan)
            return None
        speaker = ledger.next_speaker.answer
        await actions.post(instruction_message(speaker, ledger.instruction.answer), "instruction")
        why = _clip(ledger.next_speaker.reason, 200) or "chosen by the manager"
        return Selection(speaker, f"round {ledger.round}: {why}")

    def _progress_prompt(
        self, view: PolicyView, team: tuple[ParticipantInfo, ...], candidates: Sequence[str]
    ) -> str:
        state = self.state
        assert state.task is not None and state.ledger is not None
        key = (state.ledger, team, tuple(candidates))
        cached = self._head
        if cached is None or cached[0] != key:  # tuples compare items by identity first
            head = progress_head(state.task, team, state.ledger.plan, candidates)
            cached = self._head = (key, head)
        before, after = cached[1]
        return before + self._history.render(view) + after

    async def _progress(
        self, view: PolicyView, candidates: Sequence[str], actions: ManagerActions
    ) -> ProgressLedger:
        state = self.state
        team = tuple(view.participants.values())
        prompt = self._progress_prompt(view, team, candidates)
        others = view.participants

        def read(text: str) -> tuple[ProgressAnswer | None, str]:
            return read_progress(text, candidates, others)

        answer = await self._call(view, prompt, PROGRESS_FORMAT, read, "progress ledger")
        stalled = answer.is_in_loop.answer or not answer.is_progress_being_made.answer
        ledger = await actions.emit(
            ProgressLedger,
            round=state.round + 1,
            satisfied=answer.is_request_satisfied,
            in_loop=answer.is_in_loop,
            making_progress=answer.is_progress_being_made,
            next_speaker=answer.next_speaker,
            instruction=answer.instruction_or_question,
            stalls=state.stalls + 1 if stalled else max(0, state.stalls - 1),
            max_stalls=self.max_stalls,
        )
        state.apply(ledger)
        return ledger

    async def _finish(
        self, view: PolicyView, actions: ManagerActions, why: str, status: EndStatus
    ) -> NoReturn:
        """Write the final answer and end the chat."""
        assert self.state.task is not None
        outcome = (
            "The team has addressed the request."
            if status == "completed"
            else f"The team could not finish: {why}."
        )
        prompt = answer_prompt(self.state.task, self._history.render(view), outcome)
        try:
            text = await self._call(view, prompt, None, _read_answer, "final answer")
        except SelectionError as exc:
            await actions.emit(ErrorEvent, error=str(exc), detail="manager")
            why += " (no final answer: the model failed)"
        else:
            await actions.post(text, "answer")
        raise ChatComplete(f"magentic: {why}", status)

    # ------------------------------------------------------------------ asking the model

    def _request(self, messages: list[ModelMessage], output: str | None) -> ModelRequest:
        mode = self._modes[0]
        fmt = self._formats[(mode, output)] if output is not None and mode != "none" else None
        return ModelRequest(
            messages=tuple(messages),
            response_format=fmt,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
        )

    async def _call(
        self,
        view: PolicyView,
        prompt: str,
        output: str | None,
        read: Callable[[str], tuple[T | None, str]],
        what: str,
    ) -> T:
        """Ask the model until ``read`` accepts its answer, correcting it up to
        ``max_attempts`` calls; ``SelectionError`` when it never does or a call fails."""
        messages = [self._system, ModelMessage(role="user", content=prompt)]
        model = self.model.name
        problem = ""
        attempt = 1
        while attempt <= self.max_attempts:
            request = self._request(messages, output)
            try:
                response = await complete(self.model, request)
            except RequestRejected as exc:
                if request.response_format is not None:
                    refused = self._modes.pop(0)
                    problem = (
                        f"the endpoint refused {refused} output ({exc}); "
                        f"asking with {self._modes[0]} from now on"
                    )
                    await view.report_attempt(
                        self.name, attempt, "", accepted=False, problem=problem, model=model
                    )
                    continue
                await view.report_attempt(
                    self.name,
                    attempt,
                    "",
                    accepted=False,
                    problem=f"the call failed: {exc}",
                    model=model,
                )
                raise SelectionError(f"magentic: the {what} call failed: {exc}") from None
            except ModelError as exc:
                await view.report_attempt(
                    self.name,
                    attempt,
                    "",
                    accepted=False,
                    problem=f"the call failed: {exc}",
                    model=model,
                )
                raise SelectionError(f"magentic: the {what} call failed: {exc}") from None
            text = response.content
            value, problem = read(text)
            await view.report_attempt(
                self.name,
                attempt,
                _clip(text, _ANSWER_CHARS),
                accepted=value is not None,
                problem=problem,
                usage=response.usage,
                model=model,
            )
            if value is not None:
                return value
            messages.append(ModelMessage(role="assistant", content=text))
            messages.append(
                ModelMessage(role="user", content=correction(problem, json=output is not None))
            )
            attempt += 1
        raise SelectionError(
            f"magentic: no usable {what} in {self.max_attempts} attempts (last: {problem})"
        )
