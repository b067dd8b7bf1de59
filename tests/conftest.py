"""Shared test setup: no test writes to the user's real chat database."""

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
