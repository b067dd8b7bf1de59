"""Shared test setup: no test writes to the user's real chat database or socket folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_chat_db(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point ``$GROUPCHAT_DB`` (inherited by CLI subprocesses) at a per-test database."""
    path = tmp_path_factory.mktemp("db") / "chats.db"
    monkeypatch.setenv("GROUPCHAT_DB", str(path))
    return path


@pytest.fixture(autouse=True)
def _private_runtime_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point ``$XDG_RUNTIME_DIR`` (where shared chats listen) at a per-test folder."""
    path = tmp_path_factory.mktemp("run")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    return path
