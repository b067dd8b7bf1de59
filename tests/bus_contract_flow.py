"""The bus contract, flow: back-pressure from durable subscribers, letting a stalled one go,
and trimming."""

from __future__ import annotations

import asyncio

import pytest
from bus_support import (
    GUARD,
    BusFactory,
    drain,
    publish_texts,
    run_until,
    seqs,
    settle,
    take,
    texts,
)

from groupchat import GroupChat, MaxMessages, ScriptedAgent
from groupchat.bus import (
    ChatClosedError,
    EventsUnavailableError,
    SubscriberLagged,
    SubscriberStalled,
)
from groupchat.events import TextDelta
from groupchat.testing import ChatProbe


class FlowContract:
    """Back-pressure, stalls and trimming, for any bus."""

    # ----------------------------------------------------------------------- back-pressure

    async def test_full_durable_subscriber_blocks_publisher_until_half_caught_up(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat, maxsize=4)  # durable is the default
        publisher = asyncio.create_task(publish_texts(bus, chat, "a", 10))

        # The publisher fills the subscriber's buffer and then waits.
        await run_until(lambda: bus.next_seq(chat) == 4)
        await settle()
        assert not publisher.done()
        assert bus.next_seq(chat) == 4
        assert sub.lag == 4

        # One read leaves it 3 behind: more than half of 4, so the publisher still waits.
        first = await take(sub, 1)
        await settle()
        assert not publisher.done()
        assert bus.next_seq(chat) == 4

        # At 2 behind (half) the publisher is released and fills the buffer again: 2 + 4 = 6.
        second = await take(sub, 1)
        await run_until(lambda: bus.next_seq(chat) == 6)
        await settle()
        assert not publisher.done()
        assert bus.next_seq(chat) == 6
        assert sub.lag == 4

        # Reading on lets the publisher finish; nothing was lost or reordered.
        rest = await take(sub, 8)
        async with asyncio.timeout(GUARD):
            await publisher
        events = first + second + rest
        assert seqs(events) == list(range(10))
        assert texts(events) == [f"a-{i}" for i in range(10)]
        assert sub.lag == 0

    async def test_several_blocked_publishers_resume_and_lose_nothing(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat, maxsize=2)
        publishers = [asyncio.create_task(publish_texts(bus, chat, f"p{k}", 5)) for k in range(4)]

        await run_until(lambda: bus.next_seq(chat) == 2)
        await settle()
        assert bus.next_seq(chat) == 2
        assert not any(p.done() for p in publishers)

        events = await take(sub, 20)
        async with asyncio.timeout(GUARD):
            await asyncio.gather(*publishers)
        assert seqs(events) == list(range(20))
        assert sorted(texts(events)) == sorted(f"p{k}-{i}" for k in range(4) for i in range(5))
        for k in range(4):
            mine = [t for t in texts(events) if t.startswith(f"p{k}-")]
            assert mine == [f"p{k}-{i}" for i in range(5)]

    async def test_non_durable_subscriber_never_blocks_the_publisher(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus(retain=None)
        chat = bus.open("c")
        display = bus.subscribe(chat, maxsize=1, durable=False)
        probe = ChatProbe(bus, chat)  # a durable reader that is never full

        async with asyncio.timeout(GUARD):  # would hang if the publisher had to wait
            await publish_texts(bus, chat, "a", 200)
        assert display.lag == 200

        last = await probe.wait_for(TextDelta, text="a-199")
        assert last.seq == 199
        assert seqs(probe.seen) == list(range(200))
        events = await take(display, 200)
        assert texts(events) == [f"a-{i}" for i in range(200)]

    async def test_closing_a_subscription_releases_a_blocked_publisher(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat, maxsize=3)
        publisher = asyncio.create_task(publish_texts(bus, chat, "a", 10))
        await run_until(lambda: bus.next_seq(chat) == 3)
        await settle()
        assert not publisher.done()

        sub.close()
        async with asyncio.timeout(GUARD):
            events = await publisher
        assert seqs(events) == list(range(10))
        assert sub.lag == 0
        with pytest.raises(StopAsyncIteration):
            await anext(sub)

    async def test_publisher_waits_for_every_full_durable_subscriber(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        one, two = bus.subscribe(chat, maxsize=3), bus.subscribe(chat, maxsize=3)
        publisher = asyncio.create_task(publish_texts(bus, chat, "a", 6))
        await run_until(lambda: bus.next_seq(chat) == 3)

        one.close()
        await settle()
        assert not publisher.done()  # ``two`` is still full
        assert bus.next_seq(chat) == 3

        two.close()
        async with asyncio.timeout(GUARD):
            await publisher
        assert bus.next_seq(chat) == 6

    async def test_closing_a_chat_fails_a_blocked_publisher_but_keeps_its_events(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat, maxsize=2)
        publisher = asyncio.create_task(publish_texts(bus, chat, "a", 5))
        await run_until(lambda: bus.next_seq(chat) == 2)
        await settle()
        assert not publisher.done()

        bus.close(chat)
        with pytest.raises(ChatClosedError):
            async with asyncio.timeout(GUARD):
                await publisher
        events = await drain(sub)
        assert texts(events) == ["a-0", "a-1"]

    # ----------------------------------------------------------------------- stalls

    async def test_without_a_stall_timeout_the_chat_waits_for_a_stuck_subscriber(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        bus.open("c")
        stuck = bus.subscribe("c", maxsize=4)
        publisher = asyncio.create_task(publish_texts(bus, "c", "a", 10))
        await run_until(lambda: bus.next_seq("c") == 4)  # until the stuck subscriber is full
        await settle()  # many loop turns: the publisher stays blocked
        assert not publisher.done() and bus.next_seq("c") == 4
        stuck.close()  # leaving releases it
        async with asyncio.timeout(GUARD):
            assert len(await publisher) == 10

    async def test_a_stuck_subscriber_is_let_go_after_its_stall_timeout(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        bus.open("c")
        stuck = bus.subscribe("c", maxsize=4, stall_timeout=0.01)
        healthy = bus.subscribe("c", maxsize=4)
        reader = asyncio.create_task(drain(healthy))
        # The chat goes on without the stuck one.
        assert len(await publish_texts(bus, "c", "a", 50)) == 50
        bus.close("c")
        assert texts(await reader) == [f"a-{i}" for i in range(50)]  # the reader lost nothing
        with pytest.raises(SubscriberStalled, match="stopped reading at seq 0") as info:
            async for _ in stuck:
                pass
        assert info.value.cursor == 0

    async def test_a_slow_but_steady_subscriber_is_not_let_go(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        bus.open("c")
        slow = bus.subscribe("c", maxsize=4, stall_timeout=5.0)

        async def read_all() -> int:
            count = 0
            async for _ in slow:  # a stalled one would raise SubscriberStalled here
                count += 1
                await asyncio.sleep(0)
            return count

        reader = asyncio.create_task(read_all())
        await publish_texts(bus, "c", "a", 200)
        bus.close("c")
        assert await reader == 200

    async def test_a_chat_goes_on_when_a_stalled_display_is_let_go(
        self, make_bus: BusFactory
    ) -> None:
        chat = GroupChat(
            [
                ScriptedAgent("a", ["x"], when_done="cycle"),
                ScriptedAgent("b", ["y"], when_done="cycle"),
            ],
            termination=MaxMessages(200),
            bus=make_bus(),
        )
        stuck = chat.bus.subscribe(chat.chat_id, maxsize=16, stall_timeout=0.01)
        result = await chat.run()
        assert result.status == "completed" and len(result.messages) == 200
        with pytest.raises(SubscriberStalled):
            await anext(stuck)

    # ----------------------------------------------------------------------- trimming

    async def test_trimming_makes_a_far_behind_non_durable_subscriber_lag(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus(retain=4)
        chat = bus.open("c")
        display = bus.subscribe(chat, durable=False)
        await publish_texts(bus, chat, "a", 200)

        kept = bus.history(chat)
        oldest = kept[0].seq
        assert oldest > 0 and oldest == bus.oldest_seq(chat)
        assert seqs(kept) == list(range(oldest, 200))  # the newest events, still gap-free

        with pytest.raises(SubscriberLagged) as info:
            await anext(display)
        assert info.value.wanted == 0
        assert info.value.oldest == oldest
        with pytest.raises(SubscriberLagged):
            display.ready()

        # The trimmed events are gone for new subscribers too, the retained ones are not.
        with pytest.raises(EventsUnavailableError, match="no longer"):
            bus.subscribe(chat, start=0)
        catch_up = bus.subscribe(chat, start=oldest, durable=False)
        assert seqs(await take(catch_up, 200 - oldest)) == list(range(oldest, 200))

    async def test_trimming_never_drops_events_a_durable_subscriber_has_not_read(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus(retain=2)
        chat = bus.open("c")
        store = bus.subscribe(chat, maxsize=1000)  # durable, not reading yet
        await publish_texts(bus, chat, "a", 300)
        assert seqs(bus.history(chat)) == list(range(300))
        events = await take(store, 300)
        assert texts(events) == [f"a-{i}" for i in range(300)]

    async def test_trimming_with_durable_reader_and_lagging_display(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus(retain=3)
        chat = bus.open("c")
        store = bus.subscribe(chat, maxsize=8)  # durable: keeps up and holds the chat back
        display = bus.subscribe(chat, durable=False)  # never reads
        reader = asyncio.create_task(take(store, 300))

        async def publish() -> None:
            for i in range(300):
                await bus.publisher(chat, "a").emit(TextDelta, message_id="m", text=str(i))

        async with asyncio.timeout(GUARD):
            await publish()
            stored = await reader

        assert seqs(stored) == list(range(300))
        assert texts(stored) == [str(i) for i in range(300)]
        with pytest.raises(SubscriberLagged) as info:
            await anext(display)
        assert info.value.wanted == 0
        assert info.value.oldest == bus.history(chat)[0].seq == bus.oldest_seq(chat)
