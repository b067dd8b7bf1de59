"""The bus contract, reading: where a subscriber starts, filtered reads, reads without waiting,
and how closing a chat or a subscription ends them."""

from __future__ import annotations

import asyncio

import pytest
from bus_support import BusFactory, drain, publish_texts, seqs, settle, take, texts

from groupchat.bus import ChatClosedError, EventsUnavailableError
from groupchat.events import Event, HumanInput, Paused, TextDelta


class ReadContract:
    """Subscribing, reading and closing, for any bus."""

    # ----------------------------------------------------------------------- late subscribers

    @pytest.mark.parametrize(
        ("start", "expected_first"),
        [(0, 0), (1, 1), (3, 3), (6, 6), (None, 6)],
        ids=["from-0", "from-1", "from-middle", "from-next", "from-now"],
    )
    async def test_late_subscriber_starts_where_asked(
        self, make_bus: BusFactory, start: int | None, expected_first: int
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        await publish_texts(bus, chat, "a", 6)  # seq 0..5 already published

        sub = bus.subscribe(chat, start=start)
        assert sub.lag == 6 - expected_first
        await publish_texts(bus, chat, "b", 2)  # seq 6, 7 published afterwards
        bus.close(chat)

        events = await drain(sub)
        assert seqs(events) == list(range(expected_first, 8))
        assert events == bus.history(chat, expected_first)

    async def test_subscriber_from_now_on_an_empty_chat_sees_the_first_event(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat, start=None)
        reader = asyncio.create_task(take(sub, 1))
        await settle()
        assert not reader.done()  # nothing to read yet: it waits
        first = await bus.publisher(chat, "a").emit(TextDelta, message_id="m", text="hi")
        assert await reader == [first]

    @pytest.mark.parametrize("offset", [1, 2, 100])
    async def test_subscribing_from_an_unpublished_seq_raises(
        self, make_bus: BusFactory, offset: int
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        await publish_texts(bus, chat, "a", 3)
        with pytest.raises(EventsUnavailableError, match="not been published"):
            bus.subscribe(chat, start=3 + offset)
        # Nothing was registered: a publisher is not held back by a phantom subscriber.
        await publish_texts(bus, chat, "a", 3)
        assert bus.next_seq(chat) == 6

    async def test_subscribing_from_an_unpublished_seq_of_an_empty_chat_raises(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        with pytest.raises(EventsUnavailableError):
            bus.subscribe("fresh", start=1)

    async def test_subscribing_before_the_chat_exists_creates_it(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        sub = bus.subscribe("early")
        assert bus.next_seq("early") == 0
        event = await bus.publisher("early", "a").emit(TextDelta, message_id="m", text="x")
        assert await take(sub, 1) == [event]

    async def test_open_with_start_seq_continues_numbering_of_a_stored_chat(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("restored", start_seq=10)
        assert bus.next_seq(chat) == 10
        assert bus.oldest_seq(chat) == 10
        with pytest.raises(EventsUnavailableError):
            bus.subscribe(chat, start=0)
        sub = bus.subscribe(chat, start=10)
        event = await bus.publisher(chat, "a").emit(TextDelta, message_id="m", text="x")
        assert event.seq == 10
        assert await take(sub, 1) == [event]

    async def test_a_subscriber_in_place_before_a_renumbering_reads_from_the_new_start(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        waiting = bus.subscribe(chat)  # a joined terminal subscribes before it knows where
        bus.open(chat, start_seq=7)  # nothing published yet: the chat continues at 7
        assert (bus.next_seq(chat), bus.oldest_seq(chat)) == (7, 7)
        event = await bus.publisher(chat, "a").emit(TextDelta, message_id="m", text="x")
        assert event.seq == 7
        assert await take(waiting, 1) == [event]

    def test_subscribe_argument_checks(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c")
        with pytest.raises(ValueError, match="maxsize"):
            bus.subscribe(chat, maxsize=0)
        with pytest.raises(ValueError, match="stall_timeout"):
            bus.subscribe("c", stall_timeout=0)

    # ----------------------------------------------------------------------- kinds and ready()

    async def test_a_filtered_subscription_reads_only_its_kinds_in_order(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        pub = bus.publisher(chat, "bob")
        before = await pub.emit(HumanInput, text="early")
        await pub.emit(TextDelta, message_id="m", text="x")
        everything = bus.subscribe(chat, kinds=frozenset({"human_input", "paused"}))
        from_now = bus.subscribe(chat, start=None, kinds=frozenset({"human_input"}))
        assert (everything.lag, from_now.lag) == (1, 0)

        later = [
            await pub.emit(TextDelta, message_id="m", text="y"),
            await pub.emit(Paused),
            await pub.emit(HumanInput, text="late"),
        ]
        assert everything.ready() == [before, later[1], later[2]]
        assert everything.lag == 0 and everything.ready() == []  # they count as read
        assert from_now.lag == 1
        assert await take(from_now, 1) == [later[2]]

    async def test_a_filtered_subscription_never_holds_the_chat_back_nor_misses_one(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus(retain=2)
        chat = bus.open("c")
        inbox = bus.subscribe(chat, maxsize=1, kinds=frozenset({"human_input"}))
        pub = bus.publisher(chat, "bob")
        sent: list[Event] = []
        async with asyncio.timeout(2.0):  # would hang if the unread inbox held the chat back
            for i in range(100):
                if i % 10 == 0:
                    sent.append(await pub.emit(HumanInput, text=str(i)))
                else:
                    await pub.emit(TextDelta, message_id="m", text=str(i))
        assert bus.oldest_seq(chat) > 0  # the log was trimmed meanwhile
        assert inbox.lag == 10
        bus.close(chat)
        assert await drain(inbox) == sent  # the rest is read, then the iteration ends

    async def test_a_closed_filtered_subscription_ends_a_pending_read(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        inbox = bus.subscribe(chat, kinds=frozenset({"human_input"}))
        reader = asyncio.create_task(drain(inbox))
        await settle()
        assert not reader.done()
        inbox.close()
        assert await reader == []
        await bus.publisher(chat, "bob").emit(HumanInput, text="after")
        assert inbox.lag == 0 and inbox.ready() == []

    async def test_ready_reads_what_is_there_without_waiting(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat, maxsize=4)
        assert sub.ready() == []
        published = await publish_texts(bus, chat, "a", 3)
        assert sub.lag == 3
        assert sub.ready() == published
        assert sub.lag == 0 and sub.ready() == []
        more = await publish_texts(bus, chat, "b", 1)
        bus.close(chat)
        assert await drain(sub) == more
        sub.close()
        assert sub.ready() == [] and sub.lag == 0

    async def test_ready_releases_a_blocked_publisher(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat, maxsize=2)
        publisher = asyncio.create_task(publish_texts(bus, chat, "a", 5))
        await settle()
        assert not publisher.done() and bus.next_seq(chat) == 2
        got = sub.ready()
        async with asyncio.timeout(2.0):
            while len(got) < 5:
                got += sub.ready() or [await anext(sub)]
            await publisher
        assert texts(got) == [f"a-{i}" for i in range(5)]

    # ----------------------------------------------------------------------- closing

    async def test_closing_a_chat_lets_subscribers_finish_then_refuses_publishers(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        waiting = bus.subscribe(chat)  # will be waiting for events when the chat closes
        idle = bus.subscribe(chat, durable=False)  # reads only after the close
        reader = asyncio.create_task(drain(waiting))
        await settle()

        pub = bus.publisher(chat, "a")
        published = [await pub.emit(TextDelta, message_id="m", text=str(i)) for i in range(3)]
        bus.close(chat)

        assert await reader == published
        assert await drain(idle) == published
        # A finished subscription stays finished.
        with pytest.raises(StopAsyncIteration):
            await anext(waiting)

        with pytest.raises(ChatClosedError):
            await pub.emit(TextDelta, message_id="m", text="late")
        with pytest.raises(ChatClosedError):
            await bus.publisher(chat, "b").emit(Paused)
        assert bus.next_seq(chat) == 3
        assert bus.history(chat) == published

    async def test_late_subscriber_to_a_closed_chat_reads_everything_and_stops(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        pub = bus.publisher(chat, "a")
        published = [await pub.emit(TextDelta, message_id="m", text=str(i)) for i in range(3)]
        bus.close(chat)

        late = bus.subscribe(chat, start=0)
        with pytest.raises(ChatClosedError):  # subscribing must not reopen the chat
            await pub.emit(TextDelta, message_id="m", text="after close")
        assert await drain(late) == published

    async def test_reopening_a_closed_chat_continues_numbering(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c")
        pub = bus.publisher(chat, "a")
        for i in range(3):
            await pub.emit(TextDelta, message_id="m", text=str(i))
        bus.close(chat)

        assert bus.open(chat, start_seq=0) == chat  # start_seq does not reset an existing log
        event = await pub.emit(TextDelta, message_id="m", text="3")
        assert event.seq == 3
        sub = bus.subscribe(chat, start=0)
        bus.close(chat)
        assert texts(await drain(sub)) == ["0", "1", "2", "3"]

    async def test_discard_closes_the_chat_and_forgets_it(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c")
        pub = bus.publisher(chat, "a")
        sub = bus.subscribe(chat)
        await pub.emit(TextDelta, message_id="m", text="x")
        bus.discard(chat)
        with pytest.raises(KeyError):
            bus.history(chat)
        with pytest.raises(KeyError):
            bus.next_seq(chat)
        with pytest.raises(ChatClosedError):
            await pub.emit(TextDelta, message_id="m", text="y")
        assert texts(await drain(sub)) == ["x"]
        bus.close("never-opened")  # closing or discarding an unknown chat does nothing
        bus.discard("never-opened")

    async def test_closing_a_subscription_ends_a_pending_read(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat)
        reader = asyncio.create_task(drain(sub))
        await settle()
        assert not reader.done()
        sub.close()
        assert await reader == []
        sub.close()  # twice is harmless
        # The chat is still open.
        assert (await bus.publisher(chat, "a").emit(Paused)).seq == 0
