"""Growth: a deep backlog of pending deliveries must not slow the claim or grow the worker.

    .venv/bin/python bench/growth.py [--store sqlite|postgres|both] [--sizes 10000,1000000]
                                     [--quick] [--pg-url URL] [--claims 30]

Goal: with 1,000,000 pending deliveries in the store, claim time and worker memory stay flat:
the claim's median at 1M is at most 1.5 times its median at 10k.

For each store and each size N (default 10k, then 1M), on a fresh database:

1. seed: nginx is started as the receiver (as bench/deliver.py does); through
   ``hookwire.Client`` (migrating the store) the tenant's webhook is created, pointing at it,
   and a few events are published. The other N - 5 pending deliveries are copies of the first
   published event and its delivery made by set-based SQL in one transaction (SQLite: a
   recursive CTE; PostgreSQL: ``generate_series``): one event row per delivery (as hookwire
   writes them), ids with hookwire's prefixes and ULID layout (the 48-bit millisecond time,
   then 80 "random" bits: a fixed random part and a counter) so they sort like hookwire's, the
   event id inside the body rewritten to the row's own, created one millisecond apart and due
   since then (the newest a minute before seeding, the oldest N ms earlier: a backlog that
   grew at 1,000/s and was never drained). ``seed_s`` is that SQL, commit (and, on SQLite, the
   WAL checkpoint) included; PostgreSQL then gets ``ANALYZE`` of both tables, as autovacuum
   would have run on tables that grew to this size (timed apart, in the note).
2. claim: this process opens hookwire's Store for the database and times the very method the
   Worker claims with, ``Store.claim(now, WorkerConfig.batch_size)``, 2 warm-up calls then
   ``--claims`` (30) timed calls: p50 / p99 (nearest rank) / mean ms per claim. Each claim
   leases a fresh batch of the oldest due deliveries, which stays in flight (so the last of
   the 32 claims sees 3,100 fewer pending rows than the first, and as many more leased ones);
   all of them are released (``Store.release``) afterwards, so the worker starts from N due
   deliveries. On PostgreSQL, ``EXPLAIN (ANALYZE, BUFFERS)`` of the claim SQL runs once per
   size, after the warm-up, each in a transaction that is rolled back: with the values bound
   (the plan the store's executions get) and as the generic plan (the one PostgreSQL may cache
   for a prepared statement after 5 runs when it looks no dearer); full plans to stderr, the
   top node, how the due and the updated rows are found and the execution time in the note.
   On SQLite, ``EXPLAIN QUERY PLAN`` of the select that finds due deliveries.
3. worker: the real worker process runs against that database, sending to nginx:
   PostgreSQL, one ``hookwire worker``; SQLite, one ``hookwire serve`` (it migrates, serves the
   API and runs the worker in its process). Its RSS (``VmRSS`` in /proc/<pid>/status) is
   sampled every second from its start; the window is the W seconds (20, 10 with --quick)
   after the first delivery arrives at nginx. Reported: RSS 2 s into the window
   (``worker_rss_mib_start``), at its end, and the maximum since the process started, and
   deliveries/s arrived at nginx in the window (arrivals / time from the first to the last
   arrival in the window: when a small backlog drains before the window ends, the rate is over
   the time it took). The process is then stopped with SIGTERM.

Output: progress and query plans to stderr; stdout gets only JSON lines, one per (store, size)
with the keys ``scenario, store, pending, seed_s, claim_batch, claims, claim_ms_p50,
claim_ms_p99, claim_ms_mean, worker_rss_mib_start, worker_rss_mib_end, worker_rss_mib_max,
worker_deliveries_per_s, note`` and, once every size of a store succeeded, ``{"scenario":
"growth", "store", "pending": "ratio", "claim_p50_ratio", "rss_ratio"}`` (largest size over
smallest: at most 1.5 for claims is the goal; the RSS ratio should be close to 1). A size that
fails prints no line (stderr says why); the run goes on and exits with status 1.

Reading it: the claim figures are what the worker waits for per batch of 100 (on SQLite they
include the hop to hookwire's writer thread, as the worker's do). The note says whether a claim
came back short of a full batch, the first (cold) claim, the plan, the load average at start,
the worker's start-up (to its first arrival; ``hookwire serve`` and ``hookwire worker`` also
start the retention purge, which reads the whole events table) and the CPU used in the window
by the worker, nginx and (PostgreSQL) every server process, ``other`` being the rest of the
machine. The machine has 2 cores shared with whatever else runs: compare the claim figures of
one run, not across runs, and read deliveries/s next to ``other``.

Only loopback. Every step is capped (seeding 240 s, claims 120 s, worker start-up 120 s, a
whole size 900 s); the temporary directory, the throw-away database ``hw_bench_growth_<pid>``
and every child process go away at the end, also on failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import asyncpg
import orjson

from hookwire.client import Client
from hookwire.delivery.worker import WorkerConfig
from hookwire.ids import is_id
from hookwire.store import open_store
from hookwire.store.base import Job, Store
from hookwire.store.postgres import LEASE_MARGIN_MS
from hookwire.store.postgres import Q as PG_QUERIES
from hookwire.store.sqlite_codec import Q as SQLITE_QUERIES
from hookwire.timeutil import iso, utcnow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import deliver, nginx
from bench.database import ThrowawayDatabase
from bench.deliver import BenchError, Keys, Processes, Receiver, ReceiverChoice, StoreName

T = TypeVar("T")

DEFAULT_SIZES: Final = (10_000, 1_000_000)
BATCH: Final = WorkerConfig().batch_size  # what the worker claims at once (100)
CLAIMS: Final = 30
WARMUP_CLAIMS: Final = 2
PUBLISHED: Final = 5  # events published through hookwire; the rest are SQL copies
WORKER_S: Final = 20.0
QUICK_WORKER_S: Final = 10.0
RSS_START_AFTER_S: Final = 2.0
SAMPLE_S: Final = 1.0
SEED_CAP_S: Final = 240.0
CLAIMS_CAP_S: Final = 120.0
STARTUP_CAP_S: Final = 120.0
SIZE_BACKSTOP_S: Final = 900.0
DUE_SINCE_MS: Final = 60_000  # the newest copy was due this long before seeding
ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32, as hookwire.ids
COSTS: Final = re.compile(r"\s*\(cost=[^)]*\)")  # in EXPLAIN lines
COUNTER_CHARS: Final = 5  # the copy's number ends the id: 32**5 > 33 million copies


def progress(message: str) -> None:
    print(f"[growth] {message}", file=sys.stderr, flush=True)


def round_to(value: float, digits: int) -> float:
    return float(round(value, digits))


# --- SQL that makes the copies -------------------------------------------------------------


def base32_sql(expr: str, chars: int) -> str:
    """SQL for the last ``chars`` Crockford base32 digits of integer ``expr`` (both dialects),
    most significant first: as ``hookwire.ids`` writes a ULID."""
    digits = [
        f"substr('{ALPHABET}', CAST((({expr}) >> {5 * i}) & 31 AS INTEGER) + 1, 1)"
        for i in reversed(range(chars))
    ]
    return " || ".join(digits)


def random_chars(count: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(count))


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """Copies n = 1..copies of one published event and its delivery; copy n is created (and
    due) at ``base_ms + n`` milliseconds since the epoch. The SQL reads ``s.n`` and ``s.ms``
    from the series and the template row as ``t``."""

    copies: int
    base_ms: int
    template_event: str
    event_random: str = field(default_factory=lambda: random_chars(16 - COUNTER_CHARS))
    delivery_random: str = field(default_factory=lambda: random_chars(16 - COUNTER_CHARS))

    def __post_init__(self) -> None:
        if self.copies >= 32**COUNTER_CHARS:
            raise BenchError(f"at most {32**COUNTER_CHARS - 1} copies")
        if not is_id(self.template_event, "evt"):  # it is written into the SQL as a literal
            raise BenchError(f"unexpected event id {self.template_event!r}")

    def _id(self, prefix: str, random_part: str) -> str:
        time_part = base32_sql("s.ms", 10)
        return (
            f"'{prefix}_' || {time_part} || '{random_part}' || {base32_sql('s.n', COUNTER_CHARS)}"
        )

    @property
    def event_id(self) -> str:
        return self._id("evt", self.event_random)

    @property
    def delivery_id(self) -> str:
        return self._id("dlv", self.delivery_random)


def insert_copies(table: str, columns: Sequence[str], values: dict[str, str], source: str) -> str:
    """``INSERT INTO table SELECT ...``: each column from ``values`` if there, else the
    template's (``t.<column>``)."""
    select = ", ".join(values.get(column, f"t.{column}") for column in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {source}"


def copy_values(plan: CopyPlan, stamp: str, body: str) -> tuple[dict[str, str], dict[str, str]]:
    """The columns of the events and deliveries copies that differ from their template."""
    events = {"id": plan.event_id, "created_at": stamp}
    deliveries = {"id": plan.delivery_id, "event_id": plan.event_id, "body": body}
    deliveries.update(dict.fromkeys(("next_attempt_at", "created_at", "updated_at"), stamp))
    return events, deliveries


def sqlite_statements(
    plan: CopyPlan, events: Sequence[str], deliveries: Sequence[str]
) -> list[str]:
    """The copies from the template rows put in temporary tables (an INSERT that selected
    from its own table would be materialised first), over a recursive CTE."""
    series = (
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
        f"WHERE n < {plan.copies}) "
    )
    source = f"(SELECT n, {plan.base_ms} + n AS ms FROM seq) AS s, " + "{} AS t"
    stamp = (
        "strftime('%Y-%m-%dT%H:%M:%S', s.ms / 1000, 'unixepoch') "
        "|| printf('.%06dZ', (s.ms % 1000) * 1000)"
    )
    body = f"CAST(replace(CAST(t.body AS TEXT), '{plan.template_event}', {plan.event_id}) AS BLOB)"
    event_values, delivery_values = copy_values(plan, stamp, body)
    return [
        series + insert_copies("events", events, event_values, source.format("tpl_events")),
        series
        + insert_copies("deliveries", deliveries, delivery_values, source.format("tpl_deliveries")),
    ]


def postgres_statements(
    plan: CopyPlan, events: Sequence[str], deliveries: Sequence[str]
) -> list[str]:
    """The copies over ``generate_series``, selecting the template rows by the event's id."""
    series = (
        f"(SELECT g.n, {plan.base_ms}::bigint + g.n AS ms "
        f"FROM generate_series(1, {plan.copies}) AS g(n)) AS s"
    )
    stamp = "timestamptz 'epoch' + s.ms * interval '1 millisecond'"
    body = (
        f"convert_to(replace(convert_from(t.body, 'UTF8'), '{plan.template_event}', "
        f"{plan.event_id}), 'UTF8')"
    )
    event_values, delivery_values = copy_values(plan, stamp, body)
    template = f"WHERE {{}} = '{plan.template_event}') AS t"
    event_source = f"{series}, (SELECT * FROM events " + template.format("id")
    delivery_source = f"{series}, (SELECT * FROM deliveries " + template.format("event_id")
    return [
        insert_copies("events", events, event_values, event_source),
        insert_copies("deliveries", deliveries, delivery_values, delivery_source),
    ]


# --- seeding ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seeded:
    pending: int  # due deliveries found after seeding
    seconds: float
    note: str


async def publish_templates(settings_url: str, workdir: Path, keys: Keys, url: str) -> list[str]:
    """The webhook (pointing at ``url``) and PUBLISHED events, through hookwire; their ids."""
    client = await Client.open(keys.settings(settings_url, workdir), tenant_id=deliver.TENANT,
                               migrate=True)  # fmt: skip
    try:
        await client.create_webhook(url=url)
        data = deliver.example_data()
        return [(await client.publish(deliver.EVENT_TYPE, data))["id"] for _ in range(PUBLISHED)]
    finally:
        await client.close()


def copy_plan(size: int, template_event: str) -> CopyPlan:
    copies = size - PUBLISHED
    now_ms = time.time_ns() // 1_000_000
    return CopyPlan(copies, now_ms - DUE_SINCE_MS - copies - 1, template_event)


async def in_thread(conn: sqlite3.Connection, work: Callable[[], T], cap: float) -> T:
    """``work`` (which uses ``conn``) in a thread, interrupted if the cap or a cancel comes."""
    try:
        async with asyncio.timeout(cap):
            return await asyncio.to_thread(work)
    except (TimeoutError, asyncio.CancelledError):
        conn.interrupt()  # the thread's statement fails soon; the thread closes conn
        raise


def sqlite_seed_work(
    conn: sqlite3.Connection, plan: CopyPlan, first_id: str
) -> Callable[[], tuple[float, int]]:
    """The copies in one transaction, then a checkpoint: (seconds taken, due deliveries)."""

    def columns(table: str) -> list[str]:
        return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]

    def work() -> tuple[float, int]:
        try:
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("CREATE TEMP TABLE tpl_events AS SELECT * FROM events WHERE id = ?",
                         (first_id,))  # fmt: skip
            conn.execute("CREATE TEMP TABLE tpl_deliveries AS SELECT * FROM deliveries "
                         "WHERE event_id = ?", (first_id,))  # fmt: skip
            for statement in sqlite_statements(plan, columns("events"), columns("deliveries")):
                conn.execute(statement)
            conn.execute("DROP TABLE tpl_events")
            conn.execute("DROP TABLE tpl_deliveries")
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            seconds = time.perf_counter() - started
            found = conn.execute(
                "SELECT count(*) FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?",
                (iso(utcnow()),),
            ).fetchone()
            return seconds, int(found[0])
        finally:
            conn.close()

    return work


async def seed_sqlite(path: Path, ids: Sequence[str], size: int) -> Seeded:
    plan = copy_plan(size, ids[0])
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA foreign_keys = ON")  # the copies must satisfy hookwire's constraints
    conn.execute("PRAGMA cache_size = -262144")  # 256 MiB for this connection only
    seconds, pending = await in_thread(conn, sqlite_seed_work(conn, plan, ids[0]), SEED_CAP_S)
    size_mib = path.stat().st_size / 2**20
    note = f"{plan.copies} copies by a recursive CTE in one transaction; file {size_mib:.0f} MiB"
    return Seeded(pending, seconds, note)


async def pg_columns(conn: asyncpg.Connection, table: str) -> list[str]:
    found = await conn.fetch(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        table,
    )
    return [row["column_name"] for row in found]


async def seed_postgres(url: str, ids: Sequence[str], size: int) -> Seeded:
    plan = copy_plan(size, ids[0])
    conn = await asyncpg.connect(url, timeout=10)
    try:
        statements = postgres_statements(
            plan, await pg_columns(conn, "events"), await pg_columns(conn, "deliveries")
        )
        started = time.perf_counter()
        async with asyncio.timeout(SEED_CAP_S), conn.transaction():
            for statement in statements:
                await conn.execute(statement)
        seconds = time.perf_counter() - started
        analyzed = time.perf_counter()
        await conn.execute("ANALYZE events, deliveries", timeout=SEED_CAP_S)
        analyze_s = time.perf_counter() - analyzed
        pending = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now()"
        )
        table_mib = await conn.fetchval("SELECT pg_database_size(current_database())") / 2**20
    finally:
        await conn.close()
    note = (
        f"{plan.copies} copies by generate_series in one transaction; then ANALYZE "
        f"{analyze_s:.1f} s (not in seed_s); database {table_mib:.0f} MiB"
    )
    return Seeded(int(pending), seconds, note)


# --- timing the claim ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claims:
    timed_ms: list[float]
    first_ms: float
    short: int  # timed claims that returned fewer than BATCH deliveries
    plan: str  # the plan summary for the note

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.timed_ms)
        return {
            "claim_ms_p50": round_to(deliver.percentile(ordered, 0.50), 3),
            "claim_ms_p99": round_to(deliver.percentile(ordered, 0.99), 3),
            "claim_ms_mean": round_to(statistics.fmean(ordered), 3),
        }


async def timed_claim(store: Store) -> tuple[float, list[Job]]:
    started = time.perf_counter()
    jobs = await store.claim(utcnow(), BATCH)
    return (time.perf_counter() - started) * 1000, jobs


async def time_claims(store: Store, claims: int, explain: Callable[[], Awaitable[str]]) -> Claims:
    """WARMUP_CLAIMS + ``claims`` claims (leased, then all released), and the plan."""
    leased: list[Job] = []
    timed: list[float] = []
    short, first, plan = 0, 0.0, ""
    try:
        for i in range(WARMUP_CLAIMS + claims):
            if i == WARMUP_CLAIMS:
                plan = await explain()  # warm, before the timed claims; changes nothing
            elapsed, jobs = await timed_claim(store)
            leased.extend(jobs)
            if i == 0:
                first = elapsed
            if i >= WARMUP_CLAIMS:
                timed.append(elapsed)
                short += len(jobs) < BATCH
    finally:
        if leased:
            await store.release(leased, utcnow())
    return Claims(timed, first, short, plan)


def plan_node(line: str) -> str:
    """A plan line without its arrow and estimated costs (actual figures kept)."""
    return COSTS.sub("", line.strip().removeprefix("->").strip())


def first_lines(text: str, wanted: Sequence[str]) -> list[str]:
    """The first plan line containing each of ``wanted``, as :func:`plan_node`."""
    found = []
    for needle in wanted:
        for line in text.splitlines():
            if needle in line:
                found.append(plan_node(line))
                break
    return found


async def pg_explain(conn: asyncpg.Connection, generic: bool) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the claim in a transaction that is rolled back: with the
    values bound (the custom plan, what asyncpg's first executions get), or ``generic``: the
    plan for any values, which PostgreSQL may cache for a prepared statement after 5 runs."""
    query = PG_QUERIES["claim_due"]
    now = utcnow()
    values = {"now": now, "limit": BATCH, "lease_margin_ms": LEASE_MARGIN_MS}
    transaction = conn.transaction()
    await transaction.start()
    try:
        if not generic:
            found = await conn.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS) {query.text}", *query.args(values)
            )
        else:
            types = [t.name for t in (await conn.prepare(query.text)).get_parameters()]
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await conn.execute(f"PREPARE claim_generic ({', '.join(types)}) AS {query.text}")
            literal = {"now": f"'{iso(now)}'", "limit": str(BATCH),
                       "lease_margin_ms": str(LEASE_MARGIN_MS)}  # fmt: skip
            literals = ", ".join(literal[name] for name in query.names)
            found = await conn.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE claim_generic({literals})"
            )
    finally:
        await transaction.rollback()
    return "\n".join(row[0] for row in found)


def plan_summary(text: str) -> str:
    """The top node, how due and claimed rows are found, and the execution time."""
    top = plan_node(text.splitlines()[0])
    wanted = ["deliveries_due", "using deliveries_pkey on deliveries d", "Seq Scan on deliveries"]
    scans = first_lines(text, [*wanted, "Execution Time"])
    return " | ".join([top, *scans])


def postgres_explainer(url: str) -> Callable[[], Awaitable[str]]:
    async def explain() -> str:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            custom = await pg_explain(conn, generic=False)
            generic = await pg_explain(conn, generic=True)
        finally:
            await conn.close()
        progress(f"EXPLAIN (ANALYZE, BUFFERS) claim_due, values bound:\n{custom}")
        progress(f"EXPLAIN (ANALYZE, BUFFERS) claim_due, generic plan:\n{generic}")
        return f"plan: {plan_summary(custom)}; generic plan: {plan_summary(generic)}"

    return explain


def sqlite_explainer(path: Path) -> Callable[[], Awaitable[str]]:
    query = SQLITE_QUERIES["due_deliveries"]

    def plan() -> str:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = conn.execute(f"EXPLAIN QUERY PLAN {query.text}",
                                 {"now": iso(utcnow()), "limit": BATCH}).fetchall()  # fmt: skip
        finally:
            conn.close()
        return "; ".join(str(row[3]) for row in found)

    async def explain() -> str:
        text = await asyncio.to_thread(plan)
        progress(f"EXPLAIN QUERY PLAN due_deliveries: {text}")
        return f"query plan of due_deliveries: {text}"

    return explain


async def measure_claims(url: str, path: Path | None, claims: int) -> Claims:
    store = open_store(url)
    await store.open()
    try:
        if path is not None:
            explain = sqlite_explainer(path)
        else:
            explain = postgres_explainer(url)
        async with asyncio.timeout(CLAIMS_CAP_S):
            return await time_claims(store, claims, explain)
    finally:
        await store.close()


# --- the worker process ----------------------------------------------------------------------


def rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler:
    """(wall time, RSS MiB) of one process every SAMPLE_S seconds while ``run`` runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[tuple[float, float]] = []

    async def run(self) -> None:
        while True:
            rss = rss_mib(self.pid)
            if rss is not None:
                self.samples.append((time.time(), rss))
            await asyncio.sleep(SAMPLE_S)

    def between(self, start: float, end: float) -> list[float]:
        return [rss for at, rss in self.samples if start <= at <= end]


@dataclass(frozen=True, slots=True)
class WorkerRun:
    rss_start: float
    rss_end: float
    rss_max: float
    per_s: float
    note: str


async def first_arrival(arrivals: deliver.Arrivals, procs: Processes, timeout: float) -> float:
    """The receiver's time of the first delivery (wall clock), waiting up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while not arrivals.first:
        arrivals.read()
        if arrivals.first:
            break
        if time.monotonic() > deadline:
            raise BenchError(f"no delivery arrived within {timeout:.0f} s of starting the worker")
        procs.check_alive()
        await asyncio.sleep(deliver.POLL_S)
    return min(arrivals.first.values())


async def watch_window(
    arrivals: deliver.Arrivals, procs: Processes, start: float, seconds: float
) -> None:
    """Until ``seconds`` after ``start`` (plus nginx's log flush), reading the log."""
    end = start + seconds + 3 * nginx.FLUSH_S
    while time.time() < end:
        procs.check_alive()
        arrivals.read()
        await asyncio.sleep(min(deliver.POLL_S * 5, max(0.0, end - time.time())))


def worker_run(
    sampler: RssSampler, arrivals: deliver.Arrivals, start: float, seconds: float, note: str
) -> WorkerRun:
    end = start + seconds
    in_window = sorted(at for at in arrivals.first.values() if start <= at <= end)
    span = in_window[-1] - in_window[0] if len(in_window) > 1 else 0.0
    later = sampler.between(start + RSS_START_AFTER_S, end) or sampler.between(start, end)
    every = sampler.between(0.0, end)
    if not later or not every:
        raise BenchError("no RSS sample in the window")
    per_s = len(in_window) / span if span > 0 else 0.0
    note += f"; {len(in_window)} arrivals in the {seconds:.0f} s window over {span:.1f} s"
    return WorkerRun(round_to(later[0], 1), round_to(later[-1], 1), round_to(max(every), 1),
                     round_to(per_s, 1), note)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Context:
    """What every measurement of the run shares."""

    workdir: Path
    keys: Keys
    receiver: ReceiverChoice
    claims: int
    worker_s: float


async def start_worker(
    ctx: Context, procs: Processes, store_name: StoreName, url: str
) -> tuple[str, int]:
    """``hookwire serve`` (SQLite) or ``hookwire worker`` (PostgreSQL); its name and pid."""
    if store_name == "sqlite":
        port = nginx.free_port()
        env = ctx.keys.env(url, ctx.workdir, port)
        process = procs.start("serve", [deliver.HOOKWIRE, "serve"], env)
        await deliver.wait_healthy(f"http://127.0.0.1:{port}", procs, STARTUP_CAP_S)
        return "serve", process.pid
    env = ctx.keys.env(url, ctx.workdir)
    process = procs.start("worker", [deliver.HOOKWIRE, "worker"], env)
    return "worker", process.pid


async def measure_worker(
    ctx: Context, procs: Processes, store_name: StoreName, url: str, receiver: Receiver,
    pending: int,
) -> WorkerRun:  # fmt: skip
    arrivals = deliver.Arrivals(receiver.log)
    arrivals.read()
    spawned = time.time()
    sampler: RssSampler | None = None
    sampling: asyncio.Task[None] | None = None
    try:
        async with asyncio.timeout(STARTUP_CAP_S + 10):
            name, pid = await start_worker(ctx, procs, store_name, url)
            sampler = RssSampler(pid)
            sampling = asyncio.create_task(sampler.run())
            start = await first_arrival(arrivals, procs, STARTUP_CAP_S)
        roles = {name: [pid], "receiver": receiver.pids}
        meter = deliver.CpuMeter(roles, postgres=store_name == "postgres")
        meter.start()
        await watch_window(arrivals, procs, start, ctx.worker_s)
        cpu = meter.stop()
    finally:
        if sampling is not None:
            sampling.cancel()
            await asyncio.gather(sampling, return_exceptions=True)
    procs.stop(name)
    arrivals.read()
    if sampler is None:
        raise BenchError("the worker did not start")
    drained = len(arrivals.first) >= pending
    note = (
        f"`hookwire {name}`: first arrival {start - spawned:.1f} s after its start; "
        f"{'drained all ' + str(pending) if drained else 'backlog not drained'}"
        f"{f', {arrivals.duplicates} duplicate arrivals' if arrivals.duplicates else ''}; "
        f"CPU in cores: {deliver.cpu_text(cpu)}"
    )
    return worker_run(sampler, arrivals, start, ctx.worker_s, note)


# --- one store at one size -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """One database to measure: its URL, and its file for SQLite."""

    store: StoreName
    url: str
    path: Path | None = None


async def seed(target: Target, ctx: Context, receiver: Receiver, size: int) -> Seeded:
    ids = await publish_templates(target.url, ctx.workdir, ctx.keys, receiver.url)
    progress(f"{target.store} {size}: webhook created, {len(ids)} events published; seeding")
    if target.path is not None:
        seeded = await seed_sqlite(target.path, ids, size)
    else:
        seeded = await seed_postgres(target.url, ids, size)
    if seeded.pending != size:
        raise BenchError(f"{seeded.pending} deliveries due after seeding, not {size}")
    progress(f"{target.store} {size}: seeded in {seeded.seconds:.1f} s ({seeded.note})")
    return seeded


async def measure_size(target: Target, ctx: Context, size: int) -> dict[str, Any]:
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    with deliver.processes(ctx.workdir) as procs:
        receiver = await deliver.start_receiver(procs, f"receiver-{target.store}-{size}",
                                                ctx.receiver)  # fmt: skip
        seeded = await seed(target, ctx, receiver, size)
        claims_wanted = max(1, min(ctx.claims, size // BATCH - WARMUP_CLAIMS))
        claims = await measure_claims(target.url, target.path, claims_wanted)
        progress(f"{target.store} {size}: claims {claims.summary()}; starting the worker")
        worker = await measure_worker(ctx, procs, target.store, target.url, receiver, size)
    short = f", {claims.short} of them short of {BATCH}" if claims.short else ""
    note = (
        f"load average at start {load}; seed: {seeded.note}; claims: {len(claims.timed_ms)} "
        f"timed after {WARMUP_CLAIMS} warm-up (first {claims.first_ms:.1f} ms){short}, each "
        f"leaving its batch leased, all released before the worker ran; {claims.plan}; "
        f"worker: {worker.note}; receiver {ctx.receiver.label}"
    )
    return {
        "scenario": "growth",
        "store": target.store,
        "pending": size,
        "seed_s": round_to(seeded.seconds, 2),
        "claim_batch": BATCH,
        "claims": len(claims.timed_ms),
        **claims.summary(),
        "worker_rss_mib_start": worker.rss_start,
        "worker_rss_mib_end": worker.rss_end,
        "worker_rss_mib_max": worker.rss_max,
        "worker_deliveries_per_s": worker.per_s,
        "note": note,
    }


def emit(line: dict[str, Any]) -> None:
    print(orjson.dumps(line).decode(), flush=True)


def ratio_line(store: StoreName, small: dict[str, Any], large: dict[str, Any]) -> dict[str, Any]:
    claim = large["claim_ms_p50"] / small["claim_ms_p50"]
    rss = large["worker_rss_mib_max"] / small["worker_rss_mib_max"]
    verdict = "met" if claim <= 1.5 else "MISSED"
    progress(f"{store}: claim p50 ratio {claim:.2f} (goal ≤ 1.5: {verdict}), RSS ratio {rss:.2f}")
    return {"scenario": "growth", "store": store, "pending": "ratio",
            "claim_p50_ratio": round_to(claim, 3), "rss_ratio": round_to(rss, 3)}  # fmt: skip


# --- the command -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    stores: tuple[StoreName, ...]
    sizes: tuple[int, ...]
    quick: bool
    pg_url: str
    claims: int


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not sizes or min(sizes) < PUBLISHED + BATCH:
        raise argparse.ArgumentTypeError(f"every size must be at least {PUBLISHED + BATCH}")
    return sizes


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=DEFAULT_SIZES,
        help="pending deliveries, comma-separated (default 10000,1000000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"run the worker {QUICK_WORKER_S:.0f} s, not {WORKER_S:.0f}",
    )
    parser.add_argument("--pg-url", default=deliver.ADMIN_URL, help="admin URL (loopback only)")
    parser.add_argument("--claims", type=int, default=CLAIMS, help="timed claims per size")
    args = parser.parse_args(argv)  # fmt: skip
    if args.claims < 1:
        parser.error("--claims must be positive")
    stores: tuple[StoreName, ...] = (
        ("sqlite", "postgres") if args.store == "both" else (args.store,)
    )
    return Options(stores, tuple(sorted(args.sizes)), args.quick, args.pg_url, args.claims)


async def target_for(
    store: StoreName, size: int, ctx: Context, db: ThrowawayDatabase | None
) -> Target:
    if store == "postgres":
        if db is None:
            raise BenchError("no PostgreSQL database")
        return Target(store, await db.fresh())
    path = ctx.workdir / f"growth-{size}.db"
    return Target(store, f"sqlite:///{path}", path)


def remove_sqlite_files(target: Target) -> None:
    if target.path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target.path}{suffix}").unlink(missing_ok=True)


async def one_size(
    store: StoreName, size: int, ctx: Context, db: ThrowawayDatabase | None
) -> dict[str, Any] | None:
    """The line of one store at one size, or None when it failed (the reason to stderr)."""
    progress(f"{store} {size}: starting")
    started = time.monotonic()
    target = await target_for(store, size, ctx, db)
    try:
        async with asyncio.timeout(SIZE_BACKSTOP_S):
            line = await measure_size(target, ctx, size)
    except Exception as exc:  # any failure: say why, go on with the next size
        if isinstance(exc, TimeoutError):
            exc = BenchError(f"this size took more than {SIZE_BACKSTOP_S:.0f} s")
        progress(f"{store} {size} FAILED: {type(exc).__name__}: {exc}")
        return None
    finally:
        remove_sqlite_files(target)
    progress(f"{store} {size}: done in {time.monotonic() - started:.0f} s")
    return line


async def run_store(
    store: StoreName, options: Options, ctx: Context, db: ThrowawayDatabase | None
) -> bool:
    """Every size of one store, its lines emitted as they come, then the ratio line (when
    every size succeeded). False if one failed."""
    lines: list[dict[str, Any]] = []
    for size in options.sizes:
        line = await one_size(store, size, ctx, db)
        if line is not None:
            emit(line)
            lines.append(line)
    if len(lines) != len(options.sizes):
        return False
    if len(lines) > 1:
        emit(ratio_line(store, lines[0], lines[-1]))
    return True


def choose_receiver() -> ReceiverChoice:
    """deliver.py's choice (nginx; the Python receiver if nginx is unavailable), its notices
    kept off stdout."""
    with contextlib.redirect_stdout(sys.stderr):
        return deliver.choose_receiver("nginx")


async def run(options: Options) -> bool:
    this = asyncio.current_task()
    if this is not None:  # SIGTERM unwinds like Ctrl-C: processes stopped, database dropped
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, this.cancel)
    db = (
        ThrowawayDatabase(options.pg_url, "hw_bench_growth")
        if "postgres" in options.stores
        else None
    )
    if db is not None:
        await db.server_settings()  # fails early when PostgreSQL is not reachable
    receiver = await asyncio.to_thread(choose_receiver)
    progress(f"receiver: {receiver.label}")
    started = time.monotonic()
    ok = True
    with tempfile.TemporaryDirectory(prefix="hw_bench_growth_") as tmp:
        seconds = QUICK_WORKER_S if options.quick else WORKER_S
        ctx = Context(Path(tmp), Keys(), receiver, options.claims, seconds)
        try:
            for store in options.stores:
                ok = await run_store(store, options, ctx, db) and ok
        finally:
            if db is not None:
                await db.drop()
    progress(f"whole run {time.monotonic() - started:.0f} s")
    return ok


def main(argv: Sequence[str] | None = None) -> None:
    try:
        ok = asyncio.run(run(parse_options(argv)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted; child processes stopped and the benchmark database dropped")
        raise SystemExit(130) from None
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
