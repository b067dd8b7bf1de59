"""Spans from a chat's events: the tracer is a subscriber of the bus, like the recorder.

:class:`ChatSpans` folds events, one at a time and in order, into OpenTelemetry spans whose
start and end times are the events' own, so a chat traced live, from a transcript or after a
resume gives the same tree:

- ``invoke_workflow group_chat``, the root: one per run of the chat (task, policy, end);
- ``invoke_agent {speaker}`` per turn, with under it ``chat {model}`` per model call and
  ``execute_tool {name}`` per tool execution;
- ``select_speaker`` / ``plan`` / ``final_answer`` per selection that called a model (the LLM
  selector, the magentic manager's ledgers), with a ``chat`` span per attempt;
- ``wait_for_human {name}`` while the chat waits for a person (a turn, a choice, an approval,
  a plan review), under the turn or selection that asked.

Imported only when tracing is on: it imports OpenTelemetry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from groupchat.events import (
    ChatEnded,
    ChatStarted,
    ErrorEvent,
    Event,
    Handoff,
    HumanInput,
    HumanInputRequested,
    MessagePosted,
    ModelCall,
    Paused,
    PlanReview,
    ProgressLedger,
    Replan,
    Resumed,
    SelectorAttempt,
    SpeakerSelected,
    TaskLedger,
    ToolCall,
    ToolResult,
    TurnSkipped,
    TurnStarted,
)
from groupchat.messages import Usage
from groupchat.tracing import Tracing
from groupchat.tracing import conventions as c
from groupchat.tracing.metrics import ChatMetrics

__all__ = ["ChatSpans", "ns"]

_CONTENT_LIMIT = 4096
"""Characters of captured content kept per attribute."""


_NO_PARENT = trace.set_span_in_context(trace.INVALID_SPAN)
"""The context of a span with no parent: a trace of its own."""


def ns(time: datetime) -> int:
    """An event's time as OpenTelemetry wants it: nanoseconds since the epoch."""
    return int(time.timestamp() * 1_000_000) * 1000


def _error_type(error: str) -> str:
    """``TimeoutError`` of ``TimeoutError: the model did not answer``."""
    head = error.split(":", 1)[0].strip()
    return head if head and " " not in head else "error"


def _usage(span: Span, usage: Usage | None) -> None:
    if usage is not None:
        span.set_attributes(
            {c.INPUT_TOKENS: usage.input_tokens, c.OUTPUT_TOKENS: usage.output_tokens}
        )


class _Wait:
    __slots__ = ("event", "span")

    def __init__(self, span: Span, event: HumanInputRequested) -> None:
        self.span = span
        self.event = event


class ChatSpans:
    """The spans of one chat, made from its events (see the module docstring)."""

    def __init__(self, chat_id: str, options: Tracing) -> None:
        provider = options.tracer_provider or trace.get_tracer_provider()
        self._tracer = provider.get_tracer(c.SCOPE)
        self._metrics = ChatMetrics(options.meter_provider)
        self._capture = options.captures
        self.chat_id = chat_id
        self._root: Span | None = None
        self._root_context: Any = _NO_PARENT
        self._turns: dict[str, Span] = {}  # message id -> its turn's span
        self._turn: tuple[str, Span] | None = None  # the turn running now
        self._speaker = ""
        self._selected: SpeakerSelected | None = None
        self._selection: Span | None = None
        self._attempt_from = 0
        self._tools: dict[str, Span] = {}
        self._waits: list[_Wait] = []
        self._last = 0  # time of the last event, ns
        self._policy = ""
        self._handlers: dict[type[Any], Callable[[Any], None]] = {
            ChatStarted: self._started,
            SpeakerSelected: self._speaker_selected,
            TurnStarted: self._turn_started,
            MessagePosted: self._posted,
            TurnSkipped: self._skipped,
            ModelCall: self._model_call,
            ToolCall: self._tool_call,
            ToolResult: self._tool_result,
            SelectorAttempt: self._attempt,
            HumanInputRequested: self._requested,
            HumanInput: self._human_input,
            PlanReview: self._plan_review,
            TaskLedger: self._task_ledger,
            ProgressLedger: self._progress_ledger,
            Replan: self._replan,
            Handoff: self._handoff,
            Paused: self._mark,
            Resumed: self._mark,
            ErrorEvent: self._error,
            ChatEnded: self._ended,
        }

    # ------------------------------------------------------------------ folding

    def apply(self, event: Event) -> None:
        """Fold one event of the chat into its spans."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            if self._root is None and not isinstance(event, ChatStarted):
                self._open_root(event, "", None)  # a resumed chat: its run is a root of its own
            handler(event)
        self._last = ns(event.time)

    def turn_span(self, message_id: str) -> Span | None:
        """The span of turn ``message_id`` while it runs."""
        return self._turns.get(message_id)

    def close(self) -> None:
        """End every span still open (the chat stopped without ``chat_ended``)."""
        if self._root is not None:
            self._end_all(self._last)

    # ------------------------------------------------------------------ the chat

    def _open_root(self, event: Event, policy: str, task: str | None) -> None:
        attributes: dict[str, Any] = {
            c.OPERATION: c.INVOKE_WORKFLOW,
            c.CONVERSATION_ID: self.chat_id,
            c.POLICY: policy,
        }
        if task and self._capture:
            attributes[c.TASK] = task[:_CONTENT_LIMIT]
        self._root = self._tracer.start_span(
            "invoke_workflow group_chat",
            context=_NO_PARENT,  # always a new trace
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=ns(event.time),
        )
        self._policy = policy
        self._root_context = trace.set_span_in_context(self._root)

    def _started(self, event: ChatStarted) -> None:
        if self._root is not None:
            self._end_all(ns(event.time))
        self._open_root(event, event.policy, event.task)

    def _child(self, name: str, parent: Span | None, start: int, **attributes: Any) -> Span:
        attributes[c.CONVERSATION_ID] = self.chat_id
        context = self._root_context if parent is None else trace.set_span_in_context(parent)
        return self._tracer.start_span(
            name, context=context, attributes=attributes, start_time=start
        )

    def _ended(self, event: ChatEnded) -> None:
        root = self._root
        end = ns(event.time)
        self._close_selection(end, "final_answer")
        self._end_all(end, keep_root=True)
        if root is None:
            return
        root.set_attribute(c.STATUS, event.status)
        root.set_attribute(c.REASON, event.reason)
        root.set_attribute(c.MESSAGES, event.messages)
        _usage(root, event.usage)
        if event.status == "error":
            root.set_status(Status(StatusCode.ERROR, event.reason))
            root.set_attribute(c.ERROR_TYPE, _error_type(event.reason))
        root.end(end_time=end)
        self._root = None
        self._root_context = _NO_PARENT
        self._metrics.chat_ended(event.messages, self._policy)

    def _end_all(self, end: int, *, keep_root: bool = False) -> None:
        for wait in self._waits:
            self._end_wait(wait, end, answered=False)
        self._waits.clear()
        for span in self._tools.values():
            span.end(end_time=end)
        self._tools.clear()
        self._close_selection(end, None)
        for span in self._turns.values():
            span.set_attribute(c.INTERRUPTED, True)
            span.end(end_time=end)
        self._turns.clear()
        self._turn = None
        if not keep_root and self._root is not None:
            self._root.end(end_time=end)
            self._root = None
            self._root_context = _NO_PARENT

    def _mark(self, event: Paused | Resumed) -> None:
        if self._root is not None:
            self._root.add_event(event.type, {"by": event.by or ""}, timestamp=ns(event.time))

    def _error(self, event: ErrorEvent) -> None:
        kind = _error_type(event.error)
        attributes = {"exception.type": kind, "exception.message": event.error}
        span: Span | None = self._root
        if event.participant is not None and self._turn is not None:
            span = self._turn[1]
            span.set_status(Status(StatusCode.ERROR, event.error))
            span.set_attribute(c.ERROR_TYPE, kind)
        elif event.detail == "selection" and self._selection is not None:
            span = self._selection
            span.set_status(Status(StatusCode.ERROR, event.error))
        if span is not None:
            span.add_event("exception", attributes, timestamp=ns(event.time))

    # ------------------------------------------------------------------ selection

    def _selection_span(self, start: int) -> Span:
        if self._selection is None:
            self._selection = self._child(
                "select_speaker",
                None,
                start,
                **{c.OPERATION: c.INVOKE_AGENT, c.POLICY: self._policy},
            )
            self._attempt_from = start
        return self._selection

    def _close_selection(self, end: int, name: str | None) -> None:
        span = self._selection
        if span is not None:
            if name is not None:
                span.update_name(name)
            span.end(end_time=end)
            self._selection = None

    def _attempt(self, event: SelectorAttempt) -> None:
        end = ns(event.time)
        parent = self._selection_span(self._last)
        start = self._attempt_from
        attributes: dict[str, Any] = {
            c.OPERATION: c.CHAT,
            c.AGENT_NAME: event.billed_to or event.policy,
            c.POLICY: event.policy,
            c.ATTEMPT: event.attempt,
            c.ACCEPTED: event.accepted,
        }
        if event.model:
            attributes[c.REQUEST_MODEL] = event.model
        if event.problem:
            attributes[c.PROBLEM] = event.problem
        if self._capture and event.answer:
            attributes[c.OUTPUT_MESSAGES] = event.answer[:_CONTENT_LIMIT]
        name = f"chat {event.model}" if event.model else "chat"
        span = self._child(name, parent, start, **attributes)
        _usage(span, event.usage)
        if not event.accepted:
            span.set_status(Status(StatusCode.ERROR, event.problem or "rejected"))
            span.set_attribute(c.ERROR_TYPE, "rejected_answer")
        span.end(end_time=end)
        self._attempt_from = end
        self._metrics.model_call(
            event.model, start, end, event.usage, None if event.accepted else "rejected_answer"
        )

    def _speaker_selected(self, event: SpeakerSelected) -> None:
        self._selected = event
        span = self._selection
        if span is not None:
            span.set_attribute(c.SPEAKER, event.speaker)
            span.set_attribute(c.SELECT_REASON, event.reason)
            span.set_attribute(c.CANDIDATES, list(event.candidates))
            self._close_selection(ns(event.time), "select_speaker")

    def _task_ledger(self, event: TaskLedger) -> None:
        span = self._selection
        if span is not None:
            span.set_attribute("groupchat.ledger.revision", event.revision)
            span.set_attribute("groupchat.ledger.cause", event.cause)
            self._close_selection(ns(event.time), "plan")

    def _progress_ledger(self, event: ProgressLedger) -> None:
        span = self._selection_span(self._last)
        span.set_attribute("groupchat.ledger.round", event.round)
        span.set_attribute("groupchat.ledger.stalls", event.stalls)
        span.set_attribute("groupchat.ledger.satisfied", event.satisfied.answer)

    def _replan(self, event: Replan) -> None:
        attributes: dict[str, str | int] = {
            "reason": event.reason,
            "stalls": event.stalls,
            "resets": event.resets,
        }
        if self._root is not None:
            self._root.add_event("replan", attributes, timestamp=ns(event.time))
        self._close_selection(ns(event.time), "select_speaker")  # the round that stalled

    # ------------------------------------------------------------------ turns

    def _turn_started(self, event: TurnStarted) -> None:
        start = ns(event.time)
        self._close_selection(start, None)
        attributes: dict[str, Any] = {
            c.OPERATION: c.INVOKE_AGENT,
            c.AGENT_NAME: event.speaker,
            c.TURN: event.turn,
        }
        selected = self._selected
        if selected is not None and selected.speaker == event.speaker:
            attributes[c.SELECT_REASON] = selected.reason
            attributes[c.POLICY] = selected.policy
        span = self._child(f"invoke_agent {event.speaker}", None, start, **attributes)
        self._turns[event.message_id] = span
        self._turn = (event.message_id, span)

    def _end_turn(self, message_id: str, end: int, outcome: str, interrupted: bool) -> None:
        span = self._turns.pop(message_id, None)
        if span is None:
            return
        if self._waits:
            self._end_waits(end, lambda wait: True)
        if self._tools:
            for tool in self._tools.values():
                tool.end(end_time=end)
            self._tools.clear()
        span.set_attributes({c.OUTCOME: outcome, c.INTERRUPTED: interrupted})
        span.end(end_time=end)
        if self._turn is not None and self._turn[0] == message_id:
            self._turn = None

    def _posted(self, event: MessagePosted) -> None:
        message = event.message
        end = ns(event.time)
        if self._waits:
            self._end_waits(end, lambda wait: wait.event.participant == message.sender, True)
        span = self._turns.get(message.id)
        if span is None:
            if self._root is not None and message.kind != "turn":
                self._root.add_event(
                    f"message {message.kind}", {c.PARTICIPANT: message.sender}, timestamp=end
                )
            return
        if message.usage is not None:
            _usage(span, message.usage)
        if self._capture:
            span.set_attribute(c.OUTPUT_MESSAGES, message.content[:_CONTENT_LIMIT])
        self._end_turn(message.id, end, "message", message.interrupted)

    def _skipped(self, event: TurnSkipped) -> None:
        interrupted = event.reason in ("interrupted", "cancelled", "failed")
        self._end_turn(event.message_id, ns(event.time), event.reason, interrupted)

    def _model_call(self, event: ModelCall) -> None:
        start, end = ns(event.started), ns(event.time)
        attributes: dict[str, Any] = {
            c.OPERATION: c.CHAT,
            c.REQUEST_MODEL: event.model,
            c.AGENT_NAME: event.sender,
        }
        span = self._child(
            f"chat {event.model}", self._turns.get(event.message_id), start, **attributes
        )
        _usage(span, event.usage)
        if event.error is not None:
            span.set_status(Status(StatusCode.ERROR, event.error))
            span.set_attribute(c.ERROR_TYPE, _error_type(event.error))
        if event.interrupted:
            span.set_attribute(c.INTERRUPTED, True)
        span.end(end_time=end)
        self._metrics.model_call(event.model, start, end, event.usage, event.error)

    def _tool_call(self, event: ToolCall) -> None:
        attributes: dict[str, Any] = {
            c.OPERATION: c.EXECUTE_TOOL,
            c.TOOL_NAME: event.name,
            c.TOOL_CALL_ID: event.call_id,
            c.AGENT_NAME: event.sender,
        }
        if self._capture:
            import json

            arguments = json.dumps(event.arguments.thaw(), ensure_ascii=False, default=str)
            attributes[c.TOOL_ARGUMENTS] = arguments[:_CONTENT_LIMIT]
        parent = self._turns.get(event.message_id)
        self._tools[event.call_id] = self._child(
            f"execute_tool {event.name}", parent, ns(event.time), **attributes
        )

    def _tool_result(self, event: ToolResult) -> None:
        end = ns(event.time)
        span = self._tools.pop(event.call_id, None)
        if span is None:
            return
        self._end_waits(end, lambda wait: wait.event.request == "approval", True)
        if self._capture:
            span.set_attribute(c.TOOL_RESULT, event.content[:_CONTENT_LIMIT])
        if event.is_error:
            span.set_status(Status(StatusCode.ERROR, event.content[:200]))
            span.set_attribute(c.ERROR_TYPE, "tool_error")
        span.end(end_time=end)

    def _handoff(self, event: Handoff) -> None:
        if self._turn is not None:
            self._turn[1].add_event("handoff", {"target": event.target}, timestamp=ns(event.time))

    # ------------------------------------------------------------------ people

    def _requested(self, event: HumanInputRequested) -> None:
        start = ns(event.time)
        if event.request == "select_speaker":
            parent: Span | None = self._selection_span(self._last)
        else:
            parent = self._turn[1] if self._turn is not None else self._selection
        attributes = {c.PARTICIPANT: event.participant, c.REQUEST: event.request}
        span = self._child(f"wait_for_human {event.participant}", parent, start, **attributes)
        self._waits.append(_Wait(span, event))

    def _human_input(self, event: HumanInput) -> None:
        self._end_waits(ns(event.time), lambda wait: wait.event.participant == event.sender, True)

    def _plan_review(self, event: PlanReview) -> None:
        for wait in self._waits:
            if wait.event.participant == event.reviewer:
                wait.span.update_name(f"wait_for_human {event.reviewer}")
                wait.span.set_attribute(c.REQUEST, "plan_review")
                wait.span.set_attribute(c.DECISION, event.decision)
        self._end_waits(ns(event.time), lambda wait: wait.event.participant == event.reviewer)

    def _end_waits(self, end: int, which: Callable[[_Wait], bool], answered: bool = False) -> None:
        if not self._waits:
            return
        keep = []
        for wait in self._waits:
            if which(wait):
                self._end_wait(wait, end, answered)
            else:
                keep.append(wait)
        self._waits = keep

    def _end_wait(self, wait: _Wait, end: int, answered: bool) -> None:
        wait.span.set_attribute(c.ANSWERED, answered)
        start = ns(wait.event.time)
        wait.span.end(end_time=end)
        self._metrics.human_wait(wait.event.request, start, end)
