"""The bus contract, publishing: stamping, refused events, one gap-free order per chat."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pydantic
import pytest
from bus_support import (
    GUARD,
    PAST,
    BusFactory,
    drain,
    publish_texts,
    run_until,
    seqs,
    settle,
    take,
    texts,
)

from groupchat.bus import ChatClosedError
from groupchat.events import MANAGER, ChatEnded, MessagePosted, Paused, TextDelta
from groupchat.messages import Message


class PublishContract:
    """Stamping and ordering, for any bus."""

    # ----------------------------------------------------------------------- stamping

    async def test_emit_stamps_chat_id_seq_utc_time_and_sender(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c1")
        pub = bus.publisher(chat, "alice")
        assert pub.chat_id == "c1"
        assert pub.sender == "alice"

        first = await pub.emit(TextDelta, message_id="m1", text="hel")
        second = await pub.emit(TextDelta, message_id="m1", text="lo")
        third = await bus.publisher(chat, MANAGER).emit(Paused, by="alice")

        assert isinstance(first, TextDelta)
        assert isinstance(third, Paused)
        assert [e.seq for e in (first, second, third)] == [0, 1, 2]
        assert {e.chat_id for e in (first, second, third)} == {"c1"}
        assert [e.sender for e in (first, second, third)] == ["alice", "alice", MANAGER]
        for event in (first, second, third):
            assert event.time.tzinfo is not None
            assert event.time.utcoffset() == timedelta(0)
        assert bus.history(chat) == [first, second, third]
        assert bus.next_seq(chat) == 3

    async def test_open_without_id_makes_distinct_ids(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        a, b = bus.open(), bus.open()
        assert a and b and a != b
        await bus.publisher(a, "x").emit(Paused)
        assert (bus.next_seq(a), bus.next_seq(b)) == (1, 0)

    @pytest.mark.parametrize("field", ["sender", "seq", "chat_id", "time"])
    async def test_emit_cannot_override_stamped_fields(
        self, make_bus: BusFactory, field: str
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        pub = bus.publisher(chat, "mallory")
        await pub.emit(TextDelta, message_id="m", text="before")
        sub = bus.subscribe(chat)
        spoof: dict[str, Any] = {"sender": "alice", "seq": 99, "chat_id": "other", "time": PAST}

        with pytest.raises(TypeError, match=field):
            await pub.emit(TextDelta, message_id="m", text="spoof", **{field: spoof[field]})
        with pytest.raises(TypeError, match=field):
            pub.emit_nowait(TextDelta, message_id="m", text="spoof", **{field: spoof[field]})

        # Nothing was appended, no number was used, nobody was impersonated.
        assert bus.next_seq(chat) == 1
        after = await pub.emit(TextDelta, message_id="m", text="after")
        assert after.seq == 1
        assert after.sender == "mallory"
        bus.close(chat)
        events = await drain(sub)
        assert seqs(events) == [0, 1]
        assert texts(events) == ["before", "after"]
        assert all(e.sender == "mallory" and e.chat_id == "c" for e in events)

    async def test_each_publisher_stamps_its_own_sender(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c")
        alice, bob = bus.publisher(chat, "alice"), bus.publisher(chat, "bob")
        await alice.emit(TextDelta, message_id="m", text="a")
        await bob.emit(TextDelta, message_id="m", text="b")
        await alice.emit(TextDelta, message_id="m", text="c")
        assert [(e.sender, e.seq) for e in bus.history(chat)] == [
            ("alice", 0),
            ("bob", 1),
            ("alice", 2),
        ]

    async def test_participant_cannot_post_a_message_in_someone_elses_name(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        mallory = bus.publisher(chat, "mallory")
        forged = Message(id="m1", sender="alice", content="I resign")
        with pytest.raises((ValueError, PermissionError)):
            await mallory.emit(MessagePosted, message=forged)
        with pytest.raises((ValueError, PermissionError)):
            mallory.emit_nowait(MessagePosted, message=forged)
        assert bus.next_seq(chat) == 0

    def test_publisher_needs_an_existing_chat_and_a_sender(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        with pytest.raises(KeyError, match="nope"):
            bus.publisher("nope", "alice")
        chat = bus.open("c")
        with pytest.raises(ValueError, match="sender"):
            bus.publisher(chat, "")

    # ----------------------------------------------------------------------- invalid events

    @pytest.mark.parametrize(
        ("cls", "fields", "bad_field"),
        [
            (TextDelta, {"message_id": "m"}, "text"),
            (TextDelta, {"message_id": "m", "text": "x", "colour": "red"}, "colour"),
            (TextDelta, {"message_id": "m", "text": "x", "type": "paused"}, "type"),
            (ChatEnded, {"reason": "done", "status": "exploded"}, "status"),
            (MessagePosted, {"message": {"id": "m", "sender": "alice"}}, "content"),
        ],
        ids=["missing", "extra", "wrong-type-tag", "bad-literal", "bad-nested"],
    )
    async def test_invalid_fields_raise_and_consume_no_seq(
        self, make_bus: BusFactory, cls: type[Any], fields: dict[str, Any], bad_field: str
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat)
        pub = bus.publisher(chat, "alice")
        await pub.emit(TextDelta, message_id="m", text="0")

        with pytest.raises(pydantic.ValidationError) as info:
            await pub.emit(cls, **fields)
        assert any(err["loc"] and err["loc"][-1] == bad_field for err in info.value.errors())
        assert bus.next_seq(chat) == 1
        assert len(bus.history(chat)) == 1

        await pub.emit(TextDelta, message_id="m", text="1")
        bus.close(chat)
        events = await drain(sub)
        assert seqs(events) == [0, 1]
        assert texts(events) == ["0", "1"]

    # ----------------------------------------------------------------------- ordering

    async def test_concurrent_publishers_get_one_gap_free_total_order(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus(retain=None)
        chat = bus.open("c")
        n_pub, per_pub = 20, 25
        total = n_pub * per_pub
        # A slow-ish durable reader (tiny buffer, so publishers keep getting blocked and woken),
        # a roomy durable reader and a display that never holds the chat back.
        tight = bus.subscribe(chat, maxsize=3)
        roomy = bus.subscribe(chat)
        display = bus.subscribe(chat, durable=False)
        readers = [asyncio.create_task(take(sub, total)) for sub in (tight, roomy, display)]

        async def publisher(name: str) -> list[int]:
            pub = bus.publisher(chat, name)
            got: list[int] = []
            for i in range(per_pub):
                event = await pub.emit(TextDelta, message_id=name, text=f"{name}:{i}")
                got.append(event.seq)
                await asyncio.sleep(0)  # let the others interleave
            return got

        async with asyncio.timeout(GUARD):
            returned = await asyncio.gather(*(publisher(f"p{k}") for k in range(n_pub)))
            seen = await asyncio.gather(*readers)

        # Every publish got a distinct number; together they are exactly 0..total-1.
        assert sorted(s for got in returned for s in got) == list(range(total))
        # Each publisher's own events keep its order.
        for got in returned:
            assert got == sorted(got)
        history = bus.history(chat)
        assert seqs(history) == list(range(total))
        # Publishers actually interleaved (so the order above was a real test).
        assert len({e.sender for e in history[:n_pub]}) > 1
        # Every event carries its publisher's name and the publisher's own order.
        per_sender: dict[str, list[int]] = {}
        for event in history:
            assert isinstance(event, TextDelta)
            name, index = event.text.split(":")
            assert event.sender == name
            per_sender.setdefault(name, []).append(int(index))
        assert per_sender == {f"p{k}": list(range(per_pub)) for k in range(n_pub)}
        # All subscribers saw the very same sequence of (identical) events.
        for events in seen:
            assert events == history

    async def test_many_subscribers_all_see_the_same_order(self, make_bus: BusFactory) -> None:
        bus = make_bus(retain=None)
        chat = bus.open("c")
        subs = [
            bus.subscribe(chat, maxsize=m, durable=d) for m in (1, 2, 64) for d in (True, False)
        ]
        readers = [asyncio.create_task(drain(sub)) for sub in subs]

        async def publisher(name: str) -> None:
            for i in range(30):
                await bus.publisher(chat, name).emit(TextDelta, message_id="m", text=f"{name}{i}")
                await asyncio.sleep(0)

        async with asyncio.timeout(GUARD):
            await asyncio.gather(*(publisher(n) for n in ("a", "b", "c", "d")))
            bus.close(chat)
            results = await asyncio.gather(*readers)

        history = bus.history(chat)
        assert len(history) == 120
        for events in results:
            assert seqs(events) == list(range(120))
            assert events == history

    async def test_chats_on_one_bus_are_independent(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        a, b = bus.open("a"), bus.open("b")
        sub_a, sub_b = bus.subscribe(a), bus.subscribe(b)
        pa, pb = bus.publisher(a, "x"), bus.publisher(b, "x")

        for i in range(3):
            await pa.emit(TextDelta, message_id="m", text=f"a{i}")
        for i in range(5):
            await pb.emit(TextDelta, message_id="m", text=f"b{i}")
        await pa.emit(TextDelta, message_id="m", text="a3")

        # Each chat numbers its own events from 0.
        assert seqs(bus.history(a)) == [0, 1, 2, 3]
        assert seqs(bus.history(b)) == [0, 1, 2, 3, 4]

        # Closing one chat does not close the other.
        bus.close(a)
        with pytest.raises(ChatClosedError):
            await pa.emit(TextDelta, message_id="m", text="late")
        await pb.emit(TextDelta, message_id="m", text="b5")
        bus.close(b)

        got_a, got_b = await drain(sub_a), await drain(sub_b)
        assert texts(got_a) == ["a0", "a1", "a2", "a3"]
        assert texts(got_b) == [f"b{i}" for i in range(6)]
        assert {e.chat_id for e in got_a} == {"a"}
        assert {e.chat_id for e in got_b} == {"b"}

    async def test_a_full_durable_subscriber_of_one_chat_does_not_block_another_chat(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        a, b = bus.open("a"), bus.open("b")
        stuck = bus.subscribe(a, maxsize=1)
        await bus.publisher(a, "x").emit(TextDelta, message_id="m", text="fills a")
        assert stuck.lag == 1

        async with asyncio.timeout(GUARD):  # would hang if chat b were held back
            events = await publish_texts(bus, b, "y", 50)
        assert seqs(events) == list(range(50))
        assert bus.next_seq(a) == 1

    # ----------------------------------------------------------------------- emit_nowait

    async def test_emit_nowait_never_waits_and_keeps_the_order(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat, maxsize=2)
        pub, person = bus.publisher(chat, "a"), bus.publisher(chat, "person")
        publisher = asyncio.create_task(publish_texts(bus, chat, "a", 4))
        await run_until(lambda: bus.next_seq(chat) == 2)
        await settle()
        assert not publisher.done()  # the durable subscriber is full: emit waits ...

        said = person.emit_nowait(TextDelta, message_id="p", text="now")  # ... this does not
        assert (said.seq, said.sender, said.chat_id) == (2, "person", chat)
        assert bus.next_seq(chat) == 3 and sub.lag == 3
        events = await take(sub, 5)
        async with asyncio.timeout(GUARD):
            await publisher
        assert texts(events) == ["a-0", "a-1", "now", "a-2", "a-3"]
        assert seqs(events) == list(range(5))
        bus.close(chat)
        with pytest.raises(ChatClosedError):
            pub.emit_nowait(TextDelta, message_id="m", text="late")
        assert bus.next_seq(chat) == 5
