"""One shared set of field names per model class, for the models a chat keeps by the thousand."""

from __future__ import annotations

from typing import Any

__all__ = ["fields_set_of", "share_fields_set"]

_FIELDS_SETS: dict[type[Any], set[str]] = {}


def fields_set_of(cls: type[Any]) -> set[str]:
    """The one set of field names shared by the instances of model class ``cls``."""
    shared = _FIELDS_SETS.get(cls)
    if shared is None:
        shared = _FIELDS_SETS[cls] = set(cls.model_fields)
    return shared


def share_fields_set(model: Any) -> None:
    """Give a freshly validated model its class's shared set of field names.

    Each pydantic instance otherwise carries a set of its own, which the garbage collector has
    to visit for as long as the chat's history lives; sharing one per class keeps long chats
    as fast as short ones. Only ``model_fields_set`` (``exclude_unset``) sees the difference:
    every field counts as set, as if it had been given explicitly.
    """
    cls = type(model)
    shared = _FIELDS_SETS.get(cls)
    if shared is None:
        shared = _FIELDS_SETS[cls] = set(cls.model_fields)
    object.__setattr__(model, "__pydantic_fields_set__", shared)
