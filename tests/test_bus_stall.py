"""A subscriber that stops reading: the chat waits for it, or lets it go after its stall_timeout."""

from __future__ import annotations

import asyncio

import pytest

from groupchat import GroupChat, MaxMessages, ScriptedAgent
from groupchat.bus import EventBus, SubscriberStalled
from groupchat.events import TextDelta


async def _publish(bus: EventBus, chat_id: str, n: int) -> int:
    pub = bus.publisher(chat_id, "a")
    for i in range(n):
        await pub.emit(TextDelta, message_id="m1", text=str(i))
    return n


async def test_without_a_stall_timeout_the_chat_waits_for_a_stuck_subscriber() -> None:
    bus = EventBus()
    bus.open("c")
    stuck = bus.subscribe("c", maxsize=4)
    publisher = asyncio.create_task(_publish(bus, "c", 10))
    await asyncio.sleep(0)  # the publisher runs until the stuck subscriber is full
    assert bus.next_seq("c") == 4
    for _ in range(20):  # many loop turns: the publisher stays blocked
        await asyncio.sleep(0)
    assert not publisher.done() and bus.next_seq("c") == 4
    stuck.close()  # leaving releases it
    assert await publisher == 10


async def test_a_stuck_subscriber_is_let_go_after_its_stall_timeout() -> None:
    bus = EventBus()
    bus.open("c")
    stuck = bus.subscribe("c", maxsize=4, stall_timeout=0.01)
    healthy = bus.subscribe("c", maxsize=4)

    async def read_all() -> list[str]:
        return [e.text async for e in healthy]  # type: ignore[attr-defined]

    reader = asyncio.create_task(read_all())
    assert await _publish(bus, "c", 50) == 50  # the chat went on without the stuck one
    bus.close("c")
    assert await reader == [str(i) for i in range(50)]  # the durable reader lost nothing
    with pytest.raises(SubscriberStalled, match="stopped reading at seq 0"):
        async for _ in stuck:
            pass


async def test_a_slow_but_steady_subscriber_is_not_let_go() -> None:
    bus = EventBus()
    bus.open("c")
    slow = bus.subscribe("c", maxsize=4, stall_timeout=5.0)

    async def read_all() -> int:
        count = 0
        async for _ in slow:
            count += 1
            await asyncio.sleep(0)
        return count

    reader = asyncio.create_task(read_all())
    await _publish(bus, "c", 200)
    bus.close("c")
    assert await reader == 200
    assert not slow.stalled


async def test_a_chat_goes_on_when_a_stalled_display_is_let_go() -> None:
    chat = GroupChat(
        [
            ScriptedAgent("a", ["x"], when_done="cycle"),
            ScriptedAgent("b", ["y"], when_done="cycle"),
        ],
        termination=MaxMessages(200),
    )
    stuck = chat.bus.subscribe(chat.chat_id, maxsize=16, stall_timeout=0.01)
    result = await chat.run()
    assert result.status == "completed" and len(result.messages) == 200
    assert stuck.stalled


def test_stall_timeout_must_be_positive() -> None:
    bus = EventBus()
    with pytest.raises(ValueError, match="stall_timeout"):
        bus.subscribe("c", stall_timeout=0)
