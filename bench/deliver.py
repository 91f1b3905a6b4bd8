"""The delivery engine: drain throughput and publish→arrival latency (issue 4).

    .venv/bin/python bench/deliver.py [--events 20000] [--store sqlite|postgres|both] [--quick]
                                      [--rate 200] [--client aiohttp|httpx]
                                      [--receiver nginx|python]

Every figure stands next to a ceiling: a plain aiohttp loop (no hookwire, no persistence) with
the connector limits of hookwire's Sender (512, 64 per host) and the worker's concurrency (256)
posting the same signed standard-webhooks body to the same receiver, its own process, which
answers 204 and logs ``<arrival time>\t<webhook-id>`` per request: nginx from Debian's packages
by default (bench/nginx.py installs it when missing; one worker, a buffered log, so an arrival
costs the receiver almost nothing), or bench/receiver.py, the Python fallback, with
``--receiver python`` or when nginx cannot be installed or started (a warning says so). The
receiver used is named in every JSON line and in the report.

1. ceiling, drain: N posts of one body signed once → posts/s.
2. SQLite, drain: N events published in-process (not timed) to one webhook, then one
   ``Worker(...).run(burst=True)`` in this process, timed until it returns → deliveries/s.
3. PostgreSQL, drain: fresh database ``hw_bench_deliver_<pid>``, N events published with no
   worker running, then 2 ``hookwire worker`` processes; timed from the first arrival to the
   N-th distinct webhook-id in the receiver's log (process start-up is reported apart).
4. latency: open-loop publishing at --rate events/s (200) for 30 s (15 s with --quick) over
   HTTP, each send scheduled at t0 + i/rate; latency = arrival at the receiver minus the
   scheduled send time (so a slow publish counts in full). SQLite: one ``hookwire serve``
   process; PostgreSQL: ``hookwire api`` + 2 ``hookwire worker``; ceiling: the plain loop
   posting straight to the receiver on the same schedule. The publisher is aiohttp by default:
   httpx (``--client httpx``) costs several times the CPU per request, which on 2 cores makes
   the load generator, not hookwire, the bottleneck at 200/s.

While measuring, the CPU used by each process (this one, the receiver, hookwire, every
PostgreSQL server process) is read from /proc, and on PostgreSQL what our database's sessions
wait on from pg_stat_activity. Prints one JSON line per measurement, then a markdown report,
also written to bench/results-deliver.md. Only loopback. Every step (publishing, draining,
starting processes, waiting for arrivals) is capped at 120 s: publishing or draining that hits
the cap is reported as ``(capped)`` over what arrived; child processes and the database go away
even on failure or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import math
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import aiohttp
import asyncpg
import httpx
import orjson

from hookwire import tokens
from hookwire.catalog.builtin import load_builtin
from hookwire.client import Client
from hookwire.delivery.worker import USER_AGENT, Worker, WorkerConfig
from hookwire.domain import envelope
from hookwire.domain.event import Event
from hookwire.ids import new_id
from hookwire.settings import Settings
from hookwire.signing.base import Message
from hookwire.signing.keys import STANDARD, generate_secret
from hookwire.signing.registry import get_scheme
from hookwire.timeutil import utcnow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import nginx
from bench.database import ThrowawayDatabase

StoreName = Literal["sqlite", "postgres"]

ROOT: Final = Path(__file__).resolve().parent.parent
RESULTS_FILE: Final = ROOT / "bench" / "results-deliver.md"
RECEIVER_SCRIPT: Final = ROOT / "bench" / "receiver.py"
HOOKWIRE: Final = str(Path(sys.executable).with_name("hookwire"))
ADMIN_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"

PHASE_CAP_S: Final = 120.0  # each step: publishing, draining, starting processes, ...
PHASE_BACKSTOP_S: Final = 300.0  # a whole phase, only if something hangs
STOP_TIMEOUT_S: Final = 20.0
POLL_S: Final = 0.1
CONCURRENCY: Final = WorkerConfig().concurrency  # 256, as the worker
CONNECTOR_LIMIT: Final = 512  # as hookwire's Sender
CONNECTOR_LIMIT_PER_HOST: Final = 64
PUBLISH_TASKS: Final = 32  # for the untimed publishing before a drain
WORKER_PROCESSES: Final = 2
RATE: Final = 200.0  # events/s, open loop
API_CONNECTIONS: Final = 64  # the latency client's connections to hookwire's API
LATENCY_S: Final = 30.0
QUICK_LATENCY_S: Final = 15.0
WARMUP_EVENTS: Final = 20
WARMUP_GRACE_S: Final = 15.0
SEND_GRACE_S: Final = 15.0  # after the last scheduled send, for the answers still due
ARRIVAL_GRACE_S: Final = 20.0  # after the sends, for the deliveries still due

TENANT: Final = "bench"
EVENT_TYPE: Final = "integration-state-changed"
WEBHOOKS_PATH: Final = "/api/v1/integration/webhooks"
EVENTS_PATH: Final = "/api/v1/events"


class BenchError(Exception):
    """A measurement could not be taken; the message says why."""


def progress(message: str) -> None:
    print(f"[deliver] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


# --- keys, settings, environments --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Keys:
    """The run's keys, shared by this process and every hookwire process it starts."""

    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    master_key: str = field(
        default_factory=lambda: base64.b64encode(secrets.token_bytes(32)).decode()
    )

    def settings(self, database_url: str, home: Path) -> Settings:
        return Settings(
            database_url=database_url,
            jwt_secret=self.jwt_secret,
            master_key=self.master_key,
            allow_private_targets=True,
            home=home,
            log_level="warning",
        )

    def env(self, database_url: str, home: Path, port: int | None = None) -> dict[str, str]:
        """This process's environment without HOOKWIRE_* settings, plus the run's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKWIRE_")}
        env.update(
            HOOKWIRE_DATABASE_URL=database_url,
            HOOKWIRE_JWT_SECRET=self.jwt_secret,
            HOOKWIRE_MASTER_KEY=self.master_key,
            HOOKWIRE_ALLOW_PRIVATE_TARGETS="true",
            HOOKWIRE_LOG_LEVEL="warning",
            HOOKWIRE_HOME=str(home),
        )
        if port is not None:
            env["HOOKWIRE_PORT"] = str(port)
        return env

    def token(self) -> str:
        settings = self.settings("sqlite:///unused.db", Path("."))
        return tokens.mint(settings, TENANT, sub="bench", ttl=timedelta(hours=2))


def example_data() -> Any:
    """The catalog's example ``data`` of the benchmarked type (valid against its schema)."""
    return load_builtin()[EVENT_TYPE].example


class SignedBodies:
    """Delivery bodies exactly as hookwire renders them, signed as its worker signs them."""

    def __init__(self) -> None:
        self.secret = generate_secret(STANDARD)
        self.data = example_data()
        self.scheme = get_scheme(STANDARD)

    def request(self, event_id: str) -> tuple[bytes, dict[str, str]]:
        event = Event(event_id, TENANT, EVENT_TYPE, 1, self.data, utcnow())
        body = envelope.render(event, "event")
        message = Message(id=event_id, timestamp=int(time.time()), body=body)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": event_id,
            **self.scheme.sign(message, [self.secret]),
        }
        return body, headers


# --- child processes ---------------------------------------------------------------------


class Processes:
    """The child processes of one phase; all stopped (SIGTERM, then SIGKILL) when it ends."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.stop_signals: dict[str, signal.Signals] = {}

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.out").open("wb") as out:
            process = subprocess.Popen(
                list(argv),
                cwd=self.workdir,
                env=dict(env) if env is not None else None,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.running[name] = process
        self.stop_signals[name] = stop_signal
        return process

    def stop(self, name: str) -> None:
        process = self.running.pop(name, None)
        signum = self.stop_signals.pop(name, signal.SIGTERM)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            progress(f"{name} ignored {signum.name} for {STOP_TIMEOUT_S:.0f} s: killed")
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.running)):
            self.stop(name)

    def output(self, name: str, lines: int = 20) -> str:
        path = self.workdir / f"{name}.out"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise BenchError(f"{name} exited with {process.returncode}:\n{self.output(name)}")


@contextmanager
def processes(workdir: Path) -> Iterator[Processes]:
    started = Processes(workdir)
    try:
        yield started
    finally:
        started.stop_all()


async def wait_for_port(port: int, procs: Processes, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise BenchError(f"nothing listens on port {port} after {timeout:.0f} s")


async def wait_healthy(base_url: str, procs: Processes, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            procs.check_alive()
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise BenchError(f"{base_url} did not become healthy within {timeout:.0f} s")


# --- the receiver and its log ------------------------------------------------------------


ReceiverKind = Literal["nginx", "python"]
PYTHON_RECEIVER_LABEL: Final = "bench/receiver.py, the Python fallback (aiohttp, one process)"


@dataclass(frozen=True, slots=True)
class ReceiverChoice:
    """The receiver of the whole run: nginx (its binary) or the Python fallback."""

    kind: ReceiverKind
    label: str
    binary: str | None = None


def choose_receiver(wanted: str) -> ReceiverChoice:
    """nginx (installed if missing, and tried once) unless the Python receiver is asked for;
    the Python receiver, with a warning, when nginx cannot be installed or started."""
    python = ReceiverChoice("python", PYTHON_RECEIVER_LABEL)
    if wanted == "python":
        return python
    try:
        with nginx.running() as running:  # installs it if missing; proves it starts
            label = running.label
        binary = nginx.find()
    except (nginx.NginxUnavailable, OSError, subprocess.SubprocessError) as exc:
        warning = f"WARNING: nginx unavailable ({exc}); falling back to bench/receiver.py"
        print(f"# {warning}", flush=True)
        progress(warning)
        return python
    if binary is None:
        return python
    return ReceiverChoice("nginx", label, binary)


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    pid: int
    url: str
    log: Path
    pids: list[int]  # for CPU accounting: nginx's master and worker, or the Python process


async def nginx_pids(master: int, procs: Processes, timeout: float = 10.0) -> list[int]:
    """nginx's master and its worker (forked after the port is bound: wait for it)."""
    deadline = time.monotonic() + timeout
    while not (workers := nginx.children(master)):
        procs.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"nginx started no worker within {timeout:.0f} s")
        await asyncio.sleep(0.02)
    return [master, *workers]


async def start_receiver(procs: Processes, name: str, choice: ReceiverChoice) -> Receiver:
    port = free_port()
    log = procs.workdir / f"{name}.tsv"
    log.unlink(missing_ok=True)  # the receiver appends: start from an empty log
    url = f"http://127.0.0.1:{port}/hooks"
    if choice.kind == "nginx" and choice.binary is not None:
        prefix = procs.workdir / name
        launch = await asyncio.to_thread(nginx.prepare, choice.binary, prefix, log, port)
        # stopped by SIGQUIT: the worker flushes the buffered log and exits
        process = procs.start(name, launch.argv, stop_signal=signal.SIGQUIT)
        await wait_for_port(port, procs)
        return Receiver(name, process.pid, url, log, await nginx_pids(process.pid, procs))
    argv = [sys.executable, str(RECEIVER_SCRIPT), "--port", str(port), "--log", str(log)]
    process = procs.start(name, argv)
    await wait_for_port(port, procs)
    return Receiver(name, process.pid, url, log, [process.pid])


class Arrivals:
    """The receiver's log, read as it grows: the first arrival per webhook-id, and lines.

    Both receivers buffer their log (nginx flushes every 100 ms, the Python one every 0.5 s,
    both at exit): poll until the ids wanted are in (``wait_for_arrivals``), or stop the
    receiver and wait for it to exit, before the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = ""
        self.first: dict[str, float] = {}
        self.lines = 0

    def read(self) -> list[str]:
        """Read what was appended since the last call; the webhook-ids seen for the first time."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        self.offset += len(chunk)
        *complete, self.partial = (self.partial + chunk.decode()).split("\n")
        fresh = []
        for line in complete:
            arrived_at, _, webhook_id = line.partition("\t")
            self.lines += 1
            if webhook_id not in self.first:
                self.first[webhook_id] = float(arrived_at)
                fresh.append(webhook_id)
        return fresh

    @property
    def duplicates(self) -> int:
        return self.lines - len(self.first)


async def wait_for_arrivals(
    arrivals: Arrivals,
    wanted: Collection[str],
    timeout: float,
    procs: Processes,
    on_first: Callable[[], None] | None = None,
) -> bool:
    """Poll the log until every id in ``wanted`` arrived (True) or ``timeout`` passed."""
    missing = set(wanted) - arrivals.first.keys()
    deadline = time.monotonic() + timeout
    while missing:
        fresh = arrivals.read()
        if fresh and on_first is not None:
            on_first()
            on_first = None
        missing.difference_update(fresh)
        if not missing:
            break
        if time.monotonic() > deadline:
            return False
        procs.check_alive()
        await asyncio.sleep(POLL_S)
    return True


# --- CPU per process, from /proc -----------------------------------------------------------

TICKS_PER_S: Final = os.sysconf("SC_CLK_TCK")


def process_ticks(pid: int) -> int | None:
    """utime + stime of a process (all its threads), in clock ticks."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process on this machine (all databases, not only ours)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def machine_ticks() -> tuple[int, int, int]:
    """(busy, steal, total) clock ticks of all CPUs since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return user + nice + system + irq + softirq, steal, sum(values)


class CpuMeter:
    """CPU used per role between ``start`` and ``stop``, in cores (1.0 = one core busy)."""

    def __init__(self, roles: Mapping[str, Sequence[int]], postgres: bool = False) -> None:
        self.roles = dict(roles)
        self.postgres = postgres
        self._start: tuple[float, dict[str, dict[int, int]], tuple[int, int, int]] | None = None

    def _snapshot(self) -> dict[str, dict[int, int]]:
        roles = dict(self.roles)
        if self.postgres:
            roles["postgres (all)"] = postgres_pids()
        return {
            role: {pid: ticks for pid in pids if (ticks := process_ticks(pid)) is not None}
            for role, pids in roles.items()
        }

    def start(self) -> None:
        self._start = (time.monotonic(), self._snapshot(), machine_ticks())

    def stop(self) -> dict[str, float]:
        if self._start is None:
            return {}
        began, before, machine_before = self._start
        after, machine_after = self._snapshot(), machine_ticks()
        wall = time.monotonic() - began
        if wall <= 0:
            return {}
        cores: dict[str, float] = {}
        for role, now in after.items():
            earlier = before.get(role, {})
            used = sum(ticks - earlier.get(pid, 0) for pid, ticks in now.items())
            cores[role] = round(used / TICKS_PER_S / wall, 2)
        busy, steal, total = (a - b for a, b in zip(machine_after, machine_before, strict=True))
        ncpu = os.cpu_count() or 1
        machine = busy / total * ncpu if total else 0.0
        cores["other"] = round(max(0.0, machine - sum(cores.values())), 2)
        cores["machine busy"] = round(machine, 2)
        cores["steal"] = round(steal / total * ncpu if total else 0.0, 2)
        return cores


def cpu_text(cores: Mapping[str, float]) -> str:
    return ", ".join(f"{role} {value:.2f}" for role, value in cores.items()) or "-"


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drain:
    setup: str  # ceiling, sqlite, postgres
    events: int  # published (or posted) and meant to be delivered
    seconds: float
    per_s: float  # arrived / seconds
    arrived: int  # distinct webhook-ids (lines for the ceiling, whose posts share one id)
    duplicates: int
    capped: bool  # publishing or draining hit PHASE_CAP_S: the rate is over what arrived
    cpu: dict[str, float]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Latency:
    setup: str
    client: str  # the HTTP client that published (aiohttp or httpx)
    rate: float
    seconds: float
    sent: int  # accepted sends (202 from hookwire, 204 from the receiver for the ceiling)
    send_errors: int  # refused or failed sends
    unanswered: int  # no answer SEND_GRACE_S after the last send was due: lost
    arrived: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    cpu: dict[str, float]
    note: str = ""


def emit(measurement: str, result: Drain | Latency, receiver: str) -> None:
    line = {"bench": "deliver", "measurement": measurement, "receiver": receiver}
    print(orjson.dumps({**line, **asdict(result)}).decode())
    sys.stdout.flush()


# --- sending: the plain loop, the API client and open-loop scheduling ----------------------


@asynccontextmanager
async def plain_session() -> AsyncIterator[aiohttp.ClientSession]:
    """A bare aiohttp session with the connector limits of hookwire's Sender."""
    connector = aiohttp.TCPConnector(limit=CONNECTOR_LIMIT, limit_per_host=CONNECTOR_LIMIT_PER_HOST)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


async def plain_post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]
) -> bool:
    async with session.post(url, data=body, headers=dict(headers), allow_redirects=False) as answer:
        await answer.read()
        return answer.status == 204


PostJson = Callable[[str, bytes], Awaitable[tuple[int, Any]]]


@asynccontextmanager
async def api_client(kind: str, base_url: str, token: str) -> AsyncIterator[PostJson]:
    """``post(path, json_bytes) -> (status, decoded answer)`` against hookwire's API, through
    aiohttp or httpx (on this machine httpx costs several times the CPU per request)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if kind == "httpx":
        limits = httpx.Limits(max_connections=API_CONNECTIONS)
        async with httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=30, limits=limits
        ) as http:

            async def post_httpx(path: str, body: bytes) -> tuple[int, Any]:
                answer = await http.post(path, content=body)
                return answer.status_code, orjson.loads(answer.content or b"null")

            yield post_httpx
        return
    connector = aiohttp.TCPConnector(limit=API_CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        base_url=base_url, headers=headers, connector=connector, timeout=timeout
    ) as session:

        async def post_aiohttp(path: str, body: bytes) -> tuple[int, Any]:
            async with session.post(path, data=body) as answer:
                return answer.status, orjson.loads(await answer.read() or b"null")

        yield post_aiohttp


SEND_FAILURES: Final = (httpx.HTTPError, aiohttp.ClientError, OSError, TimeoutError, ValueError)


@dataclass(frozen=True, slots=True)
class OpenLoop:
    """What an open-loop run sent: the scheduled wall-clock time per id ``send`` returned,
    the sends that failed, and those still unanswered ``grace`` seconds after the last one was
    due (cancelled: their ids are unknown, so they count as lost)."""

    rate: float
    seconds: float
    scheduled: dict[str, float]
    errors: int
    unanswered: int


async def open_loop(
    send: Callable[[int], Awaitable[str | None]], rate: float, duration: float, grace: float
) -> OpenLoop:
    """Call ``send(i)`` at t0 + i/rate without waiting for earlier answers (open loop)."""
    loop = asyncio.get_running_loop()
    count = round(rate * duration)
    t0_loop, t0_wall = loop.time() + 0.1, time.time() + 0.1
    scheduled: dict[str, float] = {}
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        try:
            sent = await send(i)
        except SEND_FAILURES:
            sent = None
        if sent is None:
            errors += 1
        else:
            scheduled[sent] = t0_wall + i / rate

    tasks = []
    for i in range(count):
        delay = t0_loop + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return OpenLoop(rate, duration, scheduled, errors, len(pending))


def latency_of(
    setup: str,
    client: str,
    sent: OpenLoop,
    arrivals: Arrivals,
    cpu: dict[str, float],
    note: str = "",
) -> Latency:
    """Arrival minus scheduled send time, per event that was accepted and arrived."""
    delays = sorted(
        (arrivals.first[event_id] - at) * 1000
        for event_id, at in sent.scheduled.items()
        if event_id in arrivals.first
    )

    def stat(fraction: float) -> float | None:
        return round(percentile(delays, fraction), 1) if delays else None

    return Latency(
        setup=setup,
        client=client,
        rate=sent.rate,
        seconds=sent.seconds,
        sent=len(sent.scheduled),
        send_errors=sent.errors,
        unanswered=sent.unanswered,
        arrived=len(delays),
        p50_ms=stat(0.50),
        p95_ms=stat(0.95),
        p99_ms=stat(0.99),
        max_ms=round(delays[-1], 1) if delays else None,
        cpu=cpu,
        note=note,
    )


# --- PostgreSQL: our own database, and what its sessions wait on ---------------------------


class Database(ThrowawayDatabase):
    """``hw_bench_deliver_<pid>``, created from template0 per phase and dropped at the end."""

    def __init__(self, admin_url: str) -> None:
        super().__init__(admin_url, "hw_bench_deliver")

    @asynccontextmanager
    async def waits(self) -> AsyncIterator[WaitSampler]:
        """Sample what our database's sessions wait on while the block runs."""
        sampler = WaitSampler(await asyncpg.connect(self.admin_url, timeout=10), self.name)
        task = asyncio.create_task(sampler.run())
        try:
            yield sampler
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sampler.conn.close()


WAITS_SQL: Final = """
SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS what, count(*) AS n
FROM pg_stat_activity
WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid()
GROUP BY 1
"""


class WaitSampler:
    """pg_stat_activity of one database every 0.25 s: non-idle sessions by wait event
    (``CPU`` = running; ``Client:ClientRead`` = waiting for the client, e.g. inside a
    transaction between two statements; ``Lock:*`` = blocked on another transaction)."""

    def __init__(self, conn: Any, database: str) -> None:
        self.conn = conn
        self.database = database
        self.samples = 0
        self.counts: dict[str, int] = {}

    async def run(self) -> None:
        while True:
            for row in await self.conn.fetch(WAITS_SQL, self.database):
                self.counts[row["what"]] = self.counts.get(row["what"], 0) + row["n"]
            self.samples += 1
            await asyncio.sleep(0.25)

    def summary(self, top: int = 5) -> str:
        if not self.samples:
            return ""
        ranked = sorted(self.counts.items(), key=lambda item: -item[1])[:top]
        parts = ", ".join(f"{what} {n / self.samples:.1f}" for what, n in ranked)
        return f"busy PostgreSQL sessions on average: {parts or 'none'}"


# --- the measurements ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What every measurement needs from the command line, and the run's keys."""

    workdir: Path
    keys: Keys
    events: int
    rate: float
    seconds: float
    client: str
    receiver: ReceiverChoice


async def measure_ceiling_drain(plan: Plan) -> Drain:
    bodies = SignedBodies()
    body, headers = bodies.request(new_id("evt"))  # signed once: every post is the same
    with processes(plan.workdir) as procs:
        receiver = await start_receiver(procs, "receiver-ceiling-drain", plan.receiver)
        meter = CpuMeter({"bench (client)": [os.getpid()], "receiver": receiver.pids})
        tickets = iter(range(plan.events))
        refused = 0

        async def poster(session: aiohttp.ClientSession) -> None:
            nonlocal refused
            for _ in tickets:
                if not await plain_post(session, receiver.url, body, headers):
                    refused += 1

        async with plain_session() as session:
            meter.start()
            started = time.perf_counter()
            async with asyncio.timeout(PHASE_CAP_S), asyncio.TaskGroup() as group:
                for _ in range(CONCURRENCY):
                    group.create_task(poster(session))
            seconds = time.perf_counter() - started
            cpu = meter.stop()
        procs.stop(receiver.name)  # flushes its log
    arrivals = Arrivals(receiver.log)
    arrivals.read()
    if arrivals.lines != plan.events or refused:
        raise BenchError(f"{arrivals.lines} of {plan.events} posts logged, {refused} not 204")
    return Drain("ceiling", plan.events, round(seconds, 3), round(plan.events / seconds, 1),
                 arrivals.lines, 0, False, cpu, "posts/s, one body signed once")  # fmt: skip


async def publish_many(client: Client, events: int) -> tuple[list[str], bool]:
    """Publish up to ``events`` events from PUBLISH_TASKS tasks (not timed); stop starting new
    ones after PHASE_CAP_S. Their ids, and whether the cap stopped it."""
    data = example_data()
    ids: list[str] = []
    tickets = iter(range(events))
    started = time.monotonic()
    deadline = started + PHASE_CAP_S

    async def publisher() -> None:
        for _ in tickets:
            ids.append((await client.publish(EVENT_TYPE, data))["id"])
            if time.monotonic() > deadline:
                return

    async with asyncio.timeout(PHASE_CAP_S + 30), asyncio.TaskGroup() as group:
        for _ in range(PUBLISH_TASKS):
            group.create_task(publisher())
    seconds = time.monotonic() - started
    progress(f"published {len(ids)} events in {seconds:.1f} s ({len(ids) / seconds:.0f}/s)")
    return ids, len(ids) < events


def delivered(ids: Collection[str], arrivals: Arrivals) -> list[float]:
    """Arrival times of the ids that arrived."""
    return [arrivals.first[event_id] for event_id in ids if event_id in arrivals.first]


async def measure_sqlite_drain(plan: Plan) -> Drain:
    with processes(plan.workdir) as procs:
        receiver = await start_receiver(procs, "receiver-sqlite-drain", plan.receiver)
        database_url = f"sqlite:///{plan.workdir / 'drain.db'}"
        settings = plan.keys.settings(database_url, plan.workdir)
        client = await Client.open(settings, tenant_id=TENANT, migrate=True)
        try:
            await client.create_webhook(url=receiver.url)
            ids, capped = await publish_many(client, plan.events)
            services = client.services
            worker = Worker(services.store, services.secrets, services.sender)
            roles = {"bench (worker + sqlite)": [os.getpid()], "receiver": receiver.pids}
            meter = CpuMeter(roles)
            stop = asyncio.Event()
            cap = asyncio.get_running_loop().call_later(PHASE_CAP_S, stop.set)
            meter.start()
            started = time.perf_counter()
            async with asyncio.timeout(PHASE_CAP_S + 60):  # the cap stops it gracefully first
                stats = await worker.run(burst=True, stop=stop)
            seconds = time.perf_counter() - started
            cpu = meter.stop()
            cap.cancel()
        finally:
            await client.close()
        procs.stop(receiver.name)
    arrivals = Arrivals(receiver.log)
    arrivals.read()
    times = delivered(ids, arrivals)
    if not times:
        raise BenchError("no event reached the receiver")
    spread = max(times) - min(times)
    note = (
        f"timed Worker.run(burst=True): {stats.succeeded} succeeded, {stats.failed} failed; "
        f"first→last arrival {spread:.1f} s = {len(times) / spread:.0f}/s"
    )
    return Drain("sqlite", len(ids), round(seconds, 3), round(len(times) / seconds, 1),
                 len(times), arrivals.duplicates, capped or stop.is_set(), cpu, note)  # fmt: skip


async def measure_postgres_drain(plan: Plan, db: Database) -> Drain:
    url = await db.fresh()
    with processes(plan.workdir) as procs:
        receiver = await start_receiver(procs, "receiver-postgres-drain", plan.receiver)
        client = await Client.open(
            plan.keys.settings(url, plan.workdir), tenant_id=TENANT, migrate=True
        )
        try:
            await client.create_webhook(url=receiver.url)
            ids, capped = await publish_many(client, plan.events)
        finally:
            await client.close()
        env = plan.keys.env(url, plan.workdir)
        spawned = time.time()
        workers = [
            procs.start(f"worker-{n}", [HOOKWIRE, "worker"], env)
            for n in range(1, WORKER_PROCESSES + 1)
        ]
        roles = {f"worker-{n}": [w.pid] for n, w in enumerate(workers, 1)}
        meter = CpuMeter({**roles, "receiver": receiver.pids}, postgres=True)
        arrivals = Arrivals(receiver.log)
        async with db.waits() as waits:
            done = await wait_for_arrivals(arrivals, ids, PHASE_CAP_S, procs, meter.start)
            cpu = meter.stop()
        for name in roles:
            procs.stop(name)
        procs.stop(receiver.name)
    arrivals.read()
    times = delivered(ids, arrivals)
    if not times:
        raise BenchError("no event reached the receiver")
    first, last = min(times), max(times)
    seconds = last - first
    note = (
        f"timed first→last arrival; {last - spawned:.1f} s from spawning the workers "
        f"(their start-up {first - spawned:.1f} s); {waits.summary()}"
    )
    return Drain("postgres", len(ids), round(seconds, 3), round(len(times) / seconds, 1),
                 len(times), arrivals.duplicates, capped or not done, cpu, note)  # fmt: skip


async def measure_ceiling_latency(plan: Plan) -> Latency:
    bodies = SignedBodies()
    with processes(plan.workdir) as procs:
        receiver = await start_receiver(procs, "receiver-ceiling-latency", plan.receiver)
        async with plain_session() as session:

            async def send(i: int) -> str | None:
                event_id = f"evt_ceiling_{i:08d}"
                body, headers = bodies.request(event_id)  # signed per post: ids must differ
                return event_id if await plain_post(session, receiver.url, body, headers) else None

            meter = CpuMeter({"bench (client)": [os.getpid()], "receiver": receiver.pids})
            meter.start()
            sent = await open_loop(send, plan.rate, plan.seconds, SEND_GRACE_S)
            cpu = meter.stop()
        arrivals = Arrivals(receiver.log)
        await wait_for_arrivals(arrivals, sent.scheduled, ARRIVAL_GRACE_S, procs)
        procs.stop(receiver.name)
    arrivals.read()
    return latency_of("ceiling", "aiohttp (plain loop)", sent, arrivals, cpu)


async def latency_through_api(
    setup: str, base_url: str, receiver: Receiver, procs: Processes, meter: CpuMeter, plan: Plan
) -> Latency:
    """Create the webhook, warm up, publish open-loop over HTTP, join with the receiver's log."""
    arrivals = Arrivals(receiver.log)
    async with api_client(plan.client, base_url, plan.keys.token()) as post:
        status, _ = await post(WEBHOOKS_PATH, orjson.dumps({"url": receiver.url}))
        if status != 201:
            raise BenchError(f"creating the webhook answered {status}")
        body = orjson.dumps({"type": EVENT_TYPE, "data": example_data()})

        async def send(_: int) -> str | None:
            status, answer = await post(EVENTS_PATH, body)
            return str(answer["id"]) if status == 202 else None

        warmup = [event for i in range(WARMUP_EVENTS) if (event := await send(i)) is not None]
        if not await wait_for_arrivals(arrivals, warmup, WARMUP_GRACE_S, procs):
            raise BenchError(f"the warm-up events did not arrive within {WARMUP_GRACE_S:.0f} s")
        progress(f"{setup}: warmed up; publishing {plan.rate:.0f}/s for {plan.seconds:.0f} s")
        meter.start()
        sent = await open_loop(send, plan.rate, plan.seconds, SEND_GRACE_S)
        cpu = meter.stop()
    progress(f"{setup}: {len(sent.scheduled)} accepted; waiting for the last arrivals")
    await wait_for_arrivals(arrivals, sent.scheduled, ARRIVAL_GRACE_S, procs)
    procs.stop_all()  # the receiver last: it was started first
    arrivals.read()
    return latency_of(setup, plan.client, sent, arrivals, cpu)


async def measure_sqlite_latency(plan: Plan) -> Latency:
    with processes(plan.workdir) as procs:
        receiver = await start_receiver(procs, "receiver-sqlite-latency", plan.receiver)
        port = free_port()
        env = plan.keys.env(f"sqlite:///{plan.workdir / 'serve.db'}", plan.workdir, port)
        serve = procs.start("serve", [HOOKWIRE, "serve"], env)
        base_url = f"http://127.0.0.1:{port}"
        await wait_healthy(base_url, procs)
        progress("sqlite: hookwire serve is up")
        roles = {"bench (client)": [os.getpid()], "serve": [serve.pid], "receiver": receiver.pids}
        return await latency_through_api("sqlite", base_url, receiver, procs, CpuMeter(roles), plan)


async def measure_postgres_latency(plan: Plan, db: Database) -> Latency:
    url = await db.fresh()
    with processes(plan.workdir) as procs:
        receiver = await start_receiver(procs, "receiver-postgres-latency", plan.receiver)
        port = free_port()
        env = plan.keys.env(url, plan.workdir, port)
        migrated = await asyncio.to_thread(
            subprocess.run, [HOOKWIRE, "migrate"], env=env, cwd=plan.workdir,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if migrated.returncode != 0:
            raise BenchError(f"hookwire migrate failed:\n{migrated.stdout}{migrated.stderr}")
        api = procs.start("api", [HOOKWIRE, "api"], env)
        workers = [
            procs.start(f"worker-{n}", [HOOKWIRE, "worker"], env)
            for n in range(1, WORKER_PROCESSES + 1)
        ]
        base_url = f"http://127.0.0.1:{port}"
        await wait_healthy(base_url, procs)
        progress("postgres: hookwire api is up, workers started")
        roles = {
            "bench (client)": [os.getpid()],
            "api": [api.pid],
            **{f"worker-{n}": [w.pid] for n, w in enumerate(workers, 1)},
            "receiver": receiver.pids,
        }
        meter = CpuMeter(roles, postgres=True)
        async with db.waits() as waits:
            result = await latency_through_api("postgres", base_url, receiver, procs, meter, plan)
        return dataclasses.replace(result, note=waits.summary())


# --- the report ----------------------------------------------------------------------------


@dataclass(slots=True)
class Results:
    drains: dict[str, Drain] = field(default_factory=dict)
    latencies: dict[str, Latency] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    receiver: str = ""  # the receiver's label


def _first_line(path: str, key: str) -> str:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    return "unknown"


def _git(*args: str) -> str:
    """A read-only git command (no optional locks: the index is never rewritten)."""
    done = subprocess.run(
        ["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def cpu_probe_ms(loops: int = 2_000_000) -> float:
    """How long a pure-Python loop takes here: compares the machine's speed between runs."""
    started = time.perf_counter()
    total = 0
    for i in range(loops):
        total += i
    return (time.perf_counter() - started) * 1000


def environment(pg: Mapping[str, str] | None) -> dict[str, str]:
    mem_kib = int(_first_line("/proc/meminfo", "MemTotal").split()[0])
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--", "src"):
        commit += " (src/ has uncommitted changes)"
    found = {
        "date (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": (
            f"nproc {len(os.sched_getaffinity(0))}, {mem_kib / 1024 / 1024:.1f} GiB RAM, "
            f"{_first_line('/proc/cpuinfo', 'model name')}"
        ),
        "git commit": commit,
        "python": platform.python_version(),
        "load average at start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
        "CPU probe": f"a pure-Python loop of 2M additions took {cpu_probe_ms():.0f} ms",
    }
    if pg is not None:
        found["postgresql"] = (
            f"{pg['server_version']}, synchronous_commit={pg['synchronous_commit']}, "
            f"fsync={pg['fsync']}, shared_buffers={pg['shared_buffers']}"
        )
    return found


SETUPS: Final = ("sqlite", "postgres", "ceiling")


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _drain_cell(results: Results, setup: str) -> str:
    if f"drain {setup}" in results.failures:
        return "failed"
    drain = results.drains.get(setup)
    if drain is None:
        return "-"
    return _number(drain.per_s, 0) + (" (capped)" if drain.capped else "")


def _drain_ratio(results: Results) -> str:
    ceiling = results.drains.get("ceiling")
    parts = [
        f"{store} {results.drains[store].per_s / ceiling.per_s:.2f}"
        for store in ("sqlite", "postgres")
        if ceiling and store in results.drains
    ]
    return " · ".join(parts) or "-"


def _latency_row(results: Results, label: str, pick: Callable[[Latency], float | None]) -> str:
    cells = []
    for setup in SETUPS:
        latency = results.latencies.get(setup)
        if f"latency {setup}" in results.failures:
            cells.append("failed")
        else:
            cells.append(_number(pick(latency)) if latency else "-")
    ceiling = results.latencies.get("ceiling")
    bottom = pick(ceiling) if ceiling else None
    ratios = []
    for store in ("sqlite", "postgres"):
        latency = results.latencies.get(store)
        top = pick(latency) if latency else None
        if top is not None and bottom:
            ratios.append(f"{store} {top / bottom:,.0f}x")
    return f"| {label} | {' | '.join(cells)} | {' · '.join(ratios) or '-'} |"


def _arrived(latency: Latency | None) -> str:
    if latency is None:
        return "-"
    lost = latency.send_errors + latency.unanswered
    failed = f" (+{lost} sends failed or unanswered)" if lost else ""
    return f"{latency.arrived}/{latency.sent}{failed}"


def figures_table(results: Results, plan: Plan) -> str:
    drains = " | ".join(_drain_cell(results, setup) for setup in SETUPS)
    load = f"{plan.rate:.0f}/s for {plan.seconds:.0f} s"
    arrived = " | ".join(_arrived(results.latencies.get(setup)) for setup in SETUPS)
    return "\n".join(
        [
            "| figure | SQLite | PostgreSQL | ceiling | ratio to ceiling |",
            "|---|--:|--:|--:|---|",
            f"| drain, deliveries/s | {drains} | {_drain_ratio(results)} |",
            _latency_row(results, f"latency p50 ms, open loop {load}", lambda x: x.p50_ms),
            _latency_row(results, "latency p95 ms", lambda x: x.p95_ms),
            _latency_row(results, "latency p99 ms", lambda x: x.p99_ms),
            _latency_row(results, "latency max ms", lambda x: x.max_ms),
            f"| latency: arrived / accepted | {arrived} | |",
        ]
    )


def cpu_table(results: Results) -> str:
    lines = ["| measurement | CPU in cores (of 2) | notes |", "|---|---|---|"]
    for setup, drain in results.drains.items():
        lines.append(f"| drain {setup} | {cpu_text(drain.cpu)} | {drain.note} |")
    for setup, latency in results.latencies.items():
        lines.append(f"| latency {setup} | {cpu_text(latency.cpu)} | {latency.note} |")
    return "\n".join(lines)


def report(results: Results, env: Mapping[str, str], options: Options, plan: Plan) -> str:
    command = " ".join([".venv/bin/python", "bench/deliver.py", *options.argv])
    facts = [f"- {name}: {value}" for name, value in env.items()]
    facts += [
        f"- command: `{command}`",
        f"- drains: {plan.events} events to 1 webhook; concurrency {CONCURRENCY}, connector "
        f"limits {CONNECTOR_LIMIT} / {CONNECTOR_LIMIT_PER_HOST} per host; PostgreSQL with "
        f"{WORKER_PROCESSES} `hookwire worker` processes",
        f"- latency: published over HTTP with {plan.client}, after {WARMUP_EVENTS} warm-up "
        "events; the ceiling posts straight to the receiver on the same schedule",
        f"- receiver: {plan.receiver.label}",
    ]
    sections = [
        "# hookwire delivery engine: drain throughput and publish→arrival latency",
        "\n".join(facts),
        figures_table(results, plan),
        "Where the CPU went while measuring, in cores (from /proc; `postgres (all)` is every "
        "PostgreSQL server process on the machine, `other` the rest of the machine's busy "
        "time, `steal` what the hypervisor took):",
        cpu_table(results),
    ]
    if results.failures:
        failed = "\n".join(f"- {name}: {why}" for name, why in results.failures.items())
        sections.append("Failed measurements:\n\n" + failed)
    return "\n\n".join(sections) + "\n"


# --- the command -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    events: int
    store: str
    quick: bool
    rate: float
    client: str
    pg_url: str
    receiver: str
    argv: tuple[str, ...]

    @property
    def stores(self) -> tuple[StoreName, ...]:
        if self.store == "sqlite":
            return ("sqlite",)
        if self.store == "postgres":
            return ("postgres",)
        return ("sqlite", "postgres")

    @property
    def latency_seconds(self) -> float:
        return QUICK_LATENCY_S if self.quick else LATENCY_S


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000, help="events per drain")
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--quick", action="store_true", help=f"latency for {QUICK_LATENCY_S:.0f} s, not 30"
    )
    parser.add_argument("--rate", type=float, default=RATE, help="latency: events/s")
    parser.add_argument(
        "--client",
        choices=("aiohttp", "httpx"),
        default="aiohttp",
        help="latency: the HTTP client that publishes",
    )
    parser.add_argument("--pg-url", default=ADMIN_URL, help="admin URL (loopback only)")
    parser.add_argument(
        "--receiver",
        choices=("nginx", "python"),
        default="nginx",
        help="nginx (installed if missing; the Python receiver if it cannot be) or python",
    )
    raw = tuple(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    if args.events < 1 or args.rate <= 0:
        parser.error("--events and --rate must be positive")
    return Options(args.events, args.store, args.quick, args.rate, args.client, args.pg_url,
                   args.receiver, raw)  # fmt: skip


async def phase(results: Results, name: str, measure: Awaitable[Drain | Latency]) -> None:
    """One measurement; a failure is recorded (its processes are stopped) and the run goes on.
    Each step inside is capped at PHASE_CAP_S; PHASE_BACKSTOP_S catches anything that hangs."""
    progress(f"{name} ...")
    started = time.monotonic()
    try:
        async with asyncio.timeout(PHASE_BACKSTOP_S):
            result = await measure
    except Exception as exc:  # any failure: record it, go on with the next measurement
        if isinstance(exc, TimeoutError):
            exc = BenchError(f"the phase took more than {PHASE_BACKSTOP_S:.0f} s")
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        results.failures[name] = reason
        progress(f"{name} FAILED: {reason}")
        return
    kind, setup = name.split(" ", 1)
    if isinstance(result, Drain):
        results.drains[setup] = result
    else:
        results.latencies[setup] = result
    emit(kind, result, results.receiver)
    progress(f"{name} done in {time.monotonic() - started:.0f} s")


async def measure_all(plan: Plan, options: Options, db: Database | None, results: Results) -> None:
    await phase(results, "drain ceiling", measure_ceiling_drain(plan))
    if "sqlite" in options.stores:
        await phase(results, "drain sqlite", measure_sqlite_drain(plan))
    if db is not None:
        await phase(results, "drain postgres", measure_postgres_drain(plan, db))
    await phase(results, "latency ceiling", measure_ceiling_latency(plan))
    if "sqlite" in options.stores:
        await phase(results, "latency sqlite", measure_sqlite_latency(plan))
    if db is not None:
        await phase(results, "latency postgres", measure_postgres_latency(plan, db))


async def run(options: Options) -> Results:
    this = asyncio.current_task()
    if this is not None:  # SIGTERM unwinds like Ctrl-C: processes stopped, database dropped
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, this.cancel)
    db = Database(options.pg_url) if "postgres" in options.stores else None
    env = environment(await db.server_settings() if db is not None else None)
    for name, value in env.items():
        print(f"# {name}: {value}", flush=True)
    receiver = await asyncio.to_thread(choose_receiver, options.receiver)
    print(f"# receiver: {receiver.label}", flush=True)
    results = Results(receiver=receiver.label)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hw_bench_deliver_") as tmp:
        plan = Plan(Path(tmp), Keys(), options.events, options.rate, options.latency_seconds,
                    options.client, receiver)  # fmt: skip
        try:
            await measure_all(plan, options, db, results)
        finally:
            if db is not None:
                await db.drop()
    section = report(results, env, options, plan)
    print("\n" + section, flush=True)
    RESULTS_FILE.write_text(section, encoding="utf-8")
    progress(
        f"wrote {RESULTS_FILE.relative_to(ROOT)}; whole run {time.monotonic() - started:.0f} s"
    )
    return results


def main(argv: Sequence[str] | None = None) -> None:
    try:
        results = asyncio.run(run(parse_options(argv)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted; child processes stopped and the benchmark database dropped")
        raise SystemExit(130) from None
    if results.failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
