"""Joining a chat on a bus from any machine: the join desk of the chat's process, the client
that reads the chat's stream and sends over the join inbox, and ``groupchat join --bus`` end to
end against a real ``redis-server`` and real processes (a joiner killed gives its seat back)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from tui_support import fixed_clock, noticed, until

from groupchat import GroupChat, HumanInputRequested, HumanParticipant, MentionPolicy, ScriptedAgent
from groupchat.distributed import keys
from groupchat.distributed.wire import JoinLine
from groupchat.events import MessagePosted
from groupchat.testing import ChatProbe
from groupchat.transcripts.store import SqliteStore
from groupchat.tui.claims import Claims
from groupchat.tui.share.desk import LET_GO, JoinDesk
from groupchat.tui.share.protocol import (
    Bye,
    ErrorReply,
    Hello,
    Ok,
    claim,
    dump_message,
    parse_server_line,
    say,
)

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 60  # a safety net for a hung process, never a wait
WAIT = 30.0
"""Seconds a test waits at most for something on the bus."""

SPEC = """\
name: pair
participants:
  - kind: scripted
    name: host
    script: ["Bob, your view? @bob", "Thanks. DONE"]
  - {kind: human, name: ada}
  - {kind: human, name: bob}
policy: {kind: mention}
termination: {text_mention: {text: DONE}}
"""

GC = [sys.executable, "-m", "groupchat"]


def _team() -> GroupChat:
    ada, bob = HumanParticipant("ada"), HumanParticipant("bob")
    host = ScriptedAgent("host", ["Bob, what do you think? @bob", "Thanks, bob."])
    return GroupChat([host, bob, ada], policy=MentionPolicy(), max_turns=3)


# ----------------------------------------------------------------------------------- the desk


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _line(client: str, act: Any = "line", line: str = "") -> JoinLine:
    return JoinLine(client=client, holder="elsewhere:1", act=act, line=line)


async def _ask(desk: JoinDesk, client: str, message: Any) -> Any:
    (reply,) = await desk.answer(_line(client, line=dump_message(message)))
    return parse_server_line(reply)


async def test_the_desk_seats_terminals_and_lets_go_of_a_silent_one() -> None:
    """A hello is answered with the chat's people; a claim over the desk takes the seat in the
    claims shared with the chat's own terminal; a terminal that stops beating is let go (its
    seat back), and told so when it comes back; leaving gives the seat back at once."""
    chat = _team()
    claims, clock = Claims(), _Clock()
    desk = JoinDesk(chat, claims, timeout=3.0, clock=clock)
    run = asyncio.create_task(chat.run("Plan it"))
    await ChatProbe.of(chat).wait_for(HumanInputRequested, participant="bob")

    (hello,) = await desk.answer(_line("one", "hello"))
    assert parse_server_line(hello) == Hello(chat_id=chat.chat_id, humans=["bob", "ada"])
    assert await _ask(desk, "one", claim("bob").model_copy(update={"id": 1})) == Ok(
        id=1, text="you are bob", name="bob"
    )
    holder = claims.holder("bob")
    assert holder is not None and holder.startswith("joined terminal 1 on elsewhere:1")
    await desk.answer(_line("two", "hello"))
    refused = await _ask(desk, "two", claim("bob").model_copy(update={"id": 1}))
    assert isinstance(refused, ErrorReply) and "already answers" in refused.error

    clock.now += 2.0
    assert await desk.answer(_line("one", "beat")) == []  # one beats, two does not
    clock.now += 2.0
    assert desk.reap() == ["two"]
    assert claims.holder("bob") == holder
    clock.now += 3.5
    assert desk.reap() == ["one"]
    assert "bob" not in claims and desk.joined == {}
    assert [parse_server_line(r) for r in await desk.answer(_line("one", "beat"))] == [
        Bye(reason=LET_GO)
    ]
    late = [
        parse_server_line(r)
        for r in await desk.answer(
            _line("one", line=say("hi").model_copy(update={"id": 7}).model_dump_json())
        )
    ]
    assert late == [ErrorReply(id=7, error=LET_GO), Bye(reason=LET_GO)]

    await desk.answer(_line("three", "hello"))
    assert (await _ask(desk, "three", claim("BOB"))).name == "bob"
    posted = asyncio.create_task(ChatProbe.of(chat).wait_for(MessagePosted, sender="bob"))
    assert (await _ask(desk, "three", say("From the desk @host"))).text == "answered as bob"
    await posted
    assert await desk.answer(_line("three", "leave")) == []
    assert "bob" not in claims
    await desk.close()
    await chat.stop()
    await run
    seats = [(e.type, e.sender) for e in chat.events() if e.type.startswith("seat_")]
    assert seats[:3] == [("seat_claimed", "bob"), ("seat_released", "bob"), ("seat_claimed", "bob")]


# ----------------------------------------------------------------------------- the app, /as


async def test_the_joined_app_takes_another_seat_over_the_bus(redis_url: str) -> None:
    """The full-screen join over the bus: bob's turn is shown from the chat's stream, ``/as
    ada`` takes ada's seat through the desk (bob's goes back), and ada's line is posted."""
    from groupchat.app.bus import BusChat
    from groupchat.distributed.hosting import Hosting
    from groupchat.distributed.redis_bus import RedisBus
    from groupchat.tui.seats import Seats
    from groupchat.tui.share.join import open_seat
    from groupchat.tui.share.join_app import JoinChatApp
    from groupchat.tui.widgets.composer import ComposerBox

    bus = await RedisBus.connect(redis_url)
    ada, bob = HumanParticipant("ada"), HumanParticipant("bob")
    host = ScriptedAgent("host", ["Bob, what do you think? @bob", "Thanks."])
    chat = GroupChat([host, bob, ada], policy=MentionPolicy(), max_turns=3, bus=bus)
    hosting = Hosting(bus)
    hosting.attach(chat)
    bus.describe(chat.chat_id, title="pair", team="pair", agents=["host"], people=["bob", "ada"])
    on_bus = BusChat(bus, chat, hosting, spec=None)
    seats = Seats(chat, ada, claims=on_bus.claims)
    try:
        await on_bus.start()
        probe = ChatProbe.of(chat)
        run = asyncio.create_task(chat.run("Plan it"))
        await probe.wait_for(HumanInputRequested, participant="bob")
        client, name = await open_seat(chat.chat_id[:5], "bob", bus=redis_url)
        assert name == "bob" and on_bus.claims.names == ["bob"]
        app = JoinChatApp(client, name, clock=fixed_clock, animate=False)

        async def typed(text: str) -> None:
            editor = app.query_one(ComposerBox).editor
            editor.focus()
            editor.insert(text)
            await pilot.press("enter")

        def title() -> str:
            return str(app.query_one(ComposerBox).editor.border_title)

        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: "bob, your turn" in title(), "bob's turn")
            await typed("/as ADA")
            await until(pilot, lambda: app.person == "ada", "the switch")
            assert noticed(app, "you are ada")
            assert on_bus.claims.names == ["ada"] and seats.waiting("bob")
            posted = asyncio.create_task(probe.wait_for(MessagePosted, sender="ada"))
            await typed("ada here, over the bus")
            await asyncio.wait_for(posted, WAIT)
            await pilot.press("ctrl+q")
        await until_released(on_bus.claims, "ada")
        await chat.stop()
        await run
    finally:
        await on_bus.close()
    assert [m.content for m in chat.messages if m.sender == "ada"] == ["ada here, over the bus"]


async def until_released(claims: Claims, name: str) -> None:
    done = asyncio.Event()
    stop = claims.listen(lambda who, holder: done.set() if who == name and not holder else None)
    try:
        if name in claims:
            await asyncio.wait_for(done.wait(), WAIT)
    finally:
        stop()


# ------------------------------------------------------------------------------- end to end


def _chat_started_on(url: str) -> str:
    """The id of the next chat announced on the bus (read from the start of the announces)."""
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + WAIT
    try:
        while (left := deadline - time.monotonic()) > 0:
            answer: Any = client.xread({keys.ANNOUNCE: "0-0"}, count=1, block=int(left * 1000))
            for _stream, entries in answer or ():
                return str(entries[0][1][b"chat"].decode())
    finally:
        client.close()
    raise AssertionError("no chat started on the bus")


def _wait_event(url: str, chat_id: str, **wanted: Any) -> dict[str, Any]:
    """The first event of the chat's stream with the ``wanted`` fields (bounded)."""
    client = redis.Redis.from_url(url)
    last: Any = "0-0"
    deadline = time.monotonic() + WAIT
    try:
        while (left := deadline - time.monotonic()) > 0:
            answer: Any = client.xread({keys.events(chat_id): last}, block=int(left * 1000))
            for _stream, entries in answer or ():
                for entry_id, fields in entries:
                    last = entry_id
                    event: dict[str, Any] = json.loads(fields[b"e"])
                    if all(event.get(k) == v for k, v in wanted.items()):
                        return event
    finally:
        client.close()
    raise AssertionError(f"no event {wanted} in chat {chat_id}")


def _run_chat(spec: Path, url: str) -> subprocess.Popen[str]:
    """``groupchat run --bus --headless``; its stdin stays open, so nobody passes here."""
    return subprocess.Popen(
        [*GC, "run", str(spec), "--task", "Plan it", "--bus", url, "--headless"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _join(url: str, ident: str, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GC, "join", ident, "--bus", url, "--as", "bob", "--plain"],
        cwd=REPO,
        input=text,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _stored_messages(db: Path, chat_id: str) -> list[tuple[str, str]]:
    async def stored() -> list[tuple[str, str]]:
        async with await SqliteStore.open(db) as store:
            events = await store.events(chat_id)
        return [
            (e.message.sender, e.message.content) for e in events if isinstance(e, MessagePosted)
        ]

    return asyncio.run(stored())


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "pair.yaml"
    path.write_text(SPEC)
    return path


def _finish(run: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return run.communicate(timeout=TIMEOUT)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def test_join_over_the_bus_from_another_process_speaks_as_bob(
    spec: Path, redis_url: str, _private_chat_db: Path
) -> None:
    run = _run_chat(spec, redis_url)
    try:
        chat_id = _chat_started_on(redis_url)
        _wait_event(redis_url, chat_id, type="human_input_requested", participant="bob")
        joined = _join(redis_url, chat_id[:6], "From bob, over the bus.\n")
    finally:
        _out, err = _finish(run)
    assert joined.returncode == 0, joined.stderr
    assert f"you are bob in chat {chat_id}" in joined.stdout
    assert "From bob, over the bus." in joined.stdout and "Thanks. DONE" in joined.stdout
    assert f"others join with: groupchat join {chat_id} --bus {redis_url}" in err
    assert run.returncode == 0, err
    assert ("bob", "From bob, over the bus.") in _stored_messages(_private_chat_db, chat_id)
    claimed = _wait_event(redis_url, chat_id, type="seat_claimed")
    assert claimed["sender"] == "bob" and claimed["holder"].startswith("joined terminal 1 on ")
    late = _join(redis_url, chat_id, "Too late.\n")
    assert late.returncode == 2
    assert f"chat {chat_id} has ended: nothing to join" in late.stderr


def test_a_killed_joiner_gives_its_seat_back(
    spec: Path, redis_url: str, _private_chat_db: Path
) -> None:
    """SIGKILL leaves no time to say goodbye: the seat goes back once its beats stop, and a new
    joiner takes it and answers bob's turn."""
    run = _run_chat(spec, redis_url)
    first: subprocess.Popen[str] | None = None
    try:
        chat_id = _chat_started_on(redis_url)
        _wait_event(redis_url, chat_id, type="human_input_requested", participant="bob")
        first = subprocess.Popen(
            [*GC, "join", chat_id, "--bus", redis_url, "--as", "bob", "--plain"],
            cwd=REPO,
            stdin=subprocess.PIPE,  # held open: it answers nothing
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        _wait_event(redis_url, chat_id, type="seat_claimed", sender="bob")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=TIMEOUT)
        released = _wait_event(redis_url, chat_id, type="seat_released", sender="bob")
        assert released["holder"].startswith("joined terminal 1 on ")
        second = _join(redis_url, chat_id, "Bob again, from a new terminal.\n")
    finally:
        if first is not None and first.poll() is None:
            first.kill()
            first.wait()
        _out, err = _finish(run)
    assert second.returncode == 0, second.stderr
    assert run.returncode == 0, err
    assert ("bob", "Bob again, from a new terminal.") in _stored_messages(_private_chat_db, chat_id)


def test_join_says_when_the_chat_is_not_on_the_bus_or_the_bus_is_away(redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GROUPCHAT_BUS"}
    unknown = subprocess.run(
        [*GC, "join", "abc", "--bus", redis_url, "--plain"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert unknown.returncode == 2
    assert unknown.stderr == (
        f"groupchat: error: no chat runs on the bus at {redis_url}: nothing matches 'abc'\n"
    )
    away = subprocess.run(
        [*GC, "join", "abc", "--plain"],
        cwd=REPO,
        env={**env, "GROUPCHAT_BUS": "redis://someone:hush-hush@127.0.0.1:1/0"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert away.returncode == 2
    assert "cannot reach the bus at redis://someone:***@127.0.0.1:1/0" in away.stderr
    assert "hush-hush" not in away.stderr + away.stdout


async def test_a_person_limited_by_the_readme_s_acl_joins_and_speaks(redis_url: str) -> None:
    """The README's person user: it reads the chats and writes only the join inbox, and that
    is enough to claim bob's seat and answer his turn; it cannot write the chat's stream."""
    from redis.exceptions import NoPermissionError

    from groupchat.app.bus import BusChat
    from groupchat.distributed.hosting import Hosting
    from groupchat.distributed.redis_bus import RedisBus
    from groupchat.tui.share.join import open_seat
    from groupchat.tui.share.protocol import say

    bus = await RedisBus.connect(redis_url)
    acl = "ACL SETUSER bob on >bob-pass resetkeys %R~groupchat:* %W~groupchat:{*}:join "
    await bus.client.execute_command(*(acl + "+@read +@stream +ping +client").split())
    limited = redis_url.replace("redis://", "redis://bob:bob-pass@")
    bob = HumanParticipant("bob")
    host = ScriptedAgent("host", ["Bob, what do you think? @bob", "Thanks."])
    chat = GroupChat([host, bob], policy=MentionPolicy(), max_turns=2, bus=bus)
    hosting = Hosting(bus)
    hosting.attach(chat)
    bus.describe(chat.chat_id, title="pair", team="pair", agents=["host"], people=["bob"])
    on_bus = BusChat(bus, chat, hosting, spec=None)
    try:
        await on_bus.start()
        probe = ChatProbe.of(chat)
        run = asyncio.create_task(chat.run("Plan it"))
        await probe.wait_for(HumanInputRequested, participant="bob")
        client, name = await open_seat(chat.chat_id, "bob", bus=limited)
        try:
            assert name == "bob"
            await client.request(say("bob, with only his own rights"))
            with pytest.raises(NoPermissionError):
                await client.redis.xadd(keys.events(chat.chat_id), {"e": "{}"})  # type: ignore[attr-defined]
            await asyncio.wait_for(run, WAIT)
        finally:
            await client.close()
    finally:
        await on_bus.close()
    assert [m.content for m in chat.messages if m.sender == "bob"] == [
        "bob, with only his own rights"
    ]
