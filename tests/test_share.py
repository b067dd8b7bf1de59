"""Sharing a running chat with another terminal: the wire format, seats claimed and given
back, bad input, slow readers, the socket's life, and ``groupchat join`` end to end."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from groupchat import GroupChat, HumanInputRequested, HumanParticipant, ScriptedAgent
from groupchat.events import Event, MessagePosted, dump_event
from groupchat.testing import ChatProbe
from groupchat.transcripts.store import SqliteStore
from groupchat.tui.claims import Claims
from groupchat.tui.console import ConsoleSession
from groupchat.tui.control import ControlError
from groupchat.tui.share.client import JoinClient, JoinError, find_chat
from groupchat.tui.share.paths import (
    ShareFolderError,
    running_chats,
    share_folder,
    socket_path,
)
from groupchat.tui.share.protocol import (
    MAX_LINE,
    Bye,
    ErrorReply,
    Hello,
    Ok,
    ProtocolError,
    claim,
    control,
    dump_message,
    parse_client_line,
    parse_server_line,
    release,
    say,
)
from groupchat.tui.share.server import FELL_BEHIND, ShareError, ShareServer

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 60  # a safety net for a hung process, never a wait


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short private folder for sockets (a socket path must fit in 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="gc-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _team(*host_lines: str) -> tuple[GroupChat, HumanParticipant, HumanParticipant]:
    """host speaks, then bob (ada is in the team and never asked)."""
    ada, bob = HumanParticipant("ada"), HumanParticipant("bob")
    lines = list(host_lines) or ["@bob, what do you think?", "Thanks, bob."]
    chat = GroupChat([ScriptedAgent("host", lines), bob, ada], max_turns=2)
    return chat, ada, bob


def _released(claims: Claims, name: str) -> asyncio.Event:
    done = asyncio.Event()
    claims.listen(lambda who, holder: done.set() if who == name and holder is None else None)
    return done


# ---------------------------------------------------------------------------------- the protocol


def test_every_message_goes_over_the_wire_and_back() -> None:
    client_side = [
        claim("bob").model_copy(update={"id": 1}),
        claim(),
        claim("ada", switch=True),
        release(),
        say("hello [bold]x[/] \x1b[31m"),
        control("steer", "host"),
        control("stop", reason="enough"),
    ]
    for message in client_side:
        assert parse_client_line(dump_message(message)) == message
    server_side = [
        Hello(chat_id="abc", humans=["ada", "bob"], claimed=["bob"]),
        Ok(id=1, text="you are bob", name="bob"),
        ErrorReply(error="no"),
        Bye(reason="the chat ended"),
    ]
    for message in server_side:
        assert parse_server_line(dump_message(message)) == message


async def test_events_go_as_canonical_event_lines() -> None:
    chat, _ada, _bob = _team("hi")
    chat.max_turns = 1
    await chat.run()
    for event in chat.events():
        assert parse_server_line(dump_event(event)) == event


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", 'expected an object with an "op"'),
        ('{"op": "dance"}', "does not match any of the expected tags"),
        ('{"op": "hello", "chat_id": "x", "humans": []}', "sent by the server"),
        ('{"op": "send"}', "event: Field required"),
        ('{"op": "send", "event": {}, "as": "ada"}', "as: Extra inputs are not permitted"),
        ('{"op": "say", "text": "hi"}', "'say' is a message of protocol 1, and this chat speaks"),
    ],
)
def test_a_bad_client_line_is_refused_naming_the_problem(line: str, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        parse_client_line(line)


def test_a_client_message_from_the_server_is_refused() -> None:
    with pytest.raises(ProtocolError, match="sent by a client"):
        parse_server_line(dump_message(say("hi")))


# ----------------------------------------------------------------------------------- seats


async def test_a_joined_terminal_answers_for_bob_and_the_first_one_waits(folder: Path) -> None:
    chat, ada, _bob = _team()
    out = io.StringIO()
    first = ConsoleSession(chat, human=ada, console=Console(file=out, width=200), claims=Claims())
    probe = ChatProbe.of(chat)
    async with ShareServer(chat, first.seats.claims, folder=folder) as server:
        assert server.path is not None and stat.S_IMODE(os.stat(server.path).st_mode) == 0o600
        client = await JoinClient.connect(find_chat(chat.chat_id[:4], folder))
        assert client.hello.humans == ["bob", "ada"]
        claimed = await client.request(claim())  # the first person the first terminal is not
        assert claimed.name == "bob"
        assert first.seats.names == ["ada"] and not first.seats.here("bob")
        run = asyncio.create_task(first.run(None, interactive=False))
        await probe.wait_for(HumanInputRequested, participant="bob")
        with pytest.raises(ControlError, match="bob answers from another terminal"):
            first.seats.post("I am not bob", "bob")
        assert (await client.request(say("Looks good to me."))).text == "answered as bob"
        result = await run
        seen = [event async for event in client.incoming()]
        await client.close()
    bob_said = [m for m in result.messages if m.sender == "bob"]
    assert [(m.content, m.kind) for m in bob_said] == [("Looks good to me.", "turn")]
    shown = out.getvalue()
    assert "bob answers from another terminal now" in shown
    assert "waiting for bob…" in shown
    assert "bob, your turn" not in shown
    assert isinstance(seen[-1], Bye) and seen[-1].reason == "the chat ended"
    assert [e.seq for e in seen[:-1]] == list(range(len(seen) - 1))  # every event, in order


async def test_bob_goes_back_to_the_first_terminal_when_the_joined_one_leaves(
    folder: Path,
) -> None:
    chat, ada, _bob = _team()
    out = io.StringIO()
    first = ConsoleSession(chat, human=ada, console=Console(file=out, width=200), claims=Claims())
    probe = ChatProbe.of(chat)
    async with ShareServer(chat, first.seats.claims, folder=folder) as server:
        assert server.path is not None
        client = await JoinClient.connect(server.path)
        await client.request(claim("BOB"))
        back = _released(first.seats.claims, "bob")
        run = asyncio.create_task(first.run(None, interactive=False))
        await probe.wait_for(HumanInputRequested, participant="bob")
        assert not first.seats.waiting("bob")
        await client.close()  # the joined terminal goes away mid-request
        await back.wait()
        assert first.seats.names == ["bob", "ada"] and first.seats.waiting("bob")
        assert first.seats.post("bob here, from the first terminal") == "bob"
        result = await run
    assert [m.content for m in result.messages if m.sender == "bob"] == [
        "bob here, from the first terminal"
    ]
    shown = out.getvalue()
    assert "bob is back: this terminal answers for them again" in shown
    assert "bob, your turn" in shown  # asked again, here


async def test_release_gives_the_seat_back_without_leaving(folder: Path) -> None:
    chat, ada, _bob = _team()
    claims = Claims()
    async with ShareServer(chat, claims, folder=folder) as server:
        assert server.path is not None
        client = await JoinClient.connect(server.path)
        await client.request(claim("ada"))
        assert claims.names == ["ada"]
        reply = await client.request(release())
        assert reply.text == "ada answers from the chat's own terminal again"
        assert claims.names == []
        with pytest.raises(JoinError, match="claim a person first"):
            await client.request(say("hello"))
        await client.close()
    assert ada.channel.requested is False


async def test_a_switch_takes_the_new_seat_first_and_a_refused_one_changes_nothing(
    folder: Path,
) -> None:
    chat, _ada, _bob = _team()
    claims = Claims()
    async with ShareServer(chat, claims, folder=folder) as server:
        assert server.path is not None
        first = await JoinClient.connect(server.path)
        second = await JoinClient.connect(server.path)
        await first.request(claim("bob"))
        await second.request(claim("ada"))
        with pytest.raises(JoinError, match="release first"):
            await first.request(claim("ada"))  # without switch, as before
        with pytest.raises(JoinError, match="ada already answers from another terminal"):
            await first.request(claim("ada", switch=True))
        assert claims.holder("bob") == "joined terminal 1"  # still bob's
        await second.request(release())
        reply = await first.request(claim("ADA", switch=True))
        assert (reply.name, reply.text) == ("ada", "you are ada")
        assert claims.names == ["ada"] and claims.holder("ada") == "joined terminal 1"
        reply = await first.request(claim("ada", switch=True))
        assert reply.text == "you are ada already" and claims.names == ["ada"]
        await first.close()
        await second.close()


# ----------------------------------------------------------------------------------- bad input


async def test_bad_lines_get_errors_and_the_chat_goes_on(folder: Path) -> None:
    chat, _ada, _bob = _team()
    claims = Claims()
    probe = ChatProbe.of(chat)
    async with ShareServer(chat, claims, folder=folder) as server:
        assert server.path is not None
        bob = await JoinClient.connect(server.path)
        await bob.request(claim("bob"))
        other = await JoinClient.connect(server.path)
        errors = []
        bad_text = b'{"op": "send", "event": {"type": "human_input", "text": 7}}\n'
        for line in (b"{oops\n", b'{"op": "dance"}\n', bad_text):
            other.writer.write(line)
            await other.writer.drain()
            item = await anext(aiter(_errors(other)))
            errors.append(item.error)
        assert errors[0].startswith("bad message: not JSON")
        assert "does not match any of the expected tags" in errors[1]
        assert errors[2] == "bad event: event.text: Input should be a valid string"
        with pytest.raises(
            JoinError, match=r"'host' is not a person in this chat \(people: bob, ada\)"
        ):
            await other.request(claim("host"))
        with pytest.raises(JoinError, match=r"'carol' is not in this chat \(people: bob, ada\)"):
            await other.request(claim("carol"))
        with pytest.raises(JoinError, match="bob already answers from another terminal"):
            await other.request(claim("bob"))
        with pytest.raises(JoinError, match="claim a person first"):
            await other.request(say("hi"))
        with pytest.raises(JoinError, match="claim a person first"):
            await other.request(control("pause"))  # without a seat, a terminal can only claim
        with pytest.raises(JoinError, match="no participant 'nobody'"):
            await bob.request(control("steer", "nobody"))
        run = asyncio.create_task(chat.run())
        await probe.wait_for(HumanInputRequested, participant="bob")
        await bob.request(say("still here"))
        result = await run
        await bob.close()
        await other.close()
    assert result.status == "max_turns"  # the chat went on to its normal end
    assert [m.content for m in result.messages if m.sender == "bob"] == ["still here"]


async def test_a_line_too_long_is_refused_and_the_terminal_let_go(folder: Path) -> None:
    chat, _ada, _bob = _team()
    async with ShareServer(chat, Claims(), folder=folder) as server:
        assert server.path is not None
        client = await JoinClient.connect(server.path)
        client.writer.write(b"x" * (MAX_LINE + 10) + b"\n")
        await client.writer.drain()
        seen = [item async for item in client.incoming()]
        await client.close()
    assert seen == [ErrorReply(error=f"a line longer than {MAX_LINE} bytes")]


async def _errors(client: JoinClient):  # type: ignore[no-untyped-def]
    async for item in client.incoming():
        if isinstance(item, ErrorReply):
            yield item


async def test_a_joined_terminal_can_pause_steer_and_stop(folder: Path) -> None:
    chat, _ada, _bob = _team()
    claims = Claims()
    probe = ChatProbe.of(chat)
    async with ShareServer(chat, claims, folder=folder) as server:
        assert server.path is not None
        client = await JoinClient.connect(server.path)
        await client.request(claim("bob"))
        run = asyncio.create_task(chat.run())
        await probe.wait_for(HumanInputRequested, participant="bob")
        assert (await client.request(control("steer", "@Host"))).text == ("host speaks next")
        assert (await client.request(control("stop"))).text == "stopping the chat"
        result = await run
        await client.close()
    assert result.status == "stopped"


# ----------------------------------------------------------------------------------- slow readers


async def test_a_terminal_that_never_reads_does_not_stall_the_chat(folder: Path) -> None:
    words = ["x" * 8000] * 200
    chat = GroupChat([ScriptedAgent("talker", words)], max_turns=200)
    async with ShareServer(chat, Claims(), folder=folder, backlog=50, grace=60) as server:
        assert server.path is not None
        reader, writer = await asyncio.open_unix_connection(str(server.path), limit=1 << 20)
        result = await asyncio.wait_for(chat.run(), TIMEOUT)  # a safety net, not a wait
        assert result.status == "max_turns" and len(result.messages) == 200
        lines = [line async for line in _lines(reader)]
        writer.close()
    assert json.loads(lines[0])["op"] == "hello"
    assert json.loads(lines[-1]) == {"op": "bye", "reason": FELL_BEHIND}
    assert len(lines) < 200  # it was let go long before the end


async def _lines(reader: asyncio.StreamReader):  # type: ignore[no-untyped-def]
    while line := await reader.readline():
        yield line


# ----------------------------------------------------------------------------------- the socket


async def test_the_socket_goes_away_at_the_end_and_a_stale_one_is_replaced(folder: Path) -> None:
    chat, _ada, _bob = _team()
    path = socket_path(chat.chat_id, folder)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # a killed process leaves its socket behind: nobody listens
    stale.close()
    with pytest.raises(JoinError, match="is no longer running"):
        find_chat(chat.chat_id, folder)
    assert not path.exists()  # the joiner cleaned it up
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    server = ShareServer(chat, Claims(), folder=folder)
    assert await server.start() == path
    with pytest.raises(ShareError, match="already shared by another process"):
        await ShareServer(chat, Claims(), folder=folder).start()
    await server.close()
    assert not path.exists()
    with pytest.raises(JoinError, match="no chat is shared right now"):
        find_chat(chat.chat_id, folder)


async def test_starting_to_share_sweeps_away_sockets_of_killed_chats(folder: Path) -> None:
    """Sockets nobody listens on go; a live one and one made just now (its process may be
    between binding and listening) stay."""
    old = time.time() - 3600
    for name in ("dead1", "dead2", "fresh"):
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(str(folder / f"{name}.sock"))
        stale.close()
        if name != "fresh":
            os.utime(folder / f"{name}.sock", (old, old))
    other, _ada, _bob = _team()
    async with ShareServer(other, Claims(), folder=folder):
        os.utime(folder / f"{other.chat_id}.sock", (old, old))
        chat, _ada, _bob = _team()
        async with ShareServer(chat, Claims(), folder=folder):
            assert running_chats(folder) == sorted(["fresh", other.chat_id, chat.chat_id])


def test_the_socket_folder_is_private_and_the_users_own(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    made = share_folder()
    assert made == folder / "groupchat"
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o700
    os.chmod(made, 0o755)
    assert stat.S_IMODE(os.stat(share_folder()).st_mode) == 0o700
    os.rmdir(made)
    os.symlink(folder, made)
    with pytest.raises(ShareFolderError, match="not a folder"):
        share_folder()


# ----------------------------------------------------------------------------------- end to end

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


def test_join_from_another_process_speaks_as_bob(
    folder: Path, tmp_path: Path, _private_chat_db: Path
) -> None:
    spec = tmp_path / "pair.yaml"
    spec.write_text(SPEC)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(folder)}
    command = [sys.executable, "-m", "groupchat"]
    run = subprocess.Popen(
        [*command, "run", str(spec), "--task", "Plan it", "--jsonl", "--share"],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert run.stdout is not None
        chat_id = ""
        for line in run.stdout:  # wait until bob is asked: the chat is shared by then
            event = json.loads(line)
            chat_id = event["chat_id"]
            if event["type"] == "human_input_requested" and event["participant"] == "bob":
                break
        listed = subprocess.run(
            [*command, "list"], cwd=REPO, env=env, capture_output=True, text=True, check=False
        )
        assert f"{chat_id}" in listed.stdout and "joinable" in listed.stdout
        joined = subprocess.run(
            [*command, "join", chat_id[:6], "--as", "bob", "--plain"],
            cwd=REPO,
            env=env,
            input="From bob, in another terminal.\n",
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        _out, err = run.communicate(timeout=TIMEOUT)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert joined.returncode == 0, joined.stderr
    assert "you are bob in chat" in joined.stdout
    assert "From bob, in another terminal." in joined.stdout
    assert f"others join with: groupchat join {chat_id}" in err
    assert run.returncode == 0, err
    assert not list(folder.glob("groupchat/*.sock"))  # removed at the end

    async def stored() -> list[tuple[str, str]]:
        async with await SqliteStore.open(_private_chat_db) as store:
            events = await store.events(chat_id)
        return [
            (e.message.sender, e.message.content) for e in events if isinstance(e, MessagePosted)
        ]

    assert ("bob", "From bob, in another terminal.") in asyncio.run(stored())


def test_join_says_when_no_chat_is_running(folder: Path) -> None:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(folder)}
    proc = subprocess.run(
        [sys.executable, "-m", "groupchat", "join", "abc", "--plain"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "groupchat: error: no running chat matches 'abc': no chat is shared right now\n"
    )


async def test_a_chat_that_has_ended_is_not_joinable_while_its_terminal_stays_open(
    _private_chat_db: Path,
) -> None:
    """The app stays open after the end to be read, sharing and all: the chat is no longer
    listed ``joinable``, its socket is gone, and ``join`` says it has ended (exit 2)."""
    from groupchat.transcripts.recorder import StoreRecorder

    chat = GroupChat([ScriptedAgent("host", ["Hello.", "Bye."])], max_turns=2)
    store = await SqliteStore.open(_private_chat_db)
    recorder = StoreRecorder(store, chat.bus, chat.chat_id, title="ended")
    await recorder.start()
    server = ShareServer(chat, Claims())  # in the user's folder, where `list` and `join` look
    path = await server.start()
    try:
        result = await chat.run("task")
        assert result.status == "max_turns"
        await recorder.wait()

        async def gc(*args: str) -> tuple[int, str, str]:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "groupchat",
                *args,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
            assert proc.returncode is not None
            return proc.returncode, out.decode(), err.decode()

        code, listed, _ = await gc("list")
        assert code == 0 and chat.chat_id in listed
        assert "max_turns" in listed and "joinable" not in listed
        code, _out, err = await gc("join", chat.chat_id[:6], "--plain")
        assert code == 2, err
        assert err == (
            f"groupchat: error: chat {chat.chat_id} has ended: nothing to join; see it with "
            f"`groupchat show {chat.chat_id}` or `groupchat replay {chat.chat_id}`\n"
        )
        assert not path.exists()  # gone at the end, not when the terminal closes
    finally:
        await server.close()
        await store.close()


def test_a_live_socket_of_a_chat_recorded_as_ended_is_not_joinable(
    _private_chat_db: Path,
) -> None:
    """A socket still answering for a chat the store says has ended (an older groupchat
    keeps it open) is not ``joinable``, and joining it says the chat has ended."""
    chat = GroupChat([ScriptedAgent("host", ["Hello."])], max_turns=1)

    async def record() -> None:
        async with await SqliteStore.open(_private_chat_db) as store:
            await store.create_chat(chat.chat_id, title="ended")
            await chat.run("task")
            await store.append_many(chat.events())
            await store.flush()

    asyncio.run(record())
    path = socket_path(chat.chat_id, share_folder())
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()
    try:
        env = dict(os.environ)
        run = [sys.executable, "-m", "groupchat"]
        listed = subprocess.run(
            [*run, "list"], cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
        assert chat.chat_id in listed.stdout and "joinable" not in listed.stdout
        listener.close()  # nobody answers any more: the joiner finds no running chat
        joined = subprocess.run(
            [*run, "join", chat.chat_id, "--plain"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        listener.close()
    assert joined.returncode == 2, joined.stderr
    assert f"chat {chat.chat_id} has ended" in joined.stderr
    assert f"groupchat show {chat.chat_id}" in joined.stderr


# ----------------------------------------------------------------------------------- the app


async def test_the_app_leaves_a_claimed_person_to_the_joined_terminal() -> None:
    from tui_support import fixed_clock, until

    from groupchat.tui.live import LiveChatApp
    from groupchat.tui.widgets.composer import ComposerBox

    chat, ada, bob = _team()
    claims = Claims()
    app = LiveChatApp(chat, "plan", human=ada, claims=claims, clock=fixed_clock, animate=False)

    def title() -> str:
        return str(app.query_one(ComposerBox).editor.border_title)

    async with app.run_test(size=(120, 40)) as pilot:
        claims.claim("bob", "a joined terminal")
        await until(pilot, lambda: bob.channel.requested, "bob is asked")
        assert app.model.my_request is None and "bob, your turn" not in title()
        claims.release("bob", "a joined terminal")  # the joined terminal left
        await until(pilot, lambda: "bob, your turn" in title(), "bob's turn here")
        bob.send("back here")
        await until(pilot, lambda: app.result is not None, "the end")
    assert [m.content for m in chat.messages if m.sender == "bob"] == ["back here"]


async def test_piped_input_leaves_claimed_people_alone_and_lets_them_go_at_its_end() -> None:
    from groupchat.tui.headless import LineFeeder

    ada, bob = HumanParticipant("ada"), HumanParticipant("bob")
    claims = Claims()
    claims.claim("bob", "a joined terminal")
    feeder = LineFeeder(io.StringIO(""), {"ada": ada.channel, "bob": bob.channel}, claims=claims)
    asking = asyncio.create_task(ada.channel.receive())
    await feeder.run()  # ada is asked: the stream ends, so ada has left
    assert await asking is None
    assert ada.channel.closed and not bob.channel.closed  # bob answers elsewhere
    claims.release("bob", "a joined terminal")
    assert bob.channel.closed  # back from the joined terminal to input that has ended


async def test_a_joiner_of_a_resumed_chat_gets_the_earlier_events_from_the_store(
    folder: Path,
) -> None:
    first = GroupChat([ScriptedAgent("talker", ["one", "two"])], max_turns=2)
    await first.run()
    stored = first.events()
    again = GroupChat(
        [ScriptedAgent("talker", ["one", "two", "three"])], chat_id=first.chat_id, max_turns=3
    )
    again.load(stored)  # as `groupchat resume` does: the bus goes on from the stored seq
    assert again.bus.oldest_seq(again.chat_id) == len(stored)

    async def earlier(end: int) -> list[Event]:
        return stored[:end]

    async with ShareServer(again, Claims(), earlier=earlier, folder=folder) as server:
        assert server.path is not None
        client = await JoinClient.connect(server.path)
        await again.run()
        seen = [item async for item in client.incoming()]
        await client.close()
    assert seen[: len(stored)] == stored
    assert [e.seq for e in seen[:-1]] == list(range(len(seen) - 1))
    said = [e.message.content for e in seen if isinstance(e, MessagePosted)]
    assert said == ["one", "two", "three"]
    assert seen[-1] == Bye(reason="the chat ended")
