"""Tools for LLM agents, made from plain Python functions.

The function's signature becomes a pydantic model that validates the model's arguments and
gives the JSON schema the model sees; its docstring gives the description (and, from a
Google-style ``Args:`` section, each argument's). Sync functions run in a worker thread so a
slow one does not stall the chat; async ones are awaited. Whatever happens — bad arguments, an
exception — :meth:`Tool.run` returns a result the model can read, never raises.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic.fields import FieldInfo

from groupchat.frozen import thaw
from groupchat.models.base import ToolSpec

__all__ = ["Tool", "ToolOutcome", "tool"]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ARG_LINE = re.compile(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_ARGS_HEADINGS = ("Args:", "Arguments:", "Parameters:")


class ToolOutcome(BaseModel):
    """What running a tool gave: the text the model reads, and whether it is an error."""

    model_config = ConfigDict(frozen=True)

    content: str
    is_error: bool = False


def _doc_parts(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The description (the docstring up to ``Args:``) and each argument's description."""
    lines = (inspect.getdoc(fn) or "").splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() in _ARGS_HEADINGS), None)
    head = " ".join(" ".join(lines[:start]).split())
    described: dict[str, str] = {}
    if start is None:
        return head, described
    indent: int | None = None
    current: str | None = None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        width = len(line) - len(line.lstrip())
        if width == 0:
            break  # the next section (Returns:, Raises:, ...)
        indent = width if indent is None else indent
        match = _ARG_LINE.match(line.strip())
        if width == indent and match:
            current = match.group(1)
            described[current] = match.group(2).strip()
        elif current is not None:
            described[current] += " " + line.strip()
    return head, described


def _arguments_model(fn: Callable[..., Any], name: str) -> type[BaseModel]:
    signature = inspect.signature(fn)
    hints = get_type_hints(fn, include_extras=True)
    _, described = _doc_parts(fn)
    fields: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool {name}: *args and **kwargs cannot be described to a model")
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        info = FieldInfo.from_annotated_attribute(annotation, default)
        if info.description is None and param.name in described:
            info.description = described[param.name]
        fields[param.name] = (info.annotation, info)
    return create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)
    schema.setdefault("properties", {})
    return schema


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


class Tool:
    """A function an LLM agent may call.

    ``requires_approval`` makes the agent ask a person before every call; without an explicit
    yes the function does not run. ``handoff`` marks a ``transfer_to_<name>`` tool, which the
    agent handles itself.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        requires_approval: bool = False,
        handoff: str | None = None,
    ) -> None:
        self.fn = fn
        fallback: str = getattr(fn, "__name__", "")
        self.name = name or fallback
        if not _NAME.match(self.name):
            raise ValueError(
                f"tool name {self.name!r}: use 1-64 letters, digits, '_' or '-' (a model API rule)"
            )
        doc, _ = _doc_parts(fn)
        self.description = description if description is not None else doc
        self.requires_approval = requires_approval
        self.handoff = handoff
        self.arguments = _arguments_model(fn, self.name)
        self.spec = ToolSpec(
            name=self.name, description=self.description, parameters=_schema(self.arguments)
        )
        self._is_async = inspect.iscoroutinefunction(fn)

    def __repr__(self) -> str:
        flag = ", requires_approval=True" if self.requires_approval else ""
        return f"Tool({self.name!r}{flag})"

    def validate(self, arguments: Mapping[str, Any]) -> BaseModel:
        """The arguments checked against the signature; raises ``ValidationError``.

        Frozen values (an event's :class:`~groupchat.frozen.FrozenDict` and tuples) are thawed
        first, so the function gets the plain dicts and lists a JSON object holds, and may
        change them without changing the event.
        """
        return self.arguments.model_validate(thaw(arguments))

    async def run(self, arguments: Mapping[str, Any]) -> ToolOutcome:
        """Validate ``arguments`` and call the function; errors become error outcomes."""
        try:
            values = self.validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(arguments)'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            return ToolOutcome(content=f"invalid arguments: {problems}", is_error=True)
        kwargs = {field: getattr(values, field) for field in type(values).model_fields}
        try:
            if self._is_async:
                result = await self.fn(**kwargs)
            else:
                result = await asyncio.to_thread(self.fn, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
        except Exception as exc:
            return ToolOutcome(content=f"{type(exc).__name__}: {exc}", is_error=True)
        return ToolOutcome(content=_render(result))


ToolFn = Callable[..., Any] | Callable[..., Awaitable[Any]]


@overload
def tool(fn: ToolFn, /) -> Tool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None, requires_approval: bool = False
) -> Callable[[ToolFn], Tool]: ...
def tool(
    fn: ToolFn | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
) -> Tool | Callable[[ToolFn], Tool]:
    """Make a :class:`Tool` of a function; use bare (``@tool``) or with options."""

    def make(f: ToolFn) -> Tool:
        return Tool(f, name=name, description=description, requires_approval=requires_approval)

    return make(fn) if fn is not None else make
