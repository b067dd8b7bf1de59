"""Who speaks when, in a team spec: the selection policies, nested fallbacks included.

Every policy kind is here, so the recursive :data:`PolicySpec` union is complete in this one
module. :func:`check_policy_names` checks what a policy says of the team's names before
anything is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from groupchat.spec_fields import IMPORT_PATH, STRICT, ModelCall

__all__ = [
    "FunctionSpec",
    "GraphSpec",
    "HandoffSpec",
    "LLMSelectorSpec",
    "ManualSpec",
    "MentionSpec",
    "PolicySpec",
    "RandomSpec",
    "RoundRobinSpec",
    "check_policy_names",
    "manual_specs",
    "nested_policies",
    "policy_shorthand",
    "policy_with_model",
]


class _PolicyBase(BaseModel):
    model_config = STRICT

    exclude_last_speaker: bool = False
    """Wrap the policy so nobody speaks twice in a row."""


class RoundRobinSpec(_PolicyBase):
    kind: Literal["round_robin"] = "round_robin"


class RandomSpec(_PolicyBase):
    kind: Literal["random"] = "random"
    seed: int | None = None
    allow_repeat: bool = True


class ManualSpec(_PolicyBase):
    kind: Literal["manual"] = "manual"
    human: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    fallback: PolicySpec | None = None


class MentionSpec(_PolicyBase):
    kind: Literal["mention"] = "mention"
    fallback: PolicySpec | None = None


class GraphSpec(_PolicyBase):
    kind: Literal["graph"] = "graph"
    edges: dict[str, list[str]] = Field(min_length=1)
    mode: Literal["allowed", "disallowed"] = "allowed"
    start: str | list[str] | None = None
    then: PolicySpec | None = None


class FunctionSpec(_PolicyBase):
    kind: Literal["function"] = "function"
    function: str = Field(pattern=IMPORT_PATH, description="'package.module:callable'")


class LLMSelectorSpec(ModelCall):
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

    model_config = STRICT

    kind: Literal["handoff"] = "handoff"
    exclude_last_speaker: bool = False
    handoffs: dict[str, list[str]] | None = None
    """Whom each participant may hand to; leave out for anyone to anyone."""
    start: str | None = None
    follow_mentions: bool = True
    fallback: PolicySpec | None = None


PolicySpec = Annotated[
    RoundRobinSpec
    | RandomSpec
    | ManualSpec
    | MentionSpec
    | GraphSpec
    | FunctionSpec
    | LLMSelectorSpec
    | HandoffSpec,
    Field(discriminator="kind"),
]

ManualSpec.model_rebuild()
MentionSpec.model_rebuild()
GraphSpec.model_rebuild()
LLMSelectorSpec.model_rebuild()
HandoffSpec.model_rebuild()


def policy_shorthand(value: Any) -> Any:
    """``policy: mention`` stands for ``{kind: mention}``."""
    return {"kind": value} if isinstance(value, str) else value


def _fallbacks(spec: Any) -> list[Any]:
    return [sub for attr in ("fallback", "then") if (sub := getattr(spec, attr, None)) is not None]


def nested_policies(spec: Any, kind: type[Any]) -> list[Any]:
    """Every policy spec of type ``kind`` in ``spec``, nested fallbacks included."""
    found = [spec] if isinstance(spec, kind) else []
    for sub in _fallbacks(spec):
        found.extend(nested_policies(sub, kind))
    return found


def manual_specs(spec: Any) -> list[ManualSpec]:
    """Every manual policy in a policy spec, nested fallbacks included."""
    return nested_policies(spec, ManualSpec)


def policy_with_model(spec: Any, model: str) -> Any:
    """``spec`` with the model of every LLM selector in it replaced by ``model``."""
    update: dict[str, Any] = {"model": model} if isinstance(spec, LLMSelectorSpec) else {}
    for attr in ("fallback", "then"):
        sub = getattr(spec, attr, None)
        if sub is not None:
            update[attr] = policy_with_model(sub, model)
    return spec.model_copy(update=update) if update else spec


def _unknown(named: Sequence[str], known: set[str]) -> list[str]:
    unknown: list[str] = []
    for name in named:
        if name not in known and name not in unknown:
            unknown.append(name)
    return unknown


def check_policy_names(spec: Any, participants: Sequence[str]) -> None:
    """Raise ``ValueError`` if the policy (or a fallback) names someone not in ``participants``,
    or leaves a speaker of a transition graph with nobody allowed next: the checks the built
    policies' ``validate`` makes when a chat starts, made on the spec."""
    known = set(participants)
    if isinstance(spec, ManualSpec) and spec.human is not None and spec.human not in known:
        raise ValueError(f"manual policy: human {spec.human!r} is not a participant")
    if isinstance(spec, GraphSpec):
        named = [n for src, dsts in spec.edges.items() for n in (src, *dsts)]
        start = [spec.start] if isinstance(spec.start, str) else spec.start or []
        unknown = _unknown([*named, *start], known)
        if unknown:
            raise ValueError(
                "transition graph names unknown participants: "
                + ", ".join(sorted(unknown))
                + f" (participants: {', '.join(participants)})"
            )
        if spec.mode == "allowed":
            dead = [src for src, dsts in spec.edges.items() if not dsts]
            if dead:
                raise ValueError(f"transition graph: {', '.join(dead)} has no allowed next speaker")
    if isinstance(spec, HandoffSpec):
        named = [spec.start] if spec.start is not None else []
        for src, dsts in (spec.handoffs or {}).items():
            named.extend((src, *dsts))
        unknown = sorted({n for n in named if n not in known})
        if unknown:
            raise ValueError(
                f"hand-off policy names unknown participants: {', '.join(unknown)} "
                f"(participants: {', '.join(participants)})"
            )
    for sub in _fallbacks(spec):
        check_policy_names(sub, participants)
