"""How long publishing one event takes: validation + fan-out + the store transaction (issue 3).

    .venv/bin/python bench/publish.py [--events 2000] [--store sqlite|postgres|both]

For each store and each number N of matching webhooks (1, 10, 100, plus 10 webhooks that do not
match), on a fresh database: E publishes one after another (latency per event) and E publishes
from 32 concurrent tasks (events per second). Then the pure parts alone (request check, data
validation, ``fan_out``) and a "raw ceiling": the same rows written with bare INSERTs through
sqlite3 / asyncpg, no hookwire code. Prints one JSON line per measurement and two tables, and
appends the tables to bench/RESULTS.md. bench/README.md explains how to read them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import gc
import importlib
import itertools
import json
import math
import platform
import secrets
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import asyncpg
import orjson

from hookwire.catalog.builtin import load_builtin
from hookwire.domain.delivery import fan_out
from hookwire.domain.event import Event, check_publish
from hookwire.domain.principal import Principal
from hookwire.domain.validation import validator_for
from hookwire.domain.webhook import Webhook
from hookwire.ids import new_id
from hookwire.services.container import open_services
from hookwire.settings import Settings
from hookwire.timeutil import utcnow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import report as facts_of
from bench.database import ThrowawayDatabase

StoreName = Literal["sqlite", "postgres"]

ROOT: Final = Path(__file__).resolve().parent.parent
RESULTS_FILE: Final = ROOT / "bench" / "RESULTS.md"
RESULTS_TITLE: Final = (
    "# hookwire benchmark results: each run of a bench/ script appends a section (README.md)\n"
)
HEADING: Final = "## publish: validation + fan-out + store (issue 3)"
ADMIN_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"

WEBHOOK_COUNTS: Final = (1, 10, 100)
NON_MATCHING: Final = 10
WARMUP: Final = 50
CONCURRENCY: Final = 32
POOL_SIZE: Final = 10  # hookwire's PostgresStore default max_size; the raw ceiling uses the same
PURE_RUNS: Final = 10_000
HARD_STOP_S: Final = 60.0  # beyond the cap: a hung call aborts the run instead of waiting forever

TENANT: Final = Principal("bench")
EVENT_TYPE: Final = "integration-state-changed"
TARGET: Final = "https://receiver.example.com/x"
MATCHING: Final[dict[str, Any]] = {"url": TARGET, "event_types": ["integration-*"]}
NOT_MATCHING: Final[dict[str, Any]] = {"url": TARGET, "event_types": ["rfp.*"]}


# --- timing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    """``done`` calls in ``seconds`` of wall time and ``cpu_seconds`` of this process's CPU
    time (all its threads), with each call's latency in nanoseconds."""

    done: int
    seconds: float
    cpu_seconds: float
    latencies_ns: list[int]
    capped: bool


class Stopwatch:
    """Wall and process CPU time from its creation. CPU time hardly moves when other programs
    compete for the cores, so it is the steadier figure on a shared machine (it leaves out
    what the PostgreSQL server spends)."""

    def __init__(self) -> None:
        gc.collect()
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def expired(self, cap_s: float) -> bool:
        return time.perf_counter() - self.wall > cap_s

    def timing(self, latencies: list[int], wanted: int) -> Timing:
        wall = time.perf_counter() - self.wall
        cpu = time.process_time() - self.cpu
        return Timing(len(latencies), wall, cpu, latencies, len(latencies) < wanted)


def time_calls(call: Callable[[], object], count: int, cap_s: float) -> Timing:
    """Run a synchronous ``call`` ``count`` times in a row; stop early after ``cap_s``."""
    latencies: list[int] = []
    watch = Stopwatch()
    for _ in range(count):
        begin = time.perf_counter_ns()
        call()
        latencies.append(time.perf_counter_ns() - begin)
        if watch.expired(cap_s):
            break
    return watch.timing(latencies, count)


async def time_sequential(
    call: Callable[[], Awaitable[object]], count: int, cap_s: float
) -> Timing:
    """Await ``call`` ``count`` times, one after another; stop early after ``cap_s``."""
    latencies: list[int] = []
    watch = Stopwatch()
    async with asyncio.timeout(cap_s + HARD_STOP_S):
        for _ in range(count):
            begin = time.perf_counter_ns()
            await call()
            latencies.append(time.perf_counter_ns() - begin)
            if watch.expired(cap_s):
                break
    return watch.timing(latencies, count)


async def time_concurrent(
    call: Callable[[], Awaitable[object]], count: int, tasks: int, cap_s: float
) -> Timing:
    """Await ``call`` ``count`` times in all from ``tasks`` concurrent tasks; stop after
    ``cap_s``. A latency here includes the time a call waits behind the others."""
    latencies: list[int] = []
    tickets = iter(range(count))  # shared: each ticket is taken by exactly one task
    watch = Stopwatch()

    async def worker() -> None:
        for _ in tickets:
            begin = time.perf_counter_ns()
            await call()
            latencies.append(time.perf_counter_ns() - begin)
            if watch.expired(cap_s):
                return

    async with asyncio.timeout(cap_s + HARD_STOP_S), asyncio.TaskGroup() as group:
        for _ in range(tasks):
            group.create_task(worker())
    return watch.timing(latencies, count)


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    """One measurement. Latencies are per call; ``events_per_s`` counts events (or runs)."""

    store: str  # "sqlite", "postgres", or "-" for the pure functions
    measurement: str  # publish, raw, check_publish, data_errors, fan_out
    mode: str  # sequential, concurrent (32 tasks), grouped (32 events per commit), pure
    webhooks: int  # N: deliveries written (or made) per event
    events: int
    seconds: float
    mean_us: float | None
    p50_us: float | None
    p99_us: float | None
    events_per_s: float
    cpu_us: float  # this process's CPU time per event, every thread
    capped: bool


def _percentile(ordered: Sequence[int], fraction: float) -> float:
    """Nearest-rank percentile of sorted nanoseconds, in microseconds."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1] / 1000


def summarise(
    timing: Timing,
    *,
    store: str,
    measurement: str,
    mode: str,
    webhooks: int,
    events_per_call: int = 1,
) -> Result:
    """Latency statistics (only when one call is one event) and the event rate."""
    ordered = sorted(timing.latencies_ns)
    per_event = events_per_call == 1 and bool(ordered)
    events = timing.done * events_per_call
    return Result(
        store=store,
        measurement=measurement,
        mode=mode,
        webhooks=webhooks,
        events=events,
        seconds=round(timing.seconds, 4),
        mean_us=round(sum(ordered) / len(ordered) / 1000, 1) if per_event else None,
        p50_us=round(_percentile(ordered, 0.50), 1) if per_event else None,
        p99_us=round(_percentile(ordered, 0.99), 1) if per_event else None,
        events_per_s=round(events / timing.seconds, 1) if timing.seconds > 0 else 0.0,
        cpu_us=round(timing.cpu_seconds / events * 1e6, 1) if events else 0.0,
        capped=timing.capped,
    )


def emit(result: Result) -> Result:
    """Print the measurement as one JSON line on stdout, as soon as it is taken."""
    print(json.dumps({"bench": "publish", **asdict(result)}), flush=True)
    return result


def progress(message: str) -> None:
    print(f"[publish] {message}", file=sys.stderr, flush=True)


# --- what is published ---------------------------------------------------------------------


def example_data() -> Any:
    """The catalog's example ``data`` of the benchmarked type (valid against its schema)."""
    return load_builtin()[EVENT_TYPE].example


def publish_body() -> dict[str, Any]:
    return {"type": EVENT_TYPE, "data": example_data()}


def bench_settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        jwt_secret=secrets.token_urlsafe(32),
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        allow_private_targets=True,
    )


# --- the pure parts: validation and fan-out, no store ------------------------------------


def memory_webhooks(matching: int) -> list[Webhook]:
    """``matching`` webhooks that receive the event and NON_MATCHING that do not."""
    now = utcnow()

    def webhook(patterns: tuple[str, ...]) -> Webhook:
        webhook_id = new_id("wh")
        return Webhook(
            id=webhook_id,
            tenant_id=TENANT.tenant_id,
            direction="outbound",
            url=TARGET,
            vault_path=f"hookwire/{TENANT.tenant_id}/webhooks/{webhook_id}",
            secret_fingerprint="bench",
            created_at=now,
            updated_at=now,
            event_types=patterns,
        )

    return [webhook(("integration-*",)) for _ in range(matching)] + [
        webhook(("rfp.*",)) for _ in range(NON_MATCHING)
    ]


def new_delivery_id() -> str:
    return new_id("dlv")


def time_pure(name: str, webhooks: int, call: Callable[[], object], cap_s: float) -> Result:
    time_calls(call, WARMUP, cap_s)
    timing = time_calls(call, PURE_RUNS, cap_s)
    return emit(summarise(timing, store="-", measurement=name, mode="pure", webhooks=webhooks))


def measure_pure(cap_s: float) -> list[Result]:
    """``check_publish`` (the request body), ``data_errors`` (the type's schema) and
    ``fan_out`` for each N, on in-memory objects."""
    body = publish_body()
    data = body["data"]
    # what EventTypeService.data_errors runs for a built-in type, in-process (its lookup too)
    schema = load_builtin()[EVENT_TYPE].schema

    def data_errors() -> list[Any]:
        return validator_for(schema).errors(data, base="/data")

    if data_errors() or check_publish(body) is not body:
        raise RuntimeError(f"the catalog example of {EVENT_TYPE} does not validate")
    progress("pure functions: check_publish, data_errors, fan_out")
    results = [
        time_pure("check_publish", 0, functools.partial(check_publish, body), cap_s),
        time_pure("data_errors", 0, data_errors, cap_s),
    ]
    event = Event(
        id=new_id("evt"),
        tenant_id=TENANT.tenant_id,
        type=EVENT_TYPE,
        type_version=1,
        data=data,
        created_at=utcnow(),
    )
    for n in WEBHOOK_COUNTS:
        call = functools.partial(fan_out, event, memory_webhooks(n), new_delivery_id)
        if len(call()) != n:
            raise RuntimeError(f"fan_out made the wrong number of deliveries for N={n}")
        results.append(time_pure("fan_out", n, call, cap_s))
    return results


# --- hookwire's publish over a real store --------------------------------------------------


async def create_webhooks(database_url: str, matching: int) -> list[str]:
    """Migrate the fresh database and create the webhooks; the ids of the matching ones."""
    services = await open_services(bench_settings(database_url), migrate=True)
    try:
        ids = [
            (await services.webhooks.create(TENANT, dict(MATCHING))).webhook.id
            for _ in range(matching)
        ]
        for _ in range(NON_MATCHING):
            await services.webhooks.create(TENANT, dict(NOT_MATCHING))
        return ids
    finally:
        await services.close()


async def measure_publish(
    store: StoreName, database_url: str, n: int, events: int, cap_s: float
) -> list[Result]:
    """Warm-up, then E sequential and E concurrent ``EventService.publish`` calls."""
    await create_webhooks(database_url, n)
    services = await open_services(bench_settings(database_url))
    try:
        body = publish_body()

        async def publish() -> None:
            await services.events.publish(TENANT, body)

        receipt = await services.events.publish(TENANT, body)
        if receipt.body["deliveries"] != n:
            raise RuntimeError(f"{store}: {receipt.body['deliveries']} deliveries, expected {n}")
        await time_sequential(publish, WARMUP, cap_s)
        sequential = await time_sequential(publish, events, cap_s)
        concurrent = await time_concurrent(publish, events, CONCURRENCY, cap_s)
    finally:
        await services.close()
    return [
        emit(summarise(timing, store=store, measurement="publish", mode=mode, webhooks=n))
        for mode, timing in (("sequential", sequential), ("concurrent", concurrent))
    ]


# --- the raw ceiling: the same rows, bare INSERTs, no hookwire code ------------------------

EVENT_COLUMNS: Final = (
    "id", "tenant_id", "app_id", "type", "type_version", "data", "connector_id", "customer_id",
    "state", "tags", "created_at",
)  # fmt: skip
DELIVERY_COLUMNS: Final = (
    "id", "tenant_id", "app_id", "event_id", "webhook_id", "status", "attempt_count",
    "next_attempt_at", "lease_expires_at", "body", "created_at", "updated_at",
)  # fmt: skip


def insert_sql(table: str, columns: Sequence[str], placeholder: Callable[[int], str]) -> str:
    marks = ", ".join(placeholder(i + 1) for i in range(len(columns)))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


Row = tuple[Any, ...]


class RawRows:
    """One event row and N delivery rows with the sizes hookwire writes: the event's ``data``
    as JSON, and per delivery the ``{id, type, data}`` envelope as bytes. Ids have the length
    of hookwire's ids and, like them, increase."""

    def __init__(self, webhook_ids: Sequence[str]) -> None:
        self.webhook_ids = list(webhook_ids)
        self.data = example_data()
        self.data_json = orjson.dumps(self.data).decode()
        self._serial = itertools.count()

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._serial):026d}"

    def next(self, now: object) -> tuple[Row, list[Row]]:
        event_id = self._id("evt")
        body = orjson.dumps({"id": event_id, "type": EVENT_TYPE, "data": self.data})
        tenant = TENANT.tenant_id
        event = (event_id, tenant, None, EVENT_TYPE, 1, self.data_json, None, None, None, "[]", now)
        deliveries = [
            (self._id("dlv"), tenant, None, event_id, hook, "pending", 0, now, None, body, now, now)
            for hook in self.webhook_ids
        ]
        return event, deliveries

    def body_size(self) -> int:
        return len(orjson.dumps({"id": self._id("evt"), "type": EVENT_TYPE, "data": self.data}))


class RawSQLite:
    """sqlite3 with the pragmas of hookwire's writer connection (WAL, synchronous=NORMAL)."""

    EVENT_SQL: Final = insert_sql("events", EVENT_COLUMNS, lambda _: "?")
    DELIVERY_SQL: Final = insert_sql("deliveries", DELIVERY_COLUMNS, lambda _: "?")

    def __init__(self, path: str, rows: RawRows) -> None:
        self.rows = rows
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
            self.conn.execute(f"PRAGMA {pragma}")

    def _insert(self) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event, deliveries = self.rows.next(now)
        self.conn.execute(self.EVENT_SQL, event)
        self.conn.executemany(self.DELIVERY_SQL, deliveries)

    def one(self) -> None:
        """One event and its deliveries in one transaction."""
        self.conn.execute("BEGIN IMMEDIATE")
        self._insert()
        self.conn.execute("COMMIT")

    def group(self) -> None:
        """CONCURRENCY events in one transaction: what group commit does at best."""
        self.conn.execute("BEGIN IMMEDIATE")
        for _ in range(CONCURRENCY):
            self._insert()
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class RawPostgres:
    """asyncpg with a pool as large as hookwire's; one transaction per event."""

    EVENT_SQL: Final = insert_sql("events", EVENT_COLUMNS, lambda i: f"${i}")
    DELIVERY_SQL: Final = insert_sql("deliveries", DELIVERY_COLUMNS, lambda i: f"${i}")

    def __init__(self, pool: Any, rows: RawRows) -> None:
        self.pool = pool
        self.rows = rows

    async def one(self) -> None:
        event, deliveries = self.rows.next(datetime.now(UTC))
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(self.EVENT_SQL, *event)
            await conn.executemany(self.DELIVERY_SQL, deliveries)


def raw_result(timing: Timing, store: StoreName, mode: str, n: int, per_call: int = 1) -> Result:
    return emit(
        summarise(
            timing,
            store=store,
            measurement="raw",
            mode=mode,
            webhooks=n,
            events_per_call=per_call,
        )
    )


def measure_raw_sqlite(path: str, ids: Sequence[str], events: int, cap_s: float) -> list[Result]:
    raw = RawSQLite(path, RawRows(ids))
    try:
        time_calls(raw.one, WARMUP, cap_s)
        sequential = time_calls(raw.one, events, cap_s)
        grouped = time_calls(raw.group, max(1, events // CONCURRENCY), cap_s)
    finally:
        raw.close()
    n = len(ids)
    return [
        raw_result(sequential, "sqlite", "sequential", n),
        raw_result(grouped, "sqlite", "grouped", n, CONCURRENCY),
    ]


async def measure_raw_postgres(
    url: str, ids: Sequence[str], events: int, cap_s: float
) -> list[Result]:
    pool = await asyncpg.create_pool(url, min_size=2, max_size=POOL_SIZE)
    try:
        raw = RawPostgres(pool, RawRows(ids))
        await time_sequential(raw.one, WARMUP, cap_s)
        sequential = await time_sequential(raw.one, events, cap_s)
        concurrent = await time_concurrent(raw.one, events, CONCURRENCY, cap_s)
    finally:
        await pool.close()
    n = len(ids)
    return [
        raw_result(sequential, "postgres", "sequential", n),
        raw_result(concurrent, "postgres", "concurrent", n),
    ]


# --- fresh databases ---------------------------------------------------------------------


class Postgres(ThrowawayDatabase):
    """Our own database ``hw_bench_<pid>``, recreated from template0 for every measurement."""

    def __init__(self, admin_url: str) -> None:
        super().__init__(admin_url, "hw_bench")


class SQLiteFiles:
    """A fresh database file per measurement in a temporary directory, deleted after use."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self._serial = itertools.count()
        self.current: Path | None = None

    def fresh(self) -> Path:
        self.discard()
        self.current = self.directory / f"bench_{next(self._serial)}.db"
        return self.current

    def discard(self) -> None:
        if self.current is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.current}{suffix}").unlink(missing_ok=True)
            self.current = None


async def measure_sqlite(events: int, cap_s: float) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="hw_bench_") as directory:
        files = SQLiteFiles(directory)
        progress(f"sqlite files in {directory}")
        for n in WEBHOOK_COUNTS:
            progress(f"sqlite N={n}: hookwire publish")
            results += await measure_publish(
                "sqlite", f"sqlite:///{files.fresh()}", n, events, cap_s
            )
            progress(f"sqlite N={n}: raw ceiling")
            path = files.fresh()
            ids = await create_webhooks(f"sqlite:///{path}", n)
            results += measure_raw_sqlite(str(path), ids, events, cap_s)
        files.discard()
    return results


async def measure_postgres(database: Postgres, events: int, cap_s: float) -> list[Result]:
    results: list[Result] = []
    try:
        for n in WEBHOOK_COUNTS:
            progress(f"postgres N={n}: hookwire publish")
            results += await measure_publish("postgres", await database.fresh(), n, events, cap_s)
            progress(f"postgres N={n}: raw ceiling")
            url = await database.fresh()
            ids = await create_webhooks(url, n)
            results += await measure_raw_postgres(url, ids, events, cap_s)
    finally:
        await database.drop()
    return results


# --- the environment, the tables, RESULTS.md ---------------------------------------------


def environment(pg: dict[str, str] | None) -> dict[str, str]:
    found = {
        "date (UTC)": facts_of.utc_now(),
        "machine": facts_of.machine(),
        "git commit": facts_of.commit(),
        "load average at start": facts_of.load_average(),
        "python": platform.python_version(),
        "sqlite": f"{sqlite3.sqlite_version}, journal_mode=WAL, synchronous=NORMAL",
    }
    if pg is not None:
        found["postgresql"] = facts_of.postgres_settings(pg)
    return found


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def measurements_table(results: Sequence[Result]) -> str:
    lines = [
        "| store | measurement | N | mode | events | mean µs | p50 µs | p99 µs | events/s"
        " | deliveries/s | CPU µs/event |",
        "|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        deliveries = r.events_per_s * r.webhooks if r.webhooks else None
        capped = " (capped)" if r.capped else ""
        lines.append(
            f"| {r.store} | {r.measurement} | {r.webhooks} | {r.mode} | {r.events}{capped}"
            f" | {_cell(r.mean_us)} | {_cell(r.p50_us)} | {_cell(r.p99_us)}"
            f" | {_cell(r.events_per_s)} | {_cell(deliveries)} | {_cell(r.cpu_us)} |"
        )
    return "\n".join(lines)


def _find(results: Sequence[Result], **match: object) -> Result | None:
    for r in results:
        if all(getattr(r, key) == value for key, value in match.items()):
            return r
    return None


def _mean(result: Result | None) -> float | None:
    return result.mean_us if result is not None else None


def _rate(result: Result | None) -> float | None:
    return result.events_per_s if result is not None else None


def _ratio(top: float | None, bottom: float | None) -> str:
    return f"{top / bottom:.1f}x" if top and bottom else "-"


def breakdown_row(results: Sequence[Result], store: str, n: int) -> str | None:
    """Where one sequential publish spends its time: the pure parts measured alone, the rest
    (store transaction, row encoding and decoding, asyncio) by difference."""
    publish = _find(results, store=store, measurement="publish", mode="sequential", webhooks=n)
    if publish is None or publish.mean_us is None:
        return None
    validation = sum(
        _mean(_find(results, measurement=name)) or 0.0 for name in ("check_publish", "data_errors")
    )
    fan = _mean(_find(results, measurement="fan_out", webhooks=n)) or 0.0
    rest = publish.mean_us - validation - fan
    raw_run = _find(results, store=store, measurement="raw", mode="sequential", webhooks=n)
    raw = _mean(raw_run)
    busy = _rate(_find(results, store=store, measurement="publish", mode="concurrent", webhooks=n))
    raw_mode = "grouped" if store == "sqlite" else "concurrent"
    raw_busy = _rate(_find(results, store=store, measurement="raw", mode=raw_mode, webhooks=n))
    cells = [
        store,
        str(n),
        f"{publish.mean_us:,.0f}",
        f"{validation:,.0f}",
        f"{fan:,.0f}",
        f"{rest:,.0f} ({rest / publish.mean_us:.0%})",
        _cell(raw),
        _ratio(publish.mean_us, raw),
        _ratio(publish.cpu_us, raw_run.cpu_us if raw_run else None),
        _cell(busy),
        f"{_cell(raw_busy)} ({raw_mode})",
        _ratio(raw_busy, busy),
    ]
    return "| " + " | ".join(cells) + " |"


def breakdown_table(results: Sequence[Result]) -> str:
    lines = [
        "| store | N | publish mean µs | validation µs | fan_out µs | store + rest µs"
        " | raw mean µs | publish / raw | same in CPU time | concurrent events/s"
        " | raw busy events/s | raw / publish |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for store, n in itertools.product(("sqlite", "postgres"), WEBHOOK_COUNTS):
        row = breakdown_row(results, store, n)
        if row is not None:
            lines.append(row)
    return "\n".join(lines)


def report(results: Sequence[Result], env: dict[str, str], options: Options, body_size: int) -> str:
    """The markdown section printed at the end and appended to RESULTS.md."""
    facts = [f"- {name}: {value}" for name, value in env.items()]
    facts.append(f"- load average at end: {facts_of.load_average()}")
    facts.append(
        f"- per measurement: {options.events} events after {WARMUP} warm-up publishes, "
        f"{CONCURRENCY} concurrent tasks; pure functions {PURE_RUNS:,} runs; cap "
        f"{options.cap_seconds:.0f} s; {NON_MATCHING} non-matching webhooks besides the N; "
        f"delivery body {body_size} bytes"
    )
    return "\n\n".join(
        [
            HEADING,
            "\n".join(facts),
            measurements_table(results),
            "Where a sequential publish spends its time (µs per event; the rest by difference):",
            breakdown_table(results),
        ]
    )


def record(section: str, path: Path = RESULTS_FILE) -> None:
    """Append the section to RESULTS.md, creating it with its one-line title."""
    if not path.exists():
        path.write_text(RESULTS_TITLE, encoding="utf-8")
    with path.open("a", encoding="utf-8") as out:
        out.write("\n" + section + "\n")


# --- the command ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    events: int
    stores: tuple[StoreName, ...]
    pg_url: str
    cap_seconds: float
    record: bool


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=2000, help="publishes per measurement")
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=ADMIN_URL, help="admin URL (loopback only)")
    parser.add_argument(
        "--cap-seconds", type=float, default=60.0, help="stop a measurement after this long"
    )
    parser.add_argument(
        "--no-record", action="store_true", help="do not append to bench/RESULTS.md"
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.cap_seconds <= 0:
        parser.error("--events and --cap-seconds must be positive")
    stores: tuple[StoreName, ...] = (
        ("sqlite", "postgres") if args.store == "both" else (args.store,)
    )
    return Options(args.events, stores, args.pg_url, args.cap_seconds, not args.no_record)


async def run(options: Options) -> None:
    this = asyncio.current_task()
    if this is not None:  # SIGTERM unwinds like Ctrl-C: stores closed, database dropped
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, this.cancel)
    for store in options.stores:  # fail now, not minutes in, if an adapter does not import
        importlib.import_module(f"hookwire.store.{store}")
    database = Postgres(options.pg_url) if "postgres" in options.stores else None
    pg = await database.server_settings() if database is not None else None
    env = environment(pg)
    for name, value in env.items():
        print(f"# {name}: {value}", flush=True)
    results = measure_pure(options.cap_seconds)
    if "sqlite" in options.stores:
        results += await measure_sqlite(options.events, options.cap_seconds)
    if database is not None:
        results += await measure_postgres(database, options.events, options.cap_seconds)
    section = report(results, env, options, RawRows(()).body_size())
    print("\n" + section, flush=True)
    if options.record:
        record(section)
        progress(f"appended to {RESULTS_FILE.relative_to(ROOT)}")


def main(argv: Sequence[str] | None = None) -> None:
    try:
        asyncio.run(run(parse_options(argv)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted; stores closed and the benchmark database dropped")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
