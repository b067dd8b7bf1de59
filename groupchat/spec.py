"""Team specs: a team in a YAML or TOML file, validated once, built into a :class:`GroupChat`.

Everything a user can configure about a team lives in :class:`TeamSpec`; the CLI and the
front-ends read it rather than repeat it. A bad file raises :class:`SpecError`, whose message
names the file, the field path, the line where it can be found, and what is wrong.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from groupchat.magentic.spec import (
    MagenticSpec,
    build_magentic,
    check_manager,
    manager_shorthand,
)
from groupchat.models.pricing import Price, PriceTable, price_key
from groupchat.participant import validate_name
from groupchat.spec_lines import FieldPath, LineFinder, json_lines, toml_lines, yaml_lines
from groupchat.spec_llm import (
    HandoffSpec,
    LLMSelectorSpec,
    LLMSpec,
    ModelCacheSpec,
    ModelMaker,
    build_handoff,
    build_llm_agent,
    build_llm_selector,
    import_callable,
    model_maker,
)

if TYPE_CHECKING:
    from groupchat.bus import EventBus
    from groupchat.chat import GroupChat
    from groupchat.models.base import ChatModel
    from groupchat.participant import Participant
    from groupchat.policies import SelectionPolicy
    from groupchat.termination import Termination

__all__ = [
    "HandoffSpec",
    "HumanSpec",
    "LLMSelectorSpec",
    "LLMSpec",
    "MagenticSpec",
    "ModelCacheSpec",
    "ParticipantSpec",
    "PolicySpec",
    "ScriptedSpec",
    "SpecError",
    "TeamSpec",
    "TerminationSpec",
    "load_spec",
    "parse_spec",
]

_STRICT = ConfigDict(extra="forbid")


class SpecError(ValueError):
    """A team spec that cannot be used; the message names file, field and problem."""

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.source = source


# --------------------------------------------------------------------------- participants


class _ParticipantBase(BaseModel):
    model_config = _STRICT

    name: str
    description: str = ""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return validate_name(value)


class ScriptedSpec(_ParticipantBase):
    """A participant that says fixed lines (see :class:`~groupchat.agents.ScriptedAgent`)."""

    kind: Literal["scripted"] = "scripted"
    script: list[str] = Field(min_length=1)
    chunk: Literal["line", "word", "char"] | Annotated[int, Field(ge=1)] = "word"
    delay: float = Field(default=0.0, ge=0, le=10)
    when_done: Literal["pass", "cycle", "end"] = "pass"
    report_usage: bool = False


class HumanSpec(_ParticipantBase):
    """A person, who speaks through a front-end (the console, the TUI, standard input)."""

    kind: Literal["human"] = "human"
    timeout: float | None = Field(default=None, gt=0)
    on_timeout: Literal["skip", "default", "end"] = "skip"
    default_reply: str = ""

    @model_validator(mode="after")
    def _default_needs_text(self) -> HumanSpec:
        if self.on_timeout == "default" and not self.default_reply:
            raise ValueError("on_timeout 'default' needs a default_reply")
        return self


ParticipantSpec = Annotated[ScriptedSpec | HumanSpec | LLMSpec, Field(discriminator="kind")]

PriceKey = Annotated[str, AfterValidator(price_key)]
"""A model name that a price is given for, kept as :func:`price_key` writes it."""


# --------------------------------------------------------------------------- policies


class _PolicyBase(BaseModel):
    model_config = _STRICT

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
    function: str = Field(pattern=r"^[\w.]+:[\w.]+$", description="'package.module:callable'")


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

for _model in (ManualSpec, MentionSpec, GraphSpec):
    _model.model_rebuild()
for _model in (LLMSelectorSpec, HandoffSpec):
    _model.model_rebuild(_types_namespace={"PolicySpec": PolicySpec})


def _policy_shorthand(value: Any) -> Any:
    return {"kind": value} if isinstance(value, str) else value


# --------------------------------------------------------------------------- termination


class TextMentionSpec(BaseModel):
    model_config = _STRICT

    text: str = Field(min_length=1)
    sources: list[str] | None = None
    case_sensitive: bool = True


class TerminationSpec(BaseModel):
    """Conditions that end a run; ``mode`` says whether any one or all of them must fire."""

    model_config = _STRICT

    max_messages: int | None = Field(default=None, ge=1)
    text_mention: Annotated[str, Field(min_length=1)] | TextMentionSpec | None = None
    source_match: list[str] | None = None
    timeout: float | None = Field(default=None, gt=0)
    token_budget: int | None = Field(default=None, ge=1)
    mode: Literal["any", "all"] = "any"

    @field_validator("source_match", mode="before")
    @classmethod
    def _one_source(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def build(self) -> Termination | None:
        from groupchat import termination as t

        conditions: list[t.Termination] = []
        if self.max_messages is not None:
            conditions.append(t.MaxMessages(self.max_messages))
        if self.text_mention is not None:
            spec = (
                self.text_mention
                if isinstance(self.text_mention, TextMentionSpec)
                else TextMentionSpec(text=self.text_mention)
            )
            conditions.append(
                t.TextMention(spec.text, sources=spec.sources, case_sensitive=spec.case_sensitive)
            )
        if self.source_match:
            conditions.append(t.SourceMatch(self.source_match))
        if self.timeout is not None:
            conditions.append(t.Timeout(self.timeout))
        if self.token_budget is not None:
            conditions.append(t.TokenBudget(self.token_budget))
        if not conditions:
            return None
        if len(conditions) == 1:
            return conditions[0]
        return t.AnyOf(*conditions) if self.mode == "any" else t.AllOf(*conditions)


# --------------------------------------------------------------------------- the team


class TeamSpec(BaseModel):
    """A whole team: who takes part, who speaks when, when it ends, and the task."""

    model_config = _STRICT

    name: str = "team"
    description: str = ""
    task: str | None = None
    participants: list[ParticipantSpec] = Field(min_length=1)
    policy: PolicySpec = Field(default_factory=RoundRobinSpec)
    manager: MagenticSpec | None = None
    """A manager that conducts the chat instead of a policy (``magentic``)."""
    termination: TerminationSpec = Field(default_factory=TerminationSpec)
    max_turns: int | None = Field(default=None, ge=1)
    idle_rounds: int | None = Field(default=1, ge=1)
    on_error: Literal["end", "continue"] = "end"
    model_cache: ModelCacheSpec | None = None
    """Record or replay every model call of the team (participants, selector, manager)."""
    prices: dict[PriceKey, Price] = Field(default_factory=dict)
    """USD per million input and output tokens, by model name (written as the team writes its
    models, or the model alone: ``gpt-4.1-mini``); with them the front-ends show the cost."""

    @field_validator("prices", mode="before")
    @classmethod
    def _one_price_per_model(cls, value: Any) -> Any:
        if value is None:
            return {}  # ``prices:`` with every entry commented out
        if isinstance(value, Mapping):
            seen: dict[str, str] = {}
            for key in value:
                try:
                    same = price_key(key) if isinstance(key, str) else None
                except ValueError:
                    continue  # reported with the key itself
                if same is not None and same in seen:
                    raise ValueError(f"{seen[same]!r} and {key!r} are the same model")
                if same is not None:
                    seen[same] = key
        return value

    @field_validator("policy", mode="before")
    @classmethod
    def _policy_str(cls, value: Any) -> Any:
        return _policy_shorthand(value)

    @field_validator("manager", mode="before")
    @classmethod
    def _manager_str(cls, value: Any) -> Any:
        return manager_shorthand(value)

    @field_validator("manager")
    @classmethod
    def _manager_fits(cls, value: MagenticSpec | None, info: ValidationInfo) -> Any:
        participants = info.data.get("participants")
        if value is not None and participants:
            humans = [p.name for p in participants if p.kind == "human"]
            policy_given = info.data.get("policy", RoundRobinSpec()) != RoundRobinSpec()
            check_manager(value, humans, policy_given)
        return value

    @field_validator("participants")
    @classmethod
    def _unique_names(cls, value: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for participant in value:
            if participant.name.lower() in seen:
                raise ValueError(
                    f"duplicate participant name {participant.name!r} (names ignore case)"
                )
            seen.add(participant.name.lower())
        humans = {p.name for p in value if p.kind == "human"}
        for participant in value:
            approver = getattr(participant, "approver", None)
            if approver is not None and approver not in humans:
                raise ValueError(
                    f"{participant.name}.approver: {approver!r} is not a human participant "
                    f"(humans: {', '.join(sorted(humans)) or 'none'})"
                )
        return value

    @field_validator("policy")
    @classmethod
    def _policy_names(cls, value: Any, info: ValidationInfo) -> Any:
        participants = info.data.get("participants")
        if participants:
            names = [p.name for p in participants]
            build_policy(value, resolve=False).validate(names)
            for selector in _nested_policies(value, LLMSelectorSpec):
                unknown = [c for c in selector.candidates or () if c not in names]
                if unknown:
                    raise ValueError(
                        f"llm_selector candidates name unknown participants: {', '.join(unknown)}"
                    )
            humans = {p.name for p in participants if p.kind == "human"}
            for manual in _manual_specs(value):
                if manual.human is not None and manual.human not in humans:
                    raise ValueError(
                        f"manual policy: {manual.human!r} is not a human participant "
                        f"(humans: {', '.join(sorted(humans)) or 'none'})"
                    )
                if manual.human is None and not humans:
                    raise ValueError("manual policy: the team has no human participant")
        return value

    def humans(self) -> list[str]:
        return [p.name for p in self.participants if p.kind == "human"]

    def price_table(self) -> PriceTable | None:
        """The team's ``prices`` as a table, or ``None`` when it gives none (no cost is shown)."""
        return PriceTable(prices=self.prices) if self.prices else None

    def model_users(self) -> dict[str, str]:
        """Who uses which model, as :func:`~groupchat.models.pricing.models_in` finds it in the
        built chat: each LLM participant, and ``manager`` for the magentic manager or
        ``selector`` for LLM selectors (left out when they use different models: their calls
        count together, so no single price applies). Names are written as prices are kept."""
        users = {p.name: price_key(p.model) for p in self.participants if isinstance(p, LLMSpec)}
        if self.manager is not None:
            users["manager"] = price_key(self.manager.model)
            return users
        selectors = {price_key(s.model) for s in _nested_policies(self.policy, LLMSelectorSpec)}
        if len(selectors) == 1:
            users["selector"] = selectors.pop()
        return users

    def build_participants(self, make: ModelMaker | None = None) -> list[Participant]:
        """The participants; ``make`` gives LLM participants their clients (default:
        :func:`~groupchat.spec_llm.model_maker` of this spec)."""
        from groupchat.agents import HumanParticipant, ScriptedAgent

        built: list[Participant] = []
        if make is None and any(isinstance(p, LLMSpec) for p in self.participants):
            make = model_maker(self.model_cache)
        for p in self.participants:
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

    def build(
        self,
        *,
        bus: EventBus | None = None,
        chat_id: str | None = None,
        participants: Sequence[Participant] | None = None,
        models: Callable[[str], ChatModel] | None = None,
    ) -> GroupChat:
        """A ready-to-run chat of this team (``participants`` replaces the built ones).

        ``models(name)`` makes the client of each model name (default:
        :func:`~groupchat.models.resolve_model`); with ``model_cache`` set, every call goes
        through one new cache.
        """
        from groupchat.chat import GroupChat

        make = model_maker(self.model_cache, models)
        members = participants if participants is not None else self.build_participants(make)
        policy = (
            build_magentic(self.manager, make)
            if self.manager is not None
            else build_policy(self.policy, make=make)
        )
        for handoff in _nested_selection(policy, "attach"):
            handoff.attach(members)
        return GroupChat(
            members,
            policy=policy,
            termination=self.termination.build(),
            max_turns=self.max_turns,
            idle_rounds=self.idle_rounds,
            on_error=self.on_error,
            bus=bus,
            chat_id=chat_id,
            metadata={"team": self.name},
        )

    def with_model(self, model: str) -> TeamSpec:
        """This team with every model (participants', the selector's, the manager's) replaced
        by ``model``, as ``--model`` does; ``ValueError`` if the name is not a model name."""
        from groupchat.models.registry import parse_model_name

        parse_model_name(model)
        participants = [
            p.model_copy(update={"model": model}) if isinstance(p, LLMSpec) else p
            for p in self.participants
        ]
        manager = self.manager.model_copy(update={"model": model}) if self.manager else None
        return self.model_copy(
            update={
                "participants": participants,
                "policy": _policy_with_model(self.policy, model),
                "manager": manager,
            }
        )


def _policy_with_model(spec: Any, model: str) -> Any:
    update: dict[str, Any] = {"model": model} if isinstance(spec, LLMSelectorSpec) else {}
    for attr in ("fallback", "then"):
        sub = getattr(spec, attr, None)
        if sub is not None:
            update[attr] = _policy_with_model(sub, model)
    return spec.model_copy(update=update) if update else spec


def _nested_policies(spec: Any, kind: type[Any]) -> list[Any]:
    """Every policy spec of type ``kind`` in ``spec``, nested fallbacks included."""
    found = [spec] if isinstance(spec, kind) else []
    for attr in ("fallback", "then"):
        sub = getattr(spec, attr, None)
        if sub is not None:
            found.extend(_nested_policies(sub, kind))
    return found


def _nested_selection(policy: Any, method: str) -> list[Any]:
    """Every built policy in ``policy`` (wrapped or fallback ones too) that has ``method``."""
    found = [policy] if callable(getattr(policy, method, None)) else []
    for attr in ("policy", "fallback", "then"):
        sub = getattr(policy, attr, None)
        if sub is not None and sub is not policy:
            found.extend(_nested_selection(sub, method))
    return found


def _manual_specs(spec: Any) -> list[ManualSpec]:
    """Every manual policy in a policy spec, nested fallbacks included."""
    found: list[ManualSpec] = [spec] if isinstance(spec, ManualSpec) else []
    for attr in ("fallback", "then"):
        sub = getattr(spec, attr, None)
        if sub is not None:
            found.extend(_manual_specs(sub))
    return found


def _import_function(path: str) -> Any:
    try:
        return import_callable(path)
    except ValueError as exc:
        raise SpecError(f"policy.function: {exc}") from None


def build_policy(
    spec: Any, *, resolve: bool = True, make: ModelMaker | None = None
) -> SelectionPolicy:
    """Build a selection policy from its spec (``resolve=False`` skips importing functions;
    ``make`` gives model-driven policies their clients)."""
    from groupchat import policies as p

    def fallback(sub: Any) -> SelectionPolicy | None:
        return build_policy(sub, resolve=resolve, make=make) if sub is not None else None

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
        fn = _import_function(spec.function) if resolve else (lambda view, cands: cands[0])
        policy = p.FunctionPolicy(fn, name=spec.function.rpartition(":")[2])
    elif isinstance(spec, LLMSelectorSpec):
        policy = build_llm_selector(spec, fallback(spec.fallback), make or model_maker())
    elif isinstance(spec, HandoffSpec):
        policy = build_handoff(spec, fallback(spec.fallback))
    else:  # pragma: no cover - the union is closed
        raise TypeError(f"unknown policy spec {spec!r}")
    if spec.exclude_last_speaker:
        policy = p.exclude_last_speaker(policy)
    return policy


# --------------------------------------------------------------------------- loading


def load_spec(path: str | Path) -> TeamSpec:
    """Read and validate a team spec from a ``.yaml``/``.yml``, ``.toml`` or ``.json`` file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read: {exc}", source=str(path)) from None
    return parse_spec(text, source=str(path), format=_format_of(path))


def _format_of(path: Path) -> Literal["yaml", "toml", "json"]:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".toml":
        return "toml"
    if suffix == ".json":
        return "json"
    raise SpecError(
        f"{path}: unknown spec format {suffix or '(no suffix)'!r}; use .yaml, .yml, .toml or .json",
        source=str(path),
    )


def parse_spec(
    text: str, *, source: str = "<spec>", format: Literal["yaml", "toml", "json"] = "yaml"
) -> TeamSpec:
    """Validate spec text; ``source`` names it in errors."""
    if not text.strip():
        raise SpecError(
            f"{source}: the spec is empty; a team spec needs at least its participants",
            source=source,
        )
    yaml_finder: LineFinder | None = None
    try:
        if format == "toml":
            data: Any = tomllib.loads(text)
        elif format == "json":
            data = json.loads(text)
        else:
            data, yaml_finder = _load_yaml(text)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: {_toml_syntax_error(exc, text)}", source=source) from None
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"{source}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}",
            source=source,
        ) from None
    except RecursionError:  # the parsers recurse once per level of nesting
        raise SpecError(f"{source}: nested too deeply to be a team spec", source=source) from None
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: a team spec must be a mapping at the top level", source=source)
    try:
        return TeamSpec.model_validate(data)
    except ValidationError as exc:
        # Where TOML and JSON put a field is looked for only when there is an error to place.
        lines = {"toml": toml_lines, "json": json_lines}.get(format)
        finder = lines(text) if lines is not None else yaml_finder
        raise SpecError(_format_errors(source, exc, data, finder), source=source) from None


_TOML_WHERE = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)$")


def _toml_syntax_error(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """``line 3, column 5: invalid TOML: Invalid value``, like a YAML or JSON syntax error."""
    message = str(exc)
    match = _TOML_WHERE.search(message)
    if match is None:
        return f"invalid TOML: {message}"
    problem = message[: match.start()]
    if match.group(1) is None:
        last = text.count("\n") + 1
        return f"line {last}: invalid TOML: {problem} at the end of the file"
    return f"line {match.group(1)}, column {match.group(2)}: invalid TOML: {problem}"


def _format_errors(source: str, exc: ValidationError, data: Any, lines: LineFinder | None) -> str:
    by_path: dict[FieldPath, list[str]] = {}
    for err in exc.errors(include_url=False):
        path = _real_path(err["loc"], data)
        msg = err["msg"].removeprefix("Value error, ")
        ctx = err.get("ctx", {})
        if err["type"] == "union_tag_invalid":
            msg = f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        elif err["type"] == "union_tag_not_found":
            msg = f"missing 'kind' ({_KINDS.get(path[-1] if path else '', 'see the docs')})"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        messages = by_path.setdefault(path, [])
        if msg not in messages:
            messages.append(msg)
    out: list[str] = []
    for path, messages in by_path.items():
        line = lines.line_of(path) if lines is not None else None
        where = f" (line {line})" if line else ""
        out.append(f"{source}: {_dotted(path) or '(top level)'}{where}: {'; or '.join(messages)}")
    return "\n".join(out)


_POLICY_KINDS = (
    "one of round_robin, random, manual, mention, graph, function, llm_selector, handoff"
)
_KINDS = {
    "policy": _POLICY_KINDS,
    "fallback": _POLICY_KINDS,
    "then": _POLICY_KINDS,
}


def _real_path(loc: tuple[Any, ...], data: Any) -> FieldPath:
    """The error's location as keys and indexes of the input, without pydantic's union labels.

    Walks the input along the location: a label that is the ``kind`` of the mapping at hand,
    or that does not exist in the input (a type name, a union branch), is skipped; a missing
    key at the end of the location (a required field) is kept.
    """
    path: list[str | int] = []
    current = data
    tag_skipped = False
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
            tag_skipped = False
        elif isinstance(current, Mapping) and isinstance(part, str):
            if current.get("kind") == part and not tag_skipped:
                tag_skipped = True
                continue  # the branch of a tagged union
            if part in current:
                path.append(part)
                current = current[part]
                tag_skipped = False
            elif last and part != "[key]":
                path.append(part)  # a missing field
        elif isinstance(current, Mapping) and isinstance(part, int) and part in current:
            path.append(part)  # a key that is not a string (YAML's ``7:``)
            current = current[part]
            tag_skipped = False
        # anything else is a label pydantic adds (a type name): not part of the input
    return tuple(path)


_PLAIN_KEY = re.compile(r"[A-Za-z_][\w-]*")


def _dotted(path: FieldPath) -> str:
    """``participants[1].delay``; a key that is not a plain name is quoted:
    ``prices["openai:gpt-4.1-mini"].input``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
        else:
            out += f".{part}" if out else part
    return out


def _load_yaml(text: str) -> tuple[Any, LineFinder]:
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SpecError(f"{where}invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}") from None
    return data, yaml_lines(root)
