"""Read-only containers for the JSON-like values that events carry.

The bus hands the same event object to every subscriber, so nothing inside an event may change
in place: a tool's arguments, a chat's metadata, token totals per participant. A
:class:`FrozenDict` is a hashable, read-only mapping whose nested dicts are frozen as well
(nested lists and sets become tuples and frozensets). As a pydantic field type it validates any
mapping or JSON object and serialises to a plain dict, so the JSON of a ``FrozenDict`` field is
exactly that of a ``dict`` field.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any, TypeVar, get_args

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

__all__ = ["FrozenDict", "freeze", "thaw"]

K = TypeVar("K")
V = TypeVar("V")

_SCALARS = frozenset({str, int, float, bool, type(None)})


class FrozenDict(Mapping[K, V]):
    """A read-only, hashable mapping; nested dicts, lists and sets are frozen on the way in.

    Item assignment and deletion raise ``TypeError`` (as on a tuple), and so do they on every
    nested container. It equals any mapping with the same items, lists and tuples counting as
    the same (``FrozenDict({"a": [1]}) == {"a": [1]}``). :meth:`thaw` gives a plain, mutable
    deep copy.
    """

    __slots__ = ("_data", "_hash")

    _data: dict[K, V]
    _hash: int | None

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = (), /) -> None:
        self._data = _frozen_values(dict(items))
        self._hash = None

    @classmethod
    def _adopt(cls, data: dict[K, V]) -> FrozenDict[K, V]:
        """A FrozenDict that takes over ``data`` (a new dict nobody else holds) without a copy."""
        frozen = cls.__new__(cls)
        frozen._data = _frozen_values(data)
        frozen._hash = None
        return frozen

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: Any, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> KeysView[K]:
        return self._data.keys()

    def values(self) -> ValuesView[V]:
        return self._data.values()

    def items(self) -> ItemsView[K, V]:
        return self._data.items()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenDict):
            return self._data == other._data
        if isinstance(other, Mapping):
            return len(self._data) == len(other) and self._data == {
                k: freeze(v) for k, v in other.items()
            }
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenDict({self._data!r})"

    def __reduce__(self) -> tuple[type[FrozenDict[K, V]], tuple[dict[K, V]]]:
        return (type(self), (self._data,))

    def thaw(self) -> dict[K, Any]:
        """A plain, mutable deep copy: nested mappings become dicts, tuples lists, frozensets
        sets."""
        return {k: v if type(v) in _SCALARS else thaw(v) for k, v in self._data.items()}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """Validate as ``dict[K, V]`` (any mapping, a FrozenDict even in strict mode, or a JSON
        object) and freeze the result; serialise as that ``dict``, so the JSON is the same and
        ``include`` / ``exclude`` reach inside."""
        key, value = get_args(source) or (Any, Any)
        # The key and value types are known only at run time; a static checker cannot read
        # ``dict[key, value]`` built from variables.
        as_dict = handler.generate_schema(dict[key, value])  # type: ignore[valid-type]
        return core_schema.json_or_python_schema(
            json_schema=core_schema.no_info_after_validator_function(cls._adopt, as_dict),
            python_schema=core_schema.no_info_after_validator_function(
                cls._adopt, core_schema.no_info_before_validator_function(_unwrap, as_dict)
            ),
            serialization=core_schema.wrap_serializer_function_ser_schema(
                _serialize, schema=as_dict
            ),
        )


def freeze(value: Any) -> Any:
    """``value`` made deeply read-only: mappings become :class:`FrozenDict`, lists and tuples
    tuples, sets frozensets; anything else is returned as it is."""
    cls = type(value)
    if cls in _SCALARS or cls is FrozenDict:
        return value
    if cls is dict:
        return FrozenDict._adopt(dict(value))
    if cls is list or cls is tuple:
        return tuple([v if type(v) in _SCALARS else freeze(v) for v in value])
    if isinstance(value, Mapping):
        return FrozenDict._adopt(dict(value))
    if isinstance(value, list | tuple):
        return tuple([freeze(v) for v in value])
    if isinstance(value, set | frozenset):
        return frozenset([freeze(v) for v in value])
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of ``value``: mappings become dicts, lists and tuples lists,
    sets and frozensets sets; anything else is returned as it is."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    if cls is FrozenDict or cls is dict:
        return {k: v if type(v) in _SCALARS else thaw(v) for k, v in value.items()}
    if cls is tuple or cls is list:
        return [v if type(v) in _SCALARS else thaw(v) for v in value]
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    if isinstance(value, set | frozenset):
        return {thaw(v) for v in value}
    return value


def _frozen_values(data: dict[Any, Any]) -> dict[Any, Any]:
    """``data`` with each value frozen in place (keys are hashable, so already immutable)."""
    for key, value in data.items():
        if type(value) not in _SCALARS:
            data[key] = freeze(value)
    return data


def _unwrap(value: Any) -> Any:
    """A FrozenDict's own dict, which the dict schema reads (and copies) fastest."""
    return value._data if type(value) is FrozenDict else value


def _serialize(value: Any, handler: core_schema.SerializerFunctionWrapHandler) -> Any:
    return handler(thaw(value))
