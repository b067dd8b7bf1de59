"""A whole team in a team spec: who takes part, who speaks when, when it ends, and the task.

The model validates the team as a whole (unique names, policies and a manager that fit its
people, prices); :mod:`groupchat.app.build` builds a chat of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from groupchat.magentic.spec import MagenticSpec, check_manager, manager_shorthand
from groupchat.models.pricing import Price, PriceTable, price_key
from groupchat.spec_fields import STRICT, ModelCacheSpec
from groupchat.spec_participants import LLMSpec, ParticipantSpec
from groupchat.spec_policies import (
    LLMSelectorSpec,
    PolicySpec,
    RoundRobinSpec,
    check_policy_names,
    manual_specs,
    nested_policies,
    policy_shorthand,
    policy_with_model,
)
from groupchat.spec_termination import TerminationSpec

if TYPE_CHECKING:
    from groupchat.bus import Bus
    from groupchat.chat import GroupChat
    from groupchat.models.base import ChatModel
    from groupchat.participant import Participant

__all__ = ["PriceKey", "TeamSpec"]

PriceKey = Annotated[str, AfterValidator(price_key)]
"""A model name that a price is given for, kept as :func:`price_key` writes it."""


class TeamSpec(BaseModel):
    """A whole team: who takes part, who speaks when, when it ends, and the task."""

    model_config = STRICT

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
        return policy_shorthand(value)

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
            check_policy_names(value, names)
            for selector in nested_policies(value, LLMSelectorSpec):
                unknown = [c for c in selector.candidates or () if c not in names]
                if unknown:
                    raise ValueError(
                        f"llm_selector candidates name unknown participants: {', '.join(unknown)}"
                    )
            humans = {p.name for p in participants if p.kind == "human"}
            for manual in manual_specs(value):
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
        selectors = {price_key(s.model) for s in nested_policies(self.policy, LLMSelectorSpec)}
        if len(selectors) == 1:
            users["selector"] = selectors.pop()
        return users

    def build(
        self,
        *,
        bus: Bus | None = None,
        chat_id: str | None = None,
        participants: Sequence[Participant] | None = None,
        models: Callable[[str], ChatModel] | None = None,
    ) -> GroupChat:
        """A ready-to-run chat of this team (``participants`` replaces the built ones).

        ``models(name)`` makes the client of each model name (default:
        :func:`~groupchat.models.resolve_model`); with ``model_cache`` set, every call goes
        through one new cache. Shorthand for :func:`groupchat.app.build.build_chat`.
        """
        from groupchat.app.build import build_chat

        return build_chat(self, bus=bus, chat_id=chat_id, participants=participants, models=models)

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
                "policy": policy_with_model(self.policy, model),
                "manager": manager,
            }
        )
