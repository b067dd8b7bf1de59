"""Agents hosted by workers: turns asked of a worker through Redis, streamed back and posted
by the manager; interrupts, lost workers, refusals and asks of a person.

Manager and worker run in this process on separate Redis connections (the multi-process
behaviour is in ``test_distributed_cli``); Redis is a real server (``redis_url``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import pytest
from redis_server import until

from groupchat import GroupChat
from groupchat.agents import HumanParticipant, LLMAgent
from groupchat.distributed import keys
from groupchat.distributed.hosting import HostedParticipant, Hosting
from groupchat.distributed.redis_bus import RedisBus
from groupchat.distributed.url import BusURL, connect
from groupchat.distributed.wire import Item, Text
from groupchat.distributed.worker import Worker
from groupchat.events import ErrorEvent, ModelCall, TextDelta
from groupchat.models.base import ModelRequest, StreamEvent, TextChunk
from groupchat.participant import ChatView, Reply, TurnItem
from groupchat.testing import ChatProbe, ScriptedAgent

GUARD = 20.0


class Team:
    """A manager with its chat on the bus, and workers started on demand."""

    def __init__(self, bus: RedisBus, url: str, chat: GroupChat, hosting: Hosting) -> None:
        self.bus = bus
        self.url = url
        self.chat = chat
        self.hosting = hosting
        self.workers: list[tuple[Worker, asyncio.Task[None]]] = []

    async def worker(
        self, agents: dict[str, object], *, url: str | None = None, **options: object
    ) -> Worker:
        client = await connect(BusURL.parse(url or self.url))
        notes: list[str] = []
        worker = Worker(client, agents, team="t", note=notes.append, **options)  # type: ignore[arg-type]
        self.workers.append((worker, asyncio.create_task(worker.run())))
        return worker

    async def close(self) -> None:
        for worker, task in self.workers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await worker.client.aclose()
        await self.hosting.close()
        await self.bus.aclose()


async def team(url: str, members: Sequence[object], **options: object) -> Team:
    bus = await RedisBus.connect(url, keep_for=None)
    hosting = Hosting(bus, beat_timeout=float(options.pop("beat_timeout", 3.0)))  # type: ignore[arg-type]
    wrapped = [
        m if getattr(m, "human", False) else HostedParticipant(m, hosting)  # type: ignore[arg-type]
        for m in members
    ]
    chat = GroupChat(wrapped, bus=bus, **options)  # type: ignore[arg-type]
    hosting.attach(chat)
    agents = [m.name for m in members if not getattr(m, "human", False)]  # type: ignore[attr-defined]
    bus.describe(chat.chat_id, team="t", agents=agents)
    await bus.acquire(chat.chat_id)
    await hosting.start()
    return Team(bus, url, chat, hosting)


async def test_a_hosted_agent_takes_its_turns_on_its_worker(redis_url: str) -> None:
    here = ScriptedAgent("b", ["local b"])
    t = await team(redis_url, [ScriptedAgent("a", ["a1", "a2"]), here], max_turns=4)
    try:
        worker = await t.worker({"b": ScriptedAgent("b", ["remote one", "remote two"])})
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            result = await t.chat.run("go")
        said = [(m.sender, m.content) for m in result.messages]
        assert said == [
            ("manager", "go"),
            ("a", "a1"),
            ("b", "remote one"),
            ("a", "a2"),
            ("b", "remote two"),
        ]
        assert worker.hosted[t.chat.chat_id] == {"b"}
        await t.bus.flushed(t.chat.chat_id)
        hosts = await t.bus.client.hgetall(keys.hosts(t.chat.chat_id))
        assert set(hosts) == set()  # the run ended: the chat is off the bus's list
    finally:
        await t.close()


class Slow:
    """Streams words until cancelled, announcing each one."""

    name = "b"
    description = "slow"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        try:
            for n in range(1000):
                yield f"w{n} "
                self.started.set()
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


async def test_an_interrupt_cuts_a_hosted_turn_short_keeping_what_it_said(
    redis_url: str,
) -> None:
    t = await team(redis_url, [ScriptedAgent("a", ["a1"]), ScriptedAgent("b", ["x"])], max_turns=2)
    try:
        slow = Slow()
        await t.worker({"b": slow})
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            sub = t.bus.subscribe(t.chat.chat_id, start=0, durable=False)
            run = asyncio.create_task(t.chat.run("go"))
            deltas = 0
            async for event in sub:
                if isinstance(event, TextDelta) and event.sender == "b":
                    deltas += 1
                    if deltas == 3:
                        break
            assert await t.chat.interrupt()
            result = await run
            await slow.cancelled.wait()  # the worker's turn was cancelled too
        last = result.messages[-1]
        assert last.sender == "b" and last.interrupted
        assert last.content.startswith("w0 w1 w2 ")
    finally:
        await t.close()


class Hanging:
    """A model that streams a word, then waits until its call is cut off."""

    name = "slow:model"

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent]:
        yield TextChunk("thinking")
        await asyncio.Event().wait()


async def test_a_hosted_model_call_cut_off_is_recorded_as_interrupted(redis_url: str) -> None:
    """The worker says when its agent's model call began, so the manager records the call
    the interrupt cut off (a ``model_call`` with ``interrupted``), as in one process."""
    t = await team(redis_url, [ScriptedAgent("a", ["a1"]), ScriptedAgent("b", ["x"])], max_turns=2)
    try:
        await t.worker({"b": LLMAgent("b", Hanging())})
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            probe = ChatProbe.of(t.chat)
            run = asyncio.create_task(t.chat.run("go"))
            await probe.wait_for(TextDelta, sender="b")
            assert await t.chat.interrupt()
            await run
        [call] = [e for e in t.chat.events() if isinstance(e, ModelCall)]
        assert (call.sender, call.model, call.interrupted) == ("b", "slow:model", True)
    finally:
        await t.close()


async def test_a_worker_that_stops_beating_fails_the_turn_by_on_error(redis_url: str) -> None:
    t = await team(
        redis_url,
        # A scripted agent says the line of its turn: its first turn was the worker's.
        [ScriptedAgent("a", ["a1", "a2"]), ScriptedAgent("b", ["-", "local b"])],
        max_turns=4,
        on_error="continue",
        beat_timeout=0.6,
    )
    try:
        slow = Slow()
        await t.worker({"b": slow})
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            run = asyncio.create_task(t.chat.run("go"))
            await slow.started.wait()
            t.workers[0][1].cancel()  # the worker goes away mid-turn
            result = await run
        await t.bus.flushed(t.chat.chat_id)
        events = await t.bus.stream_events(t.chat.chat_id)
        errors = [e for e in events if isinstance(e, ErrorEvent)]
        assert errors and "stopped answering" in errors[0].error
        assert errors[0].participant == "b" and not errors[0].fatal
        # No live worker hosts b now: its next turn runs in the manager's process.
        assert [(m.sender, m.content) for m in result.messages][-1] == ("b", "local b")
    finally:
        await t.close()


async def test_a_second_worker_for_a_hosted_name_is_refused(redis_url: str) -> None:
    t = await team(redis_url, [ScriptedAgent("a", ["a1"]), ScriptedAgent("b", ["b1"])])
    try:
        first = await t.worker({"b": ScriptedAgent("b", ["one"])})
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            second = await t.worker({"b": ScriptedAgent("b", ["two"])})
            await until(lambda: t.chat.chat_id in second.refused)
        assert "b is hosted by the worker on" in second.refused[t.chat.chat_id]["b"]
        record = t.hosting.live("b")
        assert record is not None and record.worker == first.id
    finally:
        await t.close()


async def test_pieces_from_a_worker_that_was_not_asked_are_dropped(redis_url: str) -> None:
    t = await team(redis_url, [ScriptedAgent("a", ["a1"]), ScriptedAgent("b", ["x"])], max_turns=2)
    try:
        slow = Slow()
        worker = await t.worker({"b": slow})
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            run = asyncio.create_task(t.chat.run("go"))
            await slow.started.wait()
            turn = t.chat.view.current_turn
            assert turn is not None
            live = t.bus.subscribe(t.chat.chat_id, start=None, durable=False)
            forged = Item(
                worker="someone-else", message_id=turn.message_id, pieces=(Text(text="FORGED"),)
            )
            await t.bus.client.xadd(
                keys.host_inbox(t.chat.chat_id, "b"), {"m": forged.model_dump_json()}
            )
            await t.bus.client.xadd(keys.host_inbox(t.chat.chat_id, "b"), {"m": "not json"})
            # The inbox is read in order: a word of the worker's own after the forged entries
            # shows that those were read (and dropped).
            mark = Item(worker=worker.id, message_id=turn.message_id, pieces=(Text(text="MARK"),))
            await t.bus.client.xadd(
                keys.host_inbox(t.chat.chat_id, "b"), {"m": mark.model_dump_json()}
            )
            async for event in live:
                if isinstance(event, TextDelta) and event.text == "MARK":
                    break
            await t.chat.interrupt()
            result = await run
        assert "FORGED" not in result.messages[-1].content
    finally:
        await t.close()


class Asker:
    """Asks the person for approval and says the answer."""

    name = "b"
    description = "asks"

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        answer = await view.ask("you", "may I?", request="approval", choices=("yes", "no"))
        yield Reply(f"the answer was {answer}")


async def test_a_hosted_turn_asks_a_person_through_the_manager(redis_url: str) -> None:
    person = HumanParticipant("you")
    t = await team(
        redis_url,
        [ScriptedAgent("a", ["a1"]), ScriptedAgent("b", ["local"]), person],
        max_turns=2,
    )
    try:
        await t.worker({"b": Asker()})
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            run = asyncio.create_task(t.chat.run("go"))
            await person.channel.wait_requested()
            person.channel.send("yes")
            result = await run
        assert result.messages[-1].content == "the answer was yes"
    finally:
        await t.close()


async def test_a_worker_limited_by_an_acl_hosts_its_names_and_cannot_write_others(
    redis_url: str,
) -> None:
    from redis.exceptions import NoPermissionError

    members = [ScriptedAgent("a", ["a1", "a2"]), ScriptedAgent("b", ["x", "y"])]
    t = await team(redis_url, members, max_turns=4)
    try:
        # The README's worker user: read the chats, write the inbox of the name it hosts.
        acl = (
            "ACL SETUSER gpu on >worker-pass resetkeys %R~groupchat:* "
            "%W~groupchat:{*}:host:b +@read +@stream +ping +client"
        )
        await t.bus.client.execute_command(*acl.split())
        limited_url = redis_url.replace("redis://", "redis://gpu:worker-pass@")
        agent = ScriptedAgent("b", ["remote one", "remote two"])
        worker = await t.worker({"b": agent}, url=limited_url)
        limited = worker.client
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            with pytest.raises(NoPermissionError):
                await limited.xadd(keys.host_inbox(t.chat.chat_id, "a"), {"m": "x"})
            result = await t.chat.run("go")
        said = [m.content for m in result.messages if m.sender == "b"]
        assert said == ["remote one", "remote two"]
    finally:
        await t.close()


async def test_the_magentic_manager_directs_agents_hosted_by_a_worker(redis_url: str) -> None:
    from groupchat.magentic import MagenticManager, plan_json, progress_json
    from groupchat.models import ScriptedModel

    plan = plan_json(["alice finds rhymes", "bob writes"])
    answers = [
        plan,
        progress_json("alice", "Find rhymes.", reason="alice is next"),
        progress_json("bob", "Write it.", reason="bob is next"),
        progress_json(satisfied=True, reason="written"),
        "Here it is.",
    ]
    manager = MagenticManager(ScriptedModel(answers, name="scripted:manager", chunk="all"))
    members = [
        ScriptedAgent("alice", ["local rhymes"], description="Finds rhymes."),
        ScriptedAgent("bob", ["local limerick"], description="Writes."),
    ]
    t = await team(redis_url, members, policy=manager)
    try:
        await t.worker({"alice": ScriptedAgent("alice", ["remote rhymes: blue, through"])})
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["alice"], GUARD) == []
            result = await t.chat.run("Write a limerick")
        said = [(m.sender, m.kind, m.content) for m in result.messages if m.kind != "plan"]
        assert said == [
            ("manager", "task", "Write a limerick"),
            ("manager", "instruction", "@alice Find rhymes."),
            ("alice", "turn", "remote rhymes: blue, through"),
            ("manager", "instruction", "@bob Write it."),
            ("bob", "turn", "local limerick"),
            ("manager", "answer", "Here it is."),
        ]
        assert result.status == "completed"
    finally:
        await t.close()


async def test_a_chat_run_again_is_hosted_again(redis_url: str) -> None:
    members = [ScriptedAgent("a", ["a1", "a2"]), ScriptedAgent("b", ["local", "local"])]
    t = await team(redis_url, members, max_turns=2)
    try:
        await t.worker({"b": ScriptedAgent("b", ["remote one", "remote two"])})
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            first = await t.chat.run("go")
            await t.bus.flushed(t.chat.chat_id)
            await t.bus.acquire(t.chat.chat_id)
            # The worker read the end of the first run; the second is announced, and the
            # worker, which never stopped beating while the chat was listed, hosts b again.
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            second = await t.chat.run("again")
        assert [m.content for m in first.messages if m.sender == "b"] == ["remote one"]
        assert [m.content for m in second.messages if m.sender == "b"] == [
            "remote one",
            "remote two",
        ]
    finally:
        await t.close()


class Counter:
    """Keeps state between its turns: says how many it has taken."""

    name = "b"
    description = "counts"

    def __init__(self) -> None:
        self.taken = 0

    async def take_turn(self, view: ChatView) -> AsyncIterator[TurnItem]:
        self.taken += 1
        yield Reply(f"turn {self.taken}")


async def test_each_chat_a_worker_hosts_gets_agents_of_its_own(redis_url: str) -> None:
    teams = [
        await team(
            redis_url, [ScriptedAgent("a", ["x", "y"]), ScriptedAgent("b", ["-"])], max_turns=4
        )
        for _ in range(2)
    ]
    made: list[Counter] = []

    def make() -> dict[str, Counter]:
        made.append(Counter())
        return {"b": made[-1]}

    client = await connect(BusURL.parse(redis_url))
    worker = Worker(client, make, team="t", note=lambda text: None)  # type: ignore[arg-type]
    serving = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(GUARD):
            for t in teams:
                assert await t.hosting.wait_hosted(["b"], GUARD) == []
            results = await asyncio.gather(*(t.chat.run("go") for t in teams))
        for result in results:
            assert [m.content for m in result.messages if m.sender == "b"] == ["turn 1", "turn 2"]
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await client.aclose()
        for t in teams:
            await t.close()


async def test_a_workers_turn_joins_the_managers_trace(redis_url: str) -> None:
    """The worker runs in this process (so that it shares the in-memory exporter); the trace
    context goes through Redis with the turn request all the same."""
    pytest.importorskip("opentelemetry.sdk")
    from tracing_support import Traced

    from groupchat.agents import LLMAgent
    from groupchat.models import ScriptedModel

    traced = Traced()
    members = [ScriptedAgent("a", ["a1"]), ScriptedAgent("b", ["x"])]
    t = await team(redis_url, members, max_turns=2, tracing=traced.options())
    try:
        remote = LLMAgent("b", ScriptedModel(["remote"], name="scripted:b"))
        await t.worker({"b": remote}, tracing=traced.options())
        async with asyncio.timeout(GUARD):
            assert await t.hosting.wait_hosted(["b"], GUARD) == []
            result = await t.chat.run("go")
        assert [m.content for m in result.messages] == ["go", "a1", "remote"]
        [turn] = traced.named("invoke_agent b")
        [on_worker] = traced.named("worker_turn b")
        assert traced.parent_of(on_worker) is turn
        assert on_worker.context.trace_id == traced.root().context.trace_id
        [call] = traced.named("chat scripted:b")
        assert traced.parent_of(call) is turn
    finally:
        await t.close()
