"""Behaviour of team specs: loading YAML, TOML and JSON, building chats, and locating mistakes."""

from __future__ import annotations

import importlib
import io
import json
import sys
import uuid
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Literal

import pytest

from groupchat.agents import HumanParticipant, ScriptedAgent
from groupchat.chat import GroupChat
from groupchat.events import MessagePosted, SpeakerSelected
from groupchat.policies import (
    CandidateFilter,
    FunctionPolicy,
    ManualPolicy,
    MentionPolicy,
    RandomPolicy,
    RoundRobinPolicy,
    SelectionPolicy,
    TransitionGraphPolicy,
)
from groupchat.spec import SpecError, TeamSpec, load_spec, parse_spec
from groupchat.termination import (
    AllOf,
    AnyOf,
    MaxMessages,
    SourceMatch,
    Termination,
    TextMention,
    Timeout,
    TokenBudget,
)
from groupchat.tui.headless import run_headless

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(
    p for p in (REPO / "examples").iterdir() if p.suffix in (".yaml", ".yml", ".toml", ".json")
)

# ----------------------------------------------------------------------------------------- helpers


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    """The 1-based number of the first line of ``text`` containing ``needle``."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the text")


def spec_error(path: Path) -> str:
    """Load ``path`` expecting a SpecError; check it is anchored to the file; return the message."""
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert info.value.source == str(path)
    assert "Traceback" not in message
    return message


def build(text: str) -> GroupChat:
    return parse_spec(text, source="team.yaml").build()


def speakers(chat: GroupChat) -> list[str]:
    return [m.sender for m in chat.messages if m.kind == "turn"]


def unwrap(policy: SelectionPolicy) -> SelectionPolicy:
    """The policy inside an exclude-last-speaker filter."""
    assert isinstance(policy, CandidateFilter)
    assert policy.filter_name == "exclude_last_speaker"
    return policy.policy


TEAM = """\
participants:
  - kind: scripted
    name: alice
    script: ["alice speaks"]
    when_done: cycle
  - kind: scripted
    name: bob
    script: ["bob speaks"]
    when_done: cycle
  - kind: human
    name: carol
"""

DUO = """\
participants:
  - kind: scripted
    name: alice
    script: ["alice speaks"]
    when_done: cycle
  - kind: scripted
    name: bob
    script: ["bob speaks"]
    when_done: cycle
"""


# ------------------------------------------------------------------------------------- a full spec

FULL_YAML = """\
# every field of a team, set
name: full team
description: Every field set.
task: Write a haiku about the sea.
participants:
  - kind: scripted
    name: alice
    description: Writes lines.
    script: ["first line", "second line"]
    chunk: line
    delay: 0.5
    when_done: cycle
    report_usage: true
  - kind: scripted
    name: bob
    script: ["bob speaks"]
    chunk: 3
    when_done: end
  - kind: human
    name: carol
    description: The editor.
    timeout: 30
    on_timeout: default
    default_reply: looks good
policy:
  kind: mention
  fallback:
    kind: round_robin
termination:
  max_messages: 5
  text_mention: FIN
max_turns: 9
on_error: continue
"""

FULL_TOML = """\
# every field of a team, set
name = "full team"
description = "Every field set."
task = "Write a haiku about the sea."
max_turns = 9
on_error = "continue"

[[participants]]
kind = "scripted"
name = "alice"
description = "Writes lines."
script = ["first line", "second line"]
chunk = "line"
delay = 0.5
when_done = "cycle"
report_usage = true

[[participants]]
kind = "scripted"
name = "bob"
script = ["bob speaks"]
chunk = 3
when_done = "end"

[[participants]]
kind = "human"
name = "carol"
description = "The editor."
timeout = 30
on_timeout = "default"
default_reply = "looks good"

[policy]
kind = "mention"

[policy.fallback]
kind = "round_robin"

[termination]
max_messages = 5
text_mention = "FIN"
"""

FULL_DATA: dict[str, object] = {
    "name": "full team",
    "description": "Every field set.",
    "task": "Write a haiku about the sea.",
    "participants": [
        {
            "kind": "scripted",
            "name": "alice",
            "description": "Writes lines.",
            "script": ["first line", "second line"],
            "chunk": "line",
            "delay": 0.5,
            "when_done": "cycle",
            "report_usage": True,
        },
        {
            "kind": "scripted",
            "name": "bob",
            "script": ["bob speaks"],
            "chunk": 3,
            "when_done": "end",
        },
        {
            "kind": "human",
            "name": "carol",
            "description": "The editor.",
            "timeout": 30,
            "on_timeout": "default",
            "default_reply": "looks good",
        },
    ],
    "policy": {"kind": "mention", "fallback": {"kind": "round_robin"}},
    "termination": {"max_messages": 5, "text_mention": "FIN"},
    "max_turns": 9,
    "on_error": "continue",
}

FULL_FILES = {
    "team.yaml": FULL_YAML,
    "team.yml": FULL_YAML,
    "team.toml": FULL_TOML,
    "team.json": json.dumps(FULL_DATA, indent=2),
}


@pytest.mark.parametrize("filename", sorted(FULL_FILES))
def test_full_spec_builds_the_team_it_describes(tmp_path: Path, filename: str) -> None:
    spec = load_spec(write(tmp_path, filename, FULL_FILES[filename]))

    assert spec.name == "full team"
    assert spec.description == "Every field set."
    assert spec.task == "Write a haiku about the sea."
    assert spec.humans() == ["carol"]

    chat = spec.build()
    assert list(chat.participants) == ["alice", "bob", "carol"]
    alice, bob, carol = (chat.participants[n] for n in ("alice", "bob", "carol"))
    assert isinstance(alice, ScriptedAgent)
    assert (alice.description, alice.chunk, alice.delay) == ("Writes lines.", "line", 0.5)
    assert (alice.when_done, alice.report_usage) == ("cycle", True)
    assert isinstance(bob, ScriptedAgent)
    assert (bob.chunk, bob.delay, bob.when_done, bob.report_usage) == (3, 0.0, "end", False)
    assert isinstance(carol, HumanParticipant)
    assert (carol.description, carol.timeout) == ("The editor.", 30)
    assert (carol.on_timeout, carol.default_reply) == ("default", "looks good")
    assert chat.view.humans() == ["carol"]

    assert isinstance(chat.policy, MentionPolicy)
    assert isinstance(chat.policy.fallback, RoundRobinPolicy)
    assert isinstance(chat.termination, AnyOf)
    max_messages, mention = chat.termination.conditions
    assert isinstance(max_messages, MaxMessages) and max_messages.n == 5
    assert isinstance(mention, TextMention) and mention.text == "FIN"
    assert chat.max_turns == 9
    assert chat.on_error == "continue"
    assert chat.metadata == {"team": "full team"}


def test_the_three_formats_describe_the_same_team(tmp_path: Path) -> None:
    specs = [load_spec(write(tmp_path, name, text)) for name, text in FULL_FILES.items()]
    assert all(spec == specs[0] for spec in specs)


def test_defaults_of_a_minimal_spec() -> None:
    spec = parse_spec("participants:\n  - kind: human\n    name: dana\n")
    assert (spec.name, spec.description, spec.task) == ("team", "", None)
    chat = spec.build()
    dana = chat.participants["dana"]
    assert isinstance(dana, HumanParticipant)
    assert dana.description == "A person taking part in the chat."
    assert (dana.timeout, dana.on_timeout) == (None, "skip")
    assert isinstance(chat.policy, RoundRobinPolicy)
    assert chat.termination is None
    assert chat.max_turns is None
    assert chat.on_error == "end"
    assert chat.metadata == {"team": "team"}


def test_scripted_participant_defaults_to_word_chunks_and_passing() -> None:
    chat = build("participants:\n  - kind: scripted\n    name: eve\n    script: [hello]\n")
    eve = chat.participants["eve"]
    assert isinstance(eve, ScriptedAgent)
    assert (eve.chunk, eve.delay, eve.when_done, eve.report_usage) == ("word", 0.0, "pass", False)


def test_each_build_is_a_fresh_chat() -> None:
    spec = parse_spec(DUO)
    first, second = spec.build(), spec.build()
    assert first.chat_id != second.chat_id
    assert first.participants["alice"] is not second.participants["alice"]


async def test_a_built_chat_runs_its_script() -> None:
    chat = build(DUO + "termination:\n  max_messages: 4\n")
    result = await chat.run("go")
    assert result.status == "completed"
    assert speakers(chat) == ["alice", "bob", "alice", "bob"]
    assert [m.content for m in chat.messages][:2] == ["go", "alice speaks"]


# ---------------------------------------------------------------------------------------- policies


@pytest.mark.parametrize("policy", ["policy: round_robin\n", "policy:\n  kind: round_robin\n"])
def test_round_robin_policy_long_and_short_form(policy: str) -> None:
    assert type(build(TEAM + policy).policy) is RoundRobinPolicy


def test_string_shorthand_works_for_any_kind_with_its_defaults() -> None:
    policy = build(TEAM + "policy: mention\n").policy
    assert isinstance(policy, MentionPolicy)
    assert type(policy.fallback) is RoundRobinPolicy


def test_random_policy_with_seed() -> None:
    policy = build(TEAM + "policy:\n  kind: random\n  seed: 7\n  allow_repeat: false\n").policy
    assert isinstance(policy, RandomPolicy)
    assert (policy.seed, policy.allow_repeat) == (7, False)


async def test_random_policy_with_the_same_seed_repeats_the_same_run() -> None:
    text = DUO + "policy:\n  kind: random\n  seed: 11\ntermination:\n  max_messages: 10\n"
    runs: list[list[str]] = []
    for _ in range(2):
        chat = build(text)
        await chat.run("go")
        runs.append(speakers(chat))
    assert runs[0] == runs[1]
    assert len(runs[0]) == 10


def test_manual_policy_with_nested_fallback() -> None:
    chat = build(
        TEAM
        + "policy:\n"
        + "  kind: manual\n"
        + "  human: carol\n"
        + "  timeout: 5\n"
        + "  max_attempts: 2\n"
        + "  fallback:\n"
        + "    kind: random\n"
        + "    seed: 3\n"
        + "    exclude_last_speaker: true\n"
    )
    policy = chat.policy
    assert isinstance(policy, ManualPolicy)
    assert (policy.human, policy.timeout, policy.max_attempts) == ("carol", 5, 2)
    fallback = unwrap(policy.fallback)
    assert isinstance(fallback, RandomPolicy) and fallback.seed == 3


def test_manual_policy_defaults() -> None:
    policy = build(TEAM + "policy: manual\n").policy
    assert isinstance(policy, ManualPolicy)
    assert (policy.human, policy.timeout, policy.max_attempts) == (None, None, 3)
    assert type(policy.fallback) is RoundRobinPolicy


def test_mention_policy_with_a_graph_fallback_nested_two_deep() -> None:
    policy = build(
        TEAM
        + "policy:\n"
        + "  kind: mention\n"
        + "  fallback:\n"
        + "    kind: graph\n"
        + "    edges: {alice: [bob], bob: [alice, carol]}\n"
        + "    then:\n"
        + "      kind: random\n"
        + "      seed: 5\n"
    ).policy
    assert isinstance(policy, MentionPolicy)
    graph = policy.fallback
    assert isinstance(graph, TransitionGraphPolicy)
    assert graph.edges == {"alice": ("bob",), "bob": ("alice", "carol")}
    assert isinstance(graph.then, RandomPolicy) and graph.then.seed == 5


def test_graph_policy_fields() -> None:
    policy = build(
        TEAM
        + "policy:\n"
        + "  kind: graph\n"
        + "  mode: disallowed\n"
        + "  start: [alice, bob]\n"
        + "  edges:\n"
        + "    alice: [alice]\n"
        + "    bob: [bob, carol]\n"
    ).policy
    assert isinstance(policy, TransitionGraphPolicy)
    assert policy.mode == "disallowed"
    assert policy.start == ("alice", "bob")
    assert policy.edges == {"alice": ("alice",), "bob": ("bob", "carol")}
    assert type(policy.then) is RoundRobinPolicy


def test_graph_policy_single_start() -> None:
    policy = build(TEAM + "policy:\n  kind: graph\n  start: bob\n  edges: {bob: [alice]}\n").policy
    assert isinstance(policy, TransitionGraphPolicy)
    assert policy.start == ("bob",)
    assert policy.mode == "allowed"


async def test_graph_policy_from_a_spec_drives_the_turn_order() -> None:
    chat = build(
        DUO
        + "  - kind: scripted\n"
        + "    name: dave\n"
        + "    script: [dave speaks]\n"
        + "    when_done: cycle\n"
        + "policy:\n"
        + "  kind: graph\n"
        + "  start: dave\n"
        + "  edges: {dave: [bob], bob: [alice], alice: [dave]}\n"
        + "termination:\n"
        + "  max_messages: 6\n"
    )
    await chat.run("go")
    assert speakers(chat) == ["dave", "bob", "alice", "dave", "bob", "alice"]


def test_exclude_last_speaker_wraps_the_top_level_policy() -> None:
    chat = build(TEAM + "policy:\n  kind: round_robin\n  exclude_last_speaker: true\n")
    assert type(unwrap(chat.policy)) is RoundRobinPolicy
    assert chat.policy.describe() == "round_robin (filtered by exclude_last_speaker)"


def test_exclude_last_speaker_false_does_not_wrap() -> None:
    chat = build(TEAM + "policy:\n  kind: mention\n  exclude_last_speaker: false\n")
    assert isinstance(chat.policy, MentionPolicy)


async def test_exclude_last_speaker_means_nobody_speaks_twice_in_a_row() -> None:
    chat = build(
        DUO
        + "policy:\n  kind: random\n  seed: 0\n  exclude_last_speaker: true\n"
        + "termination:\n  max_messages: 12\n"
    )
    await chat.run("go")
    said = speakers(chat)
    assert len(said) == 12
    assert all(a != b for a, b in pairwise(said))


HELPER_SOURCE = """\
from groupchat.policies import Selection


def always_bob(view, candidates):
    return ("bob", "bob always speaks")


class Picker:
    @staticmethod
    def last(view, candidates):
        return Selection(candidates[-1], "the last candidate")


NOT_CALLABLE = 42
"""


@pytest.fixture
def helper_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a fresh importable module defining selection functions."""
    name = f"spec_helper_{uuid.uuid4().hex[:10]}"
    (tmp_path / "mods").mkdir()
    write(tmp_path / "mods", f"{name}.py", HELPER_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    yield name
    sys.modules.pop(name, None)


async def test_function_policy_imports_and_uses_the_named_callable(helper_module: str) -> None:
    chat = build(
        DUO
        + "policy:\n"
        + "  kind: function\n"
        + f"  function: {helper_module}:always_bob\n"
        + "termination:\n  max_messages: 3\n"
    )
    policy = chat.policy
    assert isinstance(policy, FunctionPolicy)
    assert policy.fn is importlib.import_module(helper_module).always_bob
    assert policy.name == "always_bob"

    await chat.run("go")
    assert speakers(chat) == ["bob", "bob", "bob"]
    reasons = {e.reason for e in chat.events() if isinstance(e, SpeakerSelected)}
    assert reasons == {"bob always speaks"}


async def test_function_policy_may_name_an_attribute_path(helper_module: str) -> None:
    chat = build(
        DUO
        + f"policy:\n  kind: function\n  function: {helper_module}:Picker.last\n"
        + "termination:\n  max_messages: 2\n"
    )
    assert isinstance(chat.policy, FunctionPolicy)
    assert chat.policy.name == "Picker.last"
    await chat.run("go")
    assert speakers(chat) == ["bob", "bob"]


def test_function_policy_spec_validates_without_importing(helper_module: str) -> None:
    spec = parse_spec(DUO + "policy:\n  kind: function\n  function: no_such_module_xyz:pick\n")
    with pytest.raises(SpecError) as info:
        spec.build()
    assert "policy.function" in str(info.value)
    assert "no_such_module_xyz:pick" in str(info.value)


@pytest.mark.parametrize("attr", ["missing_attr", "NOT_CALLABLE"])
def test_function_policy_that_is_not_a_callable_fails_to_build(
    helper_module: str, attr: str
) -> None:
    spec = parse_spec(DUO + f"policy:\n  kind: function\n  function: {helper_module}:{attr}\n")
    with pytest.raises(SpecError) as info:
        spec.build()
    assert "policy.function" in str(info.value)
    assert f"{helper_module}:{attr}" in str(info.value)


# ------------------------------------------------------------------------------------- termination


def termination_of(block: str) -> Termination | None:
    return build(DUO + "termination:\n" + block).termination


def test_max_messages_condition() -> None:
    cond = termination_of("  max_messages: 4\n")
    assert isinstance(cond, MaxMessages) and cond.n == 4


def test_text_mention_shorthand() -> None:
    cond = termination_of("  text_mention: DONE\n")
    assert isinstance(cond, TextMention)
    assert (cond.text, cond.sources, cond.case_sensitive) == ("DONE", None, True)


def test_text_mention_in_full() -> None:
    cond = termination_of(
        "  text_mention:\n    text: done\n    sources: [bob]\n    case_sensitive: false\n"
    )
    assert isinstance(cond, TextMention)
    assert (cond.text, cond.sources, cond.case_sensitive) == ("done", frozenset({"bob"}), False)


@pytest.mark.parametrize("value", ["bob", "[bob]"])
def test_source_match_one_name_or_a_list(value: str) -> None:
    cond = termination_of(f"  source_match: {value}\n")
    assert isinstance(cond, SourceMatch) and cond.sources == frozenset({"bob"})


def test_timeout_condition() -> None:
    cond = termination_of("  timeout: 2.5\n")
    assert isinstance(cond, Timeout) and cond.seconds == 2.5


def test_token_budget_condition() -> None:
    cond = termination_of("  token_budget: 100\n")
    assert isinstance(cond, TokenBudget) and cond.max_tokens == 100


@pytest.mark.parametrize(("mode", "combined"), [("any", AnyOf), ("all", AllOf), (None, AnyOf)])
def test_several_conditions_combine_by_mode(mode: str | None, combined: type[Termination]) -> None:
    cond = termination_of(
        "  max_messages: 3\n"
        + "  text_mention: X\n"
        + "  source_match: [alice]\n"
        + "  timeout: 60\n"
        + "  token_budget: 1000\n"
        + (f"  mode: {mode}\n" if mode else "")
    )
    assert type(cond) is combined
    assert isinstance(cond, AnyOf | AllOf)
    assert [type(c) for c in cond.conditions] == [
        MaxMessages,
        TextMention,
        SourceMatch,
        Timeout,
        TokenBudget,
    ]


def test_one_condition_with_mode_all_is_just_that_condition() -> None:
    assert isinstance(termination_of("  max_messages: 2\n  mode: all\n"), MaxMessages)


@pytest.mark.parametrize("block", ["", "termination: {}\n", "termination:\n  mode: all\n"])
def test_no_conditions_means_no_termination(block: str) -> None:
    assert build(DUO + block).termination is None


async def test_case_insensitive_text_mention_from_a_spec_ends_the_chat() -> None:
    chat = build(
        "participants:\n"
        + "  - kind: scripted\n"
        + "    name: alice\n"
        + "    script: [hello, we are fin now, more]\n"
        + "termination:\n"
        + "  text_mention: {text: FIN, case_sensitive: false}\n"
        + "  max_messages: 10\n"
    )
    result = await chat.run("go")
    assert result.status == "completed"
    assert result.reason == "alice said 'FIN'"
    assert [m.content for m in chat.messages] == ["go", "hello", "we are fin now"]


async def test_mode_all_waits_for_every_condition() -> None:
    chat = build(DUO + "termination:\n  max_messages: 2\n  source_match: bob\n  mode: all\n")
    result = await chat.run("go")
    assert result.status == "completed"
    assert speakers(chat) == ["alice", "bob"]
    chat = build(DUO + "termination:\n  max_messages: 3\n  source_match: bob\n  mode: all\n")
    await chat.run("go")
    assert speakers(chat) == ["alice", "bob", "alice"]


async def test_max_turns_from_the_spec_caps_a_run() -> None:
    chat = build(DUO + "max_turns: 3\n")
    result = await chat.run("go")
    assert result.status == "max_turns"
    assert speakers(chat) == ["alice", "bob", "alice"]


# ---------------------------------------------------------------------------------- loading errors


def test_missing_file(tmp_path: Path) -> None:
    message = spec_error(tmp_path / "absent.yaml")
    assert "no such file" in message


@pytest.mark.parametrize("filename", ["team.txt", "team.yaml.bak", "team"])
def test_unknown_suffix(tmp_path: Path, filename: str) -> None:
    message = spec_error(write(tmp_path, filename, TEAM))
    assert "unknown spec format" in message
    assert ".yaml" in message and ".toml" in message and ".json" in message


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    assert load_spec(write(tmp_path, "TEAM.YAML", TEAM)).humans() == ["carol"]


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    text = "name: t\nparticipants:\n  - kind: scripted\n   name: alice\n"
    message = spec_error(write(tmp_path, "bad.yaml", text))
    assert "invalid YAML" in message
    assert "line 4, column 4" in message


def test_invalid_yaml_in_a_flow_sequence(tmp_path: Path) -> None:
    text = "name: t\nparticipants: [\n  - x: : y\n"
    message = spec_error(write(tmp_path, "bad.yaml", text))
    assert "invalid YAML" in message
    assert "line 3, column 3" in message


def test_invalid_toml(tmp_path: Path) -> None:
    message = spec_error(write(tmp_path, "bad.toml", 'name = "t"\nparticipants = [\n'))
    assert "invalid TOML" in message


def test_invalid_toml_names_its_line(tmp_path: Path) -> None:
    message = spec_error(write(tmp_path, "bad.toml", 'name = "t"\nname = "u"\n'))
    assert "invalid TOML" in message
    assert "line 2" in message


def test_invalid_json_names_its_line(tmp_path: Path) -> None:
    message = spec_error(write(tmp_path, "bad.json", '{"name": "t",\n "participants": [}\n'))
    assert "invalid JSON" in message
    assert "line 2" in message


@pytest.mark.parametrize(
    ("filename", "text"),
    [
        ("list.yaml", "- kind: human\n  name: a\n"),
        ("scalar.yaml", "just a string\n"),
        ("list.json", '[{"kind": "human", "name": "a"}]'),
        ("null.json", "null"),
    ],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, filename: str, text: str) -> None:
    message = spec_error(write(tmp_path, filename, text))
    assert "must be a mapping at the top level" in message


def test_missing_required_participants(tmp_path: Path) -> None:
    text = "# a team\nname: lonely\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert "participants" in message
    assert "Field required" in message


def test_empty_participant_list(tmp_path: Path) -> None:
    text = "name: t\nparticipants: []\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"participants (line {line_of(text, 'participants')})" in message
    assert "at least 1" in message


def test_missing_required_field_of_a_participant(tmp_path: Path) -> None:
    text = "name: t\nparticipants:\n  - kind: scripted\n    name: alice\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"participants[0].script (line {line_of(text, '- kind')})" in message
    assert "Field required" in message


def test_unknown_top_level_field(tmp_path: Path) -> None:
    text = TEAM + "colour: red\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"colour (line {line_of(text, 'colour')}): unknown field" in message


def test_unknown_field_in_a_participant(tmp_path: Path) -> None:
    text = TEAM.replace("    name: bob\n", "    name: bob\n    mood: grumpy\n")
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"participants[1].mood (line {line_of(text, 'mood')}): unknown field" in message


def test_unknown_field_in_a_nested_policy(tmp_path: Path) -> None:
    text = TEAM + "policy:\n  kind: mention\n  fallback:\n    kind: round_robin\n    seed: 4\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"policy.fallback.seed (line {line_of(text, 'seed')}): unknown field" in message


def test_unknown_participant_kind_lists_the_kinds(tmp_path: Path) -> None:
    text = TEAM.replace("  - kind: human\n", "  - kind: robot\n")
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"participants[2] (line {line_of(text, 'robot')})" in message
    assert "unknown kind 'robot'" in message
    assert "'scripted'" in message and "'human'" in message


def test_unknown_policy_kind_lists_the_kinds(tmp_path: Path) -> None:
    text = TEAM + "policy: telepathy\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"policy (line {line_of(text, 'policy')})" in message
    assert "unknown kind 'telepathy'" in message
    kinds = ("round_robin", "random", "manual", "mention", "graph", "function", "llm_selector")
    for kind in (*kinds, "handoff"):
        assert f"'{kind}'" in message


def test_negative_delay(tmp_path: Path) -> None:
    text = DUO.replace("    name: bob\n", "    name: bob\n    delay: -1\n")
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"participants[1].delay (line {line_of(text, 'delay')})" in message
    assert "greater than or equal to 0" in message


def test_max_messages_zero(tmp_path: Path) -> None:
    text = DUO + "termination:\n  text_mention: DONE\n  max_messages: 0\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"termination.max_messages (line {line_of(text, 'max_messages')})" in message
    assert "greater than or equal to 1" in message


def test_every_error_is_reported_with_its_own_line(tmp_path: Path) -> None:
    text = DUO.replace("    name: bob\n", "    name: bob\n    delay: -1\n") + "max_turns: 0\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    lines = message.splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{tmp_path / 'team.yaml'}: ") for line in lines)
    assert f"participants[1].delay (line {line_of(text, 'delay')})" in lines[0]
    assert f"max_turns (line {line_of(text, 'max_turns')})" in lines[1]


def test_bad_literal_values(tmp_path: Path) -> None:
    text = DUO + "on_error: explode\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"on_error (line {line_of(text, 'on_error')})" in message
    assert "'end' or 'continue'" in message


def test_duplicate_participant_names(tmp_path: Path) -> None:
    text = DUO.replace("name: bob", "name: alice")
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"participants (line {line_of(text, 'participants')})" in message
    assert "duplicate participant name 'alice'" in message


def test_duplicate_participant_names_ignore_case(tmp_path: Path) -> None:
    text = DUO.replace("name: bob", "name: Alice")
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert "participants" in message
    assert "duplicate participant name" in message


@pytest.mark.parametrize(
    ("name", "problem"),
    [("'al ice'", "invalid participant name"), ("9lives", "invalid participant name")],
)
def test_invalid_participant_name(tmp_path: Path, name: str, problem: str) -> None:
    text = DUO.replace("name: bob", f"name: {name}")
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"participants[1].name (line {line_of(text, name)})" in message
    assert problem in message


def test_reserved_participant_name(tmp_path: Path) -> None:
    text = DUO.replace("name: bob", "name: manager")
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"participants[1].name (line {line_of(text, 'manager')})" in message
    assert "reserved" in message


def test_graph_naming_unknown_participants(tmp_path: Path) -> None:
    text = TEAM + "policy:\n  kind: graph\n  edges:\n    alice: [zoe]\n    yann: [bob]\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"policy (line {line_of(text, 'policy')})" in message
    assert "unknown participants: yann, zoe" in message


def test_graph_start_naming_an_unknown_participant(tmp_path: Path) -> None:
    text = TEAM + "policy:\n  kind: graph\n  start: zoe\n  edges: {alice: [bob]}\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"policy (line {line_of(text, 'policy')})" in message
    assert "zoe" in message


def test_unknown_name_inside_a_nested_policy(tmp_path: Path) -> None:
    text = (
        TEAM + "policy:\n  kind: mention\n  fallback:\n    kind: graph\n    edges: {alice: [zoe]}\n"
    )
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"policy (line {line_of(text, 'policy')})" in message
    assert "zoe" in message


def test_manual_policy_naming_an_unknown_human(tmp_path: Path) -> None:
    text = TEAM + "policy:\n  kind: manual\n  human: zoe\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"policy (line {line_of(text, 'policy')})" in message
    assert "'zoe' is not a participant" in message


def test_manual_policy_naming_a_participant_who_is_not_human(tmp_path: Path) -> None:
    text = TEAM + "policy:\n  kind: manual\n  human: alice\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert "policy" in message
    assert "alice" in message


def test_on_timeout_default_needs_a_default_reply(tmp_path: Path) -> None:
    text = TEAM.replace("    name: carol\n", "    name: carol\n    on_timeout: default\n")
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"participants[2] (line {line_of(text, 'kind: human')})" in message
    assert "default_reply" in message


def test_errors_in_toml_name_the_field(tmp_path: Path) -> None:
    text = FULL_TOML.replace("delay = 0.5", "delay = -0.5")
    message = spec_error(write(tmp_path, "team.toml", text))
    assert "participants[0].delay" in message


def test_errors_in_json_name_the_field(tmp_path: Path) -> None:
    data = json.loads(json.dumps(FULL_DATA))
    data["termination"]["max_messages"] = 0
    message = spec_error(write(tmp_path, "team.json", json.dumps(data)))
    assert "termination.max_messages" in message


# --------------------------------------------------------------- TOML and JSON errors: the line


def test_toml_errors_name_the_line_of_a_top_level_key(tmp_path: Path) -> None:
    text = FULL_TOML.replace("max_turns = 9", "max_turns = 0")
    message = spec_error(write(tmp_path, "team.toml", text))
    assert message == f"{tmp_path / 'team.toml'}: max_turns (line 5): " + (
        "Input should be greater than or equal to 1"
    )


def test_toml_errors_name_the_line_in_a_table_and_a_nested_table(tmp_path: Path) -> None:
    text = FULL_TOML.replace('kind = "round_robin"', 'kind = "round_robin"\nseed = 4').replace(
        "max_messages = 5", "max_messages = 0"
    )
    lines = spec_error(write(tmp_path, "team.toml", text)).splitlines()
    assert lines[0].endswith(f"policy.fallback.seed (line {line_of(text, 'seed')}): unknown field")
    assert f"termination.max_messages (line {line_of(text, 'max_messages')}): " in lines[1]
    assert line_of(text, "seed") == 38


def test_toml_errors_name_the_line_in_an_array_of_tables(tmp_path: Path) -> None:
    text = FULL_TOML.replace('when_done = "end"', 'when_done = "end"\ndelay = -1')
    message = spec_error(write(tmp_path, "team.toml", text))
    assert f"participants[1].delay (line {line_of(text, 'delay = -1')}): " in message
    assert line_of(text, "delay = -1") == 24


def test_toml_a_missing_field_names_its_tables_header(tmp_path: Path) -> None:
    text = FULL_TOML.replace('script = ["bob speaks"]\n', "")
    message = spec_error(write(tmp_path, "team.toml", text))
    assert message.endswith("participants[1].script (line 18): Field required")
    assert text.splitlines()[17] == "[[participants]]"


def test_toml_errors_in_inline_arrays_and_tables(tmp_path: Path) -> None:
    text = (
        'name = "t"\n'
        "participants = [\n"
        '  {kind = "scripted", name = "a", script = ["x"]},\n'
        "  # a comment, and a string that looks like a table header:\n"
        '  {kind = "scripted", name = "b", script = ["""\n[policy]\nx""", "y"], delay = -1},\n'
        '  {kind = "robot", name = "c"},\n'
        "]\n"
        'policy = {kind = "mention", fallback = {kind = "round_robin", "seed" = 1}}\n'
    )
    lines = spec_error(write(tmp_path, "team.toml", text)).splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "participants[1].delay (line 7): Input should be greater than or equal to 0",
        "participants[2] (line 8): unknown kind 'robot'; expected one of 'scripted', 'human', "
        "'llm'",
        "policy.fallback.seed (line 10): unknown field",
    ]


def test_toml_syntax_errors_name_line_and_column(tmp_path: Path) -> None:
    message = spec_error(write(tmp_path, "bad.toml", 'name = "t"\ntask = \n'))
    assert message == f"{tmp_path / 'bad.toml'}: line 2, column 8: invalid TOML: Invalid value"
    message = spec_error(write(tmp_path, "open.toml", 'name = "t"\nparticipants = [\n'))
    assert message.endswith(": line 3: invalid TOML: Invalid value at the end of the file")


def test_json_errors_name_the_line_of_a_top_level_key(tmp_path: Path) -> None:
    data = {**FULL_DATA, "max_turns": 0}
    text = json.dumps(data, indent=2)
    message = spec_error(write(tmp_path, "team.json", text))
    assert (
        message
        == f"{tmp_path / 'team.json'}: max_turns (line {line_of(text, 'max_turns')}): "
        + ("Input should be greater than or equal to 1")
    )


def test_json_errors_name_the_line_in_nested_objects_and_list_items(tmp_path: Path) -> None:
    text = """\
{"name": "t",
 "participants": [
   {"kind": "scripted", "name": "a", "script": ["x"]},
   {"kind": "scripted",
    "name": "b",
    "script": ["{\\"delay\\": 1, [", "y"],
    "delay": -1},
   {"kind": "scripted", "name": "c"}
 ],
 "policy": {"kind": "mention",
            "fallback": {"kind": "round_robin",
                         "seed": 4}}}
"""
    lines = spec_error(write(tmp_path, "team.json", text)).splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == [
        "participants[1].delay (line 7): Input should be greater than or equal to 0",
        "participants[2].script (line 8): Field required",
        "policy.fallback.seed (line 12): unknown field",
    ]


def test_json_a_repeated_key_is_placed_where_its_last_value_is(tmp_path: Path) -> None:
    text = '{"max_turns": 1,\n "participants": [{"kind": "human", "name": "a"}],\n "max_turns": 0}'
    message = spec_error(write(tmp_path, "team.json", text))
    assert message.endswith(": max_turns (line 3): Input should be greater than or equal to 1")


def test_json_syntax_errors_name_line_and_column(tmp_path: Path) -> None:
    message = spec_error(write(tmp_path, "bad.json", '{"name": "t",\n "task": }\n'))
    assert message == f"{tmp_path / 'bad.json'}: line 2, column 10: invalid JSON: Expecting value"


def test_parse_spec_names_its_source() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec("participants: []\n", source="inline")
    assert str(info.value).startswith("inline: participants")
    with pytest.raises(SpecError) as info:
        parse_spec('{"participants": 1}', format="json")
    assert str(info.value).startswith("<spec>: participants")


def test_empty_text_mention_is_a_spec_error(tmp_path: Path) -> None:
    text = DUO + "termination:\n  text_mention: ''\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"termination.text_mention (line {line_of(text, 'text_mention')})" in message


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ("  kind: function\n  function: not-a-path\n", "function"),
        ("  kind: manual\n  human: 5\n", "human"),
    ],
    ids=["function", "human"],
)
def test_error_path_keeps_fields_named_like_a_kind(tmp_path: Path, policy: str, field: str) -> None:
    text = TEAM + "policy:\n" + policy
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"policy.{field} (line {line_of(text, f'  {field}:')})" in message


def test_line_of_an_error_in_a_function_policy(tmp_path: Path) -> None:
    text = TEAM + "policy:\n  kind: function\n  function: a:b\n  exclude_last_speaker: maybe\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    line = line_of(text, "exclude_last_speaker")
    assert f"policy.exclude_last_speaker (line {line})" in message


def test_error_path_of_a_union_field_has_no_branch_labels(tmp_path: Path) -> None:
    text = DUO.replace("    name: bob\n", "    name: bob\n    chunk: 0\n")
    message = spec_error(write(tmp_path, "team.yaml", text))
    assert f"participants[1].chunk (line {line_of(text, 'chunk')})" in message
    assert "constrained-int" not in message
    assert "literal[" not in message


# ---------------------------------------------------------------------------------------- examples


def test_there_are_examples() -> None:
    assert {p.suffix for p in EXAMPLES} >= {".yaml", ".toml"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads_and_builds(path: Path) -> None:
    spec = load_spec(path)
    assert isinstance(spec, TeamSpec)
    assert spec.task
    chat = spec.build()
    assert list(chat.participants) == [p.name for p in spec.participants]
    assert chat.termination is not None
    chat.policy.validate(list(chat.participants))


SAFETY_TURNS = 300
"""A cap on turns for running examples in-process, so a chat that never ends fails fast."""


@pytest.mark.parametrize(
    "path",
    EXAMPLES,
    ids=lambda p: p.name,
)
async def test_example_runs_to_completion_headless(path: Path) -> None:
    spec = load_spec(path)
    if any(p.kind == "llm" for p in spec.participants) or spec.manager is not None:
        pytest.skip("needs a model; tests/test_llm_spec.py and tests/test_magentic_spec.py run it")
    chat = spec.build()
    capped = chat.max_turns is None
    if capped:
        chat.max_turns = SAFETY_TURNS
    out, err = io.StringIO(), io.StringIO()
    result = await run_headless(chat, spec.task, stdin=io.StringIO(""), stdout=out, stderr=err)
    assert not (capped and result.status == "max_turns"), f"did not end: {result.reason}"
    assert result.status in ("completed", "max_turns"), result.reason

    lines = out.getvalue().splitlines()
    assert lines[0] == f"task: {spec.task}"
    posted = [e for e in chat.events() if isinstance(e, MessagePosted)]
    assert len(lines) == len(posted)
    assert err.getvalue() == f"chat ended ({result.status}): {result.reason}\n"


@pytest.mark.parametrize("format", ["yaml", "toml", "json"])
@pytest.mark.parametrize("text", ["", "\n  \n"])
def test_an_empty_spec_is_called_empty(text: str, format: Literal["yaml", "toml", "json"]) -> None:
    with pytest.raises(SpecError, match=r"^team\.x: the spec is empty; a team spec needs"):
        parse_spec(text, source="team.x", format=format)
