"""Building a ready-to-run :class:`~groupchat.chat.GroupChat` from a :class:`TeamSpec`.

The spec modules only describe and validate a team; this module turns one into participants
(agents from :mod:`groupchat.agents`), a selection policy or a magentic manager, termination
conditions and the model clients they call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from groupchat.spec_fields import ModelCacheSpec, import_callable
from groupchat.spec_load import SpecError
from groupchat.spec_participants import LLMSpec, ScriptedSpec, ToolRef
from groupchat.spec_policies import (
    FunctionSpec,
    GraphSpec,
    HandoffSpec,
    LLMSelectorSpec,
    ManualSpec,
    MentionSpec,
    RandomSpec,
    RoundRobinSpec,
)
from groupchat.spec_termination import TerminationSpec, TextMentionSpec

if TYPE_CHECKING:
    from groupchat.agents import LLMAgent
    from groupchat.bus import Bus
    from groupchat.chat import GroupChat
    from groupchat.magentic.manager import MagenticManager
    from groupchat.magentic.spec import MagenticSpec
    from groupchat.models.base import ChatModel
    from groupchat.participant import Participant
    from groupchat.policies import SelectionPolicy
    from groupchat.spec_team import TeamSpec
    from groupchat.termination import Termination

__all__ = [
    "ModelMaker",
    "build_chat",
    "build_llm_agent",
    "build_magentic",
    "build_participants",
    "build_policy",
    "build_termination",
    "model_maker",
]

ModelMaker: TypeAlias = "Callable[[str, float, int], ChatModel]"
"""Makes the client of a model name, given the call timeout and the number of retries."""


def build_chat(
    spec: TeamSpec,
    *,
    bus: Bus | None = None,
    chat_id: str | None = None,
    participants: Sequence[Participant] | None = None,
    models: Callable[[str], ChatModel] | None = None,
) -> GroupChat:
    """A ready-to-run chat of the team ``spec`` (``participants`` replaces the built ones).

    ``models(name)`` makes the client of each model name (default:
    :func:`~groupchat.models.resolve_model`); with ``model_cache`` set, every call goes
    through one new cache.
    """
    from groupchat.chat import GroupChat

    make = model_maker(spec.model_cache, models)
    members = participants if participants is not None else build_participants(spec, make)
    policy = (
        build_magentic(spec.manager, make)
        if spec.manager is not None
        else build_policy(spec.policy, make=make)
    )
    for handoff in _nested_selection(policy, "attach"):
        handoff.attach(members)
    return GroupChat(
        members,
        policy=policy,
        termination=build_termination(spec.termination),
        max_turns=spec.max_turns,
        idle_rounds=spec.idle_rounds,
        on_error=spec.on_error,
        bus=bus,
        chat_id=chat_id,
        metadata={"team": spec.name},
    )


def build_participants(spec: TeamSpec, make: ModelMaker | None = None) -> list[Participant]:
    """The team's participants; ``make`` gives LLM participants their clients (default:
    :func:`model_maker` of the spec's cache)."""
    from groupchat.agents import HumanParticipant, ScriptedAgent

    built: list[Participant] = []
    if make is None and any(isinstance(p, LLMSpec) for p in spec.participants):
        make = model_maker(spec.model_cache)
    for p in spec.participants:
        if isinstance(p, LLMSpec):
            assert make is not None
            built.append(build_llm_agent(p, make))
        elif isinstance(p, ScriptedSpec):
            built.append(
                ScriptedAgent(
                    p.name,
                    p.script,
                    description=p.description,
                    chunk=p.chunk,
                    delay=p.delay,
                    when_done=p.when_done,
                    report_usage=p.report_usage,
                )
            )
        else:
            built.append(
                HumanParticipant(
                    p.name,
                    p.description or "A person taking part in the chat.",
                    timeout=p.timeout,
                    on_timeout=p.on_timeout,
                    default_reply=p.default_reply,
                )
            )
    return built


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


def build_llm_agent(spec: LLMSpec, make: ModelMaker) -> LLMAgent:
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


def _import_function(path: str) -> Any:
    try:
        return import_callable(path)
    except ValueError as exc:
        raise SpecError(f"policy.function: {exc}") from None


def build_policy(spec: Any, *, make: ModelMaker | None = None) -> SelectionPolicy:
    """Build a selection policy from its spec (``make`` gives model-driven policies their
    clients; default: :func:`model_maker`)."""
    from groupchat import policies as p

    def fallback(sub: Any) -> SelectionPolicy | None:
        return build_policy(sub, make=make) if sub is not None else None

    policy: p.SelectionPolicy
    if isinstance(spec, RoundRobinSpec):
        policy = p.RoundRobinPolicy()
    elif isinstance(spec, RandomSpec):
        policy = p.RandomPolicy(spec.seed, allow_repeat=spec.allow_repeat)
    elif isinstance(spec, ManualSpec):
        policy = p.ManualPolicy(
            spec.human,
            timeout=spec.timeout,
            max_attempts=spec.max_attempts,
            fallback=fallback(spec.fallback),
        )
    elif isinstance(spec, MentionSpec):
        policy = p.MentionPolicy(fallback(spec.fallback))
    elif isinstance(spec, GraphSpec):
        policy = p.TransitionGraphPolicy(
            spec.edges, mode=spec.mode, start=spec.start, then=fallback(spec.then)
        )
    elif isinstance(spec, FunctionSpec):
        fn = _import_function(spec.function)
        policy = p.FunctionPolicy(fn, name=spec.function.rpartition(":")[2])
    elif isinstance(spec, LLMSelectorSpec):
        policy = _build_llm_selector(spec, fallback(spec.fallback), make or model_maker())
    elif isinstance(spec, HandoffSpec):
        from groupchat.handoff import HandoffPolicy

        policy = HandoffPolicy(
            spec.handoffs,
            start=spec.start,
            fallback=fallback(spec.fallback),
            follow_mentions=spec.follow_mentions,
        )
    else:  # pragma: no cover - the union is closed
        raise TypeError(f"unknown policy spec {spec!r}")
    if spec.exclude_last_speaker:
        policy = p.exclude_last_speaker(policy)
    return policy


def _build_llm_selector(
    spec: LLMSelectorSpec, fallback: SelectionPolicy | None, make: ModelMaker
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


def build_magentic(spec: MagenticSpec, make: ModelMaker) -> MagenticManager:
    from groupchat.magentic.manager import MagenticManager

    return MagenticManager(
        make(spec.model, spec.timeout, spec.max_retries),
        max_stalls=spec.max_stalls,
        max_resets=spec.max_resets,
        max_rounds=spec.max_rounds,
        plan_review=spec.plan_review,
        reviewer=spec.reviewer,
        review_timeout=spec.review_timeout,
        window=spec.window,
        max_attempts=spec.max_attempts,
        output=spec.output,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
    )


def build_termination(spec: TerminationSpec) -> Termination | None:
    """The conditions of ``spec`` as one termination, or ``None`` when it sets none."""
    from groupchat import termination as t

    conditions: list[t.Termination] = []
    if spec.max_messages is not None:
        conditions.append(t.MaxMessages(spec.max_messages))
    if spec.text_mention is not None:
        mention = (
            spec.text_mention
            if isinstance(spec.text_mention, TextMentionSpec)
            else TextMentionSpec(text=spec.text_mention)
        )
        sensitive = mention.case_sensitive
        conditions.append(
            t.TextMention(mention.text, sources=mention.sources, case_sensitive=sensitive)
        )
    if spec.source_match:
        conditions.append(t.SourceMatch(spec.source_match))
    if spec.timeout is not None:
        conditions.append(t.Timeout(spec.timeout))
    if spec.token_budget is not None:
        conditions.append(t.TokenBudget(spec.token_budget))
    if not conditions:
        return None
    if len(conditions) == 1:
        return conditions[0]
    return t.AnyOf(*conditions) if spec.mode == "any" else t.AllOf(*conditions)


def _nested_selection(policy: Any, method: str) -> list[Any]:
    """Every built policy in ``policy`` (wrapped or fallback ones too) that has ``method``."""
    from groupchat.policies import policies_in

    return [p for p in policies_in(policy) if callable(getattr(p, method, None))]
