"""Helpers for the end-to-end tests of chats on a bus: ``groupchat`` processes whose output
goes to files (read while they run, never a pipe that fills up), bounded waits on what they
print and on what Redis holds, and team specs of scripted agents."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import redis

from groupchat.distributed import keys
from groupchat.distributed.follow import parse_entry
from groupchat.events import Event, MessagePosted, dump_event, parse_event

__all__ = [
    "REPO",
    "TIMEOUT",
    "Proc",
    "Procs",
    "eventually",
    "exported",
    "groupchat",
    "posted",
    "stream_events",
    "write_spec",
]

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0
"""Seconds any one process or wait may take at most: a safety net, never a wait."""

T = TypeVar("T")


def eventually(check: Callable[[], T | None], what: str, timeout: float = TIMEOUT) -> T:
    """Poll ``check`` until it returns something (not ``None``/``False``), at most ``timeout``
    seconds; fails naming ``what`` when it never does."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)


def _environment(env: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, **(env or {})}


def groupchat(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m groupchat ARGS`` to its end (``$GROUPCHAT_DB`` is the test's)."""
    return subprocess.run(
        [sys.executable, "-m", "groupchat", *(str(a) for a in args)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_environment(env),
        check=False,
    )


class Proc:
    """A ``groupchat`` process running in the background, its output in ``folder``."""

    def __init__(
        self, folder: Path, name: str, *args: str | Path, env: dict[str, str] | None = None
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.out_path = folder / f"{name}.out"
        self.err_path = folder / f"{name}.err"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "groupchat", *(str(a) for a in args)],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=_environment(env),
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def out(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def err(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_err(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """The first match of ``pattern`` in what the process wrote to stderr, once it has."""

        def found() -> re.Match[str] | None:
            match = re.search(pattern, self.err)
            if match is None and self.process.poll() is not None:
                match = re.search(pattern, self.err)  # written just before it exited
                if match is None:
                    raise AssertionError(
                        f"{self.name} exited ({self.process.returncode}) without printing "
                        f"{pattern!r}:\n{self.err}"
                    )
            return match

        return eventually(found, f"{self.name} prints {pattern!r}", timeout)

    def chat_id(self) -> str:
        """The chat's id, from the note ``run --bus`` prints."""
        return self.wait_err(r"on the bus \S+: chat ([0-9a-f]+)").group(1)

    def wait(self, timeout: float = TIMEOUT) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(
                f"{self.name} did not end within {timeout:g} s:\n{self.out}\n{self.err}"
            ) from None

    def kill(self) -> None:
        """SIGKILL, for real: no clean-up runs in the process."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=TIMEOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)


class Procs:
    """The background processes of one test, all stopped at its end (see the ``procs``
    fixture), their output in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Proc] = []

    def start(self, name: str, *args: str | Path, env: dict[str, str] | None = None) -> Proc:
        proc = Proc(self.folder, name, *args, env=env)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


def stream_events(url: str, chat_id: str) -> list[Event]:
    """Every event of the chat's stream on the bus, in order."""
    client = redis.Redis.from_url(url)
    try:
        entries: list[Any] = client.xrange(keys.events(chat_id))
    except redis.ConnectionError:
        return []
    finally:
        client.close()
    return [parse_entry(chat_id, entry_id, fields) for entry_id, fields in entries]


def exported(chat_id: str, env: dict[str, str] | None = None) -> list[Event]:
    """The chat's stored transcript, as ``groupchat export ID --format jsonl`` writes it."""
    proc = groupchat("export", chat_id, "--format", "jsonl", env=env)
    assert proc.returncode == 0, proc.stderr
    return [parse_event(line) for line in proc.stdout.splitlines() if line.strip()]


def posted(events: list[Event]) -> list[tuple[str, str]]:
    """``(sender, content)`` of each turn's message, in order."""
    return [
        (e.message.sender, e.message.content)
        for e in events
        if isinstance(e, MessagePosted) and e.message.kind == "turn"
    ]


def dumped(events: list[Event]) -> list[str]:
    return [dump_event(event) for event in events]


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    """A team spec file (JSON is YAML too)."""
    path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return path
