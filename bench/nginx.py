"""nginx as the benchmarks' webhook receiver: Debian's package, on loopback, answering 204.

    .venv/bin/python bench/nginx.py [10]  # installs nginx if missing, starts it, self-test
                                          # (with 10 % of requests answered 500)

nginx answers ``204 No Content`` to every request (the body is read and discarded, so
keep-alive holds) and logs one line per request, ``$msec\\t$http_webhook_id\\t$status\\t
$request_uri``: bench/receiver.py's ``<arrival time>\\t<webhook-id>`` (``-`` when the header is
missing), with millisecond resolution, then the status answered and the path, so that several
webhooks pointing at one receiver (``/hooks/w01``, ``/hooks/w02``, ...) can be told apart. The
*failing* variant (``fail_percent`` > 0) answers ``500`` to that share of requests, chosen at
random per request (``split_clients`` on ``$request_id``, so a retry is an independent draw),
with a short body so that keep-alive holds (nginx closes the connection after its own error
pages). The access log is buffered (64 KiB, flushed every
100 ms, and at shutdown), so a reader that polls it sees an arrival up to ~100 ms late: wait
for the lines you expect, or stop nginx, before reading the log for the last time.

nginx runs as a child process with its own configuration in a temporary directory (never the
system service). When it is missing, :func:`find_or_install` runs ``apt-get update`` once and
``apt-get install -y`` of ``nginx-light`` or else ``nginx``; :func:`running` (a context
manager) starts it on a free loopback port and stops it at exit. Everything returns ``None``
or raises :class:`NginxUnavailable` when nginx cannot be had, so the caller can fall back to
bench/receiver.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

CANDIDATES: Final = ("nginx-light", "nginx")  # Debian packages, in order of preference
FALLBACK_BINARY: Final = Path("/usr/sbin/nginx")
APT_TIMEOUT_S: Final = 600.0
START_TIMEOUT_S: Final = 15.0
STOP_TIMEOUT_S: Final = 20.0
FLUSH_S: Final = 0.1  # access_log flush=100ms

_apt_updated = False


class NginxUnavailable(Exception):
    """nginx could not be found, installed or started; the message says why."""


def find() -> str | None:
    """The nginx binary, if installed."""
    found = shutil.which("nginx")
    if found:
        return found
    return str(FALLBACK_BINARY) if os.access(FALLBACK_BINARY, os.X_OK) else None


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT_S,
        check=False,
    )


def _has_candidate(package: str) -> bool:
    done = subprocess.run(
        ["apt-cache", "policy", package], capture_output=True, text=True, timeout=60, check=False
    )
    for line in done.stdout.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Candidate":
            return value.strip() not in ("", "(none)")
    return False


def install_package(candidates: Sequence[str], found: Callable[[], str | None]) -> str:
    """``apt-get update`` (once per process), then install the first of ``candidates`` that
    exists; ``found()`` (the binary's path) afterwards. Raises NginxUnavailable."""
    global _apt_updated
    wanted = ", ".join(candidates)
    if os.geteuid() != 0:
        raise NginxUnavailable(f"{wanted} is not installed and installing it needs root")
    if shutil.which("apt-get") is None:
        raise NginxUnavailable(f"{wanted} is not installed and there is no apt-get")
    try:
        if not _apt_updated:
            print("[apt] apt-get update ...", file=sys.stderr, flush=True)
            updated = _apt("update")
            if updated.returncode != 0:
                raise NginxUnavailable(f"apt-get update failed: {updated.stderr.strip()[-500:]}")
            _apt_updated = True
        for package in candidates:
            if not _has_candidate(package):
                continue
            print(f"[apt] apt-get install -y {package} ...", file=sys.stderr, flush=True)
            done = _apt("install", "-y", "--no-install-recommends", package)
            binary = found()
            if done.returncode == 0 and binary is not None:
                return binary
            print(f"[apt] installing {package} failed: {done.stderr.strip()[-500:]}",
                  file=sys.stderr, flush=True)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NginxUnavailable(f"installing {wanted} failed: {exc}") from exc
    raise NginxUnavailable(f"none of {wanted} could be installed")


def install() -> str:
    """nginx from Debian's packages; the binary's path. Raises NginxUnavailable."""
    return install_package(CANDIDATES, find)


def find_or_install() -> str:
    """The nginx binary, installed from Debian's packages if missing. Raises NginxUnavailable."""
    return find() or install()


def version(binary: str) -> str:
    """``nginx/1.22.1`` → ``nginx 1.22.1``."""
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10, check=False)
    text = (done.stderr or done.stdout).strip()
    _, _, rest = text.partition("nginx/")
    return f"nginx {rest.split()[0]}" if rest else "nginx"


def config(prefix: Path, port: int, log: Path, fail_percent: int = 0) -> str:
    """The configuration: one worker, 204 to everything on 127.0.0.1:<port> (500 to
    ``fail_percent`` % of requests, drawn per request), a buffered log."""
    temp = {name: prefix / "temp" / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    user = "user root;\n" if os.geteuid() == 0 else ""  # the worker can enter the 0700 prefix
    split, fail = "", ""
    if fail_percent > 0:
        split = f'split_clients "${{request_id}}" $bench_fail {{ {fail_percent}% 1; * 0; }}'
        fail = 'if ($bench_fail) { return 500 "failing on purpose\\n"; }'
    return f"""\
{user}daemon off;
master_process on;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{
    worker_connections 4096;
}}
http {{
    log_format bench '$msec\\t$http_webhook_id\\t$status\\t$request_uri';
    {split}
    access_log {log} bench buffer=64k flush=100ms;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    keepalive_requests 100000;
    keepalive_timeout 75s;
    server_tokens off;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            client_max_body_size 10m;
            client_body_buffer_size 64k;
            {fail}
            return 204;
        }}
    }}
}}
"""


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (nginx's worker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Launch:
    """What starting nginx takes: its command line, and where it listens and logs."""

    argv: list[str]
    port: int
    log: Path
    label: str
    prefix: Path


def prepare(
    binary: str, prefix: Path, log: Path, port: int | None = None, fail_percent: int = 0
) -> Launch:
    """Write the configuration into ``prefix`` (created) and check it with ``nginx -t``."""
    port = port or free_port()
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "temp" / name).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(config(prefix, port, log, fail_percent), encoding="utf-8")
    argv = [binary, "-e", str(prefix / "error.log"), "-p", f"{prefix}/", "-c", str(conf)]
    tested = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True, timeout=30,
                            check=False)  # fmt: skip
    if tested.returncode != 0:
        raise NginxUnavailable(f"nginx -t failed: {(tested.stderr or tested.stdout).strip()}")
    return Launch(argv, port, log, version(binary), prefix)


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NginxUnavailable(f"nginx exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise NginxUnavailable(f"nginx does not listen on {port} after {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGQUIT (graceful: the workers flush the log and exit), then SIGTERM, then SIGKILL."""
    for signum in (signal.SIGQUIT, signal.SIGTERM):
        if process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(timeout=timeout / 2)
            return
        except subprocess.TimeoutExpired:
            continue
    process.kill()
    process.wait()


@dataclass(frozen=True, slots=True)
class Running:
    url: str
    log: Path
    label: str
    pid: int  # the master
    pids: list[int]  # master and worker, for CPU accounting


@contextmanager
def running(log: Path | None = None, fail_percent: int = 0) -> Iterator[Running]:
    """nginx started in a temporary prefix; stopped (and its log flushed) at exit. The log is
    ``log`` if given (truncated first), else a file in the temporary prefix."""
    binary = find_or_install()
    with tempfile.TemporaryDirectory(prefix="hw_bench_nginx_") as tmp:
        prefix = Path(tmp)
        log = log or prefix / "arrivals.tsv"
        log.unlink(missing_ok=True)
        launch = prepare(binary, prefix, log, fail_percent=fail_percent)
        with (prefix / "nginx.out").open("wb") as out:
            process = subprocess.Popen(launch.argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_listening(launch.port, process, START_TIMEOUT_S)
            yield Running(
                f"http://127.0.0.1:{launch.port}/hooks",
                log,
                launch.label,
                process.pid,
                [process.pid, *children(process.pid)],
            )
        finally:
            stop(process)


async def self_test(url: str, log: Path, requests: int = 2000, fail_percent: int = 0) -> None:
    """POSTs with a 1 KiB body over one keep-alive aiohttp session to two paths: all answered
    (204, or 500 for about ``fail_percent`` % of them), all logged with their status and path,
    one connection."""
    import aiohttp

    body = b"x" * 1024
    connections = 0
    answered: dict[str, int] = {}

    async def on_connection_create_end(*_: object) -> None:
        nonlocal connections
        connections += 1

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(on_connection_create_end)
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[trace]) as session:
        for i in range(requests):
            headers = {"webhook-id": f"msg_{i:06d}", "content-type": "application/json"}
            async with session.post(f"{url}/w{i % 2}", data=body, headers=headers) as answer:
                answered[f"msg_{i:06d}"] = answer.status
                await answer.read()
        missing_id = await session.post(url, data=body)
        missing_id.release()
    await asyncio.sleep(3 * FLUSH_S)
    check_log(log, answered)
    if connections != 1:
        raise SystemExit(f"keep-alive broken: {connections} connections for {requests + 1}")
    failed = sum(status == 500 for status in answered.values())
    if (fail_percent == 0 and failed) or abs(failed - requests * fail_percent / 100) > 0.4 * (
        requests * fail_percent / 100
    ):
        raise SystemExit(f"{failed} of {requests} answered 500, {fail_percent} % expected")
    print(f"ok: {requests + 1} POSTs of 1 KiB over one connection, {failed} answered 500, "
          "all logged with status and path")  # fmt: skip


def check_log(log: Path, answered: dict[str, int]) -> None:
    """Every request logged once, with the status it got and its path."""
    lines = [line.split("\t") for line in log.read_text().splitlines()]
    print(f"first line: {lines[0]!r}")
    logged = {fields[1]: (int(fields[2]), fields[3]) for fields in lines}
    expected = {key: (status, f"/hooks/w{int(key[4:]) % 2}") for key, status in answered.items()}
    expected["-"] = (204, "/hooks")
    if len(lines) != len(answered) + 1 or logged != expected:
        raise SystemExit(f"{len(lines)} lines logged for {len(answered) + 1} requests, or wrong")


def main() -> None:
    fail_percent = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    with running(fail_percent=fail_percent) as nginx:
        print(f"{nginx.label} on {nginx.url}, pids {nginx.pids}, log {nginx.log}")
        asyncio.run(self_test(nginx.url, nginx.log, fail_percent=fail_percent))


if __name__ == "__main__":
    main()
