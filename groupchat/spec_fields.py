"""Field types that several parts of a team spec share: strict models, model names, import
paths, how a model is called, and the record/replay cache of model calls.

Model names and import paths are checked when the spec is validated, so a mistake is reported
with its file, field and line rather than when the team is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

__all__ = [
    "NO_IMPORTS",
    "STRICT",
    "ImportPath",
    "ModelCacheSpec",
    "ModelCall",
    "ModelName",
    "import_callable",
]

STRICT = ConfigDict(extra="forbid")
"""Every spec model refuses fields it does not know (a typo is an error, not ignored)."""
IMPORT_PATH = r"^[\w.]+:[\w.]+$"


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
ImportPath = Annotated[str, Field(pattern=IMPORT_PATH), AfterValidator(_importable)]


class ModelCall(BaseModel):
    """How a spec'd model is called."""

    model_config = STRICT

    model: ModelName
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=60.0, gt=0)
    """Seconds one attempt may wait for the answer, or for each next streamed piece."""
    max_retries: int = Field(default=3, ge=0)


class ModelCacheSpec(BaseModel):
    """Record model calls to (or replay them from) a SQLite file; ``path`` is relative to the
    working directory."""

    model_config = STRICT

    path: str = Field(min_length=1)
    mode: Literal["record", "replay", "auto"] = "auto"
