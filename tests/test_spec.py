"""Behaviour of team specs: loading YAML, TOML and JSON, building chats, and locating mistakes."""

from __future__ import annotations

import importlib
import io
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Mistake:
    """A spec file with a mistake, and what its error must say.

    ``field`` is the field the error names; with ``at``, it is followed by ``(line N)``, N the
    first line of ``text`` holding ``at``, and then directly by ``then``. ``says`` are texts the
    message holds anywhere, ``lacks`` texts it must not hold.
    """

    text: str
    field: str | None = None
    at: str | None = None
    then: str = ""
    says: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()
    filename: str = "team.yaml"


def _full_json(**termination: object) -> str:
    """The full team as JSON on one line, with ``termination`` changed."""
    data = json.loads(json.dumps(FULL_DATA))
    data["termination"].update(termination)
    return json.dumps(data)


POLICY_KINDS = ("round_robin", "random", "manual", "mention", "graph", "function", "llm_selector")

MISTAKES = [
    # the file cannot be read as its format
    pytest.param(
        Mistake(
            "name: t\nparticipants:\n  - kind: scripted\n   name: alice\n",
            says=("invalid YAML", "line 4, column 4"),
            filename="bad.yaml",
        ),
        id="yaml-syntax-names-line-and-column",
    ),
    pytest.param(
        Mistake(
            "name: t\nparticipants: [\n  - x: : y\n",
            says=("invalid YAML", "line 3, column 3"),
            filename="bad.yaml",
        ),
        id="yaml-syntax-in-a-flow-sequence",
    ),
    pytest.param(
        Mistake('name = "t"\nparticipants = [\n', says=("invalid TOML",), filename="bad.toml"),
        id="toml-syntax",
    ),
    pytest.param(
        Mistake('name = "t"\nname = "u"\n', says=("invalid TOML", "line 2"), filename="bad.toml"),
        id="toml-syntax-names-its-line",
    ),
    pytest.param(
        Mistake(
            '{"name": "t",\n "participants": [}\n',
            says=("invalid JSON", "line 2"),
            filename="bad.json",
        ),
        id="json-syntax-names-its-line",
    ),
    *(
        pytest.param(
            Mistake(text, says=("must be a mapping at the top level",), filename=filename),
            id=f"top-level-not-a-mapping-{filename}",
        )
        for filename, text in [
            ("list.yaml", "- kind: human\n  name: a\n"),
            ("scalar.yaml", "just a string\n"),
            ("list.json", '[{"kind": "human", "name": "a"}]'),
            ("null.json", "null"),
        ]
    ),
    # fields missing, empty or unknown
    pytest.param(
        Mistake("# a team\nname: lonely\n", "participants", says=("Field required",)),
        id="participants-missing",
    ),
    pytest.param(
        Mistake(
            "name: t\nparticipants: []\n", "participants", "participants", says=("at least 1",)
        ),
        id="participants-empty",
    ),
    pytest.param(
        Mistake(
            "name: t\nparticipants:\n  - kind: scripted\n    name: alice\n",
            "participants[0].script",
            "- kind",
            says=("Field required",),
        ),
        id="participant-field-missing",
    ),
    pytest.param(
        Mistake(TEAM + "colour: red\n", "colour", "colour", ": unknown field"),
        id="unknown-top-level-field",
    ),
    pytest.param(
        Mistake(
            TEAM.replace("    name: bob\n", "    name: bob\n    mood: grumpy\n"),
            "participants[1].mood",
            "mood",
            ": unknown field",
        ),
        id="unknown-field-in-a-participant",
    ),
    pytest.param(
        Mistake(
            TEAM + "policy:\n  kind: mention\n  fallback:\n    kind: round_robin\n    seed: 4\n",
            "policy.fallback.seed",
            "seed",
            ": unknown field",
        ),
        id="unknown-field-in-a-nested-policy",
    ),
    pytest.param(
        Mistake(
            TEAM.replace("  - kind: human\n", "  - kind: robot\n"),
            "participants[2]",
            "robot",
            says=("unknown kind 'robot'", "'scripted'", "'human'"),
        ),
        id="unknown-participant-kind-lists-the-kinds",
    ),
    pytest.param(
        Mistake(
            TEAM + "policy: telepathy\n",
            "policy",
            "policy",
            says=("unknown kind 'telepathy'", *(f"'{k}'" for k in (*POLICY_KINDS, "handoff"))),
        ),
        id="unknown-policy-kind-lists-the-kinds",
    ),
    # values out of range or of the wrong kind
    pytest.param(
        Mistake(
            DUO.replace("    name: bob\n", "    name: bob\n    delay: -1\n"),
            "participants[1].delay",
            "delay",
            says=("greater than or equal to 0",),
        ),
        id="negative-delay",
    ),
    pytest.param(
        Mistake(
            DUO + "termination:\n  text_mention: DONE\n  max_messages: 0\n",
            "termination.max_messages",
            "max_messages",
            says=("greater than or equal to 1",),
        ),
        id="max-messages-zero",
    ),
    pytest.param(
        Mistake(DUO + "on_error: explode\n", "on_error", "on_error", says=("'end' or 'continue'",)),
        id="bad-literal-value",
    ),
    pytest.param(
        Mistake(
            DUO + "termination:\n  text_mention: ''\n", "termination.text_mention", "text_mention"
        ),
        id="empty-text-mention",
    ),
    pytest.param(
        Mistake(
            DUO.replace("    name: bob\n", "    name: bob\n    chunk: 0\n"),
            "participants[1].chunk",
            "chunk",
            lacks=("constrained-int", "literal["),
        ),
        id="union-field-path-has-no-branch-labels",
    ),
    # names: repeated, malformed, reserved
    pytest.param(
        Mistake(
            DUO.replace("name: bob", "name: alice"),
            "participants",
            "participants",
            says=("duplicate participant name 'alice'",),
        ),
        id="duplicate-participant-names",
    ),
    pytest.param(
        Mistake(
            DUO.replace("name: bob", "name: Alice"),
            "participants",
            says=("duplicate participant name",),
        ),
        id="duplicate-participant-names-ignore-case",
    ),
    *(
        pytest.param(
            Mistake(
                DUO.replace("name: bob", f"name: {name}"),
                "participants[1].name",
                name,
                says=("invalid participant name",),
            ),
            id=f"invalid-participant-name-{name}",
        )
        for name in ("'al ice'", "9lives")
    ),
    pytest.param(
        Mistake(
            DUO.replace("name: bob", "name: manager"),
            "participants[1].name",
            "manager",
            says=("reserved",),
        ),
        id="reserved-participant-name",
    ),
    # policies naming people who are not there
    pytest.param(
        Mistake(
            TEAM + "policy:\n  kind: graph\n  edges:\n    alice: [zoe]\n    yann: [bob]\n",
            "policy",
            "policy",
            says=("unknown participants: yann, zoe",),
        ),
        id="graph-names-unknown-participants",
    ),
    pytest.param(
        Mistake(
            TEAM + "policy:\n  kind: graph\n  start: zoe\n  edges: {alice: [bob]}\n",
            "policy",
            "policy",
            says=("zoe",),
        ),
        id="graph-start-names-an-unknown-participant",
    ),
    pytest.param(
        Mistake(
            TEAM
            + "policy:\n  kind: mention\n  fallback:\n    kind: graph\n    edges: {alice: [zoe]}\n",
            "policy",
            "policy",
            says=("zoe",),
        ),
        id="unknown-name-inside-a-nested-policy",
    ),
    pytest.param(
        Mistake(
            TEAM + "policy:\n  kind: manual\n  human: zoe\n",
            "policy",
            "policy",
            says=("'zoe' is not a participant",),
        ),
        id="manual-policy-names-an-unknown-human",
    ),
    pytest.param(
        Mistake(TEAM + "policy:\n  kind: manual\n  human: alice\n", "policy", says=("alice",)),
        id="manual-policy-names-someone-not-human",
    ),
    pytest.param(
        Mistake(
            TEAM.replace("    name: carol\n", "    name: carol\n    on_timeout: default\n"),
            "participants[2]",
            "kind: human",
            says=("default_reply",),
        ),
        id="on-timeout-default-needs-a-default-reply",
    ),
    # fields named like a kind are kept in the path
    *(
        pytest.param(
            Mistake(TEAM + "policy:\n" + policy, f"policy.{field}", f"  {field}:"),
            id=f"path-keeps-a-field-named-{field}",
        )
        for policy, field in [
            ("  kind: function\n  function: not-a-path\n", "function"),
            ("  kind: manual\n  human: 5\n", "human"),
        ]
    ),
    pytest.param(
        Mistake(
            TEAM + "policy:\n  kind: function\n  function: a:b\n  exclude_last_speaker: maybe\n",
            "policy.exclude_last_speaker",
            "exclude_last_speaker",
        ),
        id="line-of-an-error-in-a-function-policy",
    ),
    # TOML and JSON name the field too
    pytest.param(
        Mistake(
            FULL_TOML.replace("delay = 0.5", "delay = -0.5"),
            "participants[0].delay",
            filename="team.toml",
        ),
        id="toml-names-the-field",
    ),
    pytest.param(
        Mistake(
            _full_json(max_messages=0),
            "termination.max_messages",
            filename="team.json",
        ),
        id="json-names-the-field",
    ),
]


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_is_reported_with_its_field_and_line(tmp_path: Path, mistake: Mistake) -> None:
    message = spec_error(write(tmp_path, mistake.filename, mistake.text))
    if mistake.field is not None:
        where = mistake.field
        if mistake.at is not None:
            where += f" (line {line_of(mistake.text, mistake.at)})"
        assert where + mistake.then in message, message
    for text in mistake.says:
        assert text in message, message
    for text in mistake.lacks:
        assert text not in message, message


def test_every_error_is_reported_with_its_own_line(tmp_path: Path) -> None:
    text = DUO.replace("    name: bob\n", "    name: bob\n    delay: -1\n") + "max_turns: 0\n"
    message = spec_error(write(tmp_path, "team.yaml", text))
    lines = message.splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{tmp_path / 'team.yaml'}: ") for line in lines)
    assert f"participants[1].delay (line {line_of(text, 'delay')})" in lines[0]
    assert f"max_turns (line {line_of(text, 'max_turns')})" in lines[1]


# --------------------------------------------------------------- TOML and JSON errors: the line

JSON_MAX_TURNS_0 = json.dumps({**FULL_DATA, "max_turns": 0}, indent=2)


@pytest.mark.parametrize(
    ("filename", "text", "expected"),
    [
        pytest.param(
            "team.toml",
            FULL_TOML.replace("max_turns = 9", "max_turns = 0"),
            "max_turns (line 5): Input should be greater than or equal to 1",
            id="toml-top-level-key",
        ),
        pytest.param(
            "bad.toml",
            'name = "t"\ntask = \n',
            "line 2, column 8: invalid TOML: Invalid value",
            id="toml-syntax-names-line-and-column",
        ),
        pytest.param(
            "open.toml",
            'name = "t"\nparticipants = [\n',
            "line 3: invalid TOML: Invalid value at the end of the file",
            id="toml-syntax-at-the-end-names-the-line",
        ),
        pytest.param(
            "team.json",
            JSON_MAX_TURNS_0,
            f"max_turns (line {line_of(JSON_MAX_TURNS_0, 'max_turns')}): "
            "Input should be greater than or equal to 1",
            id="json-top-level-key",
        ),
        pytest.param(
            "team.json",
            '{"max_turns": 1,\n'
            ' "participants": [{"kind": "human", "name": "a"}],\n'
            ' "max_turns": 0}',
            "max_turns (line 3): Input should be greater than or equal to 1",
            id="json-repeated-key-placed-at-its-last-value",
        ),
        pytest.param(
            "bad.json",
            '{"name": "t",\n "task": }\n',
            "line 2, column 10: invalid JSON: Expecting value",
            id="json-syntax-names-line-and-column",
        ),
    ],
)
def test_an_error_says_exactly_where_and_what(
    tmp_path: Path, filename: str, text: str, expected: str
) -> None:
    path = write(tmp_path, filename, text)
    assert spec_error(path) == f"{path}: {expected}"


@pytest.mark.parametrize(
    ("filename", "text", "expected"),
    [
        pytest.param(
            "team.toml",
            FULL_TOML.replace('kind = "round_robin"', 'kind = "round_robin"\nseed = 4').replace(
                "max_messages = 5", "max_messages = 0"
            ),
            [
                "policy.fallback.seed (line 38): unknown field",
                "termination.max_messages (line 41): Input should be greater than or equal to 1",
            ],
            id="toml-a-table-and-a-nested-table",
        ),
        pytest.param(
            "team.toml",
            'name = "t"\n'
            "participants = [\n"
            '  {kind = "scripted", name = "a", script = ["x"]},\n'
            "  # a comment, and a string that looks like a table header:\n"
            '  {kind = "scripted", name = "b", script = ["""\n[policy]\nx""", "y"], delay = -1},\n'
            '  {kind = "robot", name = "c"},\n'
            "]\n"
            'policy = {kind = "mention", fallback = {kind = "round_robin", "seed" = 1}}\n',
            [
                "participants[1].delay (line 7): Input should be greater than or equal to 0",
                "participants[2] (line 8): unknown kind 'robot'; expected one of 'scripted', "
                "'human', 'llm'",
                "policy.fallback.seed (line 10): unknown field",
            ],
            id="toml-inline-arrays-and-tables",
        ),
        pytest.param(
            "team.json",
            """\
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
""",
            [
                "participants[1].delay (line 7): Input should be greater than or equal to 0",
                "participants[2].script (line 8): Field required",
                "policy.fallback.seed (line 12): unknown field",
            ],
            id="json-nested-objects-and-list-items",
        ),
    ],
)
def test_each_error_of_a_file_names_its_own_line(
    tmp_path: Path, filename: str, text: str, expected: list[str]
) -> None:
    path = write(tmp_path, filename, text)
    assert spec_error(path).splitlines() == [f"{path}: {line}" for line in expected]


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


def test_parse_spec_names_its_source() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec("participants: []\n", source="inline")
    assert str(info.value).startswith("inline: participants")
    with pytest.raises(SpecError) as info:
        parse_spec('{"participants": 1}', format="json")
    assert str(info.value).startswith("<spec>: participants")


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
