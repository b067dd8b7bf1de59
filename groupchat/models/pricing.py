"""Turning token usage into money with a price table you supply (prices change; none ship).

>>> table = PriceTable(prices={"openai:gpt-4.1-mini": Price(input=0.40, output=1.60)})
>>> table.cost("openai:gpt-4.1-mini", Usage(input_tokens=1_000_000))
0.4
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from groupchat.messages import Usage

__all__ = ["ChatCost", "Price", "PriceTable", "models_in"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Price(BaseModel):
    """Price per million tokens, for input (prompt) and output (completion) tokens."""

    model_config = _FROZEN

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class ChatCost(BaseModel):
    """What a chat cost: in all, per participant (``selector`` for selection calls, ``manager``
    for the magentic manager's), and which participants' models had no price."""

    model_config = _FROZEN

    total: float
    by: dict[str, float]
    unpriced: tuple[str, ...] = ()
    currency: str = "USD"


class PriceTable(BaseModel):
    """Prices by model name: the full ``provider:model`` name, or just the model part."""

    model_config = _FROZEN

    prices: dict[str, Price]
    currency: str = "USD"

    def price(self, model: str) -> Price | None:
        found = self.prices.get(model)
        if found is None and ":" in model:
            found = self.prices.get(model.split(":", 1)[1])
        return found

    def cost(self, model: str, usage: Usage) -> float | None:
        """The cost of ``usage`` on ``model``, or ``None`` if the table has no price for it."""
        price = self.price(model)
        if price is None:
            return None
        return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1e6

    def chat_cost(self, usage_by: Mapping[str, Usage], model_of: Mapping[str, str]) -> ChatCost:
        """The cost of a chat from its per-participant usage and who used which model."""
        by: dict[str, float] = {}
        unpriced: list[str] = []
        for who, usage in usage_by.items():
            model = model_of.get(who)
            cost = self.cost(model, usage) if model is not None else None
            if cost is None:
                if usage.total_tokens:
                    unpriced.append(who)
                continue
            by[who] = cost
        return ChatCost(
            total=sum(by.values()), by=by, unpriced=tuple(unpriced), currency=self.currency
        )


def models_in(chat: Any) -> dict[str, str]:
    """Who uses which model in a :class:`~groupchat.chat.GroupChat`: each participant with a
    ``model``, and ``selector`` for a selection policy that has one (wrapped ones included), or
    the policy's own ``usage_key`` (``manager`` for the magentic manager)."""
    found: dict[str, str] = {}
    for name, participant in chat.participants.items():
        model = getattr(participant, "model", None)
        if model is not None and hasattr(model, "name"):
            found[name] = model.name
    policy = chat.policy
    seen: set[int] = set()
    pending = [policy]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        model = getattr(current, "model", None)
        if model is not None and hasattr(model, "name"):
            found.setdefault(getattr(current, "usage_key", "selector"), model.name)
        pending.extend(getattr(current, attr, None) for attr in ("policy", "fallback", "then"))
    return found
