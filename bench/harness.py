"""Real hookwire processes, started, waited for and stopped: the one harness of bench/ and of
the acceptance tests (tests/acceptance/processes.py builds its helpers on it).

It imports nothing from tests/ nor from the rest of bench/; bench/ and tests/ import it as
``bench.harness`` (the repository's root is on their path).
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

import httpx

from hookwire import tokens
from hookwire.settings import Settings

HOOKWIRE: Final = str(Path(sys.executable).with_name("hookwire"))


class HarnessError(Exception):
    """A process exited early or did not come up in time; the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any HOOKWIRE_ setting, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKWIRE_")}
    env.update(overrides)
    return env


@dataclass(frozen=True, slots=True)
class Keys:
    """Fresh keys, shared by every hookwire process of a run and by this process."""

    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    master_key: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())

    def env(
        self, database_url: str, port: int | None = None, home: Path | None = None
    ) -> dict[str, str]:
        """A hookwire on ``database_url`` (and ``port``) with these keys, sending to loopback."""
        env = clean_env(
            HOOKWIRE_DATABASE_URL=database_url, HOOKWIRE_JWT_SECRET=self.jwt_secret,
            HOOKWIRE_MASTER_KEY=self.master_key, HOOKWIRE_ALLOW_PRIVATE_TARGETS="true",
            HOOKWIRE_LOG_LEVEL="warning",
        )  # fmt: skip
        env.update({"HOOKWIRE_PORT": str(port)} if port is not None else {})
        env.update({"HOOKWIRE_HOME": str(home)} if home is not None else {})
        return env

    def settings(self, database_url: str, home: Path) -> Settings:
        """The same, for hookwire opened in this process (``hookwire.Client.open``)."""
        return Settings(database_url=database_url, jwt_secret=self.jwt_secret,
                        master_key=self.master_key, allow_private_targets=True, home=home,
                        log_level="warning")  # fmt: skip

    def token(self, tenant: str) -> str:
        settings = self.settings("sqlite:///unused.db", Path("."))
        return tokens.mint(settings, tenant, sub="harness", ttl=timedelta(hours=2))


def run(
    args: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``hookwire <args>`` to its end, its output captured."""
    return subprocess.run([HOOKWIRE, *args], cwd=cwd, env=dict(env), capture_output=True,
                          text=True, timeout=timeout, check=False)  # fmt: skip


def terminate(
    started: Sequence[subprocess.Popen[bytes]], timeout: float, signum: int = signal.SIGTERM
) -> None:
    """``signum`` to every process still running, then wait for each (SIGKILL when overdue)."""
    for process in started:
        if process.poll() is None:
            process.send_signal(signum)
    for process in started:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def healthy(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


class Processes:
    """Child processes by name, each one's output in ``<workdir>/<name>.log``. ``stop_all``
    stops them newest first (a receiver started before hookwire outlives it), each with its
    own signal, then SIGKILL after ``stop_timeout`` seconds."""

    def __init__(self, workdir: Path, stop_timeout: float = 20.0) -> None:
        self.workdir = workdir
        self.stop_timeout = stop_timeout
        self.running: dict[str, tuple[subprocess.Popen[bytes], int]] = {}

    def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
        stop_signal: int = signal.SIGTERM, append: bool = False,
    ) -> subprocess.Popen[bytes]:  # fmt: skip
        with self.log(name).open("ab" if append else "wb") as out:
            process = subprocess.Popen(list(argv), cwd=self.workdir, stdout=out,
                                       stderr=subprocess.STDOUT,
                                       env=dict(env) if env is not None else None)  # fmt: skip
        self.running[name] = (process, stop_signal)
        return process

    def hookwire(
        self, name: str, args: Sequence[str], env: Mapping[str, str]
    ) -> subprocess.Popen[bytes]:
        return self.start(name, [HOOKWIRE, *args], env)

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def output(self, name: str, lines: int = 40) -> str:
        path = self.log(name)
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, name: str) -> None:
        if name in self.running:
            process, signum = self.running.pop(name)
            terminate([process], self.stop_timeout, signum)

    def stop_all(self) -> None:
        for name in reversed(list(self.running)):
            self.stop(name)

    def check_alive(self) -> None:
        for name, (process, _) in self.running.items():
            if process.poll() is not None:
                raise HarnessError(f"{name} exited with {process.returncode}:\n{self.output(name)}")

    def wait_healthy(self, base_url: str, timeout: float = 30.0) -> None:
        """Until ``base_url``/healthz answers 200; fails as soon as a process exited."""
        deadline = time.monotonic() + timeout
        while not healthy(base_url):
            self.check_alive()
            if time.monotonic() > deadline:
                raise HarnessError(f"{base_url} not healthy after {timeout:.0f} s")
            time.sleep(0.1)

    async def until_healthy(self, base_url: str, timeout: float = 30.0) -> None:
        """``wait_healthy`` that leaves the event loop running meanwhile."""
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(healthy, base_url):
            self.check_alive()
            if time.monotonic() > deadline:
                raise HarnessError(f"{base_url} not healthy after {timeout:.0f} s")
            await asyncio.sleep(0.1)


@contextmanager
def processes(workdir: Path, stop_timeout: float = 20.0) -> Iterator[Processes]:
    started = Processes(workdir, stop_timeout)
    try:
        yield started
    finally:
        started.stop_all()
