"""When a team's chat ends, in a team spec: the conditions and whether any or all must fire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from groupchat.spec_fields import STRICT

__all__ = ["TerminationSpec", "TextMentionSpec"]


class TextMentionSpec(BaseModel):
    model_config = STRICT

    text: str = Field(min_length=1)
    sources: list[str] | None = None
    case_sensitive: bool = True


class TerminationSpec(BaseModel):
    """Conditions that end a run; ``mode`` says whether any one or all of them must fire."""

    model_config = STRICT

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
