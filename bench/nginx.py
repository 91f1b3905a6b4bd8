"""nginx as the benchmarks' receiver, and its log read as it grows.

nginx (Debian's package, installed with apt-get when missing, like wrk) runs as one child
process (no master) with a configuration of its own, never the system service: on a free
loopback port it answers 204 to everything (the body read, keep-alive on) and logs each request
as ``$msec\\t$http_webhook_id\\t$status\\t$request_uri``, buffered and flushed every 100 ms and at
exit. With ``fail_percent`` it answers 500 to that share of requests, drawn per request
(``split_clients`` on ``$request_id``), with a short body so that keep-alive holds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.harness import HarnessError, Processes, free_port

FLUSH_S: Final = 0.1
TEMP_DIRS: Final = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def install(package: str, binary: str) -> str:
    """``binary``'s path, after ``apt-get install`` of ``package`` when it is missing."""
    if found := shutil.which(binary, path="/usr/sbin:/usr/bin:/sbin:/bin"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["update"], ["install", "-y", "--no-install-recommends", package]):
        done = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True,
                              timeout=600, check=False)  # fmt: skip
        if done.returncode != 0:
            raise HarnessError(f"apt-get {' '.join(args)}: {done.stderr.strip()[-500:]}")
    if found := shutil.which(binary, path="/usr/sbin:/usr/bin:/sbin:/bin"):
        return found
    raise HarnessError(f"{package} is installed, but there is no {binary}")


def config(prefix: Path, port: int, log: Path, fail_percent: int) -> str:
    split = fail = ""
    if fail_percent > 0:
        split = f'split_clients "${{request_id}}" $bench_fail {{ {fail_percent}% 1; * 0; }}'
        fail = 'if ($bench_fail) { return 500 "failing on purpose\\n"; }'
    temp = "\n".join(f"    {n}_temp_path {prefix / 'temp' / n};" for n in TEMP_DIRS)
    return f"""daemon off;
master_process off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    log_format bench '$msec\\t$http_webhook_id\\t$status\\t$request_uri';
    {split}
    access_log {log} bench buffer=64k flush=100ms;
{temp}
    keepalive_requests 100000;
    keepalive_timeout 75s;
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


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    url: str  # http://127.0.0.1:<port>/hooks; webhooks get paths below it
    log: Path
    pids: list[int]  # for CPU accounting

    def webhook_url(self, n: int) -> str:
        """The URL of the n-th webhook (from 0): ``/hooks/w01``, ``/hooks/w02``, ..."""
        return f"{self.url}/w{n + 1:02d}"


def start(procs: Processes, name: str, fail_percent: int = 0) -> Receiver:
    """nginx on a free port, logging to ``<workdir>/<name>.tsv``, stopped with the others
    (SIGQUIT: it finishes what it serves, flushes its log and exits)."""
    binary = install("nginx-light", "nginx")
    prefix, port, log = procs.workdir / name, free_port(), procs.workdir / f"{name}.tsv"
    log.unlink(missing_ok=True)
    for directory in TEMP_DIRS:
        (prefix / "temp" / directory).mkdir(parents=True, exist_ok=True)
    (conf := prefix / "nginx.conf").write_text(config(prefix, port, log, fail_percent))
    argv = [binary, "-e", str(prefix / "error.log"), "-p", f"{prefix}/", "-c", str(conf)]
    pid = procs.start(name, argv, stop_signal=signal.SIGQUIT).pid
    deadline = time.monotonic() + 15
    while True:
        procs.check_alive()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Receiver(name, f"http://127.0.0.1:{port}/hooks", log, [pid])
        except OSError:
            if time.monotonic() > deadline:
                raise HarnessError(f"nginx is not listening on {port} after 15 s") from None
            time.sleep(0.02)


def arrival_key(path: str, webhook_id: str) -> str:
    """One delivery: the webhook's path at the receiver and the event's webhook-id."""
    return f"{path} {webhook_id}"


class Arrivals:
    """The receiver's log, read as it grows: the first arrival per key. A key is the
    webhook-id, or with ``by_path`` the path and the webhook-id (one event arrives once per
    webhook, with one id). ``listener(key, time, status)`` sees every request. nginx's
    ``$msec`` is truncated to the millisecond: 0.5 ms is added to every time read."""

    def __init__(self, path: Path, by_path: bool = False,
                 listener: Callable[[str, float, int], None] | None = None) -> None:  # fmt: skip
        self.path, self.by_path, self.listener = path, by_path, listener
        self.offset, self.partial, self.lines = 0, "", 0
        self.first: dict[str, float] = {}

    def read(self) -> list[str]:
        """What was appended since the last call; the keys seen for the first time."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        self.offset += len(chunk)
        *complete, self.partial = (self.partial + chunk.decode()).split("\n")
        fresh = []
        for line in complete:
            at, webhook_id, status, path = line.split("\t")
            key, arrived = arrival_key(path, webhook_id) if self.by_path else webhook_id, float(at)
            self.lines += 1
            if self.listener is not None:
                self.listener(key, arrived + 0.0005, int(status))
            if key not in self.first:
                self.first[key] = arrived + 0.0005
                fresh.append(key)
        return fresh

    def times(self, keys: Collection[str]) -> list[float]:
        return [self.first[key] for key in keys if key in self.first]

    @property
    def duplicates(self) -> int:
        return self.lines - len(self.first)


async def wait_for(arrivals: Arrivals, wanted: Collection[str], timeout: float, procs: Processes,
                   on_first: Callable[[], None] | None = None) -> bool:  # fmt: skip
    """Read the log until every key in ``wanted`` arrived (True) or ``timeout`` passed;
    ``on_first`` is called when the first new key shows up."""
    missing, deadline = set(wanted) - arrivals.first.keys(), time.monotonic() + timeout
    while True:
        if (fresh := arrivals.read()) and on_first is not None:
            on_first()
            on_first = None
        if not (missing := missing.difference(fresh)):
            return True
        if time.monotonic() > deadline:
            return False
        procs.check_alive()
        await asyncio.sleep(0.1)


def lines_between(log: Path, started: float, ended: float) -> int:
    """Requests logged in a window of wall-clock time."""
    with log.open(encoding="utf-8") as lines:
        return sum(1 for line in lines if started <= float(line.split("\t", 1)[0]) <= ended)
