"""Events made without a validation pass where validation would change nothing.

Validating an event with pydantic costs several microseconds, and a chat makes four to six
events a message. Most of them hold only strings, whole numbers, flags, times and models that
are already validated (a :class:`~groupchat.messages.Message`, a
:class:`~groupchat.messages.Usage`). For such values pydantic's validation is the identity: it
returns the very values it was given. :func:`make` checks each value by its exact type
(``type(v) is str``, a constraint such as ``ge=0``, an aware ``datetime``, an instance of the
field's model) and, when every check passes, builds the event straight from them; when any check
fails (a ``str`` subclass, an ``int`` for a ``float``, a list for a tuple, a missing or unknown
field) it validates as usual, so a wrong value raises the same ``ValidationError`` as before and
a value pydantic would convert is converted. No caller is trusted, so the bus can use it for
every event, user code's included.

Only classes whose fields all have such checks, and no validators of their own, get the fast
path (:func:`checked_fields`). Its checks are generated once per class as one function of the
fields (as :mod:`dataclasses` generates ``__init__``), since a loop over per-field checks costs
as much as the validation it saves. Tests hold the two paths equal on every sample event and on
generated values (the type of every stored value included), and name the classes that must
stay fast.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo

from groupchat._fields import fields_set_of, share_fields_set

__all__ = ["checked_fields", "make", "maker"]

M = TypeVar("M", bound=BaseModel)

_SCALARS: dict[Any, str] = {
    str: "_str_",
    bool: "_bool_",
    int: "_int_",
    float: "_float_",
}

_BOUNDS = (
    ("Ge", "ge", ">="),  # annotated_types' bounds, known by name: the core imports only pydantic
    ("Gt", "gt", ">"),
    ("Le", "le", "<="),
    ("Lt", "lt", "<"),
)


class _Names:
    """The objects a generated check refers to, by the names it uses for them."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "_type_": type,
            "_str_": str,
            "_bool_": bool,
            "_int_": int,
            "_float_": float,
            "_tuple_": tuple,
            "_datetime_": datetime,
            "_isinstance_": isinstance,
            "_all_": all,
        }

    def bind(self, value: Any) -> str:
        name = f"_v{len(self.namespace)}_"
        self.namespace[name] = value
        return name


def _check_of(annotation: Any, var: str, names: _Names, depth: int = 0) -> str | None:
    """A Python expression true when ``var`` holds a value of ``annotation`` that validation
    keeps as it is, or ``None`` when there is none (validation may convert or inspect it)."""
    scalar = _SCALARS.get(annotation)
    if scalar is not None:
        return f"_type_({var}) is {scalar}"
    if annotation is AwareDatetime:
        return f"(_type_({var}) is _datetime_ and {var}.utcoffset() is not None)"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        # instances are not validated again (revalidate_instances='never')
        if annotation.model_config.get("revalidate_instances", "never") != "never":
            return None
        return f"_isinstance_({var}, {names.bind(annotation)})"
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:  # a tagged union inside a tuple: the tag is the instance's own
        tags_only = all(
            isinstance(m, FieldInfo) and not m.metadata and m.discriminator is not None
            for m in annotation.__metadata__
        )
        return _check_of(args[0], var, names, depth) if tags_only else None
    if origin is Literal:
        if not all(type(arg) is str for arg in args):
            return None
        return f"(_type_({var}) is _str_ and {var} in {names.bind(frozenset(args))})"
    if origin in (Union, types.UnionType):
        checks = [_check_of(arg, var, names, depth) for arg in args if arg is not type(None)]
        if any(check is None for check in checks):
            return None
        if type(None) in args:
            checks.insert(0, f"{var} is None")
        return "(" + " or ".join(str(check) for check in checks) + ")"
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = f"_x{depth}_"
        check = _check_of(args[0], item, names, depth + 1)
        if check is None:
            return None
        return f"(_type_({var}) is _tuple_ and (not {var} or _all_({check} for {item} in {var})))"
    return None


def _field_check(name: str, field: FieldInfo, names: _Names) -> str | None:
    check = _check_of(field.annotation, name, names)
    if check is None:
        return None
    for item in field.metadata:
        bound = next((b for b in _BOUNDS if type(item).__name__ == b[0]), None)
        if bound is None:
            return None
        limit = getattr(item, bound[1])
        if type(limit) not in (int, float):
            return None
        check = f"{check} and {name} {bound[2]} {limit!r}"
    return check


def _immutable(value: Any) -> bool:
    if value is None or type(value) in (str, int, float, bool):
        return True
    return type(value) is tuple and all(_immutable(item) for item in value)


Maker = Callable[..., Any]

_MAKERS: dict[type[BaseModel], Maker] = {}
_CHECKED: set[type[BaseModel]] = set()
_MISSING = object()


def _validating(cls: type[BaseModel]) -> Callable[[dict[str, Any]], Any]:
    def validate(fields: dict[str, Any]) -> Any:
        model = cls(**fields)
        share_fields_set(model)
        return model

    return validate


def _checked_maker(cls: type[BaseModel]) -> Maker | None:
    """The generated maker of ``cls``: its fields by keyword, checked by exact type, the model
    made from them as they are or, when a check fails, validated; ``None`` if ``cls`` cannot
    have one."""
    decorators = cls.__pydantic_decorators__
    if (
        decorators.validators
        or decorators.field_validators
        or decorators.model_validators
        or decorators.root_validators
        or cls.model_config.get("extra") != "forbid"
        or cls.model_post_init is not BaseModel.model_post_init
    ):
        return None
    names = _Names()
    params: list[str] = []
    checks: list[str] = ["not _extra_"]
    for name, field in cls.model_fields.items():
        if not name.isidentifier() or name.startswith("_") or field.alias is not None:
            return None
        check = _field_check(name, field, names)
        if check is None or field.default_factory is not None:
            return None
        if field.is_required():
            params.append(f"{name}=_missing_")
        elif _immutable(field.default):
            params.append(f"{name}={names.bind(field.default)}")
        else:
            return None
        checks.append(check)
    names.namespace.update(
        _set_=object.__setattr__, _missing_=_MISSING, _validate_=_validating(cls)
    )
    cls_name = names.bind(cls)
    fields_set = names.bind(fields_set_of(cls))
    values = ", ".join(f"{name!r}: {name}" for name in cls.model_fields)
    given = ", ".join(f"({name!r}, {name})" for name in cls.model_fields)
    source = (
        f"def make(*, {', '.join(params)}, **_extra_):\n"
        f"    if {' and '.join(checks)}:\n"
        f"        _m_ = {cls_name}.__new__({cls_name})\n"
        f"        _set_(_m_, '__dict__', {{{values}}})\n"
        f"        _set_(_m_, '__pydantic_fields_set__', {fields_set})\n"
        f"        _set_(_m_, '__pydantic_extra__', None)\n"
        f"        _set_(_m_, '__pydantic_private__', None)\n"
        f"        return _m_\n"
        f"    _f_ = {{_k_: _v_ for _k_, _v_ in ({given},) if _v_ is not _missing_}}\n"
        f"    _f_.update(_extra_)\n"
        f"    return _validate_(_f_)\n"
    )
    exec(compile(source, f"<checked {cls.__qualname__}>", "exec"), names.namespace)
    made: Maker = names.namespace["make"]
    return made


def maker(cls: type[M]) -> Callable[..., M]:
    """The function that makes a ``cls`` from its fields by keyword: as ``cls(**fields)``
    would, without validating when every value is of its field's exact type. The model's
    ``model_fields_set`` is its class's one shared set of every field name, as
    :func:`~groupchat._fields.share_fields_set` gives validated models."""
    try:
        return _MAKERS[cls]
    except KeyError:
        pass
    checked = _checked_maker(cls)
    if checked is not None:
        _CHECKED.add(cls)
    made = checked if checked is not None else _validating(cls)
    if checked is None:
        validate = made

        def made(**fields: Any) -> Any:
            return validate(fields)

    _MAKERS[cls] = made
    return made


def checked_fields(cls: type[BaseModel]) -> bool:
    """Whether :func:`maker` can make ``cls`` without validating (when the values pass)."""
    maker(cls)
    return cls in _CHECKED


def make(cls: type[M], fields: dict[str, Any]) -> M:
    """``cls(**fields)`` by :func:`maker`."""
    return maker(cls)(**fields)
