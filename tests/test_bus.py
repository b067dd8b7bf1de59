"""What only the in-process EventBus does: its own members, and how much of a chat it keeps in
memory. Everything any bus promises is in ``bus_contract`` (run against EventBus by
``test_bus_contract``)."""

from __future__ import annotations

import asyncio

import pytest
from bus_support import GUARD, drain, publish_texts, settle

from groupchat.bus import EventBus
from groupchat.bus.readers import FilteredSubscription, MemorySubscription
from groupchat.events import MANAGER, ChatEnded, ChatStarted, Event


def test_retain_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="retain"):
        EventBus(retain=0)


async def test_chats_lists_what_was_opened_or_subscribed_and_forgets_the_discarded() -> None:
    bus = EventBus()
    a, b = bus.open(), bus.open()
    assert set(bus.chats()) == {a, b}
    bus.subscribe("early")
    assert "early" in bus.chats()
    assert not bus.is_closed("early")
    bus.discard(a)
    assert set(bus.chats()) == {b, "early"}


async def test_is_closed_follows_close_and_reopen_only() -> None:
    bus = EventBus()
    a, b = bus.open("a"), bus.open("b")
    await publish_texts(bus, a, "x", 3)
    sub = bus.subscribe(a)
    sub.close()
    assert not bus.is_closed(a)  # closing a subscription does not close the chat
    bus.close(a)
    assert bus.is_closed(a) and not bus.is_closed(b)
    bus.subscribe(a, start=0)
    assert bus.is_closed(a)  # subscribing must not reopen the chat
    bus.open(a)
    assert not bus.is_closed(a)


async def test_subscribe_returns_a_cursor_or_a_filtered_queue() -> None:
    bus = EventBus()
    chat = bus.open("c")
    assert type(bus.subscribe(chat)) is MemorySubscription
    assert type(bus.subscribe(chat, kinds=frozenset({"human_input"}))) is FilteredSubscription


async def test_retain_keeps_memory_bounded_without_a_durable_reader() -> None:
    retain = 4
    bus = EventBus(retain=retain)
    chat = bus.open("c")
    bus.subscribe(chat, durable=False)
    await publish_texts(bus, chat, "a", 200)
    assert 0 < len(bus.history(chat)) <= 2 * retain + 64


async def test_retain_keeps_memory_bounded_with_a_durable_reader_and_a_lagging_display() -> None:
    retain = 3
    bus = EventBus(retain=retain)
    chat = bus.open("c")
    store = bus.subscribe(chat, maxsize=8)
    bus.subscribe(chat, durable=False)  # never reads
    reader = asyncio.create_task(drain(store))
    async with asyncio.timeout(GUARD):
        await publish_texts(bus, chat, "a", 300)
        bus.close(chat)
        assert len(await reader) == 300
    assert len(bus.history(chat)) <= 2 * retain + 64


async def test_a_subscription_says_whether_it_was_let_go() -> None:
    bus = EventBus()
    chat = bus.open("c")
    stuck = bus.subscribe(chat, maxsize=4, stall_timeout=0.01)
    steady = bus.subscribe(chat, maxsize=4, stall_timeout=5.0)
    reader = asyncio.create_task(drain(steady))
    await publish_texts(bus, chat, "a", 50)
    bus.close(chat)
    assert len(await reader) == 50
    assert isinstance(stuck, MemorySubscription) and stuck.stalled
    assert isinstance(steady, MemorySubscription) and not steady.stalled


async def test_stream_yields_events_until_the_chat_closes() -> None:
    bus = EventBus()
    chat = bus.open("c")
    first = await bus.publisher(chat, "a").emit(ChatStarted, task="t")

    async def collect() -> list[Event]:
        return [event async for event in bus.stream(chat)]

    reader = asyncio.create_task(collect())
    await settle()
    second = await bus.publisher(chat, MANAGER).emit(ChatEnded, reason="done")
    bus.close(chat)
    async with asyncio.timeout(GUARD):
        assert await reader == [first, second]
