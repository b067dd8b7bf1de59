"""Behaviour of the in-process EventBus: ordering, stamping, back-pressure, retention, closing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import pytest

from groupchat.bus import (
    ChatClosedError,
    EventBus,
    EventsUnavailableError,
    SubscriberLagged,
    Subscription,
)
from groupchat.events import (
    MANAGER,
    ChatEnded,
    ChatStarted,
    Event,
    EventBase,
    MessagePosted,
    Paused,
    TextDelta,
)
from groupchat.messages import Message
from groupchat.testing import ChatProbe

# --------------------------------------------------------------------------- helpers

GUARD = 2.0  # seconds; only a safety net against hangs, never a way to wait for work
PAST = datetime(2000, 1, 1, tzinfo=UTC)


async def run_until(predicate: Callable[[], bool], *, steps: int = 500) -> None:
    """Let other tasks run, one loop step at a time, until ``predicate`` holds."""
    for _ in range(steps):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def settle(steps: int = 50) -> None:
    """Give every ready task plenty of loop steps (used to show that something does NOT move)."""
    for _ in range(steps):
        await asyncio.sleep(0)


async def take(sub: Subscription, n: int) -> list[Event]:
    """Read exactly ``n`` events."""
    out: list[Event] = []
    async with asyncio.timeout(GUARD):
        for _ in range(n):
            out.append(await anext(sub))
    return out


async def drain(sub: Subscription) -> list[Event]:
    """Read until the iteration ends."""
    async with asyncio.timeout(GUARD):
        return [event async for event in sub]


def seqs(events: Sequence[EventBase]) -> list[int]:
    return [event.seq for event in events]


def texts(events: Sequence[EventBase]) -> list[str]:
    out: list[str] = []
    for event in events:
        assert isinstance(event, TextDelta)
        out.append(event.text)
    return out


async def publish_texts(bus: EventBus, chat_id: str, sender: str, n: int) -> list[TextDelta]:
    pub = bus.publisher(chat_id, sender)
    return [await pub.emit(TextDelta, message_id="m", text=f"{sender}-{i}") for i in range(n)]


# --------------------------------------------------------------------------- stamping


async def test_emit_stamps_chat_id_seq_utc_time_and_sender() -> None:
    bus = EventBus()
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


def test_open_without_id_makes_distinct_ids() -> None:
    bus = EventBus()
    a, b = bus.open(), bus.open()
    assert a and b and a != b
    assert set(bus.chats()) == {a, b}


@pytest.mark.parametrize("field", ["sender", "seq", "chat_id", "time"])
async def test_emit_cannot_override_stamped_fields(field: str) -> None:
    bus = EventBus()
    chat = bus.open("c")
    pub = bus.publisher(chat, "mallory")
    await pub.emit(TextDelta, message_id="m", text="before")
    sub = bus.subscribe(chat)
    spoof: dict[str, Any] = {
        "sender": "alice",
        "seq": 99,
        "chat_id": "other",
        "time": PAST,
    }

    with pytest.raises(TypeError, match=field):
        await pub.emit(TextDelta, message_id="m", text="spoof", **{field: spoof[field]})

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


async def test_each_publisher_stamps_its_own_sender() -> None:
    bus = EventBus()
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


async def test_participant_cannot_post_a_message_in_someone_elses_name() -> None:
    bus = EventBus()
    chat = bus.open("c")
    mallory = bus.publisher(chat, "mallory")
    forged = Message(id="m1", sender="alice", content="I resign")
    with pytest.raises((ValueError, PermissionError)):
        await mallory.emit(MessagePosted, message=forged)
    assert bus.next_seq(chat) == 0


def test_publisher_needs_an_existing_chat_and_a_sender() -> None:
    bus = EventBus()
    with pytest.raises(KeyError, match="nope"):
        bus.publisher("nope", "alice")
    chat = bus.open("c")
    with pytest.raises(ValueError, match="sender"):
        bus.publisher(chat, "")


def test_constructor_and_subscribe_argument_checks() -> None:
    with pytest.raises(ValueError, match="retain"):
        EventBus(retain=0)
    bus = EventBus()
    chat = bus.open("c")
    with pytest.raises(ValueError, match="maxsize"):
        bus.subscribe(chat, maxsize=0)


# --------------------------------------------------------------------------- invalid events


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
    cls: type[Any], fields: dict[str, Any], bad_field: str
) -> None:
    bus = EventBus()
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


# --------------------------------------------------------------------------- ordering


async def test_concurrent_publishers_get_one_gap_free_total_order() -> None:
    bus = EventBus()
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


async def test_many_subscribers_all_see_the_same_order() -> None:
    bus = EventBus()
    chat = bus.open("c")
    subs = [bus.subscribe(chat, maxsize=m, durable=d) for m in (1, 2, 64) for d in (True, False)]
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


async def test_chats_on_one_bus_are_independent() -> None:
    bus = EventBus()
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
    assert bus.is_closed(a) and not bus.is_closed(b)
    with pytest.raises(ChatClosedError):
        await pa.emit(TextDelta, message_id="m", text="late")
    await pb.emit(TextDelta, message_id="m", text="b5")
    bus.close(b)

    got_a, got_b = await drain(sub_a), await drain(sub_b)
    assert texts(got_a) == ["a0", "a1", "a2", "a3"]
    assert texts(got_b) == [f"b{i}" for i in range(6)]
    assert {e.chat_id for e in got_a} == {"a"}
    assert {e.chat_id for e in got_b} == {"b"}


async def test_a_full_durable_subscriber_of_one_chat_does_not_block_another_chat() -> None:
    bus = EventBus()
    a, b = bus.open("a"), bus.open("b")
    stuck = bus.subscribe(a, maxsize=1)
    await bus.publisher(a, "x").emit(TextDelta, message_id="m", text="fills a")
    assert stuck.lag == 1

    async with asyncio.timeout(GUARD):  # would hang if chat b were held back
        events = await publish_texts(bus, b, "y", 50)
    assert seqs(events) == list(range(50))
    assert bus.next_seq(a) == 1


# --------------------------------------------------------------------------- late subscribers


@pytest.mark.parametrize(
    ("start", "expected_first"),
    [(0, 0), (1, 1), (3, 3), (6, 6), (None, 6)],
    ids=["from-0", "from-1", "from-middle", "from-next", "from-now"],
)
async def test_late_subscriber_starts_where_asked(start: int | None, expected_first: int) -> None:
    bus = EventBus()
    chat = bus.open("c")
    await publish_texts(bus, chat, "a", 6)  # seq 0..5 already published

    sub = bus.subscribe(chat, start=start)
    assert sub.lag == 6 - expected_first
    await publish_texts(bus, chat, "b", 2)  # seq 6, 7 published afterwards
    bus.close(chat)

    events = await drain(sub)
    assert seqs(events) == list(range(expected_first, 8))
    assert events == bus.history(chat, expected_first)


async def test_subscriber_from_now_on_an_empty_chat_sees_the_first_event() -> None:
    bus = EventBus()
    chat = bus.open("c")
    sub = bus.subscribe(chat, start=None)
    reader = asyncio.create_task(take(sub, 1))
    await settle()
    assert not reader.done()  # nothing to read yet: it waits
    first = await bus.publisher(chat, "a").emit(TextDelta, message_id="m", text="hi")
    assert await reader == [first]


@pytest.mark.parametrize("offset", [1, 2, 100])
async def test_subscribing_from_an_unpublished_seq_raises(offset: int) -> None:
    bus = EventBus()
    chat = bus.open("c")
    await publish_texts(bus, chat, "a", 3)
    with pytest.raises(EventsUnavailableError, match="not been published"):
        bus.subscribe(chat, start=3 + offset)
    # Nothing was registered: a publisher is not held back by a phantom subscriber.
    await publish_texts(bus, chat, "a", 3)
    assert bus.next_seq(chat) == 6


async def test_subscribing_from_an_unpublished_seq_of_an_empty_chat_raises() -> None:
    bus = EventBus()
    with pytest.raises(EventsUnavailableError):
        bus.subscribe("fresh", start=1)


async def test_subscribing_before_the_chat_exists_creates_it() -> None:
    bus = EventBus()
    sub = bus.subscribe("early")
    assert "early" in bus.chats()
    assert not bus.is_closed("early")
    event = await bus.publisher("early", "a").emit(TextDelta, message_id="m", text="x")
    assert await take(sub, 1) == [event]


async def test_open_with_start_seq_continues_numbering_of_a_stored_chat() -> None:
    bus = EventBus()
    chat = bus.open("restored", start_seq=10)
    assert bus.next_seq(chat) == 10
    with pytest.raises(EventsUnavailableError):
        bus.subscribe(chat, start=0)
    sub = bus.subscribe(chat, start=10)
    event = await bus.publisher(chat, "a").emit(TextDelta, message_id="m", text="x")
    assert event.seq == 10
    assert await take(sub, 1) == [event]


# --------------------------------------------------------------------------- back-pressure


async def test_full_durable_subscriber_blocks_publisher_until_half_caught_up() -> None:
    bus = EventBus()
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


async def test_several_blocked_publishers_resume_and_lose_nothing() -> None:
    bus = EventBus()
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


async def test_non_durable_subscriber_never_blocks_the_publisher() -> None:
    bus = EventBus()
    chat = bus.open("c")
    display = bus.subscribe(chat, maxsize=1, durable=False)
    probe = ChatProbe(bus, chat)  # also a non-durable reader

    async with asyncio.timeout(GUARD):  # would hang if the publisher had to wait
        await publish_texts(bus, chat, "a", 200)
    assert display.lag == 200

    last = await probe.wait_for(TextDelta, text="a-199")
    assert last.seq == 199
    assert seqs(probe.seen) == list(range(200))
    events = await take(display, 200)
    assert texts(events) == [f"a-{i}" for i in range(200)]


async def test_closing_a_subscription_releases_a_blocked_publisher() -> None:
    bus = EventBus()
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


async def test_publisher_waits_for_every_full_durable_subscriber() -> None:
    bus = EventBus()
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


async def test_closing_a_subscription_ends_a_pending_read() -> None:
    bus = EventBus()
    chat = bus.open("c")
    sub = bus.subscribe(chat)
    reader = asyncio.create_task(drain(sub))
    await settle()
    assert not reader.done()
    sub.close()
    assert await reader == []
    assert not bus.is_closed(chat)


# --------------------------------------------------------------------------- retention


async def test_retain_makes_a_far_behind_non_durable_subscriber_lag() -> None:
    retain = 4
    bus = EventBus(retain=retain)
    chat = bus.open("c")
    display = bus.subscribe(chat, durable=False)
    await publish_texts(bus, chat, "a", 200)

    kept = bus.history(chat)
    assert 0 < len(kept) <= 2 * retain + 64  # memory stays bounded
    oldest = kept[0].seq
    assert oldest > 0
    assert seqs(kept) == list(range(oldest, 200))  # the newest events, still gap-free

    with pytest.raises(SubscriberLagged) as info:
        await anext(display)
    assert info.value.wanted == 0
    assert info.value.oldest == oldest

    # The trimmed events are gone for new subscribers too, the retained ones are not.
    with pytest.raises(EventsUnavailableError, match="no longer"):
        bus.subscribe(chat, start=0)
    catch_up = bus.subscribe(chat, start=oldest, durable=False)
    assert seqs(await take(catch_up, 200 - oldest)) == list(range(oldest, 200))


async def test_retain_never_drops_events_a_durable_subscriber_has_not_read() -> None:
    bus = EventBus(retain=2)
    chat = bus.open("c")
    store = bus.subscribe(chat, maxsize=1000)  # durable, not reading yet
    await publish_texts(bus, chat, "a", 300)
    assert seqs(bus.history(chat)) == list(range(300))
    events = await take(store, 300)
    assert texts(events) == [f"a-{i}" for i in range(300)]


async def test_retain_with_durable_reader_and_lagging_display() -> None:
    retain = 3
    bus = EventBus(retain=retain)
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
    assert len(bus.history(chat)) <= 2 * retain + 64
    with pytest.raises(SubscriberLagged) as info:
        await anext(display)
    assert info.value.wanted == 0
    assert info.value.oldest == bus.history(chat)[0].seq


# --------------------------------------------------------------------------- closing


async def test_closing_a_chat_lets_subscribers_finish_then_refuses_publishers() -> None:
    bus = EventBus()
    chat = bus.open("c")
    waiting = bus.subscribe(chat)  # will be waiting for events when the chat closes
    idle = bus.subscribe(chat, durable=False)  # reads only after the close
    reader = asyncio.create_task(drain(waiting))
    await settle()

    pub = bus.publisher(chat, "a")
    published = [await pub.emit(TextDelta, message_id="m", text=str(i)) for i in range(3)]
    bus.close(chat)
    assert bus.is_closed(chat)

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


async def test_closing_a_chat_fails_a_blocked_publisher_but_keeps_its_events() -> None:
    bus = EventBus()
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


async def test_late_subscriber_to_a_closed_chat_reads_everything_and_stops() -> None:
    bus = EventBus()
    chat = bus.open("c")
    pub = bus.publisher(chat, "a")
    published = [await pub.emit(TextDelta, message_id="m", text=str(i)) for i in range(3)]
    bus.close(chat)

    late = bus.subscribe(chat, start=0)
    assert bus.is_closed(chat)  # subscribing must not reopen the chat
    with pytest.raises(ChatClosedError):
        await pub.emit(TextDelta, message_id="m", text="after close")
    assert await drain(late) == published


async def test_reopening_a_closed_chat_continues_numbering() -> None:
    bus = EventBus()
    chat = bus.open("c")
    pub = bus.publisher(chat, "a")
    for i in range(3):
        await pub.emit(TextDelta, message_id="m", text=str(i))
    bus.close(chat)

    assert bus.open(chat, start_seq=0) == chat  # start_seq does not reset an existing log
    assert not bus.is_closed(chat)
    event = await pub.emit(TextDelta, message_id="m", text="3")
    assert event.seq == 3
    sub = bus.subscribe(chat, start=0)
    bus.close(chat)
    assert texts(await drain(sub)) == ["0", "1", "2", "3"]


async def test_discard_closes_the_chat_and_forgets_it() -> None:
    bus = EventBus()
    chat = bus.open("c")
    pub = bus.publisher(chat, "a")
    sub = bus.subscribe(chat)
    await pub.emit(TextDelta, message_id="m", text="x")
    bus.discard(chat)
    assert chat not in bus.chats()
    with pytest.raises(KeyError):
        bus.history(chat)
    with pytest.raises(ChatClosedError):
        await pub.emit(TextDelta, message_id="m", text="y")
    assert texts(await drain(sub)) == ["x"]


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


# --------------------------------------------------------------------------- append


def _stamped(chat_id: str, seq: int, sender: str = "recorded") -> TextDelta:
    return TextDelta(
        chat_id=chat_id,
        seq=seq,
        time=PAST + timedelta(seconds=seq),
        sender=sender,
        message_id="m",
        text=f"r{seq}",
    )


async def test_append_keeps_stamps_and_checks_seq_continuity() -> None:
    bus = EventBus()
    chat = bus.open("c")
    sub = bus.subscribe(chat)

    for seq in range(3):
        await bus.append(_stamped(chat, seq, sender=f"s{seq}"))
    assert bus.next_seq(chat) == 3

    for wrong in (0, 2, 4, 10):  # duplicates and gaps are refused
        with pytest.raises(ValueError, match="expected seq 3"):
            await bus.append(_stamped(chat, wrong))
    assert bus.next_seq(chat) == 3

    live = await bus.publisher(chat, "live").emit(TextDelta, message_id="m", text="l")
    assert live.seq == 3
    with pytest.raises(ValueError):
        await bus.append(_stamped(chat, 3))  # 3 is taken now
    await bus.append(_stamped(chat, 4))

    bus.close(chat)
    events = await drain(sub)
    assert seqs(events) == [0, 1, 2, 3, 4]
    # Sender and time of appended events are kept as recorded, not re-stamped.
    assert [e.sender for e in events] == ["s0", "s1", "s2", "live", "recorded"]
    assert events[0].time == PAST
    assert events[4] == _stamped(chat, 4)


async def test_append_to_a_restored_chat_starts_at_its_start_seq() -> None:
    bus = EventBus()
    chat = bus.open("c", start_seq=5)
    with pytest.raises(ValueError):
        await bus.append(_stamped(chat, 0))
    await bus.append(_stamped(chat, 5))
    assert bus.next_seq(chat) == 6


async def test_append_refuses_unknown_and_closed_chats() -> None:
    bus = EventBus()
    with pytest.raises(KeyError):
        await bus.append(_stamped("ghost", 0))
    chat = bus.open("c")
    bus.close(chat)
    with pytest.raises(ChatClosedError):
        await bus.append(_stamped(chat, 0))
    assert bus.next_seq(chat) == 0


async def test_append_waits_for_a_full_durable_subscriber() -> None:
    bus = EventBus()
    chat = bus.open("c")
    sub = bus.subscribe(chat, maxsize=2)

    async def replay() -> None:
        for seq in range(6):
            await bus.append(_stamped(chat, seq))

    replayer = asyncio.create_task(replay())
    await run_until(lambda: bus.next_seq(chat) == 2)
    await settle()
    assert not replayer.done()
    events = await take(sub, 6)
    async with asyncio.timeout(GUARD):
        await replayer
    assert seqs(events) == list(range(6))


async def test_append_ready_appends_what_fits_and_leaves_the_rest() -> None:
    bus = EventBus()
    chat = bus.open("c")
    full = bus.subscribe(chat, maxsize=4)
    bus.subscribe(chat, durable=False, maxsize=1)  # a display never limits a batch
    batch = [_stamped(chat, seq) for seq in range(10)]

    assert bus.append_ready(batch) == 4  # the durable subscriber has room for 4
    assert bus.append_ready(batch[4:]) == 0  # full: nothing more until it reads
    assert seqs(await take(full, 3)) == [0, 1, 2]
    assert bus.append_ready(batch[4:]) == 3
    assert bus.next_seq(chat) == 7
    assert bus.append_ready([]) == 0

    unbounded = bus.open("u")
    assert bus.append_ready([_stamped(unbounded, seq) for seq in range(1000)]) == 1000


async def test_append_ready_refuses_a_bad_batch_whole() -> None:
    bus = EventBus()
    chat = bus.open("c")
    sub = bus.subscribe(chat)
    gap = [_stamped(chat, 0), _stamped(chat, 1), _stamped(chat, 3)]
    with pytest.raises(ValueError, match="expected seq 2, got c seq 3"):
        bus.append_ready(gap)
    other = [_stamped(chat, 0), _stamped("d", 1)]
    with pytest.raises(ValueError, match="expected seq 1, got d seq 1"):
        bus.append_ready(other)
    assert bus.next_seq(chat) == 0 and sub.lag == 0  # nothing of either was appended
    with pytest.raises(KeyError):
        bus.append_ready([_stamped("ghost", 0)])
    bus.close(chat)
    with pytest.raises(ChatClosedError):
        bus.append_ready([_stamped(chat, 0)])


async def test_append_ready_wakes_a_waiting_reader() -> None:
    bus = EventBus()
    chat = bus.open("c")
    sub = bus.subscribe(chat)
    reader = asyncio.create_task(take(sub, 3))
    await settle()
    assert bus.append_ready([_stamped(chat, seq) for seq in range(3)]) == 3
    async with asyncio.timeout(GUARD):
        assert seqs(await reader) == [0, 1, 2]
