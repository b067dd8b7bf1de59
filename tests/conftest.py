"""Shared test setup: no test writes to the user's real chat database or socket folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_server import RedisServer


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


@pytest.fixture(autouse=True)
def _private_data_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point ``$XDG_DATA_HOME`` (where the app keeps its input history) at a per-test folder."""
    path = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("XDG_DATA_HOME", str(path))
    return path


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real ``redis-server`` on a loopback port, shared by the tests of one run."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of an emptied database of the shared server (also ``$GROUPCHAT_BUS``)."""
    redis_server.flush()
    monkeypatch.setenv("GROUPCHAT_BUS", redis_server.url)
    return redis_server.url
