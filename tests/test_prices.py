"""Prices in a team spec: validated with the rest of it, kept with the stored chat, and turned
into the cost that ``groupchat run``/``resume``/``show``, the console, the headless runner and
the terminal app show, marked partial when some tokens have no price."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from chat_completions_server import Answer, ChatCompletionsServer
from rich.console import Console
from tui_support import fixed_clock, until, until_shown

from groupchat.agents import LLMAgent
from groupchat.chat import GroupChat
from groupchat.events import ChatEnded
from groupchat.messages import Usage
from groupchat.models.pricing import Price, PriceTable, models_in, price_key
from groupchat.models.scripted import ScriptedModel, reply
from groupchat.policies import MentionPolicy
from groupchat.selector import LLMSelectorPolicy
from groupchat.spec import SpecError, TeamSpec, load_spec, parse_spec
from groupchat.transcripts.store import SqliteStore, redact_spec
from groupchat.tui.console import run_console
from groupchat.tui.headless import run_headless

ROOT = Path(__file__).resolve().parent.parent
SAFETY = 60.0  # a safety net for a hung process, never a wait

PRICED = """\
name: priced
participants:
  - {kind: llm, name: analyst, model: "openai: gpt-4.1-mini"}
  - {kind: llm, name: local, model: ollama:llama3.2}
  - {kind: llm, name: proxied, model: "https://me:sk-secret-1234@proxy.example/v1#big"}
  - {kind: human, name: you}
policy: {kind: llm_selector, model: openai:gpt-4.1-mini}
prices:                                   # USD per million tokens
  openai:gpt-4.1-mini: {input: 0.40, output: 1.60}
  llama3.2: {input: 0, output: 0}         # the model alone: any provider's llama3.2
  "https://me:sk-secret-1234@proxy.example/v1#big": {input: 2, output: 8}
"""


def spec_error(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return str(info.value)


# ------------------------------------------------------------------------------ in the spec


def test_prices_are_kept_under_the_names_the_models_go_by() -> None:
    spec = parse_spec(PRICED)
    shown = "https://me:***@proxy.example/v1#big"
    assert spec.prices == {
        "openai:gpt-4.1-mini": Price(input=0.4, output=1.6),
        "llama3.2": Price(input=0, output=0),
        shown: Price(input=2, output=8),
    }
    assert "sk-secret" not in json.dumps(spec.model_dump(mode="json")["prices"])
    table = spec.price_table()
    assert table is not None
    assert spec.model_users() == {
        "analyst": "openai:gpt-4.1-mini",
        "local": "ollama:llama3.2",
        "proxied": shown,
        "selector": "openai:gpt-4.1-mini",
    }
    for model in spec.model_users().values():
        assert table.price(model) is not None, model


def test_the_spec_names_models_as_the_built_chat_does() -> None:
    """``show`` prices a stored chat by its spec, a live run by its built chat: they agree."""
    spec = parse_spec(PRICED)
    assert models_in(spec.build()) == spec.model_users()


def test_a_team_without_prices_shows_no_cost() -> None:
    spec = parse_spec(PRICED.split("prices:")[0])
    assert spec.prices == {}
    assert spec.price_table() is None
    assert parse_spec(PRICED.split("prices:")[0] + "prices:\n  # none yet\n").price_table() is None


def test_the_magentic_managers_model_is_priced_as_manager() -> None:
    text = PRICED.replace(
        "policy: {kind: llm_selector, model: openai:gpt-4.1-mini}",
        "manager: {kind: magentic, model: 'ollama:qwen3'}",
    )
    spec = parse_spec(text)
    assert spec.model_users()["manager"] == "ollama:qwen3"
    assert "selector" not in spec.model_users()
    assert models_in(spec.build()) == spec.model_users()


def test_selectors_with_different_models_have_no_single_price() -> None:
    """Every selection call counts under ``selector``: with two models there, no price fits."""
    text = PRICED.replace(
        "policy: {kind: llm_selector, model: openai:gpt-4.1-mini}",
        "policy: {kind: llm_selector, model: openai:gpt-4.1-mini,"
        " fallback: {kind: llm_selector, model: ollama:llama3.2}}",
    )
    spec = parse_spec(text)
    assert "selector" not in spec.model_users()
    assert "selector" not in models_in(spec.build())


def test_models_in_finds_a_selector_wrapped_and_nested() -> None:
    same = ScriptedModel(["a"], name="m")
    chat = GroupChat(
        [LLMAgent("a", ScriptedModel(["x"], name="m1"))],
        policy=MentionPolicy(LLMSelectorPolicy(same, fallback=LLMSelectorPolicy(same))),
    )
    assert models_in(chat) == {"a": "m1", "selector": "m"}


BAD_PRICES = [
    pytest.param("  openai:gpt-4.1-mini: {input: -0.4, output: 1.6}\n", 4,
                 'prices["openai:gpt-4.1-mini"].input',
                 "Input should be greater than or equal to 0", id="negative"),
    pytest.param("  gpt-4o:\n    input: 2.5\n    output: 10\n    cached: 1.25\n", 7,
                 "prices.gpt-4o.cached", "unknown field", id="unknown-field"),
    pytest.param("  gpt-4o: {input: true, output: 10}\n", 4, "prices.gpt-4o.input",
                 "Input should be a valid number", id="a-boolean"),
    pytest.param("  gpt-4o: {input: .inf, output: 10}\n", 4, "prices.gpt-4o.input",
                 "Input should be a finite number", id="infinite"),
    pytest.param("  gpt-4o: {input: '2.5', output: 10}\n", 4, "prices.gpt-4o.input",
                 "Input should be a valid number", id="a-string"),
    pytest.param("  gpt-4o: {input: 2.5}\n", 4, "prices.gpt-4o.output", "Field required",
                 id="output-missing"),
    pytest.param("  gpt-4o: 2.5\n", 4, "prices.gpt-4o", "Input should be a valid dictionary",
                 id="a-number-not-a-table"),
    pytest.param("  'http://gpu:8000/v1': {input: 1, output: 1}\n", 4,
                 'prices["http://gpu:8000/v1"]',
                 "model 'http://gpu:8000/v1': put the model after the URL: http://gpu:8000/v1#MODEL",
                 id="a-url-without-its-model"),
    pytest.param("  'openai:': {input: 1, output: 1}\n", 4, 'prices["openai:"]',
                 "model 'openai:': write", id="a-provider-without-a-model"),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "line", "field", "problem"), BAD_PRICES)
def test_a_bad_price_is_an_error_naming_file_line_and_field(
    tmp_path: Path, entry: str, line: int, field: str, problem: str
) -> None:
    text = (
        "participants: [{kind: human, name: you}]\nprices:\n  ok: {input: 1, output: 1}\n" + entry
    )
    path = tmp_path / "team.yaml"
    path.write_text(text)
    message = spec_error(path)
    assert message.startswith(f"{path}: {field} (line {line}): {problem}"), message


def test_two_spellings_of_one_model_are_an_error(tmp_path: Path) -> None:
    text = (
        "participants: [{kind: human, name: you}]\nprices:\n"
        "  openai:gpt-4o: {input: 1, output: 1}\n  'openai: gpt-4o ': {input: 2, output: 2}\n"
    )
    path = tmp_path / "team.yaml"
    path.write_text(text)
    assert spec_error(path) == (
        f"{path}: prices (line 2): 'openai:gpt-4o' and 'openai: gpt-4o ' are the same model"
    )


PRICES_JSON = {
    "participants": [{"kind": "human", "name": "you"}],
    "prices": {"openai:gpt-4o": {"input": 2.5, "output": 10}, "llama3": {"input": -1}},
}


@pytest.mark.parametrize(
    ("filename", "text", "expected"),
    [
        pytest.param(
            "team.toml",
            '[[participants]]\nkind = "human"\nname = "you"\n\n'
            '[prices."openai:gpt-4o"]\ninput = 2.5\noutput = -10\n\n'
            "[prices]\nllama3 = {input = 0, output = 0, cached = 0}\n",
            [
                'prices["openai:gpt-4o"].output (line 7): '
                "Input should be greater than or equal to 0",
                "prices.llama3.cached (line 10): unknown field",
            ],
            id="toml",
        ),
        pytest.param(
            "team.json",
            json.dumps(PRICES_JSON, indent=2),
            [
                "prices.llama3.input (line 14): Input should be greater than or equal to 0",
                "prices.llama3.output (line 13): Field required",
            ],
            id="json",
        ),
    ],
)
def test_a_bad_price_in_toml_and_json_names_its_line(
    tmp_path: Path, filename: str, text: str, expected: list[str]
) -> None:
    path = tmp_path / filename
    path.write_text(text)
    assert spec_error(path).splitlines() == [f"{path}: {line}" for line in expected]


def test_price_keys_are_normalised_like_client_names() -> None:
    assert price_key(" openai: gpt-4.1 ") == "openai:gpt-4.1"
    assert price_key("http://u:pw@h:1/v1#m") == "http://u:***@h:1/v1#m"
    assert price_key("llama3.2:3b") == "llama3.2:3b"  # an ollama tag, not a provider
    with pytest.raises(ValueError, match="empty"):
        price_key("  ")


# ------------------------------------------------------------------------------ the cost


def test_a_url_models_price_can_be_given_for_the_model_alone() -> None:
    table = PriceTable(prices={"big": Price(input=1, output=1)})
    assert table.price("http://gpu:8000/v1#big") == Price(input=1, output=1)
    assert table.price("ollama:big") == Price(input=1, output=1)
    assert table.price("ollama:small") is None


def test_a_complete_cost() -> None:
    cost = PriceTable(prices={"m": Price(input=1000, output=2000)}).chat_cost(
        {"a": Usage(input_tokens=10, output_tokens=5), "you": Usage()}, {"a": "p:m"}
    )
    assert (cost.total, cost.partial, cost.short(), cost.missing()) == (0.02, False, "$0.0200", "")
    assert cost.describe() == "cost $0.0200"


def test_a_partial_cost_says_what_it_leaves_out() -> None:
    table = PriceTable(prices={"m": Price(input=1000, output=0)})
    usage = Usage(input_tokens=10)
    cost = table.chat_cost(
        {"a": usage, "b": usage, "selector": usage, "bot": usage, "quiet": Usage()},
        {"a": "p:m", "b": "p:x", "selector": "p:x", "quiet": "p:y"},
    )
    assert cost.partial and cost.total == pytest.approx(0.01)
    assert cost.unpriced == ("b", "selector", "bot")
    assert cost.short() == "≥ $0.0100 (partial)"
    assert cost.missing() == "no price for p:x (b, selector); no model known for bot"
    assert cost.describe() == (
        "cost ≥ $0.0100 (partial): no price for p:x (b, selector); no model known for bot"
    )


def test_a_cost_with_no_price_at_all_is_unknown() -> None:
    cost = PriceTable(prices={"m": Price(input=1, output=1)}).chat_cost(
        {"a": Usage(output_tokens=3)}, {"a": "p:x"}
    )
    assert cost.short() == "cost unknown"
    assert cost.describe() == "cost unknown: no price for p:x (a)"


# ------------------------------------------------------------------------------ stored


async def test_the_stored_spec_keeps_its_prices_and_no_secret(tmp_path: Path) -> None:
    spec = parse_spec(PRICED)
    dumped = spec.model_dump(mode="json")
    raw = {
        **dumped,
        "prices": {
            **dumped["prices"],
            "ollama:api-key-bot": {"input": 1, "output": 1},  # a model, however it is named
            "https://u:sk-other-9876@h/v1#m": {"input": 1, "output": 1},
        },
    }
    kept = redact_spec(raw)["prices"]
    assert list(kept) == [*dumped["prices"], "ollama:api-key-bot", "https://u:***@h/v1#m"]
    async with await SqliteStore.open(tmp_path / "chats.db") as store:
        await store.create_chat("c1", title="t", spec=dumped)
        stored = await store.spec("c1")
    assert stored is not None
    assert TeamSpec.model_validate(stored).price_table() == spec.price_table()
    assert "sk-secret" not in (tmp_path / "chats.db").read_bytes().decode("latin-1")


# ------------------------------------------------------------------------------ front-ends

ANSWER = reply("Hi.", usage=Usage(input_tokens=10, output_tokens=5))
TABLE = PriceTable(prices={"p:m": Price(input=1000, output=2000)})


def duo() -> GroupChat:
    """Two agents, each says one line for 15 tokens: ``a`` on a priced model, ``b`` not."""
    return GroupChat(
        [
            LLMAgent("a", ScriptedModel([ANSWER], name="p:m")),
            LLMAgent("b", ScriptedModel([ANSWER], name="p:x")),
        ],
        max_turns=2,
    )


async def test_headless_prints_tokens_and_cost_at_the_end() -> None:
    err = io.StringIO()
    await run_headless(duo(), "go", stdin=io.StringIO(), stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == "chat ended (max_turns): reached 2 turns\n"  # no prices: as it was

    err = io.StringIO()
    both = TABLE.model_copy(update={"prices": {**TABLE.prices, "p:x": Price(input=0, output=0)}})
    await run_headless(
        duo(), "go", stdin=io.StringIO(), stdout=io.StringIO(), stderr=err, prices=both
    )
    assert err.getvalue() == "chat ended (max_turns): reached 2 turns · 30 tokens · $0.0200\n"


async def test_headless_says_which_models_have_no_price() -> None:
    err = io.StringIO()
    await run_headless(
        duo(), "go", stdin=io.StringIO(), stdout=io.StringIO(), stderr=err, prices=TABLE
    )
    assert err.getvalue() == (
        "chat ended (max_turns): reached 2 turns · 30 tokens · ≥ $0.0200 (partial)\n"
        "cost: no price for p:x (b)\n"
    )


async def test_the_console_shows_the_cost_next_to_the_tokens() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, highlight=False, color_system=None)
    await run_console(duo(), "go", console=console, interactive=False, prices=TABLE)
    lines = out.getvalue().splitlines()
    assert "chat ended (max_turns): reached 2 turns · 30 tokens · ≥ $0.0200 (partial)" in lines[-2]
    assert lines[-1] == "cost: no price for p:x (b)"


async def test_the_terminal_app_marks_a_partial_cost_and_says_why_at_the_end() -> None:
    from groupchat.tui.live import LiveChatApp
    from groupchat.tui.model import NoteEntry

    app = LiveChatApp(duo(), "go", prices=TABLE, clock=fixed_clock, animate=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.result is not None, "the end")
        await until_shown(pilot)
        status = str(app.status_bar.query_one(".status-left").render())
        assert "30 tokens" in status and "≥ $0.0200 (partial)" in status
        notes = [e.text for e in app.model.entries if isinstance(e, NoteEntry)]
        assert notes[-1] == "cost ≥ $0.0200 (partial): no price for p:x (b)"


# ------------------------------------------------------------------------------ the CLI

TEAM = """\
name: priced
task: Crunch the numbers
participants:
  - {{kind: llm, name: analyst, model: "{url}#test-model", max_retries: 0, timeout: 5}}
  - {{kind: llm, name: critic, model: "{url}#other-model", max_retries: 0, timeout: 5}}
policy: {{kind: llm_selector, model: "{url}#test-model", max_retries: 0, timeout: 5}}
max_turns: 2
prices:
  test-model: {{input: 1000, output: 2000}}   # the model alone: any endpoint's test-model
"""


async def groupchat(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "groupchat",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), SAFETY)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_run_check_show_and_resume_show_what_the_chat_cost(tmp_path: Path) -> None:
    """Through the CLI against a real HTTP server that reports usage: the selector's calls
    count, a model without a price makes the figure partial, and the stored spec keeps the
    prices for ``show`` and ``resume``."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GROUPCHAT_DB": str(tmp_path / "chats.db"),
        "COLUMNS": "200",
    }
    steps = [
        Answer("analyst", usage=(100, 1)),  # the selector
        Answer("The numbers add up.", usage=(200, 20)),  # analyst: priced
        Answer("critic", usage=(100, 1)),  # the selector
        Answer("Agreed.", usage=(50, 5)),  # critic: no price for other-model
    ]
    async with ChatCompletionsServer(steps) as server:
        spec = tmp_path / "team.yaml"
        spec.write_text(TEAM.format(url=server.base_url))
        other = f"{server.base_url}#other-model"

        code, out, err = await groupchat("check", str(spec), env=env, cwd=tmp_path)
        assert code == 0, err
        assert "  price:        test-model: $1000 in, $2000 out per 1M tokens" in out
        assert f"  no price:     {other} (critic): its cost shows as unknown" in out

        code, out, err = await groupchat("run", str(spec), "--headless", env=env, cwd=tmp_path)
        assert code == 0, err
        assert out.splitlines()[1:] == ["analyst: The numbers add up.", "critic: Agreed."]
        # selector 0.204 (2 calls) + analyst 0.24; critic's 55 tokens have no price
        ended = "chat ended (max_turns): reached 2 turns · 477 tokens · ≥ $0.4440 (partial)"
        assert err == f"{ended}\ncost: no price for {other} (critic)\n"

        code, listing, err = await groupchat("list", env=env, cwd=tmp_path)
        chat_id = listing.splitlines()[1].split()[0]
        code, out, err = await groupchat("show", chat_id, env=env, cwd=tmp_path)
        assert code == 0, err
        assert ended in out.splitlines()[-2]
        assert out.splitlines()[-1] == f"cost: no price for {other} (critic)"

        server.steps.extend([Answer("analyst", usage=(100, 1)), Answer("Done.", usage=(10, 1))])
        server.steps.popleft()  # "Agreed." was the last one served
        code, out, err = await groupchat(
            "resume", chat_id, "--headless", "--task", "Once more", "--max-messages", "1",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert code == 0, err
        assert out.splitlines()[-1] == "analyst: Done."
        # and 0.102 + 0.012 more, for the whole chat
        assert err.splitlines()[-2].endswith("tokens · ≥ $0.5580 (partial)"), err


async def test_show_without_prices_shows_no_cost(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GROUPCHAT_DB": str(tmp_path / "chats.db")}
    async with ChatCompletionsServer([Answer("analyst", usage=(3, 1))]) as server:
        spec = tmp_path / "team.yaml"
        spec.write_text(TEAM.format(url=server.base_url).split("prices:")[0])
        code, _, err = await groupchat("run", str(spec), "--headless", env=env, cwd=tmp_path)
        assert code == 0, err
        assert err == "chat ended (max_turns): reached 2 turns\n"
    code, listing, _ = await groupchat("list", env=env, cwd=tmp_path)
    code, out, err = await groupchat(
        "show", listing.splitlines()[1].split()[0], env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert "$" not in out and "cost" not in out


async def record(db: Path, spec: dict[str, object]) -> str:
    """Run :func:`duo` into the store at ``db`` as if ``spec`` were its team; its id."""
    from groupchat.transcripts.recorder import StoreRecorder

    chat = duo()
    async with await SqliteStore.open(db) as store:
        recorder = StoreRecorder(store, chat.bus, chat.chat_id, spec=spec)
        await recorder.start()
        await chat.run("go")
        await recorder.wait()
    return chat.chat_id


STORED = {
    "participants": [
        # the tools need not be importable for ``show``: it imports nothing
        {"kind": "llm", "name": "a", "model": "openai:m", "tools": ["not_installed:tool"]},
        {"kind": "llm", "name": "b", "model": "openai:x"},
    ],
    "prices": {"openai:m": {"input": 1000, "output": 2000}},
}


async def test_show_prices_a_stored_chat_by_its_stored_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from groupchat.app.cli import main

    chat_id = await record(tmp_path / "chats.db", STORED)
    assert await asyncio.to_thread(main, ["show", chat_id, "--db", str(tmp_path / "chats.db")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "30 tokens · ≥ $0.0200 (partial)" in lines[-2]
    assert lines[-1] == "cost: no price for openai:x (b)"


async def test_show_says_why_it_cannot_price_a_chat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from groupchat.app.cli import main

    spec = {**STORED, "participants": [{"kind": "robot", "name": "a"}]}
    chat_id = await record(tmp_path / "chats.db", spec)
    assert await asyncio.to_thread(main, ["show", chat_id, "--db", str(tmp_path / "chats.db")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].strip("─ ") == "chat ended (max_turns): reached 2 turns · 30 tokens"
    assert lines[-1] == "cost not shown: the stored team spec does not validate"


async def test_list_shows_each_chats_tokens_and_cost_as_show_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cost column is the figure at the end of ``show``: complete, partial or unknown, and
    empty for a team without prices or a spec that no longer validates."""
    from groupchat.app.cli import main

    db = tmp_path / "chats.db"
    both = {**STORED, "prices": {**STORED["prices"], "openai:x": {"input": 0, "output": 0}}}  # type: ignore[dict-item]
    neither = {**STORED, "prices": {"openai:other": {"input": 1, "output": 1}}}
    broken = {**STORED, "participants": [{"kind": "robot", "name": "a"}]}
    unpriced = {key: value for key, value in STORED.items() if key != "prices"}
    ids = {
        name: await record(db, spec)
        for name, spec in [
            ("partial", STORED),
            ("complete", both),
            ("unknown", neither),
            ("broken", broken),
            ("unpriced", unpriced),
        ]
    }
    assert await asyncio.to_thread(main, ["list", "--db", str(db)]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[3:7] == ["messages", "tokens", "cost", "started"]
    columns = {cells[0]: cells for cells in (re.split(r"\s{2,}", row.strip()) for row in rows)}
    expected = {
        "partial": "≥ $0.0200 (partial)",
        "complete": "$0.0200",
        "unknown": "cost unknown",
        "broken": "",  # show prices none either
        "unpriced": "",
    }
    for name, chat_id in ids.items():
        _id, _title, _who, messages, tokens, *rest = columns[chat_id[:12]]
        assert (messages, tokens) == ("3", "30"), name  # the tokens are known all the same
        cost = rest[0] if len(rest) == 3 else ""  # an empty cell leaves no column
        assert cost == expected[name], name


@pytest.mark.parametrize("front_end", ["tui", "console"])
def test_run_hands_the_specs_prices_to_the_front_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, front_end: str
) -> None:
    """In a terminal ``groupchat run`` opens the app, with ``--plain`` the console: either way
    with the team's prices."""
    from groupchat.app import cli, launch
    from groupchat.chat import ChatResult
    from groupchat.tui import console

    seen: dict[str, object] = {}

    async def fake(chat: GroupChat, task: str | None, **options: object) -> ChatResult:
        seen.update(options)
        return ChatResult(
            ended=ChatEnded(
                chat_id=chat.chat_id, seq=0, time=datetime.now(UTC), sender="manager", reason="done"
            ),
            messages=(),
            turns=0,
        )

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(launch, "run_tui", fake)
    monkeypatch.setattr(console, "run_console", fake)
    spec = tmp_path / "team.yaml"
    spec.write_text(PRICED)
    plain = ["--plain"] if front_end == "console" else []
    assert cli.main(["run", str(spec), "--no-store", *plain]) == 0
    assert seen["prices"] == parse_spec(PRICED).price_table()
