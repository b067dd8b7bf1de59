"""The Redis bus: the bus contract, the stream it writes, fencing, bad entries, outages.

Every test runs against a real ``redis-server`` started by the tests (``redis_url``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from bus_contract import BusContract, BusFactory
from redis.exceptions import ResponseError
from redis_server import RedisServer, free_port, until

from groupchat import GroupChat
from groupchat.bus import ChatClosedError
from groupchat.distributed import keys
from groupchat.distributed.errors import (
    BusUnavailableError,
    ChatFencedError,
    ChatRunningElsewhere,
)
from groupchat.distributed.follow import follow, read_range
from groupchat.distributed.redis_bus import RedisBus
from groupchat.distributed.url import BusURL, bus_url_from
from groupchat.events import ErrorEvent, MessagePosted, TextDelta, dump_event
from groupchat.testing import ScriptedAgent

GUARD = 20.0


class TestRedisBus(BusContract):
    @pytest.fixture
    async def make_bus(self, redis_url: str) -> AsyncIterator[BusFactory]:
        made: list[RedisBus] = []

        def make(*, retain: int | None = 256) -> RedisBus:
            client = aioredis.from_url(redis_url)
            bus = RedisBus(client, BusURL.parse(redis_url), retain=retain)
            made.append(bus)
            return bus

        yield make
        for bus in made:
            async with asyncio.timeout(GUARD):
                await bus.aclose()


@pytest.fixture
async def bus(redis_url: str) -> AsyncIterator[RedisBus]:
    async with await RedisBus.connect(redis_url) as bus:
        yield bus


def _team() -> list[ScriptedAgent]:
    return [
        ScriptedAgent("a", ["one two three", "four five"], chunk="word"),
        ScriptedAgent("b", ["six seven", "eight nine ten"], chunk="word"),
    ]


async def test_the_stream_holds_every_event_as_canonical_json_under_its_seq(
    bus: RedisBus,
) -> None:
    chat = GroupChat(_team(), bus=EventBus_retain_all(bus), max_turns=4)
    await bus.acquire(chat.chat_id)
    await chat.run("go")
    await bus.flushed(chat.chat_id)
    entries = await bus.client.xrange(keys.events(chat.chat_id))
    events = chat.events()
    assert [entry_id.decode() for entry_id, _ in entries] == [f"0-{e.seq + 1}" for e in events]
    assert [fields[b"e"].decode() for _, fields in entries] == [dump_event(e) for e in events]
    assert [e async for e in read_range(bus.client, chat.chat_id)] == events


async def _entries(bus: RedisBus, chat_id: str, count: int) -> bool:
    return len(await bus.client.xrange(keys.events(chat_id))) >= count


def EventBus_retain_all(bus: RedisBus) -> RedisBus:
    bus._retain = None
    return bus


async def test_redis_itself_refuses_a_duplicate_or_an_append_out_of_order(bus: RedisBus) -> None:
    chat = GroupChat(_team(), bus=bus, max_turns=1)
    await bus.acquire(chat.chat_id)
    await chat.run("go")
    await bus.flushed(chat.chat_id)
    stream = keys.events(chat.chat_id)
    for entry in ("0-1", "0-2"):
        with pytest.raises(ResponseError, match="equal or smaller"):
            await bus.client.xadd(stream, {"e": "{}"}, id=entry)


async def test_a_second_manager_is_refused_while_the_first_holds_the_chat(
    bus: RedisBus, redis_url: str
) -> None:
    chat = GroupChat(_team(), bus=bus, max_turns=1)
    await bus.acquire(chat.chat_id)
    async with await RedisBus.connect(redis_url) as other:
        with pytest.raises(ChatRunningElsewhere, match=f"chat {chat.chat_id} is running"):
            await other.acquire(chat.chat_id)


async def test_a_manager_whose_lease_was_taken_is_fenced_and_writes_nothing_more(
    bus: RedisBus, redis_url: str
) -> None:
    lost: list[Exception] = []
    bus.on_lost = lambda chat_id, error: lost.append(error)
    chat_id = bus.open("fenced")
    await bus.acquire(chat_id)
    pub = bus.publisher(chat_id, "a")
    await pub.emit(TextDelta, message_id="m1", text="before")
    await until(lambda: _entries(bus, chat_id, 1))
    # The lease runs out (the manager stalled) and another manager takes the chat.
    await bus.client.delete(keys.lease(chat_id))
    async with await RedisBus.connect(redis_url) as other:
        await other.acquire(chat_id)
        await pub.emit(TextDelta, message_id="m1", text="after")
        await until(lambda: bool(lost))
    assert isinstance(lost[0], ChatFencedError)
    entries = await bus.client.xrange(keys.events(chat_id))
    assert len(entries) == 1  # "after" never reached the stream


async def test_a_fenced_chat_without_a_handler_is_closed(bus: RedisBus, redis_url: str) -> None:
    chat_id = bus.open("closed-by-fence")
    await bus.acquire(chat_id)
    await bus.client.delete(keys.lease(chat_id))
    await bus.client.incr(keys.epoch(chat_id))  # another manager's lease came and went
    pub = bus.publisher(chat_id, "a")
    await pub.emit(TextDelta, message_id="m1", text="x")
    await until(lambda: bus.is_closed(chat_id))
    with pytest.raises(ChatClosedError):
        await pub.emit(TextDelta, message_id="m1", text="y")
    assert isinstance(bus.failure(chat_id), ChatFencedError)


async def test_an_entry_that_is_no_event_is_read_as_an_error_in_its_place(
    bus: RedisBus,
) -> None:
    chat = GroupChat(_team(), bus=bus, max_turns=1)
    await bus.acquire(chat.chat_id)
    await chat.run("go")
    await bus.flushed(chat.chat_id)
    stream = keys.events(chat.chat_id)
    count = len(await bus.client.xrange(stream))
    await bus.client.xadd(stream, {"e": '{"type": "nonsense"}'}, id=f"0-{count + 1}")
    await bus.client.xadd(stream, {"x": "no event"}, id=f"0-{count + 2}")
    read = [e async for e in read_range(bus.client, chat.chat_id)]
    assert len(read) == count + 2
    bad = read[count:]
    assert all(isinstance(e, ErrorEvent) and e.detail == "bus" for e in bad)
    assert [e.seq for e in bad] == [count, count + 1]
    assert "not a valid event" in bad[0].error and f"0-{count + 1}" in bad[0].error
    assert "it has no event" in bad[1].error


async def test_a_follower_reads_history_then_live_events_to_the_end(
    bus: RedisBus, redis_url: str
) -> None:
    chat = GroupChat(_team(), bus=bus, max_turns=4)
    await bus.acquire(chat.chat_id)
    reader = await RedisBus.connect(redis_url)
    try:
        followed = asyncio.create_task(_collect(follow(reader.client, chat.chat_id, 0)))
        result = await chat.run("go")
        async with asyncio.timeout(GUARD):
            events = await followed
    finally:
        await reader.aclose()
    posted = [e.message.content for e in events if isinstance(e, MessagePosted)]
    assert posted == [m.content for m in result.messages]
    assert [e.seq for e in events] == list(range(len(events)))


async def _collect(events: AsyncIterator[object]) -> list[object]:
    return [event async for event in events]


async def test_nothing_posted_is_lost_while_redis_restarts(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis") as server:
        async with await RedisBus.connect(server.url) as bus:
            chat_id = bus.open("restart")
            await bus.acquire(chat_id)
            pub = bus.publisher(chat_id, "a")
            for n in range(50):
                await pub.emit(TextDelta, message_id="m1", text=f"{n} ")
            await until(lambda: _entries(bus, chat_id, 50))
            server.stop()
            for n in range(50, 100):  # the chat goes on while Redis is away
                await pub.emit(TextDelta, message_id="m1", text=f"{n} ")
            server.start()
            bus.close(chat_id)
            async with asyncio.timeout(GUARD):
                await bus.flushed(chat_id)
            assert bus.failure(chat_id) is None
            read = [e async for e in read_range(bus.client, chat_id)]
    assert [e.text for e in read if isinstance(e, TextDelta)] == [f"{n} " for n in range(100)]


async def test_a_chat_ends_with_an_error_once_redis_is_away_too_long(tmp_path: Path) -> None:
    with RedisServer(tmp_path / "redis") as server:
        bus = await RedisBus.connect(server.url, outage_limit=0.5)
        lost: list[Exception] = []
        bus.on_lost = lambda chat_id, error: lost.append(error)
        chat_id = bus.open("away")
        await bus.acquire(chat_id)
        server.stop()
        await bus.publisher(chat_id, "a").emit(TextDelta, message_id="m1", text="x")
        await until(lambda: bool(lost))
        await bus.aclose()
    assert isinstance(lost[0], BusUnavailableError)
    assert "lost the bus at redis://127.0.0.1" in str(lost[0])


async def test_an_unreachable_bus_is_named_without_its_password() -> None:
    url = f"redis://ada:s3cret-pass@127.0.0.1:{free_port()}/0"
    with pytest.raises(BusUnavailableError) as caught:
        await RedisBus.connect(url)
    message = str(caught.value)
    assert "s3cret" not in message
    assert "redis://ada:***@127.0.0.1:" in message


def test_bus_urls_are_checked_and_shown_without_passwords(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shown = BusURL.parse("rediss://u:pw-123@example.org:6380/2")
    assert shown.shown == "rediss://u:***@example.org:6380/2"
    assert "pw-123" not in repr(shown) and "pw-123" not in str(shown)
    for bad, problem in (
        ("http://x", "use redis://"),
        ("redis://", "no host"),
        ("redis://h:99999/0", "(?i)port"),
        ("redis://h/zero", "not a number"),
    ):
        with pytest.raises(ValueError, match=problem):
            BusURL.parse(bad)
    monkeypatch.delenv("GROUPCHAT_BUS", raising=False)
    assert bus_url_from(None) is None
    monkeypatch.setenv("GROUPCHAT_BUS", "redis://127.0.0.1:6379/0")
    found = bus_url_from(None)
    assert found is not None and found.url == "redis://127.0.0.1:6379/0"


async def test_a_reader_elsewhere_that_does_not_read_never_holds_the_chat_back(
    bus: RedisBus, redis_url: str
) -> None:
    chat = GroupChat(
        [ScriptedAgent("a", ["x " * 50], chunk="word", when_done="cycle")], bus=bus, max_turns=40
    )
    await bus.acquire(chat.chat_id)
    reader = await RedisBus.connect(redis_url)
    try:
        stalled = follow(reader.client, chat.chat_id, 0)
        first = asyncio.ensure_future(anext(stalled))  # reads one event, then nothing more
        async with asyncio.timeout(GUARD):
            result = await chat.run("go")
            await bus.flushed(chat.chat_id)
            assert (await first).seq == 0
        assert result.turns == 40
        rest = [e async for e in stalled]  # it can still read it all, at its own pace
        assert len(rest) == len(await bus.stream_events(chat.chat_id)) - 1
    finally:
        await reader.aclose()


async def test_a_write_to_the_stream_by_anyone_else_ends_the_chat_with_an_error(
    bus: RedisBus,
) -> None:
    class Writes:
        """Writes to the chat's stream behind its manager's back, then speaks."""

        name = "rogue"
        description = "writes where it may not"

        async def take_turn(self, view: object) -> AsyncIterator[str]:
            await bus.client.xadd(keys.events(chat.chat_id), {"e": "{}"})  # an ID of Redis's
            yield "one "  # its append is refused: this manager no longer writes the chat
            await until(lambda: bus.failure(chat.chat_id) is not None)
            yield "two "

    chat = GroupChat([Writes()], bus=bus, max_turns=1)  # type: ignore[list-item]
    await bus.acquire(chat.chat_id)
    async with asyncio.timeout(GUARD):
        result = await chat.run("go")
    assert result.status == "error"
    assert "was written by another process" in result.reason
    assert isinstance(bus.failure(chat.chat_id), ChatFencedError)


async def test_a_takeover_that_sees_the_lease_renewed_gives_up_at_once(redis_url: str) -> None:
    """A resume waiting for a dead manager's lease is refused as soon as the lease is renewed
    (its manager is alive), not after the whole wait."""
    async with await RedisBus.connect(redis_url, lease_ttl=1.5) as holder:
        chat_id = holder.open("alive")
        await holder.acquire(chat_id)  # renewed every 0.5 s while the chat is open
        async with await RedisBus.connect(redis_url) as other:
            with pytest.raises(ChatRunningElsewhere):
                async with asyncio.timeout(GUARD / 2):  # far below the wait it was given
                    await other.acquire(chat_id, wait=GUARD * 3)
        holder.close(chat_id)
