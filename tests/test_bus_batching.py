"""What keeps a distributed chat cheap per message: commands issued together go in one
pipeline, one reader waits on every stream of a process, a turn's request carries the chat's
latest events (the worker does not read the stream), and a turn's pieces yielded together go
back in one entry. Redis is a real server (``redis_url``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from redis_server import until
from test_hosting import GUARD, team

from groupchat.distributed import keys
from groupchat.distributed.batch import Batcher
from groupchat.distributed.inboxes import Inboxes
from groupchat.distributed.url import BusURL, connect
from groupchat.distributed.wire import WORKER_ADAPTER, Done, Item, Text
from groupchat.distributed.worker import Worker
from groupchat.participant import ChatView, Reply, TurnItem
from groupchat.testing import ScriptedAgent


async def test_commands_issued_together_go_in_one_pipeline_each_with_its_own_answer(
    redis_url: str,
) -> None:
    client = await connect(BusURL.parse(redis_url))
    try:
        await client.set("plain", "1")
        batcher = Batcher(client)
        adds = [batcher.run(lambda pipe, n=n: pipe.xadd("s", {"n": str(n)})) for n in range(50)]
        wrong = batcher.run(lambda pipe: pipe.xadd("plain", {"n": "x"}))  # not a stream
        answers = await asyncio.gather(*adds, wrong, return_exceptions=True)
        assert batcher.sent == 1
        assert isinstance(answers[-1], ResponseError) and "WRONGTYPE" in str(answers[-1])
        entries = await client.xrange("s")
        assert [fields[b"n"] for _id, fields in entries] == [str(n).encode() for n in range(50)]
        assert answers[:-1] == [entry_id for entry_id, _fields in entries]  # each its own id
        assert await client.get("plain") == b"1"
    finally:
        await client.aclose()


async def test_a_stream_watched_while_the_read_waits_is_read_at_once(redis_url: str) -> None:
    client = await connect(BusURL.parse(redis_url))
    inboxes = Inboxes(client, block_ms=120_000)  # without a wake, B would wait two minutes
    got: list[tuple[str, bytes]] = []
    arrived = asyncio.Event()

    def handler(stream: str, _entry: bytes, fields: dict[bytes, bytes]) -> None:
        got.append((stream, fields[b"m"]))
        arrived.set()

    try:
        async with asyncio.timeout(GUARD):
            inboxes.watch({"a": "0-0"}, handler)
            await until(lambda: bool(inboxes._reading))
            await _blocked_in_xread(client)
            inboxes.watch({"b": "0-0"}, handler)
            await client.xadd("b", {"m": "hello"})
            await asyncio.wait_for(arrived.wait(), 10)
        assert got == [("b", b"hello")]
    finally:
        await inboxes.aclose()
        await client.aclose()


async def _blocked_in_xread(client: Redis) -> None:
    async def blocked() -> bool:
        clients = cast(list[dict[str, Any]], await client.client_list())
        return any(c.get("cmd") == "xread" and "b" in c.get("flags", "") for c in clients)

    while not await blocked():  # noqa: ASYNC110 - Redis holds the state; nothing to wait on here
        await asyncio.sleep(0.01)


async def test_a_worker_takes_its_turns_without_reading_the_chat_stream(redis_url: str) -> None:
    t = await team(
        redis_url,
        [ScriptedAgent("a", ["a1", "a2", "a3", "a4"]), ScriptedAgent("b", ["-"])],
        max_turns=8,
    )
    stats = await connect(BusURL.parse(redis_url))
    try:
        await t.worker({"b": ScriptedAgent("b", ["b1", "b2", "b3", "b4"])})
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            await stats.config_resetstat()
            result = await t.chat.run("go")
        assert [m.content for m in result.messages if m.sender == "b"] == ["b1", "b2", "b3", "b4"]
        commands = cast(dict[str, Any], await stats.info("commandstats"))
        assert "cmdstat_xrange" not in commands  # the requests brought every event it needed
    finally:
        await stats.aclose()
        await t.close()


class Burst:
    """Says its turn in three pieces without waiting between them."""

    name = "b"
    description = "bursts"

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        for piece in ("one ", "two ", "three"):
            yield piece
        yield Reply()


class Gate:
    """A local agent that holds its turn until the test opens the gate."""

    name = "a"
    description = "waits"
    human = False

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        self.started.set()
        await self.gate.wait()
        yield Reply("done")


async def test_pieces_a_turn_yields_together_reach_the_manager_in_one_entry(
    redis_url: str,
) -> None:
    gate = Gate()
    t = await team(redis_url, [ScriptedAgent("b", ["-"]), gate], max_turns=2)
    try:
        worker = await t.worker({"b": Burst()})
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            run = asyncio.create_task(t.chat.run("go"))
            await gate.started.wait()  # b's turn is over; the inbox is still there
            entries = await t.bus.client.xrange(keys.host_inbox(t.chat.chat_id, "b"))
            gate.gate.set()
            result = await run
        items = [
            message
            for _id, fields in entries
            if isinstance(message := WORKER_ADAPTER.validate_json(fields[b"m"]), Item)
        ]
        assert len(items) == 1 and items[0].worker == worker.id
        assert items[0].pieces == (Text(text="one "), Text(text="two "), Text(text="three"), Done())
        assert result.messages[1].content == "one two three"
    finally:
        await t.close()


@pytest.mark.parametrize("chats", [12])
async def test_one_worker_waits_on_all_its_chats_with_one_reader(
    redis_url: str, chats: int
) -> None:
    teams = [
        await team(
            redis_url, [ScriptedAgent("a", ["x", "y"]), ScriptedAgent("b", ["-"])], max_turns=4
        )
        for _ in range(chats)
    ]
    url = BusURL.parse(redis_url)
    client = Redis.from_url(url.url, client_name="one-worker")
    stats = await connect(url)
    worker = Worker(
        client, lambda: {"b": ScriptedAgent("b", ["b1", "b2"])}, team="t", note=lambda _: None
    )
    serving = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(GUARD):
            for t in teams:
                assert await t.hosting.wait_hosted(["b"], GUARD) == []
            results = await asyncio.gather(*(t.chat.run("go") for t in teams))
            clients = cast(list[dict[str, Any]], await stats.client_list())
        for result in results:
            assert [m.content for m in result.messages if m.sender == "b"] == ["b1", "b2"]
        mine = [c for c in clients if c.get("name") == "one-worker"]
        blocked = [c for c in mine if c.get("cmd") == "xread" and "b" in c.get("flags", "")]
        assert len(blocked) <= 1  # one reader, not one blocked read for each chat
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await client.aclose()
        await stats.aclose()
        for t in teams:
            await t.close()
