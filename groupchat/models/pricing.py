"""Turning token usage into money with a price table you supply (prices change; none ship).

>>> table = PriceTable(prices={"openai:gpt-4.1-mini": Price(input=0.40, output=1.60)})
>>> table.cost("openai:gpt-4.1-mini", Usage(input_tokens=1_000_000))
0.4

A chat's cost is *partial* when some of its tokens have no price (a model missing from the
table, or a participant whose model is not known): :class:`ChatCost` then says so and which
models lack a price, rather than pass a smaller figure off as the whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, StrictFloat

from groupchat.messages import Usage

__all__ = [
    "ChatCost",
    "CostOf",
    "Price",
    "PriceTable",
    "model_part",
    "models_in",
    "money",
    "price_key",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Price(BaseModel):
    """Price per million tokens, for input (prompt) and output (completion) tokens."""

    model_config = _FROZEN

    input: StrictFloat = Field(ge=0, allow_inf_nan=False)
    output: StrictFloat = Field(ge=0, allow_inf_nan=False)


def money(amount: float, currency: str = "USD") -> str:
    """``$0.0123`` (four decimals: a chat often costs less than a cent)."""
    symbol = "$" if currency == "USD" else f"{currency} "
    return f"{symbol}{amount:.4f}"


class ChatCost(BaseModel):
    """What a chat cost: in all, per participant (``selector`` for selection calls, ``manager``
    for the magentic manager's), and which participants' tokens had no price.

    ``unpriced_models`` maps each unpriced participant whose model is known to that model; an
    unpriced participant missing from it has no known model."""

    model_config = _FROZEN

    total: float
    by: dict[str, float]
    unpriced: tuple[str, ...] = ()
    unpriced_models: dict[str, str] = Field(default_factory=dict)
    currency: str = "USD"

    @property
    def partial(self) -> bool:
        """Some tokens have no price: the true cost is more than :attr:`total`."""
        return bool(self.unpriced)

    def short(self) -> str:
        """``$0.0123``; ``≥ $0.0123 (partial)`` when some tokens have no price; ``cost unknown``
        when none has one."""
        if not self.partial:
            return money(self.total, self.currency)
        if not self.by:
            return "cost unknown"
        return f"≥ {money(self.total, self.currency)} (partial)"

    def missing(self) -> str:
        """Why the cost is partial (empty when it is not): ``no price for ollama:llama3.2
        (writer, selector); no model known for moderator``."""
        users: dict[str, list[str]] = {}
        for who, model in self.unpriced_models.items():
            users.setdefault(model, []).append(who)
        parts = [f"no price for {model} ({', '.join(who)})" for model, who in users.items()]
        unknown = [who for who in self.unpriced if who not in self.unpriced_models]
        if unknown:
            parts.append(f"no model known for {', '.join(unknown)}")
        return "; ".join(parts)

    def describe(self) -> str:
        """One line for a person: the cost, and what it leaves out when it is partial."""
        short = self.short()
        shown = short if short.startswith("cost") else f"cost {short}"
        missing = self.missing()
        return f"{shown}: {missing}" if missing else shown


CostOf: TypeAlias = Callable[[Mapping[str, Usage]], ChatCost]
"""What a chat's usage by participant costs: a :meth:`PriceTable.chat_cost` with the models
bound, as the front-ends take it."""


def model_part(name: str) -> str:
    """The model of a full model name: ``gpt-4.1-mini`` of ``openai:gpt-4.1-mini``, ``m`` of
    ``http://host:8000/v1#m``; a name without a provider is returned as it is."""
    if "://" in name and "#" in name:
        return name.partition("#")[2]
    return name.split(":", 1)[1] if ":" in name else name


def price_key(name: str) -> str:
    """The name a model's price is kept and looked up under: a full model name written the way
    its client names itself (``openai:gpt-4.1-mini``; a URL without its password), anything
    else (a model without a provider, ``gpt-4.1-mini``) stripped. ``ValueError`` for an empty
    name or a malformed full one."""
    from groupchat.models.registry import PROVIDERS, parse_model_name
    from groupchat.redact import shown_url

    text = name.strip()
    if not text:
        raise ValueError("a model name cannot be empty")
    provider, colon, _ = text.partition(":")
    if text.startswith(("http://", "https://")) or (colon and provider in PROVIDERS):
        return shown_url(str(parse_model_name(text)))
    return text


class PriceTable(BaseModel):
    """Prices by model name: the full ``provider:model`` name, or just the model part."""

    model_config = _FROZEN

    prices: dict[str, Price]
    currency: str = "USD"

    def price(self, model: str) -> Price | None:
        found = self.prices.get(model)
        if found is None:
            part = model_part(model)
            if part != model:
                found = self.prices.get(part)
        return found

    def cost(self, model: str, usage: Usage) -> float | None:
        """The cost of ``usage`` on ``model``, or ``None`` if the table has no price for it."""
        price = self.price(model)
        if price is None:
            return None
        return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1e6

    def chat_cost(self, usage_by: Mapping[str, Usage], model_of: Mapping[str, str]) -> ChatCost:
        """The cost of a chat from its per-participant usage and who used which model.

        Usage that has no price (its model is missing from the table, or ``model_of`` does not
        name it) is left out of the total and listed in ``unpriced``, so that the figure is
        known to be partial."""
        by: dict[str, float] = {}
        unpriced: list[str] = []
        unpriced_models: dict[str, str] = {}
        for who, usage in usage_by.items():
            model = model_of.get(who)
            cost = self.cost(model, usage) if model is not None else None
            if cost is None:
                if usage.total_tokens:
                    unpriced.append(who)
                    if model is not None:
                        unpriced_models[who] = model
                continue
            by[who] = cost
        return ChatCost(
            total=sum(by.values()),
            by=by,
            unpriced=tuple(unpriced),
            unpriced_models=unpriced_models,
            currency=self.currency,
        )


def models_in(chat: Any) -> dict[str, str]:
    """Who uses which model in a :class:`~groupchat.chat.GroupChat`: each participant with a
    ``model``, and ``selector`` for a selection policy that has one (wrapped ones included), or
    the policy's own ``usage_key`` (``manager`` for the magentic manager).

    Every selection call counts under one key, so when nested policies use different models
    the key has no single model and is left out: its cost shows as unknown, not as a guess."""
    found: dict[str, str] = {}
    for name, participant in chat.participants.items():
        model = getattr(participant, "model", None)
        if model is not None and hasattr(model, "name"):
            found[name] = model.name
    policy = chat.policy
    key = getattr(policy, "usage_key", "selector")
    from groupchat.policies import policies_in

    used: set[str] = set()
    for current in policies_in(policy):
        model = getattr(current, "model", None)
        if model is not None and hasattr(model, "name"):
            used.add(model.name)
    if len(used) == 1:
        found.setdefault(key, used.pop())
    return found
