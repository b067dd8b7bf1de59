"""FrozenDict: read-only all the way down, equal to plain dicts, hashable, and a pydantic field
type whose JSON is exactly that of a ``dict`` field."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Mapping, MutableMapping
from operator import delitem, setitem
from types import MappingProxyType
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel, ConfigDict, Field

from groupchat.frozen import FrozenDict, freeze, thaw
from groupchat.messages import Usage

NESTED: dict[str, Any] = {
    "query": "naïve “quotes” ✓ 🙂",
    "limit": 3,
    "ratio": 0.1,
    "flag": False,
    "none": None,
    "filters": {"lang": ["py", "rs"], "empty": {}, "deep": [[1, [2, {"x": []}]]]},
}


def test_nested_dicts_and_lists_are_frozen() -> None:
    frozen = FrozenDict(NESTED)
    assert isinstance(frozen, Mapping) and not isinstance(frozen, MutableMapping)
    filters = frozen["filters"]
    assert isinstance(filters, FrozenDict)
    assert filters["lang"] == ("py", "rs")
    assert isinstance(filters["empty"], FrozenDict)
    deep = filters["deep"]
    assert deep == ((1, (2, FrozenDict({"x": ()}))),)
    assert isinstance(deep[0][1][1], FrozenDict)
    assert FrozenDict({"s": {1, 2}})["s"] == frozenset({1, 2})


@pytest.mark.parametrize(
    "change",
    [
        lambda d: setitem(d, "limit", 4),
        lambda d: setitem(d, "new", 1),
        lambda d: delitem(d, "limit"),
        lambda d: setitem(d["filters"], "lang", []),
        lambda d: delitem(d["filters"], "lang"),
        lambda d: setitem(d["filters"]["lang"], 0, "go"),
        lambda d: setitem(d["filters"]["deep"][0][1][1], "x", 1),
    ],
    ids=["assign", "add", "delete", "nested-assign", "nested-delete", "list-item", "deepest"],
)
def test_every_mutation_raises_type_error(change: Any) -> None:
    frozen = FrozenDict(NESTED)
    with pytest.raises(TypeError):
        change(frozen)
    assert frozen == NESTED


@pytest.mark.parametrize("method", ["update", "pop", "popitem", "clear", "setdefault", "append"])
def test_there_are_no_mutating_methods(method: str) -> None:
    frozen = FrozenDict(NESTED)
    assert not hasattr(frozen, method)
    assert not hasattr(frozen["filters"]["lang"], method)


def test_it_is_a_copy_of_what_it_was_built_from() -> None:
    source: dict[str, Any] = {"a": [1, 2], "b": {"c": "d"}}
    frozen = FrozenDict(source)
    source["a"].append(3)
    source["b"]["c"] = "changed"
    source["e"] = 5
    assert frozen == {"a": [1, 2], "b": {"c": "d"}}


def test_it_equals_plain_mappings_with_the_same_items() -> None:
    frozen = FrozenDict(NESTED)
    assert frozen == NESTED  # lists and tuples count as the same
    assert NESTED == frozen  # noqa: SIM300 - the plain dict on the left, on purpose
    assert frozen == FrozenDict(copy.deepcopy(NESTED))
    assert frozen == MappingProxyType(NESTED)
    assert frozen != {**NESTED, "limit": 4}
    assert frozen != {k: v for k, v in NESTED.items() if k != "limit"}
    assert frozen != {**NESTED, "filters": {"lang": ["rs", "py"]}}
    assert FrozenDict({"a": 1}) != [("a", 1)]
    assert FrozenDict() == {}


def test_equal_ones_hash_alike_and_work_as_keys() -> None:
    one, two = FrozenDict(NESTED), FrozenDict(copy.deepcopy(NESTED))
    assert one is not two and hash(one) == hash(two)
    assert hash(one) == hash(one)
    assert len({one, two, FrozenDict({"a": 1})}) == 2
    assert {one: "found"}[two] == "found"
    with pytest.raises(TypeError, match="unhashable"):
        hash(FrozenDict({"x": bytearray(b"mutable")}))


def test_repr_says_what_it_is() -> None:
    assert repr(FrozenDict()) == "FrozenDict({})"
    assert repr(FrozenDict({"a": [1], "b": {"c": None}})) == (
        "FrozenDict({'a': (1,), 'b': FrozenDict({'c': None})})"
    )


def test_it_reads_like_a_dict() -> None:
    frozen = FrozenDict(NESTED)
    assert list(frozen) == list(NESTED) and len(frozen) == len(NESTED)
    assert list(frozen.keys()) == list(NESTED)
    assert "limit" in frozen and "nope" not in frozen
    assert frozen.get("limit") == 3 and frozen.get("nope") is None and frozen.get("nope", 7) == 7
    assert dict(frozen.items())["limit"] == 3
    assert {**frozen, "limit": 4}["limit"] == 4
    assert json.loads(json.dumps(frozen.thaw())) == NESTED


def test_thaw_gives_a_plain_mutable_deep_copy() -> None:
    frozen = FrozenDict({**NESTED, "s": {"x"}})
    plain = frozen.thaw()
    assert plain == {**NESTED, "s": {"x"}}
    assert type(plain) is dict
    assert type(plain["filters"]) is dict and type(plain["filters"]["lang"]) is list
    assert type(plain["filters"]["deep"][0][1][1]) is dict
    assert type(plain["s"]) is set
    plain["filters"]["lang"].append("go")
    assert frozen["filters"]["lang"] == ("py", "rs")
    assert thaw(frozen) == plain | {"filters": {**plain["filters"], "lang": ["py", "rs"]}}
    assert thaw("text") == "text" and thaw((1, (2,))) == [1, [2]]
    assert freeze([1, {"a": [2]}]) == (1, FrozenDict({"a": (2,)}))


@pytest.mark.parametrize(
    "clone",
    [copy.copy, copy.deepcopy, lambda d: pickle.loads(pickle.dumps(d))],
    ids=["copy", "deepcopy", "pickle"],
)
def test_copies_and_pickles_stay_frozen_and_equal(clone: Any) -> None:
    frozen = FrozenDict(NESTED)
    cloned = clone(frozen)
    assert type(cloned) is FrozenDict and cloned == frozen and hash(cloned) == hash(frozen)
    assert isinstance(cloned["filters"], FrozenDict)


# ------------------------------------------------------------------------------ as a field


class Plain(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data: dict[str, Any] = Field(default_factory=dict)
    by: dict[str, Usage] = Field(default_factory=dict)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    data: FrozenDict[str, Any] = FrozenDict()
    by: FrozenDict[str, Usage] = FrozenDict()


VALUES: list[dict[str, Any]] = [
    {},
    {"data": NESTED},
    {"data": {"a": (1, 2), "b": {"c": [{"d": 1.5e-7}]}, "c": 10**20}},
    {"by": {"alice": {"input_tokens": 3}, "selector": Usage(output_tokens=2)}},
]


@pytest.mark.parametrize("values", VALUES)
def test_the_json_is_that_of_a_dict_field(values: dict[str, Any]) -> None:
    plain, frozen = Plain(**values), Frozen(**values)
    assert frozen.model_dump_json() == plain.model_dump_json()
    assert frozen.model_dump_json(indent=2) == plain.model_dump_json(indent=2)
    assert frozen.model_dump(mode="json") == plain.model_dump(mode="json")
    assert frozen.model_dump() == json.loads(plain.model_dump_json())
    parsed = Frozen.model_validate_json(plain.model_dump_json())
    assert parsed == frozen and parsed.model_dump_json() == plain.model_dump_json()


def test_validation_freezes_any_mapping_or_json_object() -> None:
    for model in (
        Frozen(data=NESTED),
        Frozen(data=MappingProxyType(NESTED)),  # type: ignore[arg-type]
        Frozen.model_validate({"data": FrozenDict(NESTED)}, strict=True),
        Frozen.model_validate_json(json.dumps({"data": NESTED})),
    ):
        assert isinstance(model.data, FrozenDict) and model.data == NESTED
        assert isinstance(model.data["filters"], FrozenDict)
        assert isinstance(model.data["filters"]["lang"], tuple)
    assert Frozen().data == {} and isinstance(Frozen().data, FrozenDict)


def test_values_are_validated_and_keys_must_be_strings() -> None:
    model = Frozen(by={"alice": {"input_tokens": 3}})  # type: ignore[dict-item]
    assert model.by == {"alice": Usage(input_tokens=3)}
    assert isinstance(model.by["alice"], Usage)
    with pytest.raises(pydantic.ValidationError) as info:
        Frozen(by={"alice": {"input_tokens": -1}})  # type: ignore[dict-item]
    assert info.value.errors()[0]["loc"] == ("by", "alice", "input_tokens")
    with pytest.raises(pydantic.ValidationError):
        Frozen(data={1: "x"})  # type: ignore[dict-item]
    with pytest.raises(pydantic.ValidationError):
        Frozen(data=["not", "a", "mapping"])  # type: ignore[arg-type]


def test_include_and_exclude_reach_inside() -> None:
    model = Frozen(data={"keep": 1, "secret": 2})
    assert model.model_dump(exclude={"data": {"secret"}})["data"] == {"keep": 1}
    assert model.model_dump_json(include={"data": {"keep"}}) == '{"data":{"keep":1}}'


def test_models_holding_them_are_hashable() -> None:
    one, two = Frozen(data=NESTED), Frozen(data=copy.deepcopy(NESTED))
    assert one == two and hash(one) == hash(two)
