"""What the scenario scripts share beyond bench/harness.py: the run (work directory, keys, a
throw-away PostgreSQL database, hookwire's processes per store), CPU and memory from /proc,
and the JSON line of each measurement, appended to bench/results/<scenario>.jsonl."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import orjson
from bench.harness import HarnessError, Keys, Processes, run

from hookwire.catalog.builtin import load_builtin

ROOT: Final = Path(__file__).resolve().parent.parent
RESULTS: Final = ROOT / "bench" / "results"
ADMIN_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"
TENANT: Final = "bench"
EVENT_TYPE: Final = "integration-state-changed"
WEBHOOKS_PATH: Final = "/api/v1/integration/webhooks"
EVENTS_PATH: Final = "/api/v1/events"
LOOPBACK: Final = ("127.0.0.1", "localhost", "::1")
WORKERS: Final = 2  # `hookwire worker` processes on PostgreSQL
PHASE_CAP_S: Final = 120.0  # each step: publishing, draining, waiting for arrivals, ...
WAITS_SQL: Final = """SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU'), count(*)
FROM pg_stat_activity WHERE datname = $1 AND state <> 'idle' AND pid <> pg_backend_pid()
GROUP BY 1"""


def progress(message: str) -> None:
    print(f"[{Path(sys.argv[0]).stem}] {message}", file=sys.stderr, flush=True)


def example_data() -> Any:
    """The catalog's example ``data`` of the benchmarked type (valid against its schema)."""
    return load_builtin()[EVENT_TYPE].example


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


async def concurrently(tasks: int, count: int, call: Callable[[int], Awaitable[object]]) -> int:
    """``call(i)`` for i < ``count`` from ``tasks`` tasks, none started after PHASE_CAP_S;
    how many were made."""
    tickets, deadline, done = iter(range(count)), time.monotonic() + PHASE_CAP_S, 0

    async def worker() -> None:
        nonlocal done
        for i in tickets:
            await call(i)
            done += 1
            if time.monotonic() > deadline:
                return

    async with asyncio.timeout(PHASE_CAP_S + 30), asyncio.TaskGroup() as group:
        for _ in range(tasks):
            group.create_task(worker())
    return done


# --- the machine: CPU per process and memory, from /proc ----------------------------------


def ticks(pid: int) -> int | None:
    """utime + stime of a process (all its threads), in clock ticks."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process on this machine (all databases, not only ours)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def machine_ticks() -> tuple[int, int, int]:
    """(busy, steal, total) clock ticks of all CPUs since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        user, nice, system, idle, io, irq, soft, steal = map(int, stat.readline().split()[1:9])
    busy = user + nice + system + irq + soft
    return busy, steal, busy + idle + io + steal


class CpuMeter:
    """CPU used per role between ``start`` and ``stop``, in cores (1.0 = one core busy);
    ``other`` is the rest of the machine's busy time, ``steal`` what the hypervisor took."""

    def __init__(self, roles: Mapping[str, Sequence[int]], postgres: bool = False) -> None:
        self.roles, self.postgres = dict(roles), postgres
        self.began: tuple[float, dict[str, dict[int, int]], tuple[int, int, int]] | None = None

    def _snapshot(self) -> dict[str, dict[int, int]]:
        roles = {**self.roles, **({"postgres (all)": postgres_pids()} if self.postgres else {})}
        return {role: {pid: t for pid in pids if (t := ticks(pid)) is not None}
                for role, pids in roles.items()}  # fmt: skip

    def start(self) -> None:
        self.began = (time.monotonic(), self._snapshot(), machine_ticks())

    def stop(self) -> dict[str, float]:
        if self.began is None:
            return {}
        began, before, machine_before = self.began
        after, wall = self._snapshot(), max(time.monotonic() - began, 1e-3)
        busy, steal, total = (a - b for a, b in zip(machine_ticks(), machine_before, strict=True))
        cores = {}
        for role, now in after.items():
            used = sum(t - before.get(role, {}).get(pid, 0) for pid, t in now.items())
            cores[role] = round(used / os.sysconf("SC_CLK_TCK") / wall, 2)
        ncpu = os.cpu_count() or 1
        in_use = busy / max(total, 1) * ncpu
        return {
            **cores,
            "other": round(max(0.0, in_use - sum(cores.values())), 2),
            "machine busy": round(in_use, 2),
            "steal": round(steal / max(total, 1) * ncpu, 2),
        }


def rss_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    return next((int(ln.split()[1]) / 1024 for ln in status if ln.startswith("VmRSS:")), None)


def machine() -> str:
    """CPU model, cores this process may use, RAM."""

    def value(path: str, key: str) -> str:
        with open(path, encoding="utf-8") as lines:
            pairs = (line.partition(":") for line in lines)
            return next((v.strip() for k, _, v in pairs if k.strip() == key), "?")

    gib = int(value("/proc/meminfo", "MemTotal").split()[0]) / 2**20
    cores = len(os.sched_getaffinity(0))
    return f"{value('/proc/cpuinfo', 'model name')}, {cores} cores, {gib:.1f} GiB RAM"


def commit() -> str:
    """The short HEAD, plus ``-dirty`` when tracked files (bench/results aside) have changes."""

    def git(*args: str) -> str:  # read-only: no optional locks, the index is never rewritten
        done = subprocess.run(["git", "--no-optional-locks", *args], cwd=ROOT,
                              capture_output=True, text=True, check=False)  # fmt: skip
        return done.stdout.strip() if done.returncode == 0 else ""

    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results")
    return (git("rev-parse", "--short", "HEAD") or "unknown") + ("-dirty" if dirty else "")


# --- the run: a work directory, keys, a PostgreSQL database, hookwire's processes ----------


@dataclass(frozen=True, slots=True)
class Run:
    """One run of a scenario script. PostgreSQL (``admin_url``, loopback only) gets the
    database ``hw_bench_<script>_<pid>``, made from template0 afresh per measurement and
    dropped at the end; the admin database only runs CREATE and DROP."""

    workdir: Path
    admin_url: str | None = None
    keys: Keys = field(default_factory=Keys)
    name: str = field(default_factory=lambda: f"hw_bench_{Path(sys.argv[0]).stem}_{os.getpid()}")

    async def admin(self, sql: str) -> list[Any]:
        if self.admin_url is None or urlsplit(self.admin_url).hostname not in LOOPBACK:
            raise HarnessError(f"no PostgreSQL on loopback for this run ({self.admin_url})")
        conn = await asyncpg.connect(self.admin_url, timeout=10)
        try:
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    async def store_url(self, store: str, name: str) -> str:
        """A fresh database: a new SQLite file, or PostgreSQL's recreated and migrated."""
        if store == "sqlite":
            return f"sqlite:///{self.workdir / name}.db"
        await self.admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        await self.admin(f'CREATE DATABASE "{self.name}" TEMPLATE template0')
        url = urlunsplit(urlsplit(str(self.admin_url))._replace(path="/" + self.name))
        migrated = await asyncio.to_thread(run, ["migrate"], self.workdir, self.env(url))
        if migrated.returncode != 0:
            raise HarnessError(f"hookwire migrate failed:\n{migrated.stdout}{migrated.stderr}")
        return url

    def env(self, url: str, port: int | None = None) -> dict[str, str]:
        return self.keys.env(url, port, home=self.workdir)

    def token(self) -> str:
        return self.keys.token(TENANT)

    def start_engine(
        self, procs: Processes, store: str, url: str, port: int, api: bool = False
    ) -> dict[str, list[int]]:
        """SQLite: one ``hookwire serve`` (API and delivery); PostgreSQL: WORKERS ``hookwire
        worker``, and ``hookwire api`` with ``api``. Their pids by role, for a CpuMeter."""
        env = self.env(url, port)
        if store == "sqlite":
            return {"serve": [procs.hookwire("serve", ["serve"], env).pid]}
        roles = {"api": [procs.hookwire("api", ["api"], env).pid]} if api else {}
        for n in range(1, WORKERS + 1):
            roles[f"worker-{n}"] = [procs.hookwire(f"worker-{n}", ["worker"], env).pid]
        return roles

    @asynccontextmanager
    async def waits(self, store: str) -> AsyncIterator[dict[str, float]]:
        """Our PostgreSQL sessions that are not idle, by wait event, sampled every 0.25 s while
        the block runs and averaged into the dict yielded (``CPU``: running;
        ``Client:ClientRead``: waiting for the client; ``Lock:*``: blocked). Nothing on SQLite."""
        averages: dict[str, float] = {}
        if store != "postgres" or self.admin_url is None:
            yield averages
            return
        conn, samples = await asyncpg.connect(self.admin_url, timeout=10), [0]
        counts: dict[str, int] = {}

        async def sample() -> None:
            while True:
                for what, n in await conn.fetch(WAITS_SQL, self.name):
                    counts[what] = counts.get(what, 0) + n
                samples[0] += 1
                await asyncio.sleep(0.25)

        task = asyncio.create_task(sample())
        try:
            yield averages
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await conn.close()
            ranked = sorted(counts.items(), key=lambda item: -item[1])[:5]
            averages.update({what: round(n / max(samples[0], 1), 1) for what, n in ranked})


@asynccontextmanager
async def started(args: argparse.Namespace) -> AsyncIterator[Run]:
    """The run of a script: a temporary work directory, and PostgreSQL's database when it is
    measured (its commit settings printed first; dropped at the end, also on failure)."""
    admin_url = args.pg_url if "postgres" in stores(args) else None
    with tempfile.TemporaryDirectory(prefix=f"hw_bench_{Path(sys.argv[0]).stem}_") as tmp:
        bench = Run(Path(tmp), admin_url)
        if admin_url is not None:
            names = ("server_version", "synchronous_commit", "fsync", "shared_buffers")
            found = [f"{n}={(await bench.admin(f'SHOW {n}'))[0][0]}" for n in names]
            print(f"# postgresql: {', '.join(found)}", flush=True)
        try:
            yield bench
        finally:
            if admin_url is not None:
                await bench.admin(f'DROP DATABASE IF EXISTS "{bench.name}" WITH (FORCE)')


Post = Callable[[str, Any], Awaitable[tuple[int, Any]]]


@asynccontextmanager
async def api(base_url: str, token: str) -> AsyncIterator[Post]:
    """``post(path, body) -> (status, decoded answer)`` against hookwire's API (aiohttp, 64
    connections)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    timeout, connector = aiohttp.ClientTimeout(total=30), aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(base_url, headers=headers, connector=connector,
                                     timeout=timeout) as session:  # fmt: skip

        async def post(path: str, body: Any) -> tuple[int, Any]:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            async with session.post(path, data=data) as answer:
                return answer.status, orjson.loads(await answer.read() or b"null")

        yield post


async def create_webhook(post: Post, body: dict[str, Any]) -> str:
    status, answer = await post(WEBHOOKS_PATH, body)
    if status != 201:
        raise HarnessError(f"creating a webhook answered {status}: {answer}")
    return str(answer["id"])


# --- results: one JSON line per measurement ---------------------------------------------------


class Results:
    """Each line printed (stdout, flushed: bench/run.py reads them as they come) and, with
    ``record``, appended to bench/results/<scenario>.jsonl, with the run's context."""

    def __init__(self, record: bool) -> None:
        self.record, self.lines = record, list[dict[str, Any]]()
        self.context = {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "commit": commit(), "machine": machine(),
                        "load_average": [round(x, 2) for x in os.getloadavg()],
                        "script": f"bench/{Path(sys.argv[0]).name}"}  # fmt: skip

    def emit(self, line: Mapping[str, Any], ceiling: Mapping[str, Any] | None = None,
             ratios: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
        """Print and record ``line`` (it has ``scenario`` and ``store``), with ``ratios``: each
        figure named there over the same figure of ``ceiling`` (measured in the same run)."""
        out = {**self.context, **line}
        if ceiling is not None and "failed" not in line:
            out["ratios"] = {key: round(line[key] / ceiling[key], 3) for key in ratios
                             if line.get(key) is not None and ceiling.get(key)}  # fmt: skip
        print(text := orjson.dumps(out).decode(), flush=True)
        if self.record:
            RESULTS.mkdir(exist_ok=True)
            with (RESULTS / f"{line['scenario']}.jsonl").open("a", encoding="utf-8") as file:
                file.write(text + "\n")
        self.lines.append(out)
        return out

    async def measure(self, ident: Mapping[str, Any], work: Awaitable[dict[str, Any]],
                      backstop: float = 900) -> dict[str, Any] | None:  # fmt: skip
        """``ident`` (scenario, store, ...) and the figures ``work`` gives. A failure (or
        overrunning ``backstop`` seconds) is emitted as ``ident`` with ``failed`` instead."""
        progress(" ".join(map(str, ident.values())) + " ...")
        try:
            async with asyncio.timeout(backstop):
                return {**ident, **await work}
        except Exception as exc:  # any failure: record it, go on with the next measurement
            progress(f"FAILED: {(reason := f'{type(exc).__name__}: {exc}'.rstrip(': '))}")
            self.emit({**ident, "failed": reason})
            return None

    async def against_ceiling(self, ident: Mapping[str, Any], stores: Sequence[str],
                              work: Callable[[str], Awaitable[dict[str, Any]]],
                              ratios: Sequence[str]) -> dict[str, dict[str, Any]]:  # fmt: skip
        """``work("ceiling")``, then ``work(store)`` per store, with the ratios of its figures
        to the ceiling's; the lines with figures, by store."""
        found: dict[str, dict[str, Any]] = {}
        for store in ("ceiling", *stores):
            if (line := await self.measure({**ident, "store": store}, work(store))) is not None:
                found[store] = self.emit(line, found.get("ceiling"), ratios)
        return found

    @property
    def failed(self) -> bool:
        return any("failed" in line for line in self.lines)


# --- the command line -----------------------------------------------------------------------


def parser(doc: str | None, store: bool = True) -> argparse.ArgumentParser:
    """The options every benchmark takes (``store``: --store, --pg-url, --quick, --no-record)."""
    made = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    if store:
        made.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
        made.add_argument("--pg-url", default=ADMIN_URL, help="admin URL (loopback only)")
        made.add_argument("--quick", action="store_true", help="shorter timed runs")
        made.add_argument("--no-record", action="store_true", help="print, write no JSON line")
    return made


def stores(args: argparse.Namespace) -> tuple[str, ...]:
    return ("sqlite", "postgres") if args.store == "both" else (args.store,)


def main(work: Callable[[], Awaitable[bool]]) -> None:
    """Run ``work`` (True: every measurement succeeded); SIGTERM unwinds like Ctrl-C (child
    processes stopped, the database dropped); exit 1 when something failed."""

    async def guarded() -> bool:
        if (this := asyncio.current_task()) is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, this.cancel)
        return await work()

    try:
        ok = asyncio.run(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted; child processes stopped and the benchmark database dropped")
        raise SystemExit(130) from None
    raise SystemExit(0 if ok else 1)
