"""Real hookwire processes for acceptance tests: started, waited for, stopped.

The machinery is bench/harness.py, shared with the benchmarks; this module keeps the shapes
the tests use (a server as a context manager, workers stopped together)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.harness import HOOKWIRE, Keys, Processes, clean_env, free_port, run, terminate

__all__ = [
    "HOOKWIRE", "Server", "assert_healthy", "async_server", "clean_env", "free_port", "run",
    "server", "service_env", "start_worker", "stopped",
]  # fmt: skip


def service_env(database_url: str, port: int) -> dict[str, str]:
    """A hookwire on ``database_url`` and ``port`` with fresh keys, sending to loopback."""
    return Keys().env(database_url, port)


def assert_healthy(cwd: Path, env: dict[str, str]) -> None:
    """`hookwire doctor` finds nothing wrong in the store."""
    checked = run(["doctor"], cwd, env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "healthy" in checked.stdout


def start_worker(cwd: Path, env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    """`hookwire worker`, its output appended to ``{name}.log``; stop it with ``stopped``."""
    return Processes(cwd).start(name, [HOOKWIRE, "worker"], env, append=True)


@contextmanager
def stopped(started: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """Stop ``started`` processes (SIGTERM, then SIGKILL) when the block ends; the list may
    grow inside it."""
    try:
        yield
    finally:
        terminate(started, timeout=40)


@dataclass(frozen=True, slots=True)
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text()


def _spawn(procs: Processes, args: list[str], env: dict[str, str], port: int) -> Server:
    name = f"server-{port}"
    process = procs.start(name, [HOOKWIRE, *args], env)
    return Server(process, f"http://127.0.0.1:{port}", procs.log(name))


@contextmanager
def server(args: list[str], cwd: Path, env: dict[str, str], port: int) -> Iterator[Server]:
    """Start ``hookwire <args>``, wait until /healthz answers, stop it with SIGTERM."""
    procs = Processes(cwd, stop_timeout=15)
    try:
        running = _spawn(procs, args, env, port)
        procs.wait_healthy(running.base_url)
        yield running
    finally:
        procs.stop_all()


@asynccontextmanager
async def async_server(
    args: list[str], cwd: Path, env: dict[str, str], port: int
) -> AsyncIterator[Server]:
    """``server`` for async tests: waiting does not block the event loop (where the test's
    receivers are answering)."""
    procs = Processes(cwd, stop_timeout=15)
    try:
        running = _spawn(procs, args, env, port)
        await procs.until_healthy(running.base_url)
        yield running
    finally:
        await asyncio.to_thread(procs.stop_all)
