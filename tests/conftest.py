"""Shared fixtures: real databases (SQLite, a throwaway PostgreSQL), the demo shop, Chromium.

On CI (`CI=true`) the PostgreSQL and browser tests must run: a missing server or browser
fails them instead of skipping.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason: str) -> None:
    if ON_CI:
        pytest.fail(f"{reason} (CI=true: this test must run)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _forget_secrets():
    """Secrets registered by one test's config (core.redaction is process-wide) do not mask another's output."""
    yield
    from jingshao.core import redaction

    redaction.clear()


# ---------------------------------------------------------------- PostgreSQL


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


class PostgresServer:
    """initdb + pg_ctl in a temp dir on a free port; as root, run as the `postgres` user."""

    def __init__(self) -> None:
        self.initdb = _pg_bin("initdb")
        self.pg_ctl = _pg_bin("pg_ctl")
        if not (self.initdb and self.pg_ctl):
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.dir = Path(tempfile.mkdtemp(prefix="jingshao-pg-"))
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = "postgres"
            shutil.chown(self.dir, user=user)
            self.as_user = ["runuser", "-u", user, "--"]
        self.data = self.dir / "data"
        self._counter = itertools.count()

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(self.pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
        server.start()
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        detail = exc.stderr.decode(errors="replace") if isinstance(exc, subprocess.CalledProcessError) else exc
        skip_or_fail(f"cannot start a throwaway PostgreSQL: {detail}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """A fresh, empty database on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("postgres_server").new_database()


# ---------------------------------------------------------------- demo shop


@pytest.fixture
def shop():
    from jingshao.demo.server import DemoServer

    with DemoServer() as srv:
        yield srv


# ---------------------------------------------------------------- chat robots


@pytest.fixture(scope="module")
def receivers():
    """Local robots that behave like DingTalk, WeCom, Feishu, Slack and a signed webhook."""
    from jingshao.demo.webhooks import ChatReceivers

    with ChatReceivers() as chat:
        yield chat


@pytest.fixture
def chat(receivers):
    """The robots, emptied and without rate limits (tests that need limits set their own)."""
    receivers.reset()
    for r in receivers:
        receivers.set_limits(r.name, [])
    return receivers


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def chromium() -> str | None:
    from jingshao.crawlers.browser import BrowserNotFound, resolve_chromium

    try:
        return resolve_chromium(None)
    except BrowserNotFound as exc:
        skip_or_fail(str(exc))


# ---------------------------------------------------------------- CLI in a child process


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `python -m jingshao.cli ARGS` the way the scheduler does (a child process)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "jingshao.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=str(REPO),
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"jingshao {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def wait_for(predicate, timeout: float = 30, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")
