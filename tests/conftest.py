"""Shared test setup: no test writes to the user's real chat database or socket folder."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_server import PostgresServer
from redis_server import RedisServer
from store_backends import Backend, PostgresBackend, SqliteBackend


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


_schemas = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on a loopback port, shared by the tests of one run, with a
    database ``groupchat`` for the tests' stores."""
    with PostgresServer() as server:
        server.sql("CREATE DATABASE groupchat")
        yield server


@pytest.fixture
def postgres_url(pg_server: PostgresServer) -> str:
    """The URL of a store of its own for one test: a schema no other test uses (the store
    creates it on open) in the shared server's ``groupchat`` database."""
    return pg_server.url("groupchat", schema=f"t{next(_schemas)}_{os.getpid()}")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """A transcript store's location of its own for one test, once per backend: a SQLite file
    in a folder of its own, a schema on the shared PostgreSQL server."""
    if request.param == "sqlite":
        return SqliteBackend(tmp_path / "store" / "chats.db")
    return PostgresBackend(request.getfixturevalue("postgres_url"))
