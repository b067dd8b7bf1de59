"""The bus seam: EventBus is a Bus, and what is built on a bus needs nothing past the protocol.

:class:`ProtocolOnlyBus` delegates to an EventBus but has only the protocol's members, and so do
its publishers and subscriptions: a chat, the recorder, replay, the headless runner and the
console that run on it touch nothing else of a bus. The bus contract passes on it as well.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bus_contract import BusContract, BusFactory
from rich.console import Console

from groupchat import GroupChat, HumanParticipant, MaxMessages, ScriptedAgent
from groupchat.bus import DEFAULT_RETAIN, Bus, EventBus, Publisher, Subscription
from groupchat.bus.memory import MemoryPublisher
from groupchat.bus.readers import FilteredSubscription, MemorySubscription
from groupchat.events import Event, EventBase, HumanInputRequested, MessagePosted
from groupchat.testing import ChatProbe
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.replay import Replayer
from groupchat.transcripts.store import SqliteStore
from groupchat.tui.console import ConsoleSession
from groupchat.tui.headless import run_headless

E = TypeVar("E", bound=EventBase)


# ------------------------------------------------------------ the in-process bus is a Bus


def as_bus(bus: EventBus) -> Bus:
    return bus  # checked by mypy (see the last test): EventBus has every member of Bus


def as_publisher(pub: MemoryPublisher) -> Publisher:
    return pub


def as_subscription(sub: MemorySubscription | FilteredSubscription) -> Subscription:
    return sub


def test_event_bus_its_publishers_and_subscriptions_satisfy_the_protocols() -> None:
    bus = as_bus(EventBus())
    chat = bus.open("c")
    assert isinstance(bus, Bus)
    assert isinstance(bus.publisher(chat, "a"), Publisher)
    assert isinstance(bus.subscribe(chat), Subscription)
    assert isinstance(bus.subscribe(chat, kinds=frozenset({"human_input"})), Subscription)
    assert not isinstance(object(), Bus)


def test_the_checker_accepts_event_bus_as_a_bus(tmp_path: Path) -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed")
    from mypy import api

    out, err, status = api.run(
        [
            "--follow-imports=silent",
            "--ignore-missing-imports",
            f"--cache-dir={tmp_path}",
            __file__,
        ]
    )
    assert status == 0, out + err


# ------------------------------------------------------------ a bus that is only the protocol


class OnlyPublisher:
    __slots__ = ("_pub",)

    def __init__(self, pub: Publisher) -> None:
        self._pub = pub

    @property
    def chat_id(self) -> str:
        return self._pub.chat_id

    @property
    def sender(self) -> str:
        return self._pub.sender

    async def emit(self, cls: type[E], /, **fields: Any) -> E:
        return await self._pub.emit(cls, **fields)

    def emit_nowait(self, cls: type[E], /, **fields: Any) -> E:
        return self._pub.emit_nowait(cls, **fields)


class OnlySubscription:
    __slots__ = ("_sub",)

    def __init__(self, sub: Subscription) -> None:
        self._sub = sub

    def __aiter__(self) -> OnlySubscription:
        return self

    async def __anext__(self) -> Event:
        return await anext(self._sub)

    @property
    def lag(self) -> int:
        return self._sub.lag

    def ready(self) -> list[Event]:
        return self._sub.ready()

    def close(self) -> None:
        self._sub.close()


class ProtocolOnlyBus:
    __slots__ = ("_bus",)

    def __init__(self, *, retain: int | None = DEFAULT_RETAIN) -> None:
        self._bus = EventBus(retain=retain)

    def open(self, chat_id: str | None = None, *, start_seq: int = 0) -> str:
        return self._bus.open(chat_id, start_seq=start_seq)

    def publisher(self, chat_id: str, sender: str) -> Publisher:
        return OnlyPublisher(self._bus.publisher(chat_id, sender))

    def subscribe(
        self,
        chat_id: str,
        *,
        start: int | None = 0,
        maxsize: int = 1024,
        durable: bool = True,
        stall_timeout: float | None = None,
        kinds: frozenset[str] | None = None,
    ) -> Subscription:
        sub = self._bus.subscribe(
            chat_id,
            start=start,
            maxsize=maxsize,
            durable=durable,
            stall_timeout=stall_timeout,
            kinds=kinds,
        )
        return OnlySubscription(sub)

    async def append(self, event: Event) -> None:
        await self._bus.append(event)

    def append_ready(self, events: Sequence[Event]) -> int:
        return self._bus.append_ready(events)

    def history(self, chat_id: str, start: int = 0) -> list[Event]:
        return self._bus.history(chat_id, start)

    def next_seq(self, chat_id: str) -> int:
        return self._bus.next_seq(chat_id)

    def oldest_seq(self, chat_id: str) -> int:
        return self._bus.oldest_seq(chat_id)

    def close(self, chat_id: str) -> None:
        self._bus.close(chat_id)

    def discard(self, chat_id: str) -> None:
        self._bus.discard(chat_id)


def as_only_bus(bus: ProtocolOnlyBus) -> Bus:
    return bus


def members(cls: type) -> set[str]:
    """The public members a class defines, with the async iterator's two."""
    return {
        name for name in vars(cls) if not name.startswith("_") or name in ("__aiter__", "__anext__")
    }


@pytest.mark.parametrize(
    ("wrapper", "protocol"),
    [(ProtocolOnlyBus, Bus), (OnlyPublisher, Publisher), (OnlySubscription, Subscription)],
)
def test_the_protocol_only_bus_has_the_protocol_s_members_and_no_more(
    wrapper: type, protocol: type
) -> None:
    assert members(wrapper) == members(protocol)
    assert members(protocol) <= set(dir(EventBus)) | set(dir(MemoryPublisher)) | set(
        dir(MemorySubscription)
    )


class TestProtocolOnlyBus(BusContract):
    """The contract's tests use nothing past the protocol either."""

    @pytest.fixture
    def make_bus(self) -> BusFactory:
        return ProtocolOnlyBus


def duo(bus: Bus, **options: Any) -> tuple[GroupChat, HumanParticipant]:
    bob = HumanParticipant("bob")
    chat = GroupChat(
        [ScriptedAgent("ada", ["Hello bob.", "Bye."]), bob],
        termination=MaxMessages(3),
        bus=bus,
        **options,
    )
    return chat, bob


async def test_a_recorded_headless_chat_runs_on_the_protocol_alone(tmp_path: Path) -> None:
    chat, _ = duo(ProtocolOnlyBus(retain=None), chat_id="seam")
    probe = ChatProbe.of(chat)
    out, err = io.StringIO(), io.StringIO()
    async with await SqliteStore.open(tmp_path / "chats.db") as store:
        recorder = StoreRecorder(store, chat.bus, chat.chat_id, title="seam")
        await recorder.start()
        async with asyncio.timeout(10):
            result = await run_headless(
                chat, "greet", stdin=io.StringIO("Hi ada.\n"), stdout=out, stderr=err
            )
            await recorder.wait()
        stored = await store.events(chat.chat_id)

    assert result.status == "completed"
    assert [(m.sender, m.content) for m in result.messages if m.kind == "turn"] == [
        ("ada", "Hello bob."),
        ("bob", "Hi ada."),
        ("ada", "Bye."),
    ]
    assert "Hi ada." in out.getvalue()
    assert stored == chat.events() == await probe.drain()
    assert [e.seq for e in stored] == list(range(len(stored)))

    # The stored chat replays onto a bus that is only the protocol, and resumes on one.
    replay_bus = ProtocolOnlyBus()
    replayer = Replayer(stored, replay_bus, speed=0)
    reader = replay_bus.subscribe(replayer.chat_id, start=replayer.position, maxsize=1 << 20)
    async with asyncio.timeout(10):
        await replayer.run()
        assert [event async for event in reader] == stored
    again, _ = duo(ProtocolOnlyBus(), chat_id="seam")
    again.load(stored)
    assert again.bus.next_seq("seam") == len(stored)


async def test_the_console_runs_a_chat_on_the_protocol_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Hi ada.\n"))
    chat, bob = duo(ProtocolOnlyBus())
    buf = io.StringIO()
    console = Console(file=buf, width=100, color_system=None, force_terminal=False)
    probe = ChatProbe.of(chat)
    async with asyncio.timeout(10):
        result = await ConsoleSession(chat, human=bob, console=console).run(
            "greet", interactive=False
        )
    turns = [m.content for m in result.messages if m.kind == "turn"]
    assert turns == ["Hello bob.", "Hi ada.", "Bye."]
    assert "Hi ada." in buf.getvalue()
    seen = await probe.drain()
    assert [type(e) for e in seen].count(HumanInputRequested) == 1
    assert sum(isinstance(e, MessagePosted) for e in seen) == len(result.messages)
