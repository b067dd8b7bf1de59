"""The ``manager: magentic`` part of a team spec (``groupchat.app.build`` builds the manager).

```yaml
manager:
  kind: magentic
  model: openai:gpt-4.1
  max_stalls: 3          # stalled rounds in a row before replanning
  max_resets: 2          # replans before giving up
  max_rounds: 20         # progress ledgers in all
  plan_review: before    # before | after_replan | always | never
  reviewer: you          # a human participant (default: the first one)
```

A team with a manager has no selection policy: the manager picks every speaker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from groupchat.spec_fields import ModelCall

__all__ = ["MagenticSpec", "check_manager", "manager_shorthand"]


class MagenticSpec(ModelCall):
    """The magentic manager (see :class:`~groupchat.magentic.MagenticManager`)."""

    kind: Literal["magentic"] = "magentic"
    max_stalls: int = Field(default=3, ge=0)
    max_resets: int = Field(default=2, ge=0)
    max_rounds: int = Field(default=20, ge=1)
    plan_review: Literal["before", "after_replan", "always", "never"] = "never"
    reviewer: str | None = None
    """Who reviews the plan: a human participant (default: the first one)."""
    review_timeout: float | None = Field(default=None, gt=0)
    window: int | None = Field(default=20, ge=1)
    """Messages the manager's prompts show."""
    max_attempts: int = Field(default=3, ge=1)
    """Calls per ledger when answers cannot be read (each one re-asked with a correction)."""
    output: Literal["json_schema", "json_object", "none"] = "json_schema"
    """How JSON is asked for; an endpoint that refuses it is asked with the next one."""


def manager_shorthand(value: Any) -> Any:
    """``manager: magentic`` stands for ``{kind: magentic}``."""
    return {"kind": value} if isinstance(value, str) else value


def check_manager(spec: MagenticSpec, humans: Sequence[str], policy_given: bool) -> None:
    """Raise ``ValueError`` if the manager does not fit the team."""
    if policy_given:
        raise ValueError("a team with a manager has no policy: the manager picks every speaker")
    if spec.reviewer is not None and spec.reviewer not in humans:
        raise ValueError(
            f"reviewer: {spec.reviewer!r} is not a human participant "
            f"(humans: {', '.join(humans) or 'none'})"
        )
    if spec.plan_review != "never" and not humans:
        raise ValueError(
            f"plan_review {spec.plan_review!r} needs a human participant to review the plan"
        )
