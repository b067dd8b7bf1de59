"""The share socket carries the chat's own inbound events: a client cannot choose who sends or
where in the chat, a bad event is an error that names its field and the terminal stays joined,
another protocol version is refused clearly on both sides, and the plain console join has the
app's chat commands (``/as``, ``/kick``, ``/invite``)."""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from rich.console import Console

from groupchat import GroupChat, HumanInputRequested, HumanParticipant, ScriptedAgent
from groupchat.events import (
    INBOUND,
    INBOUND_ADAPTER,
    STAMPED,
    EventBase,
    HumanInput,
    InboundEvent,
    SeatClaimed,
)
from groupchat.testing import ChatProbe
from groupchat.transcripts.recorder import StoreRecorder
from groupchat.transcripts.store import SqliteStore
from groupchat.tui.claims import Claims
from groupchat.tui.share.client import JoinClient, JoinError
from groupchat.tui.share.join import JoinSession
from groupchat.tui.share.protocol import (
    PROTOCOL_VERSION,
    ErrorReply,
    Send,
    claim,
    say,
)
from groupchat.tui.share.server import ShareServer


@pytest.fixture
def folder() -> Iterator[Path]:
    """A short private folder for sockets (a socket path must fit in 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="gc-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _team() -> GroupChat:
    """host speaks, then bob (ada is in the team and never asked)."""
    ada, bob = HumanParticipant("ada"), HumanParticipant("bob")
    host = ScriptedAgent("host", ["@bob, what do you think?", "Thanks, bob."])
    return GroupChat([host, bob, ada], max_turns=2)


def test_the_inbound_adapter_reads_just_the_inbound_events() -> None:
    arms = get_args(get_args(InboundEvent)[0])
    assert {arm.model_fields["type"].default for arm in arms} == INBOUND
    assert set(EventBase.model_fields) == STAMPED
    stamps = {"chat_id": "c", "seq": 0, "time": "2026-01-01T00:00:00Z", "sender": "bob"}
    assert INBOUND_ADAPTER.validate_python({**stamps, "type": "seat_claimed", "holder": "t"}) == (
        SeatClaimed(**stamps, holder="t")  # type: ignore[arg-type]
    )
    with pytest.raises(ValueError, match="does not match any of the expected tags"):
        INBOUND_ADAPTER.validate_python({**stamps, "type": "paused"})


async def test_a_client_cannot_forge_the_sender_or_where_in_the_chat(
    folder: Path, tmp_path: Path
) -> None:
    """Every stamped field is refused, naming it; what is sent is stored as the seat holder's,
    in the chat's own order."""
    chat = _team()
    probe = ChatProbe.of(chat)
    async with await SqliteStore.open(tmp_path / "chats.db") as store:
        recorder = StoreRecorder(store, chat.bus, chat.chat_id)
        await recorder.start()
        async with ShareServer(chat, Claims(), folder=folder) as server:
            assert server.path is not None
            client = await JoinClient.connect(server.path)
            run = asyncio.create_task(chat.run())
            await probe.wait_for(HumanInputRequested, participant="bob")
            await client.request(claim("bob"))  # in the run: the claim is an event too
            forged: list[tuple[str, Any]] = [
                ("sender", "ada"),
                ("seq", 0),
                ("chat_id", "another"),
                ("time", "2020-01-01T00:00:00Z"),
            ]
            for field, value in forged:
                event = {"type": "human_input", "text": "I am ada", field: value}
                with pytest.raises(JoinError) as refused:
                    await client.request(Send(event=event))
                assert str(refused.value) == (
                    f"bad event: event.{field}: set by the chat, not by a joined terminal"
                )
            with pytest.raises(JoinError, match=r"^bad event: event\.holder: set by the chat"):
                await client.request(Send(event={"type": "seat_released", "holder": "ada's"}))
            assert (await client.request(say("Looks good."))).text == "answered as bob"
            result = await run
            await client.close()
        await recorder.wait()
        stored = await store.events(chat.chat_id)
    inputs = [e for e in stored if isinstance(e, HumanInput)]
    assert [(e.sender, e.text) for e in inputs] == [("bob", "Looks good.")]
    assert [e.seq for e in stored] == list(range(len(stored)))  # the bus's order, no gaps
    seats = [(e.type, e.sender, getattr(e, "holder", "")) for e in stored if "seat" in e.type]
    assert seats[0] == ("seat_claimed", "bob", "joined terminal 1")
    assert [m.content for m in result.messages if m.sender == "bob"] == ["Looks good."]


async def test_an_invalid_event_is_an_error_naming_the_field_and_the_terminal_stays(
    folder: Path,
) -> None:
    chat = _team()
    probe = ChatProbe.of(chat)
    async with ShareServer(chat, Claims(), folder=folder) as server:
        assert server.path is not None
        client = await JoinClient.connect(server.path)
        await client.request(claim("bob"))
        expected = [
            ({"type": "human_input"}, "event.text: Field required"),
            ({"type": "human_input", "text": 7}, "event.text: Input should be a valid string"),
            ({"type": "human_input", "text": "x", "mood": 1}, "event.mood: Extra inputs"),
            ({"type": "control", "command": "explode"}, "event.command: Input should be 'pause'"),
            ({"type": "paused"}, "event.type: expected one of control, human_input, seat_"),
            ({"text": "hi"}, "event.type: expected one of control, human_input, seat_"),
        ]
        for event, problem in expected:
            with pytest.raises(JoinError) as refused:
                await client.request(Send(event=event))
            assert str(refused.value).startswith(f"bad event: {problem}")
        with pytest.raises(JoinError, match="seat and switch go with a seat_claimed event"):
            await client.request(Send(event={"type": "human_input", "text": "x"}, seat="ada"))
        run = asyncio.create_task(chat.run())
        await probe.wait_for(HumanInputRequested, participant="bob")
        assert (await client.request(say("still here"))).text == "answered as bob"
        result = await run
        await client.close()
    assert [m.content for m in result.messages if m.sender == "bob"] == ["still here"]


async def test_a_client_of_protocol_1_is_told_the_versions(folder: Path) -> None:
    chat = _team()
    async with ShareServer(chat, Claims(), folder=folder) as server:
        assert server.path is not None
        reader, writer = await asyncio.open_unix_connection(str(server.path))
        await reader.readline()  # the hello
        writer.write(b'{"op": "claim", "id": 1, "name": "bob"}\n')
        await writer.drain()
        while b'"op":"error"' not in (line := await reader.readline()):
            assert line, "the server hung up without an answer"
        writer.close()
    reply = ErrorReply.model_validate_json(line)
    assert reply.id == 1
    assert reply.error == (
        f"bad message: 'claim' is a message of protocol 1, and this chat speaks protocol "
        f"{PROTOCOL_VERSION}: join with the same version of groupchat as the chat's"
    )


@pytest.mark.parametrize(
    "hello",
    [
        b'{"op": "hello", "version": 1, "chat_id": "abc", "humans": ["bob"]}\n',
        b'{"op": "hello", "version": 9, "chat_id": "abc", "humans": [], "news": true}\n',
    ],
)
async def test_a_server_of_another_protocol_is_refused_naming_both(
    folder: Path, hello: bytes
) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(hello)
        await writer.drain()
        writer.close()

    path = folder / "old.sock"
    server = await asyncio.start_unix_server(serve, path=str(path))
    async with server:
        with pytest.raises(JoinError) as refused:
            await JoinClient.connect(path)
    version = 1 if b'"version": 1' in hello else 9
    assert str(refused.value) == (
        f"{path}: the chat speaks protocol {version}, and this groupchat speaks protocol "
        f"{PROTOCOL_VERSION}: join with the same version of groupchat as the chat's"
    )


async def test_the_console_join_takes_another_seat_kicks_and_invites(folder: Path) -> None:
    chat = _team()
    claims = Claims()
    out = io.StringIO()
    async with ShareServer(chat, claims, folder=folder) as server:
        assert server.path is not None
        run = asyncio.create_task(chat.run())
        client = await JoinClient.connect(server.path)
        await client.request(claim("bob"))
        session = JoinSession(client, "bob", console=Console(file=out, width=200))
        for line in ("/help", "/as", "/as host", "/as @ADA", "/kick @host", "/invite"):
            assert await session.handle_line(line)
        assert (session.name, session.renderer.me, claims.names) == ("ada", "ada", ["ada"])
        await session.handle_line("/invite host")
        await session.handle_line("/stop")
        await run
        await client.close()
    shown = out.getvalue()
    for said in (
        "/as [PERSON]",
        "/kick NAME",
        "/invite [NAME]",
        "you are bob",
        "'host' is not a person in this chat (people: bob, ada)",
        "you are ada",
        "host was removed; /invite host brings them back",
        "can come back: host",
        "host is back in the chat",
        "stopping the chat",
    ):
        assert said in shown
    asked = [(e.sender, e.command, e.name) for e in chat.events() if e.type == "control"]
    assert asked[:3] == [("ada", "kick", "host"), ("ada", "invite", "host"), ("ada", "stop", None)]
