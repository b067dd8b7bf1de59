"""How the command line picks the full-screen app, and what it hands it."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from groupchat.app import launch, session
from groupchat.app.demo import build_demo
from groupchat.app.errors import CommandError
from groupchat.chat import ChatResult
from groupchat.events import ChatEnded


def _args(**flags: Any) -> argparse.Namespace:
    base = {"plain": False, "headless": False, "jsonl": False}
    return argparse.Namespace(**{**base, **flags})


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)


def test_without_a_terminal_the_app_is_never_used() -> None:
    assert not session.use_tui(_args())


@pytest.mark.usefixtures("terminal")
@pytest.mark.parametrize("flag", ["plain", "headless", "jsonl"])
def test_a_flag_keeps_the_plain_front_ends(flag: str) -> None:
    assert session.use_tui(_args())
    assert not session.use_tui(_args(**{flag: True}))
    assert session.use_tui(argparse.Namespace(plain=False))  # replay has only --plain


@pytest.mark.usefixtures("terminal")
async def test_in_a_terminal_the_chat_runs_in_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    chat, you = build_demo(delay=0)
    seen: dict[str, Any] = {}

    async def fake_run_tui(chat_: Any, task: Any, **options: Any) -> ChatResult:
        seen.update(chat=chat_, task=task, **options)
        return ChatResult(
            ended=ChatEnded(
                chat_id=chat_.chat_id,
                seq=0,
                time=datetime.now(UTC),
                sender="manager",
                reason="done",
            ),
            messages=(),
            turns=0,
        )

    monkeypatch.setattr(launch, "run_tui", fake_run_tui)
    result = await session.drive(chat, "the task", _args(), you, store=None)
    assert result.status == "completed"
    expected = {"chat": chat, "task": "the task", "human": you, "history": [], "prices": None}
    assert seen == {**expected, "claims": None}


async def test_replay_sources_are_found_or_named(tmp_path: Path) -> None:
    sample = await launch.load_replay_events(_args(sample="demo", source=None))
    assert sample and sample[0].type == "chat_started"
    with pytest.raises(CommandError, match="needs a chat id"):
        await launch.load_replay_events(_args(sample=None, source=None))
    with pytest.raises(CommandError, match="no such file"):
        await launch.load_replay_events(_args(sample=None, source=str(tmp_path / "x.jsonl")))
    with pytest.raises(CommandError, match="no sample transcript"):
        await launch.load_replay_events(_args(sample="nope", source=None))
    with pytest.raises(CommandError):
        await launch.load_replay_events(
            _args(sample=None, source="abc123", db=str(tmp_path / "chats.db"))
        )
