"""Flow control (issue 17): what limits cost the claim, whether unlimited webhooks drain as
fast as before, and whether the limits are kept and reached.

    .venv/bin/python bench/flow.py [--scenarios claim,unchanged,fleet,rate,fifo] [--claims 40]
        [--old /tmp/bench-old] [--rounds 3] [--events 40000] [--fleet 10000]
        [--fleet-limits 6/minute,2/minute] [--limit 200/second] [--keys 1,10,100]
        [--fifo-events 2000] [--store sqlite|postgres|both] [--quick] [--no-record]

- claim: two databases with the same 1,000 unlimited webhooks and 100,000 due deliveries, the
  second also with 1,000 webhooks of another tenant at 5/minute, 20 due each (its claims go
  through the gates). ``Store.claim(now, 100)`` on each in turn, batches left leased.
- unchanged: bench/deliver.py's drain (this tree's bench) run by the tree at ``--old`` (a
  worktree of the commit before flow control with its own ``.venv``) and by this one, in
  turn, ``--rounds`` each (old first in odd rounds, new first in even ones).
- fleet: ``--fleet`` webhooks without limits, the largest ``max`` of events each, drained (the
  control); then per limit as many webhooks at it, with work for 5 cycles (a cycle: a period
  and 2 slots, when a busy webhook may start ``max`` again), counted over 2 whole cycles (1
  with --quick) from the middle of the second, against the sum of the limits.
- rate: one webhook at ``--limit`` over 30 s of whole cycles (10 with --quick), the same way;
  the most requests in any window of one period, at the receiver and by the starts the
  attempts recorded.
- fifo: one FIFO webhook, events round-robin over K ordering keys: deliveries/s in total and
  per key, deliveries that overtook an earlier one of their key, attempts that overlapped.

SQLite is one ``hookwire serve``, PostgreSQL 2 ``hookwire worker``; every backlog is published
in this process before they start; the receiver is nginx.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import closing
from datetime import datetime
from functools import partial
from itertools import pairwise
from operator import truediv
from pathlib import Path
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

import asyncpg
import orjson

from hookwire.client import Client
from hookwire.delivery.worker import WorkerConfig
from hookwire.domain.flow import PERIOD_S, SLOTS, SPAN, read_rate
from hookwire.store import open_store
from hookwire.store.base import Job, Store
from hookwire.timeutil import utcnow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import kit, nginx
from bench.harness import HarnessError, Processes, free_port, processes
from bench.kit import EVENT_TYPE, PHASE_CAP_S, TENANT, CpuMeter, Run, progress

SCENARIOS: Final = ("claim", "unchanged", "fleet", "rate", "fifo")
BATCH: Final = WorkerConfig().batch_size  # what the worker claims at once (100)
CLAIM_WEBHOOKS: Final = 1000
CLAIM_EVENTS: Final = 100  # to every unlimited webhook: 100,000 deliveries
GATED_EVENTS: Final = 20  # to every limited webhook
GATED_LIMIT: Final = {"max": 5, "per": "minute"}
WARMUP_CLAIMS: Final = 2
RATE_SECONDS: Final = 30.0


def cycle_s(limit: dict[str, Any]) -> float:
    """A limit's cycle: a webhook that always has work starts ``max`` per period and 2 slots."""
    return PERIOD_S[limit["per"]] * SPAN / SLOTS


def most_in(times: Sequence[float], width: float) -> int:
    """The most of ``times`` in any window ``[t, t + width)``."""
    ordered, low, most = sorted(times), 0, 0
    for high, at in enumerate(ordered):
        while at - ordered[low] >= width:
            low += 1
        most = max(most, high - low + 1)
    return most


async def seed(run: Run, url: str, bodies: Sequence[dict[str, Any]], events: int,
               tenant: str = TENANT, key: Callable[[int], str | None] = lambda _: None,
               ) -> list[dict[str, Any]]:  # fmt: skip
    """``bodies``' webhooks of ``tenant``, then ``events`` events fanning out to every one of
    them (event i with ordering key ``key(i)``); the receipts, in that order."""
    client = await Client.open(run.keys.settings(url, run.workdir), tenant_id=tenant)
    receipts: list[dict[str, Any]] = [{}] * events
    try:
        made = await kit.concurrently(8, len(bodies), lambda i: client.create_webhook(**bodies[i]))
        data = kit.example_data()

        async def publish(i: int) -> None:
            receipts[i] = await client.publish(EVENT_TYPE, data, ordering_key=key(i))

        if made < len(bodies) or await kit.concurrently(8, events, publish) < events:
            raise HarnessError(f"seeding capped at {PHASE_CAP_S:.0f} s")
    finally:
        await client.close()
    return receipts


Drained = tuple[nginx.Arrivals, float, dict[str, Any]]


async def drained(run: Run, procs: Processes, store: str, url: str, receiver: nginx.Receiver,
                  seconds: float, enough: int) -> Drained:  # fmt: skip
    """hookwire's processes on the backlog queued at ``url``, the receiver's log read from
    the first arrival (within PHASE_CAP_S) for ``seconds`` or until ``enough`` arrived, then
    every process stopped: the arrivals (by path), the first one's time, CPU and waits."""
    roles = run.start_engine(procs, store, url, free_port())
    meter = CpuMeter({**roles, "receiver": receiver.pids}, postgres=store == "postgres")
    arrivals, deadline = nginx.Arrivals(receiver.log, True), time.time() + PHASE_CAP_S
    async with run.waits(store) as waits:
        while not arrivals.read() and not arrivals.first:
            if time.time() > deadline:
                raise HarnessError(f"no delivery arrived within {PHASE_CAP_S:.0f} s")
            procs.check_alive()
            await asyncio.sleep(0.05)
        first = min(arrivals.first.values())
        meter.start()
        while time.time() < first + seconds + 3 * nginx.FLUSH_S and len(arrivals.first) < enough:
            procs.check_alive()
            await asyncio.sleep(0.25)
            arrivals.read()
        cpu = meter.stop()
    procs.stop_all()  # hookwire first, the receiver (flushing its log) last
    arrivals.read()
    return arrivals, first, {"cpu": cpu, "pg_waits": waits}


class Attempt(NamedTuple):
    webhook_id: str
    ordering_key: str | None
    start: float  # the worker's clock (s): when its request started, after any slot wait
    end: float
    arrival: str  # its key in the receiver's log: the webhook's path, the event's id


async def attempts(store: str, url: str) -> list[Attempt]:
    sql = ("SELECT a.webhook_id, d.ordering_key, a.started_at, a.duration_ms, w.url, d.event_id "
           "FROM attempts AS a JOIN deliveries AS d ON d.id = a.delivery_id "
           "JOIN webhooks AS w ON w.id = a.webhook_id")  # fmt: skip
    if store == "sqlite":
        path = f"file:{url.removeprefix('sqlite:///')}?mode=ro"
        with closing(sqlite3.connect(path, uri=True)) as db:
            found = [(w, k, datetime.fromisoformat(t), *more) for w, k, t, *more in db.execute(sql)]
    else:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            found = [tuple(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()
    return [Attempt(w, k, at.timestamp(), at.timestamp() + ms / 1000,
                    nginx.arrival_key(urlsplit(target).path, event_id))
            for w, k, at, ms, target, event_id in found]  # fmt: skip


# --- claim: with limits set and unset ------------------------------------------------------


async def claim_store(run: Run, store: str, limited: bool, events: int) -> Store:
    """Open, on a fresh database: CLAIM_WEBHOOKS webhooks, ``events`` events to each; with
    ``limited``, as many webhooks of another tenant at GATED_LIMIT, GATED_EVENTS events each."""
    url = await run.store_url(store, f"claim-{'limited' if limited else 'plain'}")
    target = [{"url": f"http://127.0.0.1:9/hooks/w{n}"} for n in range(CLAIM_WEBHOOKS)]
    await seed(run, url, target, events)
    if limited:
        bodies = [{**body, "rate_limit": GATED_LIMIT} for body in target]
        await seed(run, url, bodies, GATED_EVENTS, tenant="bench-limited")
    if store == "postgres":  # as autovacuum would, before the claims are timed
        conn = await asyncpg.connect(url, timeout=10)
        try:
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
    opened = open_store(url)
    await opened.open()
    return opened


async def claim(run: Run, store: str, claims: int, events: int) -> dict[str, Any]:
    """``Store.claim(now, BATCH)`` on a database without limits and one with, in turn (each
    batch left leased)."""
    limited_run = dataclasses.replace(run, name=f"{run.name}_limited")
    opened: dict[str, Store] = {}
    timed: dict[str, list[float]] = {"plain": [], "gated": []}
    through_gates: dict[str, list[int]] = {"plain": [], "gated": []}
    try:
        opened["plain"] = await claim_store(run, store, False, events)
        opened["gated"] = await claim_store(limited_run, store, True, events)
        for i in range(WARMUP_CLAIMS + claims):
            for name in ("plain", "gated") if i % 2 else ("gated", "plain"):
                started = time.perf_counter()
                jobs: list[Job] = await opened[name].claim(utcnow(), BATCH)
                elapsed = (time.perf_counter() - started) * 1000
                if len(jobs) < BATCH:
                    raise HarnessError(f"{name}: a claim took {len(jobs)} of {BATCH}")
                if i >= WARMUP_CLAIMS:
                    timed[name].append(elapsed)
                    through_gates[name].append(sum(job.delivery.gated for job in jobs))
    finally:
        for opened_store in opened.values():
            await opened_store.close()
        if store == "postgres":
            await run.admin(f'DROP DATABASE IF EXISTS "{limited_run.name}" WITH (FORCE)')
    line: dict[str, Any] = {"webhooks": CLAIM_WEBHOOKS, "pending": CLAIM_WEBHOOKS * events,
                            "limited_webhooks": CLAIM_WEBHOOKS, "limit": GATED_LIMIT,
                            "limited_pending": CLAIM_WEBHOOKS * GATED_EVENTS, "claims": claims,
                            "batch": BATCH, "through_gates_per_claim":
                            statistics.fmean(through_gates["gated"])}  # fmt: skip
    for name, ordered in ((name, sorted(values)) for name, values in timed.items()):
        line[f"{name}_ms_p50"] = round(kit.percentile(ordered, 0.5), 3)
        line[f"{name}_ms_p99"] = round(kit.percentile(ordered, 0.99), 3)
    for figure in ("p50", "p99"):
        line[f"gated_over_plain_{figure}"] = round(
            line[f"gated_ms_{figure}"] / line[f"plain_ms_{figure}"], 3)  # fmt: skip
    return line


# --- unchanged: the unlimited drain, the tree before flow control against this one ---------


async def drain_once(python: str, store: str, args: Any) -> dict[str, Any]:
    """bench/deliver.py's drain (this tree's bench) run by ``python``: the store's line, and
    the ceiling's per_s of the same run."""
    argv = [python, str(kit.ROOT / "bench" / "deliver.py"), "--scenarios", "drain",
            "--store", store, "--events", str(args.events), "--pg-url", args.pg_url,
            "--no-record"]  # fmt: skip
    child = await asyncio.create_subprocess_exec(*argv, stdout=subprocess.PIPE)
    try:
        out, _ = await child.communicate()
    finally:
        if child.returncode is None:  # cancelled: deliver.py stops its own children on SIGTERM
            child.terminate()
            await child.wait()
    lines = [orjson.loads(text) for text in out.decode().splitlines() if text.startswith("{")]
    found = {line["store"]: line for line in lines if line.get("scenario") == "drain"}
    if "per_s" not in found.get(store, {}) or child.returncode != 0:
        raise HarnessError(f"{python} deliver.py: exit {child.returncode}, {found.get(store)}")
    if "per_s" not in found.get("ceiling", {}):
        raise HarnessError(f"{python} deliver.py: no ceiling")
    return {**found[store], "ceiling_per_s": found["ceiling"]["per_s"]}


async def unchanged(store: str, args: Any) -> dict[str, Any]:
    old = Path(args.old)
    pythons = {"old": str(old / ".venv" / "bin" / "python"), "new": sys.executable}
    per_s: dict[str, list[float]] = {"old": [], "new": []}
    ceiling: dict[str, list[float]] = {"old": [], "new": []}
    for n in range(args.rounds):
        for tree in ("old", "new") if n % 2 == 0 else ("new", "old"):
            line = await drain_once(pythons[tree], store, args)
            progress(f"{store} round {n + 1} {tree}: {line['per_s']}/s")
            per_s[tree].append(line["per_s"])
            ceiling[tree].append(line["ceiling_per_s"])
    rev = ["git", "-C", str(old), "rev-parse", "--short", "HEAD"]
    means = {tree: round(statistics.fmean(values), 1) for tree, values in per_s.items()}
    of_ceiling = {
        tree: statistics.fmean(map(truediv, per_s[tree], ceiling[tree])) for tree in per_s
    }
    return {"events": args.events, "webhooks": 1, "rounds": args.rounds,
            "old_commit": subprocess.run(rev, capture_output=True, text=True).stdout.strip(),
            "old_per_s": per_s["old"], "new_per_s": per_s["new"], "old_mean": means["old"],
            "new_mean": means["new"], "new_over_old": round(means["new"] / means["old"], 3),
            "ceiling_old": ceiling["old"], "ceiling_new": ceiling["new"],
            "new_over_old_of_ceiling": round(of_ceiling["new"] / of_ceiling["old"], 3)}  # fmt: skip


# --- fleet and rate: limits reached and kept ---------------------------------------------------


async def unlimited_fleet(run: Run, store: str, webhooks: int, events: int) -> dict[str, Any]:
    """The fleet's control: as many webhooks without limits, ``events`` each, drained (first
    to last arrival)."""
    url = await run.store_url(store, f"fleet-unlimited-{store}")
    with processes(run.workdir) as procs:
        receiver = nginx.start(procs, f"receiver-fleet-unlimited-{store}")
        await seed(run, url, [{"url": receiver.webhook_url(n)} for n in range(webhooks)], events)
        arrivals, first, use = await drained(run, procs, store, url, receiver, PHASE_CAP_S,
                                             webhooks * events)  # fmt: skip
    seconds = max(arrivals.first.values()) - first
    return {"webhooks": webhooks, "events_each": events, "arrived": len(arrivals.first),
            "seconds": round(seconds, 2), "per_s": round(len(arrivals.first) / seconds, 1),
            "capped": len(arrivals.first) < webhooks * events, **use}  # fmt: skip


async def limited(run: Run, store: str, webhooks: int, limit: dict[str, Any],
                  cycles: int) -> dict[str, Any]:  # fmt: skip
    """``webhooks`` webhooks at ``limit``, with work for ``cycles`` + 3 cycles each. Arrivals
    are counted over ``cycles`` whole cycles from the middle of the second: a busy webhook's
    starts repeat every cycle, so the count is exact but for the jitter at the two edges."""
    cycle, period, events = cycle_s(limit), PERIOD_S[limit["per"]], limit["max"] * (cycles + 3)
    scenario = "rate" if webhooks == 1 else "fleet"
    url = await run.store_url(store, f"{scenario}-{limit['max']}-{limit['per']}")
    with processes(run.workdir) as procs:
        receiver = nginx.start(procs, f"receiver-{scenario}-{store}")
        bodies = [{"url": receiver.webhook_url(n), "rate_limit": limit} for n in range(webhooks)]
        await seed(run, url, bodies, events)
        progress(f"{store} {scenario}: {webhooks} webhooks x {events} events published")
        arrivals, first, use = await drained(run, procs, store, url, receiver,
                                             cycle * (1.5 + cycles), webhooks * events)  # fmt: skip
    received: defaultdict[str, list[float]] = defaultdict(list)  # by the webhook's path
    for key, at in arrivals.first.items():
        received[key.split()[0]].append(at)
    started: defaultdict[str, list[float]] = defaultdict(list)
    lags = []  # from the start an attempt recorded to its arrival at the receiver, ms
    for attempt in await attempts(store, url):
        started[attempt.webhook_id].append(attempt.start)
        if attempt.arrival in arrivals.first:
            lags.append((arrivals.first[attempt.arrival] - attempt.start) * 1000)
    lags.sort()
    everything = sorted(arrivals.first.values())
    begin, end = first + 1.5 * cycle, first + (1.5 + cycles) * cycle
    steady = sum(1 for at in everything if begin <= at < end) / (end - begin)
    total, most = webhooks * limit["max"] / period, limit["max"]
    round_one = everything[min(len(everything), webhooks * most) - 1] - first
    receiver_most = [most_in(times, period) for times in received.values()]
    starts_most = [most_in(times, period) for times in started.values()]
    return {"webhooks": webhooks, "events_each": events, "cycles": cycles,
            "window_s": round(end - begin, 2), "sum_per_s": round(total, 2),
            "per_s": round(steady, 2), "of_sum": round(steady / total, 4),
            "floor_of_sum": round(SLOTS / SPAN, 4), "first_round_s": round(round_one, 2),
            "first_round_per_s": round(webhooks * most / max(round_one, 1e-3), 1),
            "arrived": len(everything), "duplicates": arrivals.duplicates,
            "most_in_a_period_receiver": max(receiver_most),
            "most_in_a_period_starts": max(starts_most),
            "over_limit_receiver": sum(n > most for n in receiver_most),
            "over_limit_starts": sum(n > most for n in starts_most),
            "start_to_arrival_ms": {f"p{round(f * 100)}": round(kit.percentile(lags, f), 1)
                                    for f in (0.5, 0.99, 1.0)}, **use}  # fmt: skip


# --- fifo: one key at a time -------------------------------------------------------------------


async def fifo(run: Run, store: str, keys: int, events: int) -> dict[str, Any]:
    """``events`` events to one FIFO webhook, round-robin over ``keys`` ordering keys."""
    url = await run.store_url(store, f"fifo-{keys}-{events}")
    with processes(run.workdir) as procs:
        receiver = nginx.start(procs, f"receiver-fifo-{store}-{keys}")
        receipts = await seed(run, url, [{"url": receiver.webhook_url(0), "ordering": "fifo"}],
                              events, key=lambda i: f"key-{i % keys}")  # fmt: skip
        arrivals, first, use = await drained(run, procs, store, url, receiver, PHASE_CAP_S, events)
    path, published = urlsplit(receiver.webhook_url(0)).path, defaultdict(list)
    for i, receipt in enumerate(receipts):  # publish order: created_at, then the event's id
        stamp = datetime.fromisoformat(receipt["created_at"])
        published[i % keys].append((stamp, nginx.arrival_key(path, receipt["id"])))
    late = 0  # deliveries that arrived before an earlier one of their key
    for sent in published.values():
        times = [arrivals.first.get(key, 0.0) for _, key in sorted(sent)]
        late += sum(1 for a, b in pairwise(times) if b < a)
    by_key: defaultdict[str | None, list[tuple[float, float]]] = defaultdict(list)
    for attempt in await attempts(store, url):
        by_key[attempt.ordering_key].append((attempt.start, attempt.end))
    overlaps = sum(1 for spans in by_key.values()  # an attempt started before the last ended
                   for a, b in pairwise(sorted(spans)) if b[0] < a[1])  # fmt: skip
    arrived, seconds = len(arrivals.first), max(arrivals.first.values()) - first
    ordered, quarter = sorted(arrivals.first.values()), len(arrivals.first) // 4

    def ms_each(low: int) -> float:  # per delivery of a key, over a quarter of the arrivals
        return round((ordered[low + quarter - 1] - ordered[low]) / (quarter - 1) * keys * 1000, 2)

    return {"events": events, "arrived": arrived, "duplicates": arrivals.duplicates,
            "out_of_order": late, "overlapping_attempts": overlaps,
            "seconds": round(seconds, 2), "per_s": round(arrived / seconds, 1),
            "per_key_per_s": round(arrived / seconds / keys, 2),
            "ms_per_delivery_of_a_key": round(seconds * keys / arrived * 1000, 2),
            "ms_per_delivery_of_a_key_first_quarter": ms_each(0),
            "ms_per_delivery_of_a_key_last_quarter": ms_each(arrived - quarter),
            "capped": arrived < events, **use}  # fmt: skip


# --- the command -------------------------------------------------------------------------------


Measurement = tuple[dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], float]


def measurements(run: Run, store: str, args: Any) -> dict[str, list[Measurement]]:
    """Per scenario, on ``store``: what tells each line apart, its work and backstop (s)."""
    quick, fleet, limits = args.quick, args.fleet, args.fleet_limits
    claims, events = (20, CLAIM_EVENTS // 10) if quick else (args.claims, CLAIM_EVENTS)
    cycles = 1 if quick else 2  # the fleet's, after its first
    rate_cycles = round((10.0 if quick else RATE_SECONDS) / cycle_s(args.limit))
    control = max(limit["max"] for limit in limits)
    return {
        "claim": [({}, partial(claim, run, store, claims, events), 900)],
        "unchanged": [({}, partial(unchanged, store, args), 3600)],
        "fleet": [({"limit": None}, partial(unlimited_fleet, run, store, fleet, control), 900),
                  *(({"limit": limit}, partial(limited, run, store, fleet, limit, cycles), 1800)
                    for limit in limits)],
        "rate": [({"limit": args.limit}, partial(limited, run, store, 1, args.limit,
                                                 rate_cycles), 900)],
        "fifo": [({"keys": k}, partial(fifo, run, store, k, max(args.fifo_events, 50 * k)
                                       // (4 if quick else 1)), 900) for k in args.keys],
    }  # fmt: skip


async def main(args: Any) -> bool:
    results = kit.Results(not args.no_record)
    async with kit.started(args) as run:
        for scenario in (name for name in SCENARIOS if name in args.scenarios):
            for store in kit.stores(args):
                for extra, work, backstop in measurements(run, store, args)[scenario]:
                    ident = {"scenario": f"flow_{scenario}", "store": store, **extra}
                    if line := await results.measure(ident, work(), backstop):
                        results.emit(line)
    return not results.failed


def parse(argv: Sequence[str] | None = None) -> Any:
    parser = kit.parser(__doc__)
    parser.add_argument("--scenarios", type=lambda t: t.split(","), default=list(SCENARIOS),
                        help=f"comma-separated, of {','.join(SCENARIOS)}")  # fmt: skip
    parser.add_argument("--claims", type=int, default=40, help="timed claims per database")
    parser.add_argument("--old", default="/tmp/bench-old", help="the tree before, with .venv")
    parser.add_argument("--rounds", type=int, default=3, help="drains per tree and store")
    parser.add_argument("--events", type=int, default=40_000, help="events per drain")
    parser.add_argument("--fleet", type=int, default=10_000, help="limited webhooks")
    parser.add_argument("--fleet-limits", type=lambda t: [read_rate(r) for r in t.split(",")],
                        default="6/minute,2/minute", help="each one a fleet")  # fmt: skip
    parser.add_argument("--limit", type=read_rate, default="200/second",
                        help="the rate scenario's limit")  # fmt: skip
    parser.add_argument("--keys", type=lambda t: [int(k) for k in t.split(",")],
                        default=[1, 10, 100], help="FIFO: ordering keys: 1,10,100")  # fmt: skip
    parser.add_argument("--fifo-events", type=int, default=2000, help="FIFO: at least 50 a key")
    args = parser.parse_args(argv)
    if set(args.scenarios) - set(SCENARIOS) or min(args.keys) < 1 or args.rounds < 1:
        parser.error(f"--scenarios of {','.join(SCENARIOS)}; --keys, --rounds positive")
    return args


if __name__ == "__main__":
    kit.main(lambda: main(parse()))
