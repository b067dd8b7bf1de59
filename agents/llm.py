"""An LLM agent: a model client, a system prompt, a window onto the chat, and tools.

Each turn the agent builds its request from a window of the manager's history (the last
``window`` messages and at most ``max_context_tokens``, estimated), streams the model's text to
the chat, runs the tools the model calls (up to ``max_tool_rounds`` rounds) and ends with the
turn's token usage. Tool calls and results are events; a tool that fails or is refused is an
error result the model reads, never a crash. Hand-off targets become ``transfer_to_<name>``
tools.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from groupchat.agents.tools import Tool, ToolOutcome
from groupchat.frozen import FrozenDict
from groupchat.messages import Message, ToolCallPart, ToolResultPart, Usage
from groupchat.models.base import (
    ChatModel,
    Completed,
    ModelMessage,
    ModelRequest,
    ModelToolCall,
    StreamBroken,
    TextChunk,
    ToolSpec,
    estimate_tokens,
)
from groupchat.participant import ChatView, HandTo, ModelCalled, ModelCalling, Reply, TurnItem

__all__ = ["APPROVALS", "LLMAgent", "transfer_tool"]

APPROVALS = frozenset({"yes", "y", "approve", "approved", "allow", "ok"})
"""Answers that approve a tool call (case and surrounding space ignored); anything else refuses."""

TRANSFER_PREFIX = "transfer_to_"
_PREVIEW = 500  # characters of a tool result shown to later turns


def transfer_tool(target: str, description: str = "") -> Tool:
    """The ``transfer_to_<target>`` tool offered to an agent that may hand the floor to
    ``target``."""

    async def transfer(note: str = "") -> str:
        return note

    about = f" ({description})" if description else ""
    return Tool(
        transfer,
        name=f"{TRANSFER_PREFIX}{target}",
        description=(
            f"Hand the conversation to {target}{about}. They speak next. "
            "Put in `note` what they need to know."
        ),
        handoff=target,
    )


_CONVERTED: dict[tuple[int, bool], tuple[Message, ModelMessage]] = {}
_CONVERTED_MAX = 8192
_validate_message = ModelMessage.model_validate
_START = ModelMessage(role="user", content="(The chat is starting: begin.)")


def _as_model_message(message: Message, own: bool) -> ModelMessage:
    """``message`` as a model reads it: its sender's own words, or ``sender: text``.

    That depends only on the message and whether the reader wrote it, so conversions are
    shared by every agent (a bounded cache that holds the message, so its id stays its own).
    """
    key = (id(message), own)
    entry = _CONVERTED.get(key)
    if entry is not None and entry[0] is message:
        return entry[1]
    text = message.content
    for part in message.parts:
        if isinstance(part, ToolResultPart):
            preview = part.content[:_PREVIEW]
            text += f"\n[{part.name} {'failed' if part.is_error else 'returned'}: {preview}]"
    if own:
        fields = {"role": "assistant", "content": text}
    elif message.kind == "task":
        fields = {"role": "user", "content": f"Task: {text}"}
    else:
        fields = {"role": "user", "content": f"{message.sender}: {text}"}
    converted = _validate_message(fields)
    if len(_CONVERTED) >= _CONVERTED_MAX:
        _CONVERTED.clear()  # what is still needed is converted again on demand
    _CONVERTED[key] = (message, converted)
    return converted


def _as_tool(item: Tool | Callable[..., Any]) -> Tool:
    return item if isinstance(item, Tool) else Tool(item)


class LLMAgent:
    """A participant whose turns a chat model writes.

    ``model`` is a client or a model name (``openai:gpt-4.1-mini``, see
    :func:`~groupchat.models.resolve_model`). ``tools`` are :class:`Tool` objects or plain
    functions. ``handoffs`` names whom the agent may hand the floor to. A tool that
    ``requires_approval`` runs only after ``approver`` (default: the chat's first person)
    answers yes; ``approval_timeout`` bounds the wait.
    """

    kind = "llm"

    def __init__(
        self,
        name: str,
        model: ChatModel | str,
        *,
        description: str = "",
        system_prompt: str = "",
        tools: Iterable[Tool | Callable[..., Any]] = (),
        handoffs: Iterable[str] = (),
        window: int | None = 20,
        max_context_tokens: int | None = None,
        max_tool_rounds: int = 8,
        temperature: float | None = None,
        max_tokens: int | None = None,
        approver: str | None = None,
        approval_timeout: float | None = None,
        stream: bool = True,
    ) -> None:
        if window is not None and window < 1:
            raise ValueError("window must be at least 1 (or None for the whole chat)")
        if max_context_tokens is not None and max_context_tokens < 1:
            raise ValueError("max_context_tokens must be at least 1")
        if max_tool_rounds < 0:
            raise ValueError("max_tool_rounds must not be negative")
        if isinstance(model, str):
            from groupchat.models.registry import resolve_model

            model = resolve_model(model)
        self.name = name
        self.model: ChatModel = model
        self.description = description
        self.system_prompt = system_prompt
        self.tools: dict[str, Tool] = {}
        for item in tools:
            tool = _as_tool(item)
            if tool.name in self.tools:
                raise ValueError(f"{name}: two tools are named {tool.name!r}")
            if tool.name.startswith(TRANSFER_PREFIX):
                raise ValueError(f"{name}: tool names starting {TRANSFER_PREFIX!r} are reserved")
            self.tools[tool.name] = tool
        self.handoffs: tuple[str, ...] = ()
        self.window = window
        self.max_context_tokens = max_context_tokens
        self.max_tool_rounds = max_tool_rounds
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.approver = approver
        self.approval_timeout = approval_timeout
        self.stream = stream
        self._transfers: dict[str, Tool] = {}
        self._specs: tuple[tuple[str, ...], dict[str, Tool], tuple[ToolSpec, ...]] | None = None
        self._system: tuple[tuple[object, ...], ModelMessage] | None = None
        self.set_handoffs(handoffs)

    def __repr__(self) -> str:
        return f"LLMAgent({self.name!r}, {self.model.name!r})"

    def set_handoffs(self, targets: Iterable[str]) -> None:
        """Whom this agent may hand the floor to (its ``transfer_to_<name>`` tools)."""
        self.handoffs = tuple(t for t in dict.fromkeys(targets) if t != self.name)
        self._specs = None

    # ------------------------------------------------------------------ the request

    def _offered(self, view: ChatView) -> tuple[dict[str, Tool], tuple[ToolSpec, ...]]:
        """The tools of this turn: its own plus a transfer to each allowed target present."""
        infos = view.participants
        present = tuple(t for t in self.handoffs if t in infos) if self.handoffs else ()
        cached = self._specs
        if cached is None or cached[0] != present:
            offered = dict(self.tools)
            for target in present:
                tool = self._transfers.get(target)
                if tool is None:
                    tool = self._transfers[target] = transfer_tool(
                        target, infos[target].description
                    )
                offered[tool.name] = tool
            cached = self._specs = (present, offered, tuple(t.spec for t in offered.values()))
        return cached[1], cached[2]

    def _system_message(self, view: ChatView, with_task: bool) -> ModelMessage:
        """The system prompt, then who is in the chat (and the task, if the window lost it)."""
        infos = view.participants
        key = (*infos.values(), view.task if with_task else None)
        cached = self._system
        if cached is not None and cached[0] == key:  # tuples compare items by identity first
            return cached[1]
        others = [
            f"- {info.name}{' (a person)' if info.human else ''}"
            + (f": {info.description}" if info.description else "")
            for info in infos.values()
            if info.name != self.name
        ]
        framing = [
            f"You are {self.name}, one participant in a group chat.",
            "The others:",
            *others,
            'Messages from others appear as "name: text". Write only your own next message, '
            "without a name prefix.",
        ]
        if with_task and view.task:
            framing.append(f"The chat's task: {view.task}")
        text = "\n".join(framing)
        if self.system_prompt:
            text = f"{self.system_prompt.strip()}\n\n{text}"
        message = ModelMessage(role="system", content=text)
        self._system = (key, message)
        return message

    def _window(self, view: ChatView) -> Sequence[Message]:
        log = view.messages
        budget = self.max_context_tokens
        if budget is None:
            return log[-self.window :] if self.window is not None else log[:]
        end = len(log)
        start = 0 if self.window is None else max(0, end - self.window)
        first = end
        while first > start:
            budget -= estimate_tokens(log[first - 1].content) + 4
            if budget < 0 and first < end:
                break
            first -= 1
        return log[first:end]

    def _context(self, view: ChatView) -> list[ModelMessage]:
        """The system message and the window of the chat, as the model sees them."""
        me = self.name
        context: list[ModelMessage] = [_START]  # the system message goes here at the end
        has_task = False
        converted = _CONVERTED
        for message in self._window(view):
            own = message.sender == me
            entry = converted.get((id(message), own))
            if entry is not None and entry[0] is message:
                context.append(entry[1])
            else:
                context.append(_as_model_message(message, own))
            if message.kind == "task":
                has_task = True
        if len(context) == 1:
            context.append(_START)
        context[0] = self._system_message(view, with_task=not has_task)
        return context

    def _request(
        self, messages: list[ModelMessage], specs: tuple[ToolSpec, ...], last: bool
    ) -> ModelRequest:
        options: dict[str, Any] = {"messages": tuple(messages)}
        if specs:
            options["tools"] = specs
            if last:
                options["tool_choice"] = "none"
        if self.temperature is not None:
            options["temperature"] = self.temperature
        if self.max_tokens is not None:
            options["max_tokens"] = self.max_tokens
        return ModelRequest.model_validate(options)

    # ------------------------------------------------------------------ the turn

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        offered, specs = self._offered(view)
        messages = self._context(view)
        model = self.model
        stream = self.stream
        usage: Usage | None = None
        wrote = False
        handed_to: str | None = None
        text: list[str] = []
        for round_ in range(self.max_tool_rounds + 1):
            last = round_ == self.max_tool_rounds
            request = self._request(messages, specs, last)
            pieces: list[str] = []
            response = None
            started = datetime.now(UTC)
            yield ModelCalling(model.name, started)
            try:
                async for event in model.stream(request):
                    if type(event) is TextChunk:
                        if wrote and not pieces:
                            pieces.append("\n\n")
                            if stream:
                                yield "\n\n"
                        piece = event.text
                        pieces.append(piece)
                        if stream:
                            yield piece
                    elif type(event) is Completed:
                        response = event.response
                if response is None:
                    raise StreamBroken(f"{model.name}: the answer ended without a result")
            except Exception as exc:
                yield ModelCalled(model.name, started, error=f"{type(exc).__name__}: {exc}")
                raise
            yield ModelCalled(model.name, started, response.usage)
            usage = response.usage if usage is None else usage + response.usage
            wrote = wrote or bool(pieces)
            text.extend(pieces)
            calls = () if last else response.tool_calls
            if not calls:
                break
            said = "".join(p for p in pieces if p != "\n\n")
            messages.append(ModelMessage(role="assistant", content=said or None, tool_calls=calls))
            for call in calls:
                async for item in self._call(call, offered, view, handed_to):
                    if isinstance(item, HandTo):
                        handed_to = item.target
                    elif isinstance(item, ToolResultPart):
                        messages.append(
                            ModelMessage(role="tool", tool_call_id=call.id, content=item.content)
                        )
                    yield item
            if handed_to is not None:
                break
        yield Reply(None if self.stream else "".join(text), usage=usage)

    async def _call(
        self,
        call: ModelToolCall,
        offered: dict[str, Tool],
        view: ChatView,
        handed_to: str | None,
    ) -> AsyncIterator[ToolCallPart | ToolResultPart | HandTo]:
        """One tool call: its event, the work (hand-off, approval, the function), its result."""
        try:
            arguments = call.parsed_arguments()
            problem = None
        except ValueError as exc:
            arguments, problem = {}, str(exc)
        yield ToolCallPart(call_id=call.id, name=call.name, arguments=FrozenDict(arguments))
        tool = offered.get(call.name)
        if problem is not None:
            outcome = ToolOutcome(content=f"invalid arguments: {problem}", is_error=True)
        elif tool is None:
            outcome = ToolOutcome(content=self._unknown(call.name, offered, view), is_error=True)
        elif tool.handoff is not None:
            outcome = await self._handoff(tool, arguments, view, handed_to)
            if not outcome.is_error:
                yield HandTo(tool.handoff, str(arguments.get("note", "")))
        else:
            refusal = await self._refusal(tool, arguments, view) if tool.requires_approval else None
            outcome = refusal or await tool.run(arguments)
        yield ToolResultPart(
            call_id=call.id, name=call.name, content=outcome.content, is_error=outcome.is_error
        )

    def _unknown(self, name: str, offered: dict[str, Tool], view: ChatView) -> str:
        if name.startswith(TRANSFER_PREFIX):
            target = name[len(TRANSFER_PREFIX) :]
            if target in self.handoffs:
                return f"refused: {target} is not in the chat"
            allowed = ", ".join(t.handoff for t in offered.values() if t.handoff) or "no one"
            return f"refused: you may not hand the floor to {target}; you may hand it to: {allowed}"
        tools = ", ".join(n for n, t in offered.items() if t.handoff is None) or "none"
        return f"unknown tool {name!r}; your tools: {tools}"

    async def _handoff(
        self, tool: Tool, arguments: dict[str, Any], view: ChatView, handed_to: str | None
    ) -> ToolOutcome:
        checked = await tool.run(arguments)
        if checked.is_error:
            return checked
        target = tool.handoff
        if handed_to is not None:
            return ToolOutcome(
                content=f"refused: you already handed the floor to {handed_to}", is_error=True
            )
        if target not in view.participants:
            return ToolOutcome(content=f"refused: {target} is not in the chat", is_error=True)
        note = str(arguments.get("note", "")).strip()
        return ToolOutcome(
            content=f"handed the floor to {target}" + (f" with the note: {note}" if note else "")
        )

    async def _refusal(
        self, tool: Tool, arguments: dict[str, Any], view: ChatView
    ) -> ToolOutcome | None:
        """Ask a person to approve the call; ``None`` if they said yes, else why not."""
        human = self.approver
        if human is None:
            humans = view.humans()
            human = humans[0] if humans else None
        if human is None or human not in view.participants:
            return ToolOutcome(
                content=f"not run: {tool.name} needs a person's approval and no one is here "
                "to give it",
                is_error=True,
            )
        shown = json.dumps(arguments, ensure_ascii=False)
        prompt = f"{self.name} wants to run {tool.name}({shown}). Allow it? yes/no"
        try:
            answer = await view.ask(
                human,
                prompt,
                request="approval",
                choices=("yes", "no"),
                timeout=self.approval_timeout,
            )
        except Exception as exc:
            return ToolOutcome(
                content=f"not run: could not ask {human} for approval ({exc})", is_error=True
            )
        if answer is not None and answer.strip().lower() in APPROVALS:
            return None
        if answer is None:
            why = f"{human} gave no answer"
        elif answer.strip().lower() in ("no", "n", ""):
            why = f"{human} declined"
        else:
            why = f"{human} declined: {answer.strip()[:200]}"
        return ToolOutcome(content=f"not run: {why}", is_error=True)
