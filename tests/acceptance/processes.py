"""Real hookwire processes for acceptance tests: started, waited for, stopped."""

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
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx

HOOKWIRE = str(Path(sys.executable).with_name("hookwire"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**overrides: str) -> dict[str, str]:
    """The test's environment without any HOOKWIRE_ setting, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKWIRE_")}
    env.update(overrides)
    return env


def service_env(database_url: str, port: int) -> dict[str, str]:
    """A hookwire on ``database_url`` and ``port`` with fresh keys, sending to loopback."""
    return clean_env(
        HOOKWIRE_PORT=str(port), HOOKWIRE_DATABASE_URL=database_url,
        HOOKWIRE_JWT_SECRET=secrets.token_urlsafe(32),
        HOOKWIRE_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        HOOKWIRE_ALLOW_PRIVATE_TARGETS="true", HOOKWIRE_LOG_LEVEL="warning",
    )  # fmt: skip


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HOOKWIRE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def assert_healthy(cwd: Path, env: dict[str, str]) -> None:
    """`hookwire doctor` finds nothing wrong in the store."""
    checked = run(["doctor"], cwd, env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "healthy" in checked.stdout


def start_worker(cwd: Path, env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    """`hookwire worker`, its output in ``{name}.log``."""
    with (cwd / f"{name}.log").open("ab") as log:
        return subprocess.Popen([HOOKWIRE, "worker"], cwd=cwd, env=env, stdout=log, stderr=log)


@contextmanager
def stopped(started: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """Stop ``started`` processes (SIGTERM, then SIGKILL) when the block ends; the list may
    grow inside it."""
    try:
        yield
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Server:
    def __init__(self, process: subprocess.Popen[str], base_url: str, log: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log = log

    def output(self) -> str:
        return self.log.read_text()


def _spawn(args: list[str], cwd: Path, env: dict[str, str], port: int) -> Server:
    log = cwd / f"server-{port}.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [HOOKWIRE, *args], cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True
        )
    return Server(process, f"http://127.0.0.1:{port}", log)


@contextmanager
def server(args: list[str], cwd: Path, env: dict[str, str], port: int) -> Iterator[Server]:
    """Start ``hookwire <args>``, wait until /healthz answers, stop it with SIGTERM."""
    running = _spawn(args, cwd, env, port)
    process = running.process
    try:
        _wait_healthy(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(running: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise AssertionError(f"hookwire exited early:\n{running.output()}")
        try:
            if httpx.get(running.base_url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"hookwire did not become healthy:\n{running.output()}")


@asynccontextmanager
async def async_server(
    args: list[str], cwd: Path, env: dict[str, str], port: int
) -> AsyncIterator[Server]:
    """``server`` for async tests: waiting for health does not block the event loop (where
    the test's receivers are answering)."""
    running = _spawn(args, cwd, env, port)
    process = running.process
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if process.poll() is not None:
                    raise AssertionError(f"hookwire exited early:\n{running.output()}")
                try:
                    if (
                        await client.get(running.base_url + "/healthz", timeout=1)
                    ).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"hookwire did not become healthy:\n{running.output()}")
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
