"""Growth: a deep backlog of pending deliveries must not slow the claim or grow the worker.

    .venv/bin/python bench/growth.py [--sizes 10000,1000000] [--claims 30]
        [--store sqlite|postgres|both] [--quick] [--no-record]

Per store and size N, on a fresh database: a webhook at nginx and 5 events published through
hookwire, then N - 5 copies of the first event and its delivery made by set-based SQL in one
transaction (ids with hookwire's prefixes and ULID layout, created 1 ms apart and due since;
PostgreSQL then gets ANALYZE, as autovacuum would). Then ``Store.claim(now, batch)``, the
Worker's own call, 2 warm-up + 30 timed (each batch left leased, all released after), with the
claim's plan (PostgreSQL: EXPLAIN ANALYZE with the values bound and as the generic plan). Then
the real worker process against the backlog (SQLite ``hookwire serve``, PostgreSQL ``hookwire
worker``), its RSS sampled every second, for 20 s (10 with --quick) from the first arrival.
Each size's line has ``ratios``: its claim p50 and worker RSS over the smallest size's.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import asyncpg

from hookwire.client import Client
from hookwire.delivery.worker import WorkerConfig
from hookwire.ids import is_id
from hookwire.store import open_store
from hookwire.store.base import Job, Store
from hookwire.store.flows import LEASE_MARGIN_MS
from hookwire.store.postgres import Q as PG_QUERIES
from hookwire.store.sqlite_codec import Q as SQLITE_QUERIES
from hookwire.timeutil import iso, utcnow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import kit, nginx
from bench.harness import HarnessError, Processes, free_port, processes
from bench.kit import CpuMeter, Run, progress

BATCH: Final = WorkerConfig().batch_size  # what the worker claims at once (100)
WARMUP_CLAIMS: Final = 2
PUBLISHED: Final = 5  # events published through hookwire; the rest are SQL copies
SEED_CAP_S: Final = 600.0
DUE_SINCE_MS: Final = 60_000  # the newest copy was due this long before seeding
ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32, as hookwire.ids
COUNTER_CHARS: Final = 5  # the copy's number ends the id: 32**5 > 33 million copies
COSTS: Final = re.compile(r"\s*\(cost=[^)]*\)")  # in EXPLAIN lines

# --- SQL that makes the copies -------------------------------------------------------------


def base32_sql(expr: str, chars: int) -> str:
    """SQL for the last ``chars`` Crockford base32 digits of integer ``expr`` (both dialects),
    most significant first: as ``hookwire.ids`` writes a ULID."""
    return " || ".join(f"substr('{ALPHABET}', CAST((({expr}) >> {5 * i}) & 31 AS INTEGER) + 1, 1)"
                       for i in reversed(range(chars)))  # fmt: skip


def random_chars() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(16 - COUNTER_CHARS))


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """Copies n = 1..copies of one published event and its delivery; copy n is created (and
    due) at ``base_ms + n`` ms since the epoch. The SQL reads ``s.n``, ``s.ms`` from the series
    and the template row as ``t``."""

    copies: int
    base_ms: int
    template: str  # the event's id
    event_random: str = field(default_factory=random_chars)
    delivery_random: str = field(default_factory=random_chars)

    def __post_init__(self) -> None:
        if self.copies >= 32**COUNTER_CHARS or not is_id(self.template, "evt"):  # a literal
            raise HarnessError(f"{self.copies} copies of {self.template!r}: not possible")

    def id(self, prefix: str, random_part: str) -> str:
        counter = base32_sql("s.n", COUNTER_CHARS)
        return f"'{prefix}_' || {base32_sql('s.ms', 10)} || '{random_part}' || {counter}"

    def statements(self, columns: dict[str, list[str]], source: dict[str, str], stamp: str,
                   body: str) -> list[str]:  # fmt: skip
        """``INSERT INTO <table> SELECT ...`` per table: each column from the values that
        differ, else the template's."""
        event_id = self.id("evt", self.event_random)
        values = {"events": {"id": event_id, "created_at": stamp},
                  "deliveries": {"id": self.id("dlv", self.delivery_random), "body": body,
                                 "event_id": event_id, "next_attempt_at": stamp,
                                 "created_at": stamp, "updated_at": stamp}}  # fmt: skip
        return [f"INSERT INTO {table} ({', '.join(names)}) SELECT "
                + ", ".join(values[table].get(c, f"t.{c}") for c in names)
                + f" FROM {source[table]}" for table, names in columns.items()]  # fmt: skip


def sqlite_statements(plan: CopyPlan, columns: dict[str, list[str]]) -> list[str]:
    """Over a recursive CTE, from the template rows put in temporary tables (an INSERT that
    selected from its own table would be materialised first)."""
    series = (f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < "
              f"{plan.copies}) ")  # fmt: skip
    source = f"(SELECT n, {plan.base_ms} + n AS ms FROM seq) AS s, tpl_{{}} AS t"
    stamp = ("strftime('%Y-%m-%dT%H:%M:%S', s.ms / 1000, 'unixepoch') "
             "|| printf('.%06dZ', (s.ms % 1000) * 1000)")  # fmt: skip
    event_id = plan.id("evt", plan.event_random)
    body = f"CAST(replace(CAST(t.body AS TEXT), '{plan.template}', {event_id}) AS BLOB)"
    sources = {table: source.format(table) for table in columns}
    return [series + sql for sql in plan.statements(columns, sources, stamp, body)]


def postgres_statements(plan: CopyPlan, columns: dict[str, list[str]]) -> list[str]:
    """Over ``generate_series``, selecting the template rows by the event's id."""
    series = (f"(SELECT g.n, {plan.base_ms}::bigint + g.n AS ms "
              f"FROM generate_series(1, {plan.copies}) AS g(n)) AS s")  # fmt: skip
    stamp = "timestamptz 'epoch' + s.ms * interval '1 millisecond'"
    event_id = plan.id("evt", plan.event_random)
    body = (f"convert_to(replace(convert_from(t.body, 'UTF8'), '{plan.template}', {event_id}), "
            "'UTF8')")  # fmt: skip
    sources = {"events": f"{series}, (SELECT * FROM events WHERE id = '{plan.template}') AS t",
               "deliveries": f"{series}, (SELECT * FROM deliveries "
                             f"WHERE event_id = '{plan.template}') AS t"}  # fmt: skip
    return plan.statements(columns, sources, stamp, body)


# --- seeding ---------------------------------------------------------------------------------


async def publish_templates(run: Run, url: str, target: str) -> list[str]:
    """The webhook (pointing at ``target``) and PUBLISHED events, through hookwire."""
    settings = run.keys.settings(url, run.workdir)
    client = await Client.open(settings, tenant_id=kit.TENANT, migrate=True)
    try:
        await client.create_webhook(url=target)
        data = kit.example_data()
        return [(await client.publish(kit.EVENT_TYPE, data))["id"] for _ in range(PUBLISHED)]
    finally:
        await client.close()


def copy_plan(size: int, template: str) -> CopyPlan:
    copies = size - PUBLISHED
    return CopyPlan(copies, time.time_ns() // 1_000_000 - DUE_SINCE_MS - copies - 1, template)


def seed_sqlite(conn: sqlite3.Connection, path: Path, plan: CopyPlan) -> tuple[float, int, str]:
    """The copies in one transaction, then a checkpoint: (seconds, due deliveries, note).
    Runs in a thread, which closes ``conn``; ``seed`` interrupts it on a cancel or the cap."""
    try:
        conn.execute("PRAGMA foreign_keys = ON")  # the copies must satisfy hookwire's constraints
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB for this connection only
        columns = {t: [row[1] for row in conn.execute(f"PRAGMA table_info({t})")]
                   for t in ("events", "deliveries")}  # fmt: skip
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TEMP TABLE tpl_events AS SELECT * FROM events WHERE id = ?",
                     (plan.template,))  # fmt: skip
        conn.execute("CREATE TEMP TABLE tpl_deliveries AS SELECT * FROM deliveries "
                     "WHERE event_id = ?", (plan.template,))  # fmt: skip
        for statement in sqlite_statements(plan, columns):
            conn.execute(statement)
        conn.execute("DROP TABLE tpl_events")
        conn.execute("DROP TABLE tpl_deliveries")
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        seconds = time.perf_counter() - started
        due = conn.execute("SELECT count(*) FROM deliveries WHERE status = 'pending' "
                           "AND next_attempt_at <= ?", (iso(utcnow()),)).fetchone()[0]  # fmt: skip
    finally:
        conn.close()
    note = f"{plan.copies} copies by a recursive CTE; file {path.stat().st_size / 2**20:.0f} MiB"
    return seconds, int(due), note


async def seed_postgres(url: str, plan: CopyPlan) -> tuple[float, int, str]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        columns = {t: [row[0] for row in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = $1 ORDER BY ordinal_position", t)]
            for t in ("events", "deliveries")}  # fmt: skip
        started = time.perf_counter()
        async with conn.transaction():
            for statement in postgres_statements(plan, columns):
                await conn.execute(statement, timeout=SEED_CAP_S)
        seconds, analyzed = time.perf_counter() - started, time.perf_counter()
        await conn.execute("ANALYZE events, deliveries", timeout=SEED_CAP_S)
        analyze_s = time.perf_counter() - analyzed
        due = await conn.fetchval("SELECT count(*) FROM deliveries WHERE status = 'pending' "
                                  "AND next_attempt_at <= now()")  # fmt: skip
        mib = await conn.fetchval("SELECT pg_database_size(current_database())") / 2**20
    finally:
        await conn.close()
    note = (f"{plan.copies} copies by generate_series; then ANALYZE {analyze_s:.1f} s (not in "
            f"seed_s); database {mib:.0f} MiB")  # fmt: skip
    return seconds, int(due), note


async def seed(run: Run, store: str, url: str, target: str, size: int) -> tuple[float, str]:
    ids = await publish_templates(run, url, target)
    plan = copy_plan(size, ids[0])
    progress(f"{store} {size}: webhook created, {len(ids)} events published; seeding")
    if store == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            async with asyncio.timeout(SEED_CAP_S):
                seconds, due, note = await asyncio.to_thread(seed_sqlite, conn, path, plan)
        except (TimeoutError, asyncio.CancelledError):
            conn.interrupt()  # the thread's statement fails soon; the thread closes conn
            raise
    else:
        seconds, due, note = await seed_postgres(url, plan)
    if due != size:
        raise HarnessError(f"{due} deliveries due after seeding, not {size}")
    progress(f"{store} {size}: seeded in {seconds:.1f} s ({note})")
    return seconds, note


# --- timing the claim ----------------------------------------------------------------------


async def time_claims(
    store: Store, claims: int, explain: Callable[[], Awaitable[str]]
) -> dict[str, Any]:
    """WARMUP_CLAIMS + ``claims`` claims (leased, then all released), and the plan."""
    leased: list[Job] = []
    timed: list[float] = []
    short, first, plan = 0, 0.0, ""
    try:
        for i in range(WARMUP_CLAIMS + claims):
            if i == WARMUP_CLAIMS:
                plan = await explain()  # warm, before the timed claims; changes nothing
            started = time.perf_counter()
            jobs = await store.claim(utcnow(), BATCH)
            elapsed = (time.perf_counter() - started) * 1000
            leased += jobs
            first = elapsed if i == 0 else first
            if i >= WARMUP_CLAIMS:
                timed.append(elapsed)
                short += len(jobs) < BATCH
    finally:
        if leased:
            await store.release(leased, utcnow())
    ordered = sorted(timed)
    note = (
        f"claims: {claims} timed after {WARMUP_CLAIMS} warm-up (first {first:.1f} ms, "
        f"{short} short of {BATCH}), each batch left leased, all released after; {plan}"
    )
    return {"claim_batch": BATCH, "claims": claims,
            "claim_ms_p50": round(kit.percentile(ordered, 0.5), 3),
            "claim_ms_p99": round(kit.percentile(ordered, 0.99), 3),
            "claim_ms_mean": round(statistics.fmean(ordered), 3), "claim_note": note}  # fmt: skip


def plan_summary(text: str) -> str:
    """The top node, the scans, and the execution time; without estimated costs."""
    lines = text.splitlines()
    wanted = [lines[0], *(ln for ln in lines[1:] if "Scan" in ln or "Execution Time" in ln)]
    return " | ".join(COSTS.sub("", ln.strip().removeprefix("->").strip()) for ln in wanted)


async def pg_explain(conn: asyncpg.Connection, generic: bool) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the claim in a transaction rolled back: with the values
    bound (what asyncpg's first executions get), or ``generic``, the plan for any values that
    PostgreSQL may cache for a prepared statement after 5 runs."""
    query, now = PG_QUERIES["claim_due"], utcnow()
    # the lease margin is hookwire's (30 s; the plan does not depend on it): a parameter the
    # query gains later fails here by its name
    values = {"now": now, "limit": BATCH, "lease_margin_ms": LEASE_MARGIN_MS}
    transaction = conn.transaction()
    await transaction.start()
    try:
        if not generic:
            explain = f"EXPLAIN (ANALYZE, BUFFERS) {query.text}"
            found = await conn.fetch(explain, *query.args(values))
        else:
            types = [t.name for t in (await conn.prepare(query.text)).get_parameters()]
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await conn.execute(f"PREPARE claim_generic ({', '.join(types)}) AS {query.text}")
            literal = {**{k: str(v) for k, v in values.items()}, "now": f"'{iso(now)}'"}
            literals = ", ".join(literal[name] for name in query.names)
            found = await conn.fetch(f"EXPLAIN (ANALYZE) EXECUTE claim_generic({literals})")
    finally:
        await transaction.rollback()
    return "\n".join(row[0] for row in found)


def explainer(store: str, url: str) -> Callable[[], Awaitable[str]]:
    """The claim's plan: PostgreSQL's EXPLAIN ANALYZE (values bound, then generic; in full to
    stderr), SQLite's EXPLAIN QUERY PLAN of the select that finds due deliveries."""

    async def postgres() -> str:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            custom, generic = await pg_explain(conn, False), await pg_explain(conn, True)
        finally:
            await conn.close()
        progress(f"EXPLAIN claim_due, values bound:\n{custom}\ngeneric plan:\n{generic}")
        return f"plan: {plan_summary(custom)}; generic plan: {plan_summary(generic)}"

    def sqlite() -> str:
        conn = sqlite3.connect(f"file:{url.removeprefix('sqlite:///')}?mode=ro", uri=True)
        try:
            rows = conn.execute(f"EXPLAIN QUERY PLAN {SQLITE_QUERIES['due_deliveries'].text}",
                                {"now": iso(utcnow()), "limit": BATCH}).fetchall()  # fmt: skip
        finally:
            conn.close()
        return "query plan of due_deliveries: " + "; ".join(str(row[3]) for row in rows)

    return postgres if store == "postgres" else lambda: asyncio.to_thread(sqlite)


async def measure_claims(store: str, url: str, claims: int) -> dict[str, Any]:
    opened = open_store(url)
    await opened.open()
    try:
        async with asyncio.timeout(120):
            return await time_claims(opened, claims, explainer(store, url))
    finally:
        await opened.close()


# --- the worker process ----------------------------------------------------------------------


async def measure_worker(run: Run, procs: Processes, store: str, url: str, receiver: nginx.Receiver,
                         pending: int, seconds: float) -> dict[str, Any]:  # fmt: skip
    """The worker against the backlog: RSS every second from its start; deliveries/s over the
    window of ``seconds`` from its first arrival (or until the backlog drained)."""
    arrivals, samples = nginx.Arrivals(receiver.log), []
    arrivals.read()
    spawned, port = time.time(), free_port()
    name = "serve" if store == "sqlite" else "worker"
    pid = procs.hookwire(name, [name], run.env(url, port)).pid

    async def sample() -> None:
        while True:
            if (rss := kit.rss_mib(pid)) is not None:
                samples.append((time.time(), rss))
            await asyncio.sleep(1.0)

    sampling = asyncio.create_task(sample())
    try:
        while not arrivals.read() and not arrivals.first:
            if time.time() - spawned > 120:
                raise HarnessError("no delivery arrived within 120 s of starting the worker")
            procs.check_alive()
            await asyncio.sleep(0.1)
        start = min(arrivals.first.values())
        meter = CpuMeter({name: [pid], "receiver": receiver.pids}, postgres=store == "postgres")
        meter.start()
        end = start + seconds
        while time.time() < end + 3 * nginx.FLUSH_S:
            procs.check_alive()
            arrivals.read()
            await asyncio.sleep(0.5)
        cpu = meter.stop()
    finally:
        sampling.cancel()
    procs.stop(name)
    arrivals.read()
    window = sorted(at for at in arrivals.first.values() if start <= at <= end)
    span = window[-1] - window[0] if len(window) > 1 else 0.0
    rss = [r for at, r in samples if at <= end]
    later = [r for at, r in samples if start + 2 <= at <= end] or rss
    if not later:
        raise HarnessError("no RSS sample in the window")
    drained = "drained all" if len(arrivals.first) >= pending else "backlog not drained"
    return {"worker_rss_mib_start": round(later[0], 1), "worker_rss_mib_end": round(later[-1], 1),
            "worker_rss_mib_max": round(max(rss), 1),
            "worker_deliveries_per_s": round(len(window) / span, 1) if span else 0.0,
            "startup_s": round(start - spawned, 2), "worker_cpu": cpu,
            "worker_note": f"`hookwire {name}`; {drained}; {len(window)} arrivals in the "
                           f"{seconds:.0f} s window over {span:.1f} s"}  # fmt: skip


async def measure_size(run: Run, store: str, size: int, args: Any) -> dict[str, Any]:
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    url = await run.store_url(store, f"growth-{size}")
    try:
        with processes(run.workdir) as procs:
            receiver = nginx.start(procs, f"receiver-{store}-{size}")
            seed_s, seed_note = await seed(run, store, url, receiver.webhook_url(0), size)
            wanted = max(1, min(args.claims, size // BATCH - WARMUP_CLAIMS))
            claims = await measure_claims(store, url, wanted)
            progress(f"{store} {size}: claim p50 {claims['claim_ms_p50']} ms; starting the worker")
            seconds = 10.0 if args.quick else 20.0
            worker = await measure_worker(run, procs, store, url, receiver, size, seconds)
    finally:
        for suffix in ("", "-wal", "-shm") if store == "sqlite" else ():
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    note = f"load average at start {load}; seed: {seed_note}"
    return {"seed_s": round(seed_s, 2), **claims, **worker, "note": note}


async def main(args: Any) -> bool:
    results = kit.Results(record=not args.no_record)
    async with kit.started(args) as run:
        for store in kit.stores(args):
            smallest = None
            for size in args.sizes:
                ident = {"scenario": "growth", "store": store, "pending": size}
                if line := await results.measure(ident, measure_size(run, store, size, args), 1800):
                    line = results.emit(line, smallest, ("claim_ms_p50", "worker_rss_mib_max"))
                    smallest = smallest or line
    return not results.failed


def parse(argv: Sequence[str] | None = None) -> Any:
    parser = kit.parser(__doc__)
    parser.add_argument("--sizes", default="10000,1000000", help="pending deliveries")
    parser.add_argument("--claims", type=int, default=30, help="timed claims per size")
    args = parser.parse_args(argv)
    args.sizes = sorted(int(size.replace("_", "")) for size in args.sizes.split(","))
    if min(args.sizes) < PUBLISHED + BATCH or args.claims < 1:
        parser.error(f"--sizes of at least {PUBLISHED + BATCH}; --claims positive")
    return args


if __name__ == "__main__":
    kit.main(lambda: main(parse()))
