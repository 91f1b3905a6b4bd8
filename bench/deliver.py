"""The delivery engine: drain throughput, fan-out, retries and publish→arrival latency.

    .venv/bin/python bench/deliver.py [--events 20000] [--fanout-events E] [--quick]
                                      [--store sqlite|postgres|both] [--rates 200,500]
                                      [--scenarios drain,fanout,retries,latency]
                                      [--client aiohttp|httpx] [--receiver nginx|python]

Every figure stands next to a ceiling: a plain aiohttp loop (no hookwire, no persistence) with
the connector limits of hookwire's Sender (512, 64 per host) and the worker's concurrency (256)
posting the same signed standard-webhooks body to the same receiver, its own process, which
answers 204 and logs ``<arrival time>\t<webhook-id>\t<status>\t<path>`` per request: nginx
from Debian's packages by default (bench/nginx.py installs it when missing; one worker, a
buffered log, so an arrival costs the receiver almost nothing), or bench/receiver.py, the Python
fallback, with ``--receiver python`` or when nginx cannot be installed or started (a warning
says so; it logs no path and never fails, so the fan-out and retries scenarios need nginx).
The receiver used is named in every JSON line and in the report.

Scenarios (issue 5), SQLite = one ``hookwire serve`` process, PostgreSQL = 2 ``hookwire
worker`` (and ``hookwire api`` where events come over HTTP), each in a fresh database:

1. ``drain``: N events (--events, 20 000) published in-process to one webhook with no worker
   running (not timed), then hookwire's processes started; timed from the first arrival to the
   last (process start-up is reported apart) → deliveries/s. Ceiling: N posts of one body
   signed once.
2. ``fanout``: the same with 10 webhooks, each at its own path of the same receiver
   (``/hooks/w01`` … ``/hooks/w10``): E events (--fanout-events, default --events) x 10
   deliveries, counted per (path, webhook-id). Ceiling: E x 10 posts spread over the 10 paths.
3. ``retries``: the drain of N events to one webhook, but the receiver answers 500 to 10 % of
   requests (drawn per request): successful first attempts per second (the first request per
   webhook-id that got a 2xx) next to the plain drain of the same run and store (run too when
   only ``retries`` is asked for); how many got 500 and were retried within 30 s of the last
   first attempt.
4. ``latency``: open-loop publishing over HTTP at each of --rates (200 and 500 events/s) for
   30 s (15 s with --quick), each send scheduled at t0 + i/rate; latency = arrival at the
   receiver minus the scheduled send time (so a slow publish counts in full); ceiling: the
   plain loop posting straight to the receiver on the same schedule. The publisher is aiohttp
   by default: httpx (``--client httpx``) costs several times the CPU per request, which on 2
   cores makes the load generator, not hookwire, the bottleneck.

While measuring, the CPU used by each process (this one, the receiver, hookwire, every
PostgreSQL server process) is read from /proc, and on PostgreSQL what our database's sessions
wait on from pg_stat_activity. Prints one JSON line per measurement (``scenario``, ``store`` =
sqlite, postgres or ceiling, the figures; a failed measurement is a line with ``failed``), then
a markdown report (bench/report.py), also written to bench/results-deliver.md. Only loopback.
Every step (publishing, draining, starting processes, waiting for arrivals) is capped at 120 s:
publishing or draining that hits the cap is reported as ``capped`` over what arrived; child
processes and the databases go away even on failure or SIGTERM.
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
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import httpx
import orjson

from hookwire import tokens
from hookwire.catalog.builtin import load_builtin
from hookwire.client import Client
from hookwire.delivery.worker import USER_AGENT, WorkerConfig
from hookwire.domain import envelope
from hookwire.domain.event import Event
from hookwire.ids import new_id
from hookwire.settings import Settings
from hookwire.signing.base import Message
from hookwire.signing.keys import STANDARD, generate_secret
from hookwire.signing.registry import get_scheme
from hookwire.timeutil import utcnow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import nginx, report
from bench.database import ThrowawayDatabase
from bench.retries import Retries, RetryTally, summarize

StoreName = Literal["sqlite", "postgres"]

ROOT: Final = Path(__file__).resolve().parent.parent
RESULTS_FILE: Final = ROOT / "bench" / "results-deliver.md"
RECEIVER_SCRIPT: Final = ROOT / "bench" / "receiver.py"
HOOKWIRE: Final = str(Path(sys.executable).with_name("hookwire"))
ADMIN_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"

PHASE_CAP_S: Final = 120.0  # each step: publishing, draining, starting processes, ...
PHASE_BACKSTOP_S: Final = 480.0  # a whole phase, only if something hangs
STOP_TIMEOUT_S: Final = 20.0
POLL_S: Final = 0.1
CONCURRENCY: Final = WorkerConfig().concurrency  # 256, as the worker
CONNECTOR_LIMIT: Final = 512  # as hookwire's Sender
CONNECTOR_LIMIT_PER_HOST: Final = 64
PUBLISH_TASKS: Final = 32  # for the untimed publishing before a drain
WORKER_PROCESSES: Final = 2
EVENTS: Final = 20_000  # per drain
FAN_OUT: Final = report.FAN_OUT  # webhooks of the fan-out drain
FAIL_PERCENT: Final = 10  # of requests answered 500 in the retries scenario
RETRY_GRACE_S: Final = 30.0  # after the last first attempt, for the retries of the failed ones
RATES: Final = (200.0, 500.0)  # events/s, open loop
API_CONNECTIONS: Final = 64  # the latency client's connections to hookwire's API
LATENCY_S: Final = 30.0
QUICK_LATENCY_S: Final = 15.0
WARMUP_EVENTS: Final = 20
WARMUP_GRACE_S: Final = 15.0
SEND_GRACE_S: Final = 15.0  # after the last scheduled send, for the answers still due
ARRIVAL_GRACE_S: Final = 20.0  # after the sends, for the deliveries still due
SCENARIOS: Final = ("drain", "fanout", "retries", "latency")

TENANT: Final = "bench"
EVENT_TYPE: Final = "integration-state-changed"
WEBHOOKS_PATH: Final = "/api/v1/integration/webhooks"
EVENTS_PATH: Final = "/api/v1/events"


class BenchError(Exception):
    """A measurement could not be taken; the message says why."""


def progress(message: str) -> None:
    print(f"[deliver] {message}", file=sys.stderr, flush=True)


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
    url: str  # http://127.0.0.1:<port>/hooks; webhooks get paths below it
    log: Path
    pids: list[int]  # for CPU accounting: nginx's master and worker, or the Python process
    logs_path: bool  # the log has the status and path (nginx): webhooks can be told apart

    @property
    def clock_offset_s(self) -> float:
        """What to add to a logged time for an unbiased arrival time: nginx's ``$msec`` is
        truncated to the millisecond (the arrival is on average 0.5 ms later); the Python
        receiver logs microseconds."""
        return 0.0005 if self.logs_path else 0.0

    def webhook_url(self, n: int) -> str:
        """The URL of the n-th webhook (from 0): ``/hooks/w01``, ``/hooks/w02``, ..."""
        return f"{self.url}/w{n + 1:02d}"


async def nginx_pids(master: int, procs: Processes, timeout: float = 10.0) -> list[int]:
    """nginx's master and its worker (forked after the port is bound: wait for it)."""
    deadline = time.monotonic() + timeout
    while not (workers := nginx.children(master)):
        procs.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"nginx started no worker within {timeout:.0f} s")
        await asyncio.sleep(0.02)
    return [master, *workers]


async def start_receiver(
    procs: Processes, name: str, choice: ReceiverChoice, fail_percent: int = 0
) -> Receiver:
    """The run's receiver on a free loopback port, logging to ``<workdir>/<name>.tsv``;
    nginx answers 500 to ``fail_percent`` % of requests (the Python receiver cannot)."""
    port = nginx.free_port()
    log = procs.workdir / f"{name}.tsv"
    log.unlink(missing_ok=True)  # the receiver appends: start from an empty log
    url = f"http://127.0.0.1:{port}/hooks"
    if choice.kind == "nginx" and choice.binary is not None:
        prefix = procs.workdir / name
        launch = await asyncio.to_thread(
            nginx.prepare, choice.binary, prefix, log, port, fail_percent
        )
        # stopped by SIGQUIT: the worker flushes the buffered log and exits
        process = procs.start(name, launch.argv, stop_signal=signal.SIGQUIT)
        await wait_for_port(port, procs)
        pids = await nginx_pids(process.pid, procs)
        return Receiver(name, process.pid, url, log, pids, logs_path=True)
    if fail_percent:
        raise BenchError("a receiver that fails on purpose needs nginx (bench/receiver.py cannot)")
    argv = [sys.executable, str(RECEIVER_SCRIPT), "--port", str(port), "--log", str(log)]
    process = procs.start(name, argv)
    await wait_for_port(port, procs)
    return Receiver(name, process.pid, url, log, [process.pid], logs_path=False)


Listener = Callable[[str, float, int], None]


def arrival_key(path: str, webhook_id: str) -> str:
    """One delivery: the webhook's path at the receiver and the event's webhook-id."""
    return f"{path} {webhook_id}"


class Arrivals:
    """The receiver's log, read as it grows: the first arrival per key, and lines.

    A key is the webhook-id, or with ``by_path`` the request path and the webhook-id
    (:func:`arrival_key`): with several webhooks, one event arrives once per webhook with the
    same webhook-id, each at its webhook's path. ``listener(key, time, status)`` sees every
    request. ``offset_s`` is added to every time read (see Receiver.clock_offset_s). Both
    receivers buffer their log (nginx flushes every 100 ms, the Python one every
    0.5 s, both at exit): poll until the keys wanted are in (``wait_for_arrivals``), or stop the
    receiver and wait for it to exit, before the last read."""

    def __init__(
        self,
        path: Path,
        by_path: bool = False,
        listener: Listener | None = None,
        offset_s: float = 0.0,
    ) -> None:
        self.path = path
        self.by_path = by_path
        self.listener = listener
        self.offset_s = offset_s  # added to every logged time (Receiver.clock_offset_s)
        self.offset = 0
        self.partial = ""
        self.first: dict[str, float] = {}
        self.lines = 0

    def read(self) -> list[str]:
        """Read what was appended since the last call; the keys seen for the first time."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as log:
            log.seek(self.offset)
            chunk = log.read()
        self.offset += len(chunk)
        *complete, self.partial = (self.partial + chunk.decode()).split("\n")
        fresh = []
        for line in complete:
            key, arrived_at, status = self._parse(line)
            self.lines += 1
            if self.listener is not None:
                self.listener(key, arrived_at, status)
            if key not in self.first:
                self.first[key] = arrived_at
                fresh.append(key)
        return fresh

    def _parse(self, line: str) -> tuple[str, float, int]:
        """``time\\twebhook-id[\\tstatus\\tpath]`` (bench/receiver.py writes the first two)."""
        fields = line.split("\t")
        status = int(fields[2]) if len(fields) > 2 else 204
        key = arrival_key(fields[3], fields[1]) if self.by_path and len(fields) > 3 else fields[1]
        return key, float(fields[0]) + self.offset_s, status

    def times(self, keys: Collection[str]) -> list[float]:
        """First arrival times of the keys that arrived."""
        return [self.first[key] for key in keys if key in self.first]

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
    """Poll the log until every key in ``wanted`` arrived (True) or ``timeout`` passed."""
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
    webhooks: int  # the event's fan-out: deliveries per event
    events: int  # published (the ceiling: posts / webhooks)
    deliveries: int  # meant to arrive: events x webhooks
    seconds: float  # first → last arrival (the ceiling: the posting loop)
    per_s: float  # arrived / seconds
    arrived: int  # distinct (path,) webhook-ids (lines for the ceiling, whose posts share one id)
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


Result = Drain | Latency | Retries


def emit_line(line: Mapping[str, Any]) -> dict[str, Any]:
    """Print one JSON line (stdout, flushed: bench/run.py reads them as they come)."""
    print(orjson.dumps(line).decode(), flush=True)
    return dict(line)


def result_line(scenario: str, result: Result, receiver: str) -> dict[str, Any]:
    """``{"bench": "deliver", "scenario", "store", "receiver", <the result's fields>}``."""
    fields = asdict(result)
    store = fields.pop("setup")
    return {"bench": "deliver", "scenario": scenario, "store": store, "receiver": receiver,
            **fields}  # fmt: skip


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
    events: int  # per drain of one webhook (plain and retries)
    fanout_events: int  # per fan-out drain (x FAN_OUT deliveries)
    rates: tuple[float, ...]
    seconds: float  # per latency measurement
    client: str
    receiver: ReceiverChoice


async def measure_ceiling_drain(plan: Plan, webhooks: int, events: int) -> Drain:
    """``events x webhooks`` posts of one body signed once, to the webhooks' paths in turn, from
    CONCURRENCY tasks; no new post after PHASE_CAP_S (capped: the rate over what was posted)."""
    bodies = SignedBodies()
    body, headers = bodies.request(new_id("evt"))  # signed once: every post is the same
    total = events * webhooks
    with processes(plan.workdir) as procs:
        receiver = await start_receiver(procs, f"receiver-ceiling-drain-{webhooks}", plan.receiver)
        urls = [receiver.webhook_url(n) for n in range(webhooks)]
        meter = CpuMeter({"bench (client)": [os.getpid()], "receiver": receiver.pids})
        tickets = iter(range(total))
        posted, refused = 0, 0
        deadline = time.monotonic() + PHASE_CAP_S

        async def poster(session: aiohttp.ClientSession) -> None:
            nonlocal posted, refused
            for ticket in tickets:
                if not await plain_post(session, urls[ticket % webhooks], body, headers):
                    refused += 1
                posted += 1
                if time.monotonic() > deadline:
                    return

        async with plain_session() as session:
            meter.start()
            started = time.perf_counter()
            async with asyncio.timeout(PHASE_CAP_S + 30), asyncio.TaskGroup() as group:
                for _ in range(CONCURRENCY):
                    group.create_task(poster(session))
            seconds = time.perf_counter() - started
            cpu = meter.stop()
        procs.stop(receiver.name)  # flushes its log
    arrivals = Arrivals(receiver.log)
    arrivals.read()
    if arrivals.lines != posted or refused:
        raise BenchError(f"{arrivals.lines} of {posted} posts logged, {refused} not 204")
    note = f"posts/s, one body signed once, to {webhooks} path(s) in turn"
    return Drain("ceiling", webhooks, events, total, round(seconds, 3), round(posted / seconds, 1),
                 posted, 0, posted < total, cpu, note)  # fmt: skip


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


async def seed(
    plan: Plan, url: str, receiver: Receiver, webhooks: int, events: int
) -> tuple[list[str], bool]:
    """Migrate, create ``webhooks`` webhooks (one path each at the receiver) and publish
    ``events`` events in this process with no worker running (not timed). The arrival keys
    expected (one per event and webhook), and whether the publishing cap stopped it."""
    if webhooks > 1 and not receiver.logs_path:
        raise BenchError("telling several webhooks apart needs nginx's log of the request path")
    settings = plan.keys.settings(url, plan.workdir)
    client = await Client.open(settings, tenant_id=TENANT, migrate=True)
    try:
        for n in range(webhooks):
            await client.create_webhook(url=receiver.webhook_url(n))
        ids, capped = await publish_many(client, events)
    finally:
        await client.close()
    if not receiver.logs_path:
        return ids, capped
    paths = [urlsplit(receiver.webhook_url(n)).path for n in range(webhooks)]
    return [arrival_key(path, event_id) for path in paths for event_id in ids], capped


async def migrate(plan: Plan, url: str) -> None:
    """``hookwire migrate`` (what `hookwire api` and `hookwire worker` expect to have run)."""
    migrated = await asyncio.to_thread(
        subprocess.run, [HOOKWIRE, "migrate"], env=plan.keys.env(url, plan.workdir),
        cwd=plan.workdir, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if migrated.returncode != 0:
        raise BenchError(f"hookwire migrate failed:\n{migrated.stdout}{migrated.stderr}")


def start_engine(
    procs: Processes, plan: Plan, store: StoreName, url: str, port: int, api: bool = False
) -> dict[str, list[int]]:
    """hookwire's processes: SQLite one ``hookwire serve`` (API and delivery in one process),
    PostgreSQL WORKER_PROCESSES ``hookwire worker`` (and ``hookwire api`` with ``api``; the
    schema must be migrated). Their pids by role, for the CpuMeter."""
    env = plan.keys.env(url, plan.workdir, port)
    if store == "sqlite":
        return {"serve": [procs.start("serve", [HOOKWIRE, "serve"], env).pid]}
    roles = {"api": [procs.start("api", [HOOKWIRE, "api"], env).pid]} if api else {}
    for n in range(1, WORKER_PROCESSES + 1):
        roles[f"worker-{n}"] = [procs.start(f"worker-{n}", [HOOKWIRE, "worker"], env).pid]
    return roles


def database_waits(db: Database | None) -> AbstractAsyncContextManager[WaitSampler | None]:
    """What our PostgreSQL sessions wait on while the block runs (nothing for SQLite)."""
    return db.waits() if db is not None else nullcontext(None)


async def store_url(plan: Plan, db: Database | None, name: str) -> str:
    """A fresh database: PostgreSQL recreated, or a new SQLite file in the work directory."""
    return await db.fresh() if db is not None else f"sqlite:///{plan.workdir / name}.db"


@dataclass(frozen=True, slots=True)
class DrainRun:
    """What a drain through hookwire's processes saw (the receiver's log, read to the end)."""

    keys: list[str]  # expected arrivals, one per event and webhook
    events: int
    arrivals: Arrivals
    capped: bool  # publishing or waiting for the arrivals hit PHASE_CAP_S
    cpu: dict[str, float]
    note: str  # start-up time, and on PostgreSQL what the sessions waited on


async def drain_run(
    plan: Plan,
    store: StoreName,
    db: Database | None,
    webhooks: int,
    events: int,
    tally: RetryTally | None = None,
) -> DrainRun:
    """Seed a fresh database, start hookwire's processes, wait until every delivery arrived (or
    the cap); with ``tally`` (retries) the receiver fails FAIL_PERCENT % of requests, and the
    wait goes on until the failed first attempts were retried (or RETRY_GRACE_S)."""
    name = f"{store}-drain-{webhooks}" + ("-retries" if tally else "")
    url = await store_url(plan, db, name)
    with processes(plan.workdir) as procs:
        fail = FAIL_PERCENT if tally else 0
        receiver = await start_receiver(procs, f"receiver-{name}", plan.receiver, fail)
        keys, capped = await seed(plan, url, receiver, webhooks, events)
        spawned = time.time()
        roles = start_engine(procs, plan, store, url, nginx.free_port())
        meter = CpuMeter({**roles, "receiver": receiver.pids}, postgres=db is not None)
        listener = tally.note if tally else None
        arrivals = Arrivals(receiver.log, receiver.logs_path, listener)
        async with database_waits(db) as waits:
            done = await wait_for_arrivals(arrivals, keys, PHASE_CAP_S, procs, meter.start)
            cpu = meter.stop()
            if tally is not None and done:
                await wait_for_retries(arrivals, tally, RETRY_GRACE_S, procs)
        procs.stop_all()  # hookwire first, the receiver (flushing its log) last
    arrivals.read()
    times = arrivals.times(keys)
    if not times:
        raise BenchError("no delivery reached the receiver")
    note = f"{min(times) - spawned:.1f} s from starting {', '.join(roles)} to the first arrival"
    note += f"; {waits.summary()}" if waits else ""
    return DrainRun(keys, events, arrivals, capped or not done, cpu, note)


async def wait_for_retries(
    arrivals: Arrivals, tally: RetryTally, timeout: float, procs: Processes
) -> None:
    """Poll the log until every failed first attempt was sent again, or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while tally.not_retried() and time.monotonic() < deadline:
        procs.check_alive()
        await asyncio.sleep(5 * POLL_S)
        arrivals.read()


async def measure_drain(plan: Plan, store: StoreName, db: Database | None, webhooks: int) -> Drain:
    """Deliveries/s from the first arrival to the last, over what arrived."""
    events = plan.events if webhooks == 1 else plan.fanout_events
    run = await drain_run(plan, store, db, webhooks, events)
    times = run.arrivals.times(run.keys)
    seconds = max(max(times) - min(times), 1e-3)
    return Drain(store, webhooks, run.events, len(run.keys), round(seconds, 3),
                 round(len(times) / seconds, 1), len(times), run.arrivals.duplicates, run.capped,
                 run.cpu, f"timed first→last arrival; {run.note}")  # fmt: skip


async def measure_retries(
    plan: Plan, store: StoreName, db: Database | None, plain: Drain | None
) -> Retries:
    """Successful first attempts/s while a tenth of them fail and are retried alongside."""
    tally = RetryTally()
    run = await drain_run(plan, store, db, 1, plan.events, tally)
    note = (
        f"waited up to {RETRY_GRACE_S:.0f} s after the last first attempt for the retries; "
        f"{run.note}"
    )
    plain_per_s = plain.per_s if plain is not None else None
    return summarize(store, run.keys, tally, plain_per_s, run.capped, run.cpu, note)


async def measure_ceiling_latency(plan: Plan, rate: float) -> Latency:
    bodies = SignedBodies()
    with processes(plan.workdir) as procs:
        receiver = await start_receiver(procs, f"receiver-ceiling-{rate:.0f}", plan.receiver)
        async with plain_session() as session:

            async def send(i: int) -> str | None:
                event_id = f"evt_ceiling_{i:08d}"
                body, headers = bodies.request(event_id)  # signed per post: ids must differ
                return event_id if await plain_post(session, receiver.url, body, headers) else None

            meter = CpuMeter({"bench (client)": [os.getpid()], "receiver": receiver.pids})
            meter.start()
            sent = await open_loop(send, rate, plan.seconds, SEND_GRACE_S)
            cpu = meter.stop()
        arrivals = Arrivals(receiver.log, offset_s=receiver.clock_offset_s)
        await wait_for_arrivals(arrivals, sent.scheduled, ARRIVAL_GRACE_S, procs)
        procs.stop(receiver.name)
    arrivals.read()
    return latency_of("ceiling", "aiohttp (plain loop)", sent, arrivals, cpu)


async def latency_through_api(
    setup: str,
    base_url: str,
    receiver: Receiver,
    procs: Processes,
    meter: CpuMeter,
    plan: Plan,
    rate: float,
) -> Latency:
    """Create the webhook, warm up, publish open-loop over HTTP, join with the receiver's log."""
    arrivals = Arrivals(receiver.log, offset_s=receiver.clock_offset_s)
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
        progress(f"{setup}: warmed up; publishing {rate:.0f}/s for {plan.seconds:.0f} s")
        meter.start()
        sent = await open_loop(send, rate, plan.seconds, SEND_GRACE_S)
        cpu = meter.stop()
    progress(f"{setup}: {len(sent.scheduled)} accepted; waiting for the last arrivals")
    await wait_for_arrivals(arrivals, sent.scheduled, ARRIVAL_GRACE_S, procs)
    procs.stop_all()  # the receiver last: it was started first
    arrivals.read()
    return latency_of(setup, plan.client, sent, arrivals, cpu)


async def measure_latency(
    plan: Plan, store: StoreName, db: Database | None, rate: float
) -> Latency:
    """Open loop at ``rate`` through `hookwire serve` (SQLite) or `hookwire api` + workers."""
    url = await store_url(plan, db, f"latency-{rate:.0f}")
    with processes(plan.workdir) as procs:
        receiver = await start_receiver(procs, f"receiver-{store}-{rate:.0f}", plan.receiver)
        if db is not None:
            await migrate(plan, url)
        port = nginx.free_port()
        roles = start_engine(procs, plan, store, url, port, api=True)
        base_url = f"http://127.0.0.1:{port}"
        await wait_healthy(base_url, procs)
        progress(f"{store}: {', '.join(roles)} up")
        roles = {"bench (client)": [os.getpid()], **roles, "receiver": receiver.pids}
        meter = CpuMeter(roles, postgres=db is not None)
        async with database_waits(db) as waits:
            result = await latency_through_api(store, base_url, receiver, procs, meter, plan, rate)
        return dataclasses.replace(result, note=waits.summary()) if waits else result


# --- the report ----------------------------------------------------------------------------


def cpu_probe_ms(loops: int = 2_000_000) -> float:
    """How long a pure-Python loop takes here: compares the machine's speed between runs."""
    started = time.perf_counter()
    total = 0
    for i in range(loops):
        total += i
    return (time.perf_counter() - started) * 1000


def environment(pg: Mapping[str, str] | None) -> dict[str, str]:
    found = {
        "date (UTC)": report.utc_now(),
        "machine": report.machine(),
        "git commit": report.commit(),
        "python": platform.python_version(),
        "load average at start": report.load_average(),
        "CPU probe": f"a pure-Python loop of 2M additions took {cpu_probe_ms():.0f} ms",
    }
    if pg is not None:
        found["postgresql"] = report.postgres_settings(pg)
    return found


def render(results: Results, env: Mapping[str, str], options: Options, plan: Plan) -> str:
    """The markdown written to results-deliver.md: facts, the figures, the details."""
    command = " ".join([".venv/bin/python", "bench/deliver.py", *options.argv])
    facts = [f"- {name}: {value}" for name, value in env.items()]
    facts += [
        f"- load average at end: {report.load_average()}",
        f"- command: `{command}`",
        f"- drains: {plan.events} events to 1 webhook, {plan.fanout_events} events to {FAN_OUT} "
        f"webhooks; concurrency {CONCURRENCY}, connector limits {CONNECTOR_LIMIT} / "
        f"{CONNECTOR_LIMIT_PER_HOST} per host; SQLite: `hookwire serve`, PostgreSQL: "
        f"{WORKER_PROCESSES} `hookwire worker` processes",
        f"- latency: published over HTTP with {plan.client}, after {WARMUP_EVENTS} warm-up "
        "events; the ceiling posts straight to the receiver on the same schedule",
        f"- receiver: {plan.receiver.label}",
    ]
    sections = [
        "# hookwire delivery engine: drains, fan-out, retries, publish→arrival latency",
        "\n".join(facts),
        report.summary_table(results.lines, plan.rates),
        "CPU in cores (from /proc; `postgres (all)` is every PostgreSQL server process on the "
        "machine, `other` the rest of the machine's busy time, `steal` what the hypervisor "
        "took).",
        report.details(results.lines),
    ]
    return "\n\n".join(sections) + "\n"


# --- the command -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    events: int
    fanout_events: int
    store: str
    quick: bool
    rates: tuple[float, ...]
    scenarios: tuple[str, ...]
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


def _names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = set(names) - set(SCENARIOS)
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(SCENARIOS)}")
    return names


def _rates(text: str) -> tuple[float, ...]:
    rates = tuple(float(rate) for rate in text.split(",") if rate.strip())
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError("rates must be positive numbers, comma-separated")
    return rates


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=EVENTS, help="events per drain")
    parser.add_argument("--fanout-events", type=int, help="events of the fan-out drain "
                        f"(x{FAN_OUT} deliveries; default: --events)")  # fmt: skip
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--quick", action="store_true", help=f"latency for {QUICK_LATENCY_S:.0f} s, not 30"
    )
    parser.add_argument(
        "--rates", type=_rates, default=RATES, help="latency: events/s, e.g. 200,500"
    )
    parser.add_argument("--scenarios", type=_names, default=SCENARIOS,
                        help=f"comma-separated, of {','.join(SCENARIOS)}")  # fmt: skip
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
    fanout_events = args.fanout_events or args.events
    if args.events < 1 or fanout_events < 1:
        parser.error("--events and --fanout-events must be positive")
    return Options(args.events, fanout_events, args.store, args.quick, args.rates, args.scenarios,
                   args.client, args.pg_url, args.receiver, raw)  # fmt: skip


@dataclass(slots=True)
class Results:
    receiver: str  # the receiver's label
    lines: list[dict[str, Any]] = field(default_factory=list)  # as printed
    plain: dict[str, Drain] = field(default_factory=dict)  # 1-webhook drains, for the retries

    @property
    def failed(self) -> bool:
        return any("failed" in line for line in self.lines)


async def phase(results: Results, ident: Mapping[str, Any], measure: Awaitable[Result]) -> Any:
    """One measurement (``ident``: scenario, store and what else names it); a failure is
    recorded as a JSON line (its processes are stopped) and the run goes on. Each step inside
    is capped at PHASE_CAP_S; PHASE_BACKSTOP_S catches anything that hangs."""
    name = " ".join(str(value) for value in ident.values())
    progress(f"{name} ...")
    started = time.monotonic()
    try:
        async with asyncio.timeout(PHASE_BACKSTOP_S):
            result = await measure
    except Exception as exc:  # any failure: record it, go on with the next measurement
        if isinstance(exc, TimeoutError):
            exc = BenchError(f"the phase took more than {PHASE_BACKSTOP_S:.0f} s")
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        results.lines.append(emit_line({"bench": "deliver", **ident, "failed": reason}))
        progress(f"{name} FAILED: {reason}")
        return None
    results.lines.append(emit_line(result_line(ident["scenario"], result, results.receiver)))
    progress(f"{name} done in {time.monotonic() - started:.0f} s")
    return result


async def measure_drains(plan: Plan, options: Options, db: Database | None, r: Results) -> None:
    """The plain drains (1 webhook; also when only the retries are asked for: they are the
    retries' reference), then the fan-out drains."""
    stores = options.stores
    if {"drain", "retries"} & set(options.scenarios):
        await phase(r, {"scenario": "drain", "store": "ceiling", "webhooks": 1},
                    measure_ceiling_drain(plan, 1, plan.events))  # fmt: skip
        for store in stores:
            ident = {"scenario": "drain", "store": store, "webhooks": 1}
            drain = await phase(r, ident, measure_drain(plan, store, store_db(store, db), 1))
            if isinstance(drain, Drain):
                r.plain[store] = drain
    if "fanout" in options.scenarios:
        await phase(r, {"scenario": "drain", "store": "ceiling", "webhooks": FAN_OUT},
                    measure_ceiling_drain(plan, FAN_OUT, plan.fanout_events))  # fmt: skip
        for store in stores:
            ident = {"scenario": "drain", "store": store, "webhooks": FAN_OUT}
            await phase(r, ident, measure_drain(plan, store, store_db(store, db), FAN_OUT))


def store_db(store: StoreName, db: Database | None) -> Database | None:
    return db if store == "postgres" else None


async def measure_all(plan: Plan, options: Options, db: Database | None, r: Results) -> None:
    await measure_drains(plan, options, db, r)
    if "retries" in options.scenarios:
        for store in options.stores:
            measure = measure_retries(plan, store, store_db(store, db), r.plain.get(store))
            await phase(r, {"scenario": "retries", "store": store}, measure)
    if "latency" in options.scenarios:
        for rate in plan.rates:
            await phase(r, {"scenario": "latency", "store": "ceiling", "rate": rate},
                        measure_ceiling_latency(plan, rate))  # fmt: skip
            for store in options.stores:
                ident = {"scenario": "latency", "store": store, "rate": rate}
                await phase(r, ident, measure_latency(plan, store, store_db(store, db), rate))


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
        plan = Plan(Path(tmp), Keys(), options.events, options.fanout_events, options.rates,
                    options.latency_seconds, options.client, receiver)  # fmt: skip
        try:
            await measure_all(plan, options, db, results)
        finally:
            if db is not None:
                await db.drop()
    section = render(results, env, options, plan)
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
    if results.failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
