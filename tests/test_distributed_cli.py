"""End-to-end: chats on a bus across real ``groupchat`` processes and a real ``redis-server``,
and their faults (a worker or the manager killed with SIGKILL, Redis restarting, a second
manager, a name hosted twice, a bus that cannot be reached or is no bus).

Every wait is bounded: processes have timeouts, and what they do is polled (their output,
the chat's stream in Redis, the store) with a deadline.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed_support import (
    Proc,
    Procs,
    dumped,
    eventually,
    exported,
    groupchat,
    posted,
    stream_events,
    write_spec,
)
from redis_server import RedisServer, free_port

from groupchat.distributed.hosting import BEAT_TIMEOUT
from groupchat.events import (
    ChatEnded,
    ErrorEvent,
    Event,
    MessagePosted,
    SpeakerSelected,
    TextDelta,
    TurnSkipped,
)

HOST = socket.gethostname()
FAST_LEASE = {"GROUPCHAT_LEASE_TTL": "1.5"}


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    """Starts the test's background processes; whatever still runs at its end is killed."""
    started = Procs(tmp_path)
    yield started
    started.stop_all()


MODERATOR = [
    "Welcome. @pro opens, @con answers.",
    "Last round. @pro, your closing argument.",
    "Thank you both. DEBATE OVER",
]
PRO = [
    "Car-free centres cut pollution and make streets safer for everyone who walks there.",
    "Give the street back to the many who walk, cycle and ride.",
]
CON = [
    "A ban hurts people who cannot walk far.",
    "Better: congestion charges first, then decide street by street.",
]
DEBATE_ORDER = [
    ("moderator", MODERATOR[0]),
    ("pro", PRO[0]),
    ("con", CON[0]),
    ("moderator", MODERATOR[1]),
    ("pro", PRO[1]),
    ("con", CON[1]),
    ("moderator", MODERATOR[2]),
]


def debate(*, pro_delay: float = 0.0, con_delay: float = 0.0) -> dict[str, Any]:
    """examples/debate.yaml in short, its debaters streaming word by word (``delay`` each)."""
    return {
        "name": "debate",
        "task": "Should cities ban private cars from their centres?",
        "participants": [
            {"kind": "scripted", "name": "moderator", "script": MODERATOR},
            {"kind": "scripted", "name": "pro", "script": PRO, "chunk": "word", "delay": pro_delay},
            {"kind": "scripted", "name": "con", "script": CON, "chunk": "word", "delay": con_delay},
        ],
        "policy": {
            "kind": "graph",
            "start": "moderator",
            "edges": {"moderator": ["pro"], "pro": ["con"], "con": ["moderator", "pro"]},
            "then": {"kind": "round_robin"},
        },
        "termination": {
            "text_mention": {"text": "DEBATE OVER", "sources": ["moderator"]},
            "max_messages": 12,
        },
    }


def assert_whole(events: list[Event], expected: list[tuple[str, str]]) -> None:
    """Every event once, in order, and the turns' messages exactly ``expected``."""
    assert [e.seq for e in events] == list(range(len(events)))
    ids = [e.message.id for e in events if isinstance(e, MessagePosted)]
    assert len(ids) == len(set(ids)), "a message was posted twice"
    assert posted(events) == expected


def ended(url: str, chat_id: str) -> ChatEnded | None:
    events = stream_events(url, chat_id)
    last = events[-1] if events else None
    return last if isinstance(last, ChatEnded) else None


def streaming(url: str, chat_id: str, speaker: str) -> bool:
    """Whether ``speaker``'s turn has begun to stream (and is not over yet)."""
    events = stream_events(url, chat_id)
    deltas = [e for e in events if isinstance(e, TextDelta) and e.sender == speaker]
    return bool(deltas) and not any(
        isinstance(e, MessagePosted | TurnSkipped) and e.seq > deltas[0].seq for e in events
    )


# --------------------------------------------------------------------------- 1: a worker hosts


def test_a_worker_hosts_pro_and_con_of_a_chat_run_with_wait_for(
    redis_url: str, tmp_path: Path, procs: Procs
) -> None:
    spec = write_spec(tmp_path / "debate.json", debate(pro_delay=0.08, con_delay=0.08))
    worker = procs.start("worker", "worker", spec, "--bus", redis_url, "--only", "pro", "con")
    worker.wait_err(r"hosting pro, con for the chats of team 'debate'")
    run = procs.start(
        "run", "run", spec, "--bus", redis_url, "--headless", "--wait-for", "pro", "con"
    )
    chat_id = run.chat_id()

    def listed() -> str | None:
        out = groupchat("list", "--bus", redis_url).stdout
        return out if f"pro on {HOST}:{worker.pid}" in out else None

    listing = eventually(listed, "list --bus shows pro on the worker")
    assert chat_id in listing and f"con on {HOST}:{worker.pid}" in listing
    assert "running" in listing  # the chat is listed only while its manager runs it
    assert run.wait() == 0, run.err
    worker.wait_err(rf"hosting pro in chat {chat_id}")
    worker.wait_err(rf"hosting con in chat {chat_id}")
    assert "no worker hosts" not in run.err
    assert [line.split(":", 1)[0] for line in run.out.splitlines()[1:]] == [
        who for who, _ in DEBATE_ORDER
    ]
    stored = exported(chat_id)
    assert_whole(stored, DEBATE_ORDER)
    assert isinstance(stored[-1], ChatEnded) and stored[-1].status == "completed"
    assert dumped(stream_events(redis_url, chat_id)) == dumped(stored)
    shown = groupchat("show", chat_id)
    assert shown.returncode == 0, shown.stderr
    at = [shown.stdout.find(text) for _who, text in DEBATE_ORDER]
    assert -1 not in at and at == sorted(at)


# ------------------------------------------------------------------- 5, 8: no bus to be had


def test_a_bus_that_does_not_answer_is_named_without_its_password() -> None:
    port = free_port()  # nothing listens there
    proc = groupchat(
        "run", "examples/debate.yaml", "--bus", f"redis://:s3cret@127.0.0.1:{port}/0",
        "--headless",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert f"cannot reach the bus at redis://:***@127.0.0.1:{port}/0" in proc.stderr
    assert "s3cret" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_bus_url_that_is_not_redis_is_refused() -> None:
    proc = groupchat("run", "examples/debate.yaml", "--bus", "http://x", "--headless")
    assert proc.returncode == 2
    assert "bus URL http://x: use redis://host:port/db or rediss:// (TLS)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


# ------------------------------------------------------------- 4, 6: one manager, one host


def test_resume_of_a_running_chat_is_refused_and_says_how_to_join(
    redis_url: str, tmp_path: Path, procs: Procs
) -> None:
    spec = write_spec(tmp_path / "debate.json", debate(pro_delay=0.2))
    run = procs.start("run", "run", spec, "--bus", redis_url, "--headless", env=FAST_LEASE)
    chat_id = run.chat_id()
    eventually(lambda: streaming(redis_url, chat_id, "pro"), "pro's turn streams")
    second = groupchat("resume", chat_id, "--bus", redis_url, "--headless", env=FAST_LEASE)
    assert second.returncode == 2, second.stderr
    assert f"chat {chat_id} is running" in second.stderr
    assert f"take part with `groupchat join {chat_id} --bus URL`" in second.stderr
    assert second.stdout == ""
    assert run.wait() == 0, run.err  # the first manager went on undisturbed
    stored = exported(chat_id)
    assert_whole(stored, DEBATE_ORDER)
    assert dumped(stream_events(redis_url, chat_id)) == dumped(stored)


def test_a_second_worker_for_a_hosted_name_is_refused_naming_the_first(
    redis_url: str, tmp_path: Path, procs: Procs
) -> None:
    spec = write_spec(tmp_path / "debate.json", debate(pro_delay=0.2))
    first = procs.start("first", "worker", spec, "--bus", redis_url, "--only", "pro")
    first.wait_err(r"hosting pro for the chats of team 'debate'")
    run = procs.start("run", "run", spec, "--bus", redis_url, "--headless", "--wait-for", "pro")
    chat_id = run.chat_id()
    first.wait_err(rf"hosting pro in chat {chat_id}")
    second = groupchat("worker", spec, "--bus", redis_url, "--chat", chat_id, "--only", "pro")
    assert second.returncode == 2, second.stderr
    assert f"pro is hosted by the worker on {HOST}:{first.pid}" in second.stderr
    assert run.wait() == 0, run.err
    assert first.process.poll() is None
    assert_whole(exported(chat_id), DEBATE_ORDER)


# ------------------------------------------------------------------ 2: a worker killed


def relay(*, on_error: str | None, pro: str, pro_delay: float) -> dict[str, Any]:
    """A round of moderator, pro and con, again and again, until pro says FROMWORKER (only
    the worker's spec has pro say it: its turn on a worker ends the chat)."""
    spec: dict[str, Any] = {
        "name": "relay",
        "task": "Pass it on.",
        "participants": [
            {"kind": "scripted", "name": "moderator", "script": ["Your turn, @pro."],
             "when_done": "cycle"},
            {"kind": "scripted", "name": "pro", "script": [pro], "chunk": "word",
             "delay": pro_delay, "when_done": "cycle"},
            {"kind": "scripted", "name": "con", "script": ["con answers, word by word."],
             "chunk": "word", "delay": 0.1, "when_done": "cycle"},
        ],
        "policy": {"kind": "round_robin"},
        "termination": {
            "text_mention": {"text": "FROMWORKER", "sources": ["pro"]},
            "max_messages": 60,
        },
    }  # fmt: skip
    if on_error is not None:
        spec["on_error"] = on_error
    return spec


LOCAL_PRO = "pro speaks in the manager."
REMOTE_PRO = "pro speaks on a worker, slowly, one word at a time: FROMWORKER"


def relay_specs(tmp_path: Path, on_error: str | None) -> tuple[Path, Path]:
    """The manager's spec and the worker's (whose pro is slow and says another line)."""
    manager = write_spec(
        tmp_path / "manager.json", relay(on_error=on_error, pro=LOCAL_PRO, pro_delay=0)
    )
    worker = write_spec(
        tmp_path / "worker.json", relay(on_error=on_error, pro=REMOTE_PRO, pro_delay=0.25)
    )
    return manager, worker


def kill_worker_mid_turn(
    procs: Procs, redis_url: str, worker: Proc, manager_spec: Path
) -> tuple[Proc, str, float]:
    """Run the chat with pro on ``worker``, SIGKILL the worker once pro's turn streams;
    returns the manager, the chat and when the worker died."""
    worker.wait_err(r"hosting pro for the chats of team 'relay'")
    run = procs.start(
        "run", "run", manager_spec, "--bus", redis_url, "--headless", "--wait-for", "pro"
    )
    chat_id = run.chat_id()
    worker.wait_err(rf"hosting pro in chat {chat_id}")
    eventually(lambda: streaming(redis_url, chat_id, "pro"), "pro's turn streams on the worker")
    worker.kill()
    return run, chat_id, time.monotonic()


def worker_lost(redis_url: str, chat_id: str) -> ErrorEvent | None:
    errors = [
        e
        for e in stream_events(redis_url, chat_id)
        if isinstance(e, ErrorEvent) and e.participant == "pro"
    ]
    return errors[0] if errors else None


def test_a_worker_killed_mid_turn_fails_the_turn_and_the_chat_goes_on(
    redis_url: str, tmp_path: Path, procs: Procs
) -> None:
    manager_spec, worker_spec = relay_specs(tmp_path, "continue")
    first = procs.start("first", "worker", worker_spec, "--bus", redis_url, "--only", "pro")
    run, chat_id, killed = kill_worker_mid_turn(procs, redis_url, first, manager_spec)
    error = eventually(lambda: worker_lost(redis_url, chat_id), "the turn fails", 10)
    noticed = time.monotonic() - killed
    assert noticed < BEAT_TIMEOUT + 3.0, f"the manager noticed after {noticed:.1f} s"
    assert f"pro's worker on {HOST}:{first.pid} stopped answering" in error.error
    assert not error.fatal

    def local_pro() -> bool:
        events = stream_events(redis_url, chat_id)
        return ("pro", LOCAL_PRO) in posted([e for e in events if e.seq > error.seq])

    eventually(local_pro, "pro speaks in the manager's process")
    # Nobody hosts pro now: the bus's list says so, not that the dead worker does.
    listing = groupchat("list", "--bus", redis_url).stdout
    assert f"{HOST}:{first.pid}" not in listing
    assert "moderator, pro, con with the manager" in listing
    second = procs.start("second", "worker", worker_spec, "--bus", redis_url, "--only", "pro")
    second.wait_err(rf"hosting pro in chat {chat_id}")
    assert run.wait() == 0, run.err
    stored = exported(chat_id)
    assert dumped(stream_events(redis_url, chat_id)) == dumped(stored)
    after = [e for e in stored if e.seq > error.seq]
    # The chat went on with the next speaker.
    selected = [e.speaker for e in after if isinstance(e, SpeakerSelected)]
    assert selected[0] == "con"
    said = posted(after)
    assert ("pro", LOCAL_PRO) in said
    assert said[-1] == ("pro", REMOTE_PRO)  # the worker started again took pro's turn
    assert said.count(("pro", REMOTE_PRO)) == 1
    assert ("pro", REMOTE_PRO) not in posted([e for e in stored if e.seq < error.seq])
    end = stored[-1]
    assert isinstance(end, ChatEnded) and end.status == "completed"


def test_a_worker_killed_mid_turn_ends_the_chat_by_default(
    redis_url: str, tmp_path: Path, procs: Procs
) -> None:
    manager_spec, worker_spec = relay_specs(tmp_path, None)
    worker = procs.start("worker", "worker", worker_spec, "--bus", redis_url, "--only", "pro")
    run, chat_id, killed = kill_worker_mid_turn(procs, redis_url, worker, manager_spec)
    end = eventually(lambda: ended(redis_url, chat_id), "the chat ends", 10)
    noticed = time.monotonic() - killed
    assert noticed < BEAT_TIMEOUT + 3.0, f"the manager noticed after {noticed:.1f} s"
    assert run.wait() == 1, run.err
    assert end.status == "error"
    assert f"pro's worker on {HOST}:{worker.pid} stopped answering" in end.reason
    assert "stopped answering" in run.out + run.err
    stored = exported(chat_id)
    assert dumped(stream_events(redis_url, chat_id)) == dumped(stored)
    assert ("pro", REMOTE_PRO) not in posted(stored)


# ------------------------------------------------------------------ 3: the manager killed


def test_resume_takes_over_a_chat_whose_manager_was_killed(
    redis_url: str, tmp_path: Path, procs: Procs
) -> None:
    spec = write_spec(tmp_path / "debate.json", debate(pro_delay=0.1))
    run = procs.start("run", "run", spec, "--bus", redis_url, "--headless", env=FAST_LEASE)
    chat_id = run.chat_id()
    eventually(lambda: streaming(redis_url, chat_id, "pro"), "pro's turn streams")
    run.kill()
    before = stream_events(redis_url, chat_id)
    assert not isinstance(before[-1], ChatEnded)
    resumed = groupchat("resume", chat_id, "--bus", redis_url, "--headless", env=FAST_LEASE)
    assert resumed.returncode == 0, resumed.stderr
    assert f"took chat {chat_id} over on the bus" in resumed.stderr
    events = stream_events(redis_url, chat_id)
    assert dumped(events[: len(before)]) == dumped(before)  # the stream only grew
    stored = exported(chat_id)
    assert dumped(stored) == dumped(events)
    # The first turn of the manager that took over (after what it restored from the store).
    again = next(e for e in events[len(before) :] if isinstance(e, SpeakerSelected))
    assert isinstance(again, SpeakerSelected) and again.speaker == "pro"
    assert "resumed: pro's turn had not finished" in again.reason
    assert_whole(stored, DEBATE_ORDER)
    end = stored[-1]
    assert isinstance(end, ChatEnded) and end.status == "completed"


# ------------------------------------------------------------------ 7: Redis restarts


def test_a_chat_goes_on_when_redis_restarts_mid_chat(tmp_path: Path, procs: Procs) -> None:
    with RedisServer(tmp_path / "r") as server:
        url = server.url
        env = {"GROUPCHAT_BUS": url}
        spec = write_spec(tmp_path / "debate.json", debate(con_delay=0.2))
        worker = procs.start("worker", "worker", spec, "--only", "con", env=env)
        worker.wait_err(r"hosting con for the chats of team 'debate'")
        run = procs.start("run", "run", spec, "--headless", "--wait-for", "con", env=env)
        chat_id = run.chat_id()
        # Redis goes away while con's turn streams from the worker, and comes back.
        eventually(lambda: streaming(url, chat_id, "con"), "con's turn streams")
        before = stream_events(url, chat_id)
        server.restart()
        assert dumped(stream_events(url, chat_id)[: len(before)]) == dumped(before)
        assert run.wait() == 0, run.err
        assert worker.process.poll() is None, worker.err  # the worker outlived the restart
        events = stream_events(url, chat_id)
        procs.stop_all()
    stored = exported(chat_id)
    assert dumped(events) == dumped(stored)
    assert_whole(stored, DEBATE_ORDER)
    end = stored[-1]
    assert isinstance(end, ChatEnded) and end.status == "completed"
    assert f"hosting con in chat {chat_id}" in worker.err
