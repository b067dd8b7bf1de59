"""The bus contract, appends: events stamped already (a transcript, another process) keep their
stamps and must continue the chat's numbering."""

from __future__ import annotations

import asyncio

import pytest
from bus_support import GUARD, PAST, BusFactory, drain, run_until, seqs, settle, stamped, take

from groupchat.bus import ChatClosedError
from groupchat.events import TextDelta


class AppendContract:
    """:meth:`Bus.append` and :meth:`Bus.append_ready`, for any bus."""

    async def test_append_keeps_stamps_and_checks_seq_continuity(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat)

        for seq in range(3):
            await bus.append(stamped(chat, seq, sender=f"s{seq}"))
        assert bus.next_seq(chat) == 3

        for wrong in (0, 2, 4, 10):  # duplicates and gaps are refused
            with pytest.raises(ValueError, match="expected seq 3"):
                await bus.append(stamped(chat, wrong))
        assert bus.next_seq(chat) == 3

        live = await bus.publisher(chat, "live").emit(TextDelta, message_id="m", text="l")
        assert live.seq == 3
        with pytest.raises(ValueError):
            await bus.append(stamped(chat, 3))  # 3 is taken now
        await bus.append(stamped(chat, 4))

        bus.close(chat)
        events = await drain(sub)
        assert seqs(events) == [0, 1, 2, 3, 4]
        # Sender and time of appended events are kept as recorded, not re-stamped.
        assert [e.sender for e in events] == ["s0", "s1", "s2", "live", "recorded"]
        assert events[0].time == PAST
        assert events[4] == stamped(chat, 4)

    async def test_append_to_a_restored_chat_starts_at_its_start_seq(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c", start_seq=5)
        with pytest.raises(ValueError):
            await bus.append(stamped(chat, 0))
        await bus.append(stamped(chat, 5))
        assert bus.next_seq(chat) == 6

    async def test_append_refuses_unknown_and_closed_chats(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        with pytest.raises(KeyError):
            await bus.append(stamped("ghost", 0))
        chat = bus.open("c")
        bus.close(chat)
        with pytest.raises(ChatClosedError):
            await bus.append(stamped(chat, 0))
        assert bus.next_seq(chat) == 0

    async def test_append_waits_for_a_full_durable_subscriber(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat, maxsize=2)

        async def replay() -> None:
            for seq in range(6):
                await bus.append(stamped(chat, seq))

        replayer = asyncio.create_task(replay())
        await run_until(lambda: bus.next_seq(chat) == 2)
        await settle()
        assert not replayer.done()
        events = await take(sub, 6)
        async with asyncio.timeout(GUARD):
            await replayer
        assert seqs(events) == list(range(6))

    async def test_append_ready_appends_what_fits_and_leaves_the_rest(
        self, make_bus: BusFactory
    ) -> None:
        bus = make_bus()
        chat = bus.open("c")
        full = bus.subscribe(chat, maxsize=4)
        bus.subscribe(chat, durable=False, maxsize=1)  # a display never limits a batch
        batch = [stamped(chat, seq) for seq in range(10)]

        assert bus.append_ready(batch) == 4  # the durable subscriber has room for 4
        assert bus.append_ready(batch[4:]) == 0  # full: nothing more until it reads
        assert seqs(await take(full, 3)) == [0, 1, 2]
        assert bus.append_ready(batch[4:]) == 3
        assert bus.next_seq(chat) == 7
        assert bus.append_ready([]) == 0

        unbounded = bus.open("u")
        assert bus.append_ready([stamped(unbounded, seq) for seq in range(1000)]) == 1000

    async def test_append_ready_refuses_a_bad_batch_whole(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat)
        gap = [stamped(chat, 0), stamped(chat, 1), stamped(chat, 3)]
        with pytest.raises(ValueError, match="expected seq 2, got c seq 3"):
            bus.append_ready(gap)
        other = [stamped(chat, 0), stamped("d", 1)]
        with pytest.raises(ValueError, match="expected seq 1, got d seq 1"):
            bus.append_ready(other)
        assert bus.next_seq(chat) == 0 and sub.lag == 0  # nothing of either was appended
        with pytest.raises(KeyError):
            bus.append_ready([stamped("ghost", 0)])
        bus.close(chat)
        with pytest.raises(ChatClosedError):
            bus.append_ready([stamped(chat, 0)])

    async def test_append_ready_wakes_a_waiting_reader(self, make_bus: BusFactory) -> None:
        bus = make_bus()
        chat = bus.open("c")
        sub = bus.subscribe(chat)
        reader = asyncio.create_task(take(sub, 3))
        await settle()
        assert bus.append_ready([stamped(chat, seq) for seq in range(3)]) == 3
        async with asyncio.timeout(GUARD):
            assert seqs(await reader) == [0, 1, 2]
