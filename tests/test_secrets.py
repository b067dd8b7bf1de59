"""Secrets: an API key never appears in a transcript, an export, a log or an error message, and
the database files (transcripts and recorded model calls) are readable by their owner only.

The key is a recognisable fake. The chats run in real ``groupchat`` processes against a loopback
chat-completions server that is hostile on purpose: it echoes the key it was sent in its error
messages. The OpenAI SDK's debug log is switched on. Then every byte of every output (standard
output and error of every command, every file in the folder: databases, write-ahead logs,
recorded calls, exports) is searched for the key and for every 8-character piece of it.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from pathlib import Path

import pytest
from chat_completions_server import Answer, Broken, ChatCompletionsServer, Status

from groupchat.models.cache import ModelCache
from groupchat.models.scripted import ScriptedModel
from groupchat.testing import reply

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-FAKE-gcKey-7Q2x9LmP4vR8tZ3wN6yB1kD5"
WRONG = "sk-FAKE-wrongKey-H8jF3sQ1zX7cV9bM2nL4"
SAFETY = 60.0

TEAM = """\
name: leaky
task: Crunch the numbers
participants:
  - kind: llm
    name: analyst
    model: "{url}#test-model"
    description: Crunches numbers.
    max_retries: 1
    timeout: 5
  - {{kind: llm, name: critic, model: "{url}#test-model", max_retries: 0, timeout: 5}}
policy:
  kind: llm_selector
  model: "{url}#test-model"
  max_retries: 0
  timeout: 5
  fallback: {{kind: round_robin}}
model_cache: {{path: "{cache}", mode: record}}
on_error: continue
max_turns: 4
"""


def pieces(secret: str, size: int = 8) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def leaks(data: bytes | str, secrets: tuple[str, ...] = (KEY, WRONG)) -> list[str]:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return sorted(piece for secret in secrets for piece in pieces(secret) if piece in text)


async def groupchat(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "groupchat",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), SAFETY)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def test_an_api_key_never_appears_in_any_output(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GROUPCHAT_API_KEY": KEY,  # the key sent to a server named by its URL
        "OPENAI_API_KEY": KEY,  # never sent there, and never written anywhere either
        "OPENAI_LOG": "debug",  # the SDK logs every request to standard error
        "GROUPCHAT_DB": str(tmp_path / "chats.db"),
    }
    hostile = [
        Answer("analyst"),  # the selector's pick
        Answer("The numbers add up."),
        Status(400, f"your key {KEY} may not call test-model (key {KEY[3:20]})"),
        Status(500, f"internal error while checking Bearer {KEY}"),
        Broken(f"partial answer, then the connection drops {KEY[-10:]}"[:40]),
        Answer("critic"),
        Answer("Agreed."),
    ]
    outputs: dict[str, bytes] = {}
    async with ChatCompletionsServer(hostile, api_key=KEY) as server:
        spec = tmp_path / "team.yaml"
        spec.write_text(TEAM.format(url=server.base_url, cache=tmp_path / "calls.sqlite"))
        runs = [("check", str(spec)), ("run", str(spec), "--jsonl")]
        for args in runs:
            code, out, err = await groupchat(*args, env=env, cwd=tmp_path)
            assert b"Traceback" not in err, err.decode()
            outputs[f"{args[0]} out"], outputs[f"{args[0]} err"] = out, err
        assert len(server.requests) >= 4
        assert {r.headers["authorization"] for r in server.requests} == {f"Bearer {KEY}"}

        # A wrong key: the server's 401 quotes part of it, as OpenAI's does.
        code, out, err = await groupchat(
            "run", str(spec), "--headless", env={**env, "GROUPCHAT_API_KEY": WRONG}, cwd=tmp_path
        )
        assert code == 0, err.decode()
        assert b"the API key was rejected (HTTP 401); check GROUPCHAT_API_KEY" in err
        outputs["wrong key out"], outputs["wrong key err"] = out, err

    assert b'"type":"error"' in outputs["run out"]  # the hostile answers did become errors
    assert b"request rejected (HTTP 400)" in outputs["run out"]

    # Every way of reading the chats back.
    code, listing, err = await groupchat("list", env=env, cwd=tmp_path)
    assert code == 0, err.decode()
    outputs["list"] = listing + err
    chat_ids = [line.split()[0].decode() for line in listing.splitlines()[1:]]
    assert len(chat_ids) == 2
    for chat_id in chat_ids:
        for args in (
            ("show", chat_id),
            ("export", chat_id),
            ("export", chat_id, "--format", "md"),
            ("export", chat_id, "--format", "html", "-o", f"{chat_id}.html"),
            ("replay", chat_id, "--speed", "0"),
        ):
            code, out, err = await groupchat(*args, env=env, cwd=tmp_path)
            assert code == 0, err.decode()
            outputs[" ".join(args)] = out + err

    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert {"chats.db", "calls.sqlite", f"{chat_ids[0]}.html"} <= set(files)
    for name, data in {**outputs, **files}.items():
        assert leaks(data) == [], f"the key leaked into {name}"
    assert b"test-model" in files["calls.sqlite"]  # the recorded calls are really there


# ------------------------------------------------------------------------------ permissions


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_database_files_are_created_readable_by_their_owner_only(tmp_path: Path) -> None:
    """Whatever the umask: the default transcript database, its folder, its write-ahead log,
    and a recorded-calls file."""
    data_home = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "GROUPCHAT_DB"}
    env["XDG_DATA_HOME"] = str(data_home)
    spec = tmp_path / "team.yaml"
    spec.write_text(
        "participants:\n"
        "  - {kind: scripted, name: ada, script: ['hello'], when_done: cycle}\n"
        "termination: {max_messages: 2}\n"
    )
    old = os.umask(0)  # the child inherits it: files would be world-writable by default
    try:
        code, _, err = await groupchat("run", str(spec), "--headless", env=env, cwd=tmp_path)
    finally:
        os.umask(old)
    assert code == 0, err.decode()
    folder = data_home / "groupchat"
    assert mode(folder) == 0o700
    assert mode(folder / "chats.db") == 0o600

    # The write-ahead log and shared-memory files exist while a writer has the file open.
    from groupchat.transcripts.store import SqliteStore

    old = os.umask(0)
    try:
        async with await SqliteStore.open(folder / "chats.db") as store:
            await store.create_chat("held open")
            await store.flush()
            others = sorted(folder.glob("chats.db-*"))
            assert [p.name for p in others] == ["chats.db-shm", "chats.db-wal"]
            assert [mode(p) for p in others] == [0o600, 0o600]

        cache = ModelCache(tmp_path / "recorded" / "calls.sqlite", mode="record")
        model = cache.wrap(ScriptedModel([reply("recorded")]))
        from groupchat.models.base import ModelMessage, ModelRequest, complete

        await complete(model, ModelRequest(messages=(ModelMessage(role="user", content="hi"),)))
    finally:
        os.umask(old)
    assert mode(tmp_path / "recorded") == 0o700
    assert mode(tmp_path / "recorded" / "calls.sqlite") == 0o600


@pytest.mark.parametrize("name", ["api_key", "apiKey", "X-Api-Key", "auth_token", "password"])
async def test_a_secret_in_chat_metadata_or_spec_is_never_stored(tmp_path: Path, name: str) -> None:
    from groupchat.agents import ScriptedAgent
    from groupchat.chat import GroupChat
    from groupchat.transcripts.recorder import StoreRecorder
    from groupchat.transcripts.store import SqliteStore

    path = tmp_path / "chats.db"
    endpoint = f"https://me:{KEY}@proxy.example/v1"
    chat = GroupChat(
        [ScriptedAgent("ada", ["hi"])],
        max_turns=1,
        metadata={"team": "t", name: KEY, "client": {name: KEY, "endpoint": endpoint}},
    )
    spec = {"name": "t", "model": {name: KEY}, "participants": [{"model": f"{endpoint}#m"}]}
    async with await SqliteStore.open(path) as store:
        recorder = StoreRecorder(store, chat.bus, chat.chat_id, spec=spec)
        await recorder.start()
        await chat.run("go")
        await recorder.wait()
        stored = await store.events(chat.chat_id)
        shown = "https://me:***@proxy.example/v1"
        assert stored[0].metadata == {"team": "t", "client": {"endpoint": shown}}  # type: ignore[union-attr]
        assert await store.spec(chat.chat_id) == {
            "name": "t",
            "model": {},
            "participants": [{"model": f"{shown}#m"}],
        }
        for file in tmp_path.iterdir():
            assert leaks(file.read_bytes()) == [], file.name
    for file in tmp_path.iterdir():
        assert leaks(file.read_bytes()) == [], file.name


async def test_a_key_inside_an_endpoint_url_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint with credentials in it (``https://user:KEY@proxy/v1``), from the environment
    or as a model name: names, errors and the chat's events show ``***`` instead."""
    from groupchat.agents import LLMAgent
    from groupchat.chat import GroupChat
    from groupchat.events import ErrorEvent, dump_event
    from groupchat.models import RetryPolicy, resolve_model

    async with ChatCompletionsServer() as server:
        url = server.base_url  # closed now: every call fails to connect
    with_key = url.replace("http://", f"http://proxy-user:{KEY}@")
    monkeypatch.setenv("OPENAI_API_KEY", WRONG)
    monkeypatch.setenv("OPENAI_BASE_URL", with_key)
    no_retry = RetryPolicy(max_retries=0)
    models = [
        resolve_model("openai:gpt-test", retry=no_retry),
        resolve_model(f"{with_key}#gpt-test", retry=no_retry),
    ]
    chat = GroupChat(
        [LLMAgent(f"agent{i}", model) for i, model in enumerate(models)],
        max_turns=2,
        on_error="continue",
    )
    await asyncio.wait_for(chat.run("hello"), SAFETY)
    errors = [e.error for e in chat.events() if isinstance(e, ErrorEvent)]
    shown = url.replace("http://", "http://proxy-user:***@")
    assert errors == [
        f"ModelConnectionError: openai:gpt-test: cannot connect to {shown}",
        f"ModelConnectionError: {shown}#gpt-test: cannot connect to {shown}",
    ]
    everything = [repr(m) for m in models] + [m.name for m in models]
    everything += [dump_event(e) for e in chat.events()]
    assert leaks("\n".join(everything)) == []
