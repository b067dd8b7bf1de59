"""A real PostgreSQL server for tests: ``initdb`` into a temporary folder, ``pg_ctl`` on a free
loopback port.

Tests that need it take the ``pg_server`` / ``postgres_url`` fixtures (see
``tests/conftest.py``); CI installs the server when the machine lacks it. The server refuses to
run as root, so a root test run starts it as an unprivileged system user (``postgres`` from the
Debian package, else one made with ``useradd``) through ``runuser``. The superuser of the
cluster has a password (TCP connections need it: ``scram-sha-256``), so the tests' URLs carry
one, as a real deployment's do. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from redis_server import free_port

__all__ = ["PostgresServer", "find_binary"]

START_TIMEOUT = 30.0
RUN_AS = "postgres"
"""The unprivileged user a root test run starts the server as (created if missing)."""


def find_binary(name: str) -> str:
    """``name`` from the newest ``/usr/lib/postgresql/*/bin`` (Debian keeps the server there),
    else from ``$PATH``."""
    folders = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda folder: (
            int(Path(folder).parent.name) if Path(folder).parent.name.isdigit() else 0
        ),
    )
    for folder in reversed(folders):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed (apt-get install -y postgresql)")
    return found


def _unprivileged_user() -> str | None:
    """The user to run the server as: ``None`` when this process is not root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", RUN_AS],
            check=True,
            timeout=30,
        )
    return RUN_AS


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, listening on ``127.0.0.1:port`` only;
    :meth:`stop` and :meth:`start` keep the port and the data, as a server restarting does."""

    def __init__(self) -> None:
        self.initdb = find_binary("initdb")
        self.pg_ctl = find_binary("pg_ctl")
        self.pg_isready = find_binary("pg_isready")
        self.psql = find_binary("psql")
        self.user = _unprivileged_user()
        self.port = free_port()
        self.superuser = "groupchat_admin"
        self.password = secrets.token_hex(12)
        self.folder = Path(tempfile.mkdtemp(prefix="groupchat-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.running = False

    def url(self, database: str = "postgres", *, schema: str | None = None) -> str:
        query = f"?schema={schema}" if schema else ""
        return (
            f"postgresql://{self.superuser}:{self.password}@127.0.0.1:{self.port}/{database}{query}"
        )

    def _as_user(self, args: list[str]) -> list[str]:
        return args if self.user is None else ["runuser", "-u", self.user, "--", *args]

    def _run(self, args: list[str], *, timeout: float = START_TIMEOUT) -> str:
        done = subprocess.run(
            self._as_user(args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def init(self) -> None:
        if self.user is not None:
            shutil.chown(self.folder, self.user)
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        if self.user is not None:
            shutil.chown(pwfile, self.user)
        pwfile.chmod(0o600)
        try:
            self._run(
                [
                    self.initdb,
                    "-D", str(self.data),
                    "-U", self.superuser,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E", "UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            )  # fmt: skip
        finally:
            pwfile.unlink()

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            [
                self.pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options,
                "-w", "-t", str(int(START_TIMEOUT)), "start",
            ]
        )  # fmt: skip
        self.running = True
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [self.pg_isready, "-q", "-h", "127.0.0.1", "-p", str(self.port), "-t", "2"],
                timeout=10,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"PostgreSQL did not answer on port {self.port}: {self.log_tail()}")

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the server (``mode``: ``fast``, or ``immediate`` as a crash would)."""
        if not self.running:
            return
        self._run([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"])
        self.running = False

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one statement as the superuser with ``psql`` (set-up, not the tests' subject)."""
        done = subprocess.run(
            [self.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement,
             self.url(database)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"psql: {done.stderr.strip()}")
        return done.stdout

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-2000:]
        return ""

    def __enter__(self) -> PostgresServer:
        self.init()
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop(mode="immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
