"""Who takes part in a team spec: scripted agents, people, and LLM participants."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from groupchat.participant import validate_name
from groupchat.spec_fields import STRICT, ImportPath, ModelCall

__all__ = ["HumanSpec", "LLMSpec", "ParticipantSpec", "ScriptedSpec", "ToolRef"]


class _ParticipantBase(BaseModel):
    model_config = STRICT

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


class ToolRef(BaseModel):
    """A tool given by import path, with options."""

    model_config = STRICT

    function: ImportPath
    requires_approval: bool = False
    name: str | None = None


class LLMSpec(ModelCall):
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


ParticipantSpec = Annotated[ScriptedSpec | HumanSpec | LLMSpec, Field(discriminator="kind")]
