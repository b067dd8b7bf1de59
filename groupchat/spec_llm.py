"""The model-related parts of a team spec: LLM participants, the LLM selector and hand-off
policies, and the record/replay cache of model calls.

:mod:`groupchat.spec` puts them into its unions and builds them; they live here to keep that
module about the team as a whole. Model names and tool import paths are checked when the spec
is validated, so a mistake is reported with its file, field and line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from groupchat.participant import validate_name

if TYPE_CHECKING:
    from groupchat.agents import LLMAgent
    from groupchat.models.base import ChatModel
    from groupchat.policies import SelectionPolicy

__all__ = [
    "NO_IMPORTS",
    "HandoffSpec",
    "LLMSelectorSpec",
    "LLMSpec",
    "ModelCacheSpec",
    "ModelMaker",
    "ToolRef",
    "build_handoff",
    "build_llm_agent",
    "build_llm_selector",
    "import_callable",
    "model_maker",
]

_STRICT = ConfigDict(extra="forbid")
_IMPORT_PATH = r"^[\w.]+:[\w.]+$"

ModelMaker: TypeAlias = "Callable[[str, float, int], ChatModel]"
"""Makes the client of a model name, given the call timeout and the number of retries."""


def import_callable(path: str) -> Any:
    """The callable at ``package.module:name``; ``ValueError`` says why it cannot be had."""
    module_name, _, attr = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot import {path!r}: {exc}") from None
    if not callable(target):
        raise ValueError(f"{path!r} is not callable")
    return target


def _model_name(value: str) -> str:
    from groupchat.models.registry import parse_model_name

    parse_model_name(value)
    return value.strip()


NO_IMPORTS: Mapping[str, Any] = MappingProxyType({"imports": False})
"""Validation context that checks tool paths' form without importing them: for reading a
stored spec (to show its chat's cost) where the tools' modules may not be installed."""


def _importable(value: str, info: ValidationInfo) -> str:
    if not (isinstance(info.context, Mapping) and info.context.get("imports") is False):
        import_callable(value)
    return value


ModelName = Annotated[str, AfterValidator(_model_name)]
ImportPath = Annotated[str, Field(pattern=_IMPORT_PATH), AfterValidator(_importable)]


class _ModelCall(BaseModel):
    """How a spec'd model is called."""

    model_config = _STRICT

    model: ModelName
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=60.0, gt=0)
    """Seconds one attempt may wait for the answer, or for each next streamed piece."""
    max_retries: int = Field(default=3, ge=0)


class ToolRef(BaseModel):
    """A tool given by import path, with options."""

    model_config = _STRICT

    function: ImportPath
    requires_approval: bool = False
    name: str | None = None


class LLMSpec(_ModelCall):
    """A participant whose turns a model writes (see :class:`~groupchat.agents.LLMAgent`)."""

    kind: Literal["llm"] = "llm"
    name: str
    description: str = ""
    system_prompt: str = ""
    window: int | None = Field(default=20, ge=1)
    max_context_tokens: int | None = Field(default=None, ge=1)
    tools: list[ImportPath | ToolRef] = Field(default_factory=list)
    max_tool_rounds: int = Field(default=8, ge=0)
    approver: str | None = None
    approval_timeout: float | None = Field(default=None, gt=0)
    stream: bool = True

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return validate_name(value)


class LLMSelectorSpec(_ModelCall):
    """A model picks the next speaker (see :class:`~groupchat.selector.LLMSelectorPolicy`)."""

    kind: Literal["llm_selector"] = "llm_selector"
    exclude_last_speaker: bool = False
    window: int | None = Field(default=10, ge=1)
    max_attempts: int = Field(default=3, ge=1)
    allow_repeated_speaker: bool = True
    prompt: str | None = None
    candidates: list[str] | None = Field(default=None, min_length=1)
    """Only these may be chosen (a candidate filter)."""
    fallback: PolicySpec | None = None

    @field_validator("prompt")
    @classmethod
    def _known_fields(cls, value: str | None) -> str | None:
        if value is not None:
            from groupchat.selector import PROMPT_FIELDS, _template_fields

            try:
                unknown = _template_fields(value) - PROMPT_FIELDS
            except ValueError as exc:
                raise ValueError(f"not a valid template: {exc}") from None
            if unknown:
                raise ValueError(
                    f"unknown field(s) {', '.join(sorted(unknown))}; "
                    f"use {', '.join(sorted(PROMPT_FIELDS))}"
                )
        return value


class HandoffSpec(BaseModel):
    """Speakers hand the floor on (see :class:`~groupchat.handoff.HandoffPolicy`)."""

    model_config = _STRICT

    kind: Literal["handoff"] = "handoff"
    exclude_last_speaker: bool = False
    handoffs: dict[str, list[str]] | None = None
    """Whom each participant may hand to; leave out for anyone to anyone."""
    start: str | None = None
    follow_mentions: bool = True
    fallback: PolicySpec | None = None


class ModelCacheSpec(BaseModel):
    """Record model calls to (or replay them from) a SQLite file; ``path`` is relative to the
    working directory."""

    model_config = _STRICT

    path: str = Field(min_length=1)
    mode: Literal["record", "replay", "auto"] = "auto"


# --------------------------------------------------------------------------------- building


def model_maker(
    cache: ModelCacheSpec | None = None,
    models: Callable[[str], ChatModel] | None = None,
) -> Callable[[str, float, int], ChatModel]:
    """How a built team gets its clients: ``models(name)`` if given (tests pass doubles), else
    :func:`~groupchat.models.resolve_model`; all through one cache if the spec has one."""
    from groupchat.models.cache import ModelCache
    from groupchat.models.registry import resolve_model
    from groupchat.models.retry import RetryPolicy

    shared = ModelCache(Path(cache.path), cache.mode) if cache is not None else None

    def make(name: str, timeout: float, max_retries: int) -> ChatModel:
        model = (
            models(name)
            if models is not None
            else resolve_model(name, timeout=timeout, retry=RetryPolicy(max_retries=max_retries))
        )
        return shared.wrap(model) if shared is not None else model

    return make


def build_llm_agent(spec: LLMSpec, make: Callable[[str, float, int], ChatModel]) -> LLMAgent:
    from groupchat.agents import LLMAgent, Tool

    tools = []
    for entry in spec.tools:
        ref = entry if isinstance(entry, ToolRef) else ToolRef(function=entry)
        tools.append(
            Tool(
                import_callable(ref.function),
                name=ref.name,
                requires_approval=ref.requires_approval,
            )
        )
    return LLMAgent(
        spec.name,
        make(spec.model, spec.timeout, spec.max_retries),
        description=spec.description,
        system_prompt=spec.system_prompt,
        tools=tools,
        window=spec.window,
        max_context_tokens=spec.max_context_tokens,
        max_tool_rounds=spec.max_tool_rounds,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        approver=spec.approver,
        approval_timeout=spec.approval_timeout,
        stream=spec.stream,
    )


def build_llm_selector(
    spec: LLMSelectorSpec,
    fallback: SelectionPolicy | None,
    make: Callable[[str, float, int], ChatModel],
) -> SelectionPolicy:
    from groupchat.selector import LLMSelectorPolicy

    only = frozenset(spec.candidates) if spec.candidates is not None else None

    def listed(view: Any, candidates: Any) -> list[str]:
        return [c for c in candidates if only is None or c in only]

    return LLMSelectorPolicy(
        make(spec.model, spec.timeout, spec.max_retries),
        window=spec.window,
        max_attempts=spec.max_attempts,
        allow_repeated_speaker=spec.allow_repeated_speaker,
        prompt=spec.prompt,
        candidate_filter=listed if only is not None else None,
        fallback=fallback,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
    )


def build_handoff(spec: HandoffSpec, fallback: SelectionPolicy | None) -> SelectionPolicy:
    from groupchat.handoff import HandoffPolicy

    return HandoffPolicy(
        spec.handoffs,
        start=spec.start,
        fallback=fallback,
        follow_mentions=spec.follow_mentions,
    )


if TYPE_CHECKING:
    from groupchat.spec import PolicySpec
