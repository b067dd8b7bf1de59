"""What only the PostgreSQL store has: its URL (schema, password), the permissions the README
documents, and its faults (a server gone mid-chat, a statement timeout). Its behaviour shared
with SQLite is tested in ``tests/test_store.py``, against both."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import Iterator

import asyncpg
import pytest
from pg_server import PostgresServer
from store_backends import PostgresBackend
from test_store import chat_events

from groupchat.bus import EventBus
from groupchat.chat import GroupChat
from groupchat.testing import ScriptedAgent
from groupchat.transcripts.pg_schema import DEFAULT_SCHEMA, PgLocation
from groupchat.transcripts.pg_search import search_query, snippet
from groupchat.transcripts.postgres import PostgresStore
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.store import StoreError, open_store

_roles = itertools.count()


def test_the_url_names_the_schema_and_is_shown_without_its_password() -> None:
    place = PgLocation.parse("postgresql://ada:s3cret@db.example:5433/chats?schema=team_a")
    assert (place.schema, place.dsn) == ("team_a", "postgresql://ada:s3cret@db.example:5433/chats")
    assert place.shown == "postgresql://ada:***@db.example:5433/chats?schema=team_a"
    assert PgLocation.parse("postgres://h/db?sslmode=require").schema == DEFAULT_SCHEMA
    assert PgLocation.parse("postgres://h/db?sslmode=require").dsn.endswith("?sslmode=require")
    with pytest.raises(ValueError, match="schema name"):
        PgLocation.parse('postgresql://h/db?schema=x";drop')


def test_search_terms_fold_accents_and_never_read_syntax() -> None:
    terms = search_query("Café zebra-free moo* & | ! 'x' :*")
    assert terms is not None
    assert terms.query == "'cafe' & ('zebra' <-> 'free') & 'moo':* & 'x'"
    assert snippet("Le CAFÉ est plein", terms) == "Le [CAFÉ] est plein"
    assert search_query(" & | ! ") is None
    words = " ".join(f"w{i}" for i in range(30))
    assert snippet(f"{words} moon {words}", search_query("moon")) == (  # type: ignore[arg-type]
        "…w28 w29 [moon] w0 w1 w2 w3 w4 w5 w6 w7 w8…"
    )


async def test_the_default_schema_is_groupchat(pg_server: PostgresServer) -> None:
    pg_server.sql("CREATE DATABASE default_schema")
    store = await open_store(pg_server.url("default_schema"))
    try:
        await store.append_many(chat_events("d"))
    finally:
        await store.close()
    tables = pg_server.sql(
        "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
        "WHERE schemaname = 'groupchat'",
        "default_schema",
    )
    assert tables.strip() == "chats,event_log,messages,meta"


async def test_the_documented_grants_let_a_recorder_and_a_reader_work(
    pg_server: PostgresServer, postgres_url: str
) -> None:
    """The owner creates the store; a recorder with the README's grants records, a reader with
    its grants lists and searches (and cannot write); neither can create a store."""
    await (await open_store(postgres_url)).close()  # made by its owner
    schema = PgLocation.parse(postgres_url).schema
    n = next(_roles)
    recorder, reader = f"recorder{n}", f"reader{n}"
    for role in (recorder, reader):
        pg_server.sql(f"CREATE ROLE {role} LOGIN PASSWORD 'pw-{role}'")
        pg_server.sql(f"GRANT CONNECT ON DATABASE groupchat TO {role}")
        pg_server.sql(f"GRANT USAGE ON SCHEMA {schema} TO {role}", "groupchat")
    for grant in (
        f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {schema} TO {recorder}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {recorder}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {reader}",
    ):
        pg_server.sql(grant, "groupchat")

    def url(role: str, schema_name: str = schema) -> str:
        where = f"127.0.0.1:{pg_server.port}/groupchat?schema={schema_name}"
        return f"postgresql://{role}:pw-{role}@{where}"

    store = await open_store(url(recorder))
    try:
        await store.append_many(chat_events("granted"))
    finally:
        await store.close()
    store = await open_store(url(reader))
    try:
        assert [c.id for c in await store.chats(search="moon")] == ["granted"]
        with pytest.raises(StoreError, match="permission denied"):
            await store.append_many(chat_events("refused"))
            await store.flush()
    finally:
        await store.close()
    with pytest.raises(StoreError, match="permission denied") as refused:
        await open_store(url(recorder, f"{schema}_new"))
    assert f"pw-{recorder}" not in str(refused.value)


async def test_a_wrong_password_is_a_clear_error_without_it(pg_server: PostgresServer) -> None:
    url = f"postgresql://{pg_server.superuser}:wrong-pw@127.0.0.1:{pg_server.port}/groupchat"
    with pytest.raises(StoreError, match="password authentication failed") as failed:
        await open_store(url)
    assert "wrong-pw" not in str(failed.value) and ":***@" in str(failed.value)


# ---------------------------------------------------------------- faults


@pytest.fixture(scope="module")
def own_server() -> Iterator[PostgresServer]:
    """A server of these tests' own, to stop and start without disturbing the others."""
    with PostgresServer() as server:
        server.sql("CREATE DATABASE groupchat")
        yield server


async def test_a_server_lost_mid_chat_ends_the_recording_not_the_chat(
    own_server: PostgresServer,
) -> None:
    """The decision the README documents: events are not buffered past a failed commit; the
    recorder stops with a clear error, the chat runs to its end, what was committed stays."""
    url = own_server.url("groupchat", schema="lost")
    store = await open_store(url)
    try:
        await store.append_many(chat_events("before"))
        await store.flush()
        bus = EventBus()
        chat = GroupChat([ScriptedAgent("ada", ["a"] * 20)], bus=bus, max_turns=20)
        recorder = StoreRecorder(store, bus, chat.chat_id)
        await recorder.start()
        own_server.stop()  # every connection is cut
        try:
            result = await chat.run()
            assert result.status == "max_turns"
            with pytest.raises(StoreError, match=r"writing to postgresql://.*:\*\*\*@") as failed:
                await recorder.wait()
            assert own_server.password not in str(failed.value)
        finally:
            own_server.start()
    finally:
        await store.close()
    async with await PostgresStore.open(url) as again:
        assert await again.events("before") == chat_events("before")


async def test_a_statement_timeout_fails_the_commit_instead_of_hanging(
    own_server: PostgresServer,
) -> None:
    url = own_server.url("groupchat", schema="slow")
    store = await PostgresStore.open(url, statement_timeout=0.3)
    place = PgLocation.parse(url)
    blocker = await asyncpg.connect(place.dsn)
    try:
        await store.create_chat("slow")
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE slow.event_log IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StoreError, match="statement timeout"):
                await asyncio.wait_for(store.append_many(chat_events("slow")), 30)
                await asyncio.wait_for(store.flush(), 30)
    finally:
        await blocker.close()
        await store.close()


async def test_two_recorders_of_different_chats_write_at_once(postgres_url: str) -> None:
    stores = [await open_store(postgres_url) for _ in range(4)]
    try:
        await asyncio.gather(
            *(s.append_many(chat_events(f"c{i}", [("ada", f"n{j}") for j in range(50)]))
              for i, s in enumerate(stores))
        )  # fmt: skip
        await asyncio.gather(*(s.flush() for s in stores))
        backend = PostgresBackend(postgres_url)
        assert await backend.raw("SELECT count(*) FROM chats") == [(4,)]
        assert [c.messages for c in await stores[0].chats()] == [50] * 4
    finally:
        for s in stores:
            await s.close()


def _small_disk(place: str) -> bool:
    """A 3 MB file system at ``place`` (``False`` where this machine lets no test mount one)."""
    import subprocess

    os.makedirs(place, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", place],
        capture_output=True,
        timeout=10,
        check=False,
    )
    return done.returncode == 0


def _unmount(place: str) -> None:
    import subprocess

    subprocess.run(["umount", "-l", place], capture_output=True, timeout=10, check=False)


async def test_a_full_disk_ends_the_recording_with_an_error_and_keeps_what_was_committed(
    own_server: PostgresServer,
) -> None:
    """The store's tables on a tablespace of 3 MB: a chat that outgrows it gets a clear error
    naming the cause (no space), and what was committed before is read back whole."""
    import shutil

    place = str(own_server.folder / "small-disk")  # where the server's user may go
    if not _small_disk(place):
        pytest.skip("this machine lets no test mount a small file system")
    try:
        if own_server.user is not None:
            shutil.chown(place, own_server.user)
        own_server.sql(f"CREATE TABLESPACE small LOCATION '{place}'")
        own_server.sql("CREATE DATABASE tight TABLESPACE small")
        url = own_server.url("tight", schema="full")
        store = await open_store(url)
        try:
            await store.append_many(chat_events("kept"))
            await store.flush()
            bus = EventBus()
            long = "x" * 20_000  # a few hundred of these fill 3 MB
            chat = GroupChat([ScriptedAgent("ada", [long] * 400)], bus=bus, max_turns=400)
            failures: list[Exception] = []
            recorder = StoreRecorder(
                store, bus, chat.chat_id, on_error=lambda exc: failures.append(exc)
            )
            await recorder.start()
            await asyncio.wait_for(chat.run(), 60)
            with pytest.raises(StoreError) as failed:
                await asyncio.wait_for(recorder.wait(), 60)
            assert "space" in str(failed.value).lower()  # "No space left on device"
            assert own_server.password not in str(failed.value)
            assert failures and failures[0] is failed.value
        finally:
            await store.close()
        async with await PostgresStore.open(url) as again:
            assert await again.events("kept") == chat_events("kept")
    finally:
        with contextlib.suppress(Exception):
            own_server.sql("DROP DATABASE IF EXISTS tight")
            own_server.sql("DROP TABLESPACE IF EXISTS small")
        _unmount(place)
