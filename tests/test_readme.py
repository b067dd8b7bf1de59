"""The README's examples stay true: its Python runs and its team spec validates."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from groupchat.spec import SpecError, parse_spec

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def test_quick_start_runs() -> None:
    code = _blocks("python")[0]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "editor (@editor was mentioned by writer)" in out
    assert "editor: Tighter: people in the loop. LGTM" in out


def test_testing_example_passes() -> None:
    code = "import asyncio\n" + _blocks("python")[1]
    code += "\nasyncio.run(test_human_picks_the_critic())\n"
    subprocess.run([sys.executable, "-c", code], timeout=60, check=True)


def test_team_spec_example_validates() -> None:
    spec = parse_spec(_blocks("yaml")[0], source="README.md")
    assert [p.name for p in spec.participants] == ["moderator", "pro", "con", "you"]
    assert spec.policy.kind == "graph"


def test_prices_example_validates_and_its_error_is_the_one_shown() -> None:
    text = next(block for block in _blocks("yaml") if "prices:" in block)
    spec = parse_spec(text, source="team.yaml")
    table = spec.price_table()
    assert table is not None
    assert {who: table.price(model) is not None for who, model in spec.model_users().items()} == {
        "analyst": True,
        "local": True,
        "selector": True,
    }
    with pytest.raises(SpecError) as info:
        parse_spec(text.replace("input: 0.40", "input: -0.40"), source="team.yaml")
    shown = re.search(r"`(team\.yaml: prices.*?)`", README, re.S)
    assert shown is not None
    assert str(info.value) == " ".join(shown.group(1).split())


def test_readme_shows_the_two_first_commands() -> None:
    assert ".venv/bin/groupchat demo" in README
    assert ".venv/bin/pytest" in README
