"""Publishing over HTTP: events/s that ``POST /api/v1/events`` accepts under load (issue 5),
and inbound requests/s that ``POST /api/v1/inbound/{id}`` verifies, stores and publishes
(issue 6).

    .venv/bin/python bench/http_publish.py [--store sqlite|postgres|both] [--quick]
                                           [--seconds 20] [--receiver nginx|python]
                                           [--scenarios publish,custom,inbound]

``custom`` (the same wrk setup) publishes the same event as a tenant's own type,
``bench.custom-state-changed``, created before the run with the built-in type's schema: a
tenant's schema runs in the schema sandbox's child processes, a built-in one in-process.

``inbound`` (the same wrk setup) POSTs a GitHub-signed request of the same size (the example
event as the body with a number of its own, ``X-Hub-Signature-256`` over it, and a new
``X-GitHub-Delivery``) to an inbound webhook. GitHub's delivery id is signed by nothing, so
hookwire dedupes such requests by their body: every request carries a body it has not seen,
drawn from a pool of signed bodies written before the run (the warm-up and the measured run
take different parts of it); each accepted request is stored and
published as ``inbound.received`` to the one outbound webhook, which delivers it meanwhile.
Its ceiling is the same script against the receiver.

The load comes from wrk (Debian's package, installed with apt-get when missing), a separate
process: 1 thread (the machine has 2 cores), 32 connections, each POSTing the catalog example
event ``{"type": "integration-state-changed", "data": <example>}`` with ``Authorization:
Bearer <token>`` back to back (closed loop), for 20 s (10 s with --quick) after a 3 s warm-up
run whose figures are thrown away. A Lua ``response()`` hook counts every answer whose status
is not the expected one (202 from hookwire, 204 from the receiver); ``done()`` prints the
figures as JSON (latency percentiles are wrk's, from its histogram; ``--latency`` is on).

Setups, each in a fresh database with one webhook pointing at the receiver (nginx on
loopback, as in bench/deliver.py), so deliveries really happen while publishing:

- ``sqlite``: one ``hookwire serve`` process (API and delivery in one process);
- ``postgres``: ``hookwire migrate``, then ``hookwire api`` and 2 ``hookwire worker``;
- ``ceiling``: the same wrk script against the receiver itself (nginx answering 204): what
  this client and loopback can do at all. The bar of issue 5 is absolute (2,000 events/s);
  the ratio to the ceiling is reported beside it.

Reported per setup (one JSON line, ``scenario: publish``): accepted events/s (answers with the
expected status / the run's duration), latency p50/p99, how many answers had another status
and wrk's socket errors, the deliveries that reached the receiver during the run, and the CPU
of each process (wrk, hookwire's processes, the receiver, PostgreSQL) in cores. A markdown
summary follows on stdout; bench/run.py puts the figures into bench/RESULTS.md. Only loopback;
every process and the throw-away database go away at the end, also on failure or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import deliver, nginx, report
from bench.deliver import (
    BenchError,
    CpuMeter,
    Database,
    Keys,
    Plan,
    Processes,
    Receiver,
    StoreName,
)

from hookwire.catalog.builtin import load_builtin

THREADS: Final = 1
CONNECTIONS: Final = 32
SECONDS: Final = 20.0
QUICK_SECONDS: Final = 10.0
WARMUP_S: Final = 3.0
WRK_TIMEOUT_S: Final = 10  # a request unanswered this long counts as a timeout error
WRK_GRACE_S: Final = 30.0  # beyond the run's duration, before wrk is killed
MARKER: Final = "WRK-JSON "
EVENT_TYPES_PATH: Final = "/api/v1/event-types"
SCENARIOS: Final = ("publish", "custom", "inbound")
CUSTOM_TYPE: Final = "bench.custom-state-changed"

PUBLISH_LUA: Final = """\
-- written by bench/http_publish.py: POST one event per request, count unexpected statuses
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""
INBOUND_LUA: Final = """\
-- written by bench/http_publish.py: POST one GitHub-signed request per request, each a body of
-- its own from the pool (signature, tab, body on each line) and a delivery id of its own (run
-- name, thread, counter); count unexpected statuses
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "push"

local pool = {{}}
for line in io.lines("{pool}") do
  local tab = line:find("\t", 1, true)
  pool[#pool + 1] = {{line:sub(1, tab - 1), line:sub(tab + 1)}}
end

local sent = 0

function request()
  local first = (run == "wrk-warmup") and 0 or {measured_from}
  local entry = pool[(first + sent * {threads} + tid - 1) % #pool + 1]
  sent = sent + 1
  wrk.headers["X-Hub-Signature-256"] = entry[1]
  wrk.headers["X-GitHub-Delivery"] = run .. "-" .. tid .. "-" .. sent
  return wrk.format(nil, nil, nil, entry[2])
end
"""
POOL_RATE: Final = 5_000  # requests/s the pool is sized for: more than any store reaches here
LUA: Final = """\
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  expected = tonumber(args[1]) or 202
  run = args[2] or "run"
  unexpected = 0
  statuses = {{}}
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
  end
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local wrong, codes = 0, {{}}
  for _, thread in ipairs(threads) do
    wrong = wrong + thread:get("unexpected")
    for status, n in pairs(thread:get("statuses")) do
      codes[#codes + 1] = string.format('"%d": %d', status, n)
    end
  end
  local e = summary.errors
  io.write(string.format(
    '{marker}{{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d, "unexpected": %d, "statuses": {{%s}}, ' ..
    '"socket_errors": {{"connect": %d, "read": %d, "write": %d, "timeout": %d}}}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, wrong, table.concat(codes, ", "),
    e.connect, e.read, e.write, e.timeout))
end
"""


def progress(message: str) -> None:
    print(f"[http_publish] {message}", file=sys.stderr, flush=True)


def find_or_install_wrk() -> str:
    """wrk's binary, installed from Debian's packages if missing (raises NginxUnavailable)."""
    return shutil.which("wrk") or nginx.install_package(("wrk",), lambda: shutil.which("wrk"))


def wrk_version(binary: str) -> str:
    """``wrk debian/4.1.0-3+b2 [epoll] ...`` → ``wrk 4.1.0-3+b2``."""
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10,
                          check=False)  # fmt: skip
    words = (done.stdout or done.stderr).split()
    return f"wrk {words[1].rpartition('/')[2]}" if len(words) > 1 else "wrk"


INBOUND_SECRET: Final = "bench-github-secret-0123456789"


def write_pool(path: Path, seconds: float) -> int:
    """Signed inbound bodies, one a line (``sha256=<hex>``, a tab, the body), enough for the
    warm-up and then the measured run at POOL_RATE; where the measured run's part starts."""
    warmup = int(WARMUP_S * POOL_RATE)
    data = deliver.example_data()
    with path.open("w", encoding="utf-8") as pool:
        for n in range(warmup + int(seconds * POOL_RATE)):
            body = orjson.dumps({"type": deliver.EVENT_TYPE, "n": n, "data": data})
            digest = hmac.new(INBOUND_SECRET.encode(), body, hashlib.sha256).hexdigest()
            pool.write(f"sha256={digest}\t{body.decode()}\n")
    return warmup


def write_scripts(workdir: Path, token: str, seconds: float) -> dict[str, Path]:
    """The Lua script of each scenario, with the catalog example event as the body."""
    body = orjson.dumps({"type": deliver.EVENT_TYPE, "data": deliver.example_data()}).decode()
    custom = orjson.dumps({"type": CUSTOM_TYPE, "data": deliver.example_data()}).decode()
    if "]==]" in body or '"' in token:
        raise BenchError("the body or the token cannot be embedded in the Lua script")
    pool = workdir / "inbound-pool.txt"
    measured_from = write_pool(pool, seconds)
    heads = {
        "publish": PUBLISH_LUA.format(body=body, token=token),
        "custom": PUBLISH_LUA.format(body=custom, token=token),
        "inbound": INBOUND_LUA.format(pool=pool, measured_from=measured_from, threads=THREADS),
    }
    scripts = {}
    for scenario, head in heads.items():
        scripts[scenario] = workdir / f"{scenario}.lua"
        text = head + "\n" + LUA.format(marker=MARKER)
        scripts[scenario].write_text(text, encoding="utf-8")
    return scripts


@dataclass(frozen=True, slots=True)
class Load:
    """What the measured wrk run did (its done() figures) and the CPU meanwhile."""

    figures: dict[str, Any]
    started: float  # wall clock
    ended: float
    cpu: dict[str, float]


@dataclass(frozen=True, slots=True)
class Target:
    """Where wrk points and who to account CPU for."""

    store: str  # sqlite, postgres, ceiling
    url: str
    expected: int  # the status of an accepted request
    roles: Mapping[str, Sequence[int]]
    postgres: bool = False


async def run_wrk(
    procs: Processes, wrk: str, script: Path, target: Target, seconds: float, name: str
) -> Load:
    """One wrk run (a child process: stopped with the others on failure); its figures."""
    argv = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:.0f}s", "--latency",
            f"--timeout={WRK_TIMEOUT_S}s", "-s", str(script), target.url, "--",
            str(target.expected), name]  # fmt: skip
    process = procs.start(name, argv, stop_signal=signal.SIGINT)
    meter = CpuMeter({"wrk": [process.pid], **target.roles}, postgres=target.postgres)
    meter.start()
    started = time.time()
    deadline = time.monotonic() + seconds + WRK_GRACE_S
    while not exited(process.pid):
        if time.monotonic() > deadline:
            raise BenchError(f"wrk did not finish within {seconds + WRK_GRACE_S:.0f} s")
        await asyncio.sleep(0.1)
    ended = time.time()
    cpu = meter.stop()  # wrk is a zombie still: its CPU times are in /proc until it is reaped
    process.wait()
    procs.stop(name)
    output = procs.output(name, lines=200)
    found = [line for line in output.splitlines() if line.startswith(MARKER)]
    if process.returncode != 0 or not found:
        raise BenchError(f"wrk exited with {process.returncode}:\n{output}")
    return Load(orjson.loads(found[-1][len(MARKER) :]), started, ended, cpu)


def exited(pid: int) -> bool:
    """Whether the child exited, without reaping it (WNOWAIT)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def deliveries_between(log: Path, started: float, ended: float) -> int:
    """Requests the receiver logged in the window (its log is flushed every 100 ms)."""
    if not log.exists():
        return 0
    with log.open(encoding="utf-8") as lines:
        return sum(1 for line in lines if started <= float(line.split("\t", 1)[0]) <= ended)


def figures(
    scenario: str, target: Target, load: Load, receiver: Receiver, label: str
) -> dict[str, Any]:
    """The JSON line of one setup."""
    got = load.figures
    seconds = got["duration_us"] / 1e6
    accepted = got["requests"] - got["unexpected"]
    during = 0
    if target.store != "ceiling":  # the ceiling's log holds wrk's own requests
        during = deliveries_between(receiver.log, load.started, load.ended)
    errors = got["socket_errors"]
    return {
        "bench": "http_publish",
        "scenario": scenario,
        "store": target.store,
        "receiver": label,
        "threads": THREADS,
        "connections": CONNECTIONS,
        "seconds": round(seconds, 2),
        "requests": got["requests"],
        "events_per_s": round(accepted / seconds, 1) if seconds else 0.0,
        "p50_ms": round(got["p50_us"] / 1000, 2),
        "p99_ms": round(got["p99_us"] / 1000, 2),
        "mean_ms": round(got["mean_us"] / 1000, 2),
        "max_ms": round(got["max_us"] / 1000, 2),
        "expected_status": target.expected,
        "unexpected_status": got["unexpected"],
        "statuses": got["statuses"],
        "socket_errors": sum(errors.values()),
        "deliveries_during": during,
        "deliveries_per_s_during": round(during / seconds, 1) if seconds else 0.0,
        "cpu": load.cpu,
        "note": "socket errors " + ", ".join(f"{k} {v}" for k, v in errors.items()),
    }


async def create_webhooks(scenario: str, base_url: str, token: str, receiver: Receiver) -> str:
    """One outbound webhook at the receiver (for ``inbound``: subscribed to what arrives, and
    an inbound GitHub webhook beside it); the path wrk POSTs to."""
    bodies: list[tuple[str, dict[str, Any]]] = [
        (deliver.WEBHOOKS_PATH, {"url": receiver.webhook_url(0)})
    ]
    if scenario == "inbound":
        inbound = {"direction": "inbound", "signature_scheme": "github", "secret": INBOUND_SECRET}
        subscribed = {**bodies[0][1], "event_types": ["inbound.received"]}
        bodies = [(deliver.WEBHOOKS_PATH, subscribed), (deliver.WEBHOOKS_PATH, inbound)]
    if scenario == "custom":  # the tenant's own type, with the built-in type's schema
        schema = load_builtin()[deliver.EVENT_TYPE].schema
        bodies.insert(0, (EVENT_TYPES_PATH, {"name": CUSTOM_TYPE, "schema": schema}))
    async with deliver.api_client("aiohttp", base_url, token) as post:
        for path, body in bodies:
            status, answer = await post(path, orjson.dumps(body))
            if status != 201:
                raise BenchError(f"POST {path} answered {status}: {answer}")
    return f"/api/v1/inbound/{answer['id']}" if scenario == "inbound" else deliver.EVENTS_PATH


@dataclass(frozen=True, slots=True)
class Context:
    plan: Plan
    wrk: str
    scripts: dict[str, Path]
    seconds: float


async def measure(ctx: Context, scenario: str, store: str, db: Database | None) -> dict[str, Any]:
    """Warm-up, then the measured wrk run, against one setup."""
    plan, script, what = ctx.plan, ctx.scripts[scenario], f"{scenario} {store}"
    with deliver.processes(plan.workdir) as procs:
        receiver = await deliver.start_receiver(procs, f"receiver-{store}", plan.receiver)
        if store == "ceiling":
            target = Target(store, receiver.webhook_url(0), 204, {"receiver": receiver.pids})
        else:
            target = await start_hookwire(ctx, scenario, procs, store, db, receiver)
        progress(f"{what}: warming up for {WARMUP_S:.0f} s")
        await run_wrk(procs, ctx.wrk, script, target, WARMUP_S, "wrk-warmup")
        progress(f"{what}: wrk for {ctx.seconds:.0f} s")
        async with deliver.database_waits(db) as waits:
            load = await run_wrk(procs, ctx.wrk, script, target, ctx.seconds, "wrk")
        procs.stop_all()  # the receiver flushes its log
        line = figures(scenario, target, load, receiver, plan.receiver.label)
    if waits is not None:
        line["note"] += f"; {waits.summary()}"
    return line


async def start_hookwire(
    ctx: Context,
    scenario: str,
    procs: Processes,
    store: str,
    db: Database | None,
    receiver: Receiver,
) -> Target:
    """`hookwire serve` (SQLite) or `hookwire api` + 2 workers (PostgreSQL, migrated), up and
    with its webhooks (see create_webhooks)."""
    plan = ctx.plan
    name: StoreName = "sqlite" if store == "sqlite" else "postgres"
    url = await deliver.store_url(plan, db, scenario)
    if db is not None:
        await deliver.migrate(plan, url)
    port = nginx.free_port()
    roles = deliver.start_engine(procs, plan, name, url, port, api=True)
    base_url = f"http://127.0.0.1:{port}"
    await deliver.wait_healthy(base_url, procs)
    path = await create_webhooks(scenario, base_url, plan.keys.token(), receiver)
    roles = {**roles, "receiver": receiver.pids}
    return Target(store, base_url + path, 202, roles, db is not None)


async def phase(ctx: Context, scenario: str, store: str, db: Database | None) -> dict[str, Any]:
    """One setup; a failure becomes a ``failed`` line and the run goes on."""
    try:
        async with asyncio.timeout(ctx.seconds + WARMUP_S + 4 * deliver.PHASE_CAP_S):
            line = await measure(ctx, scenario, store, db)
    except Exception as exc:  # any failure: record it, go on with the next setup
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        progress(f"{scenario} {store} FAILED: {reason}")
        line = {"bench": "http_publish", "scenario": scenario, "store": store, "failed": reason}
    return deliver.emit_line(line)


async def run(options: argparse.Namespace) -> list[dict[str, Any]]:
    this = asyncio.current_task()
    if this is not None:  # SIGTERM unwinds like Ctrl-C: processes stopped, database dropped
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, this.cancel)
    stores = ("sqlite", "postgres") if options.store == "both" else (options.store,)
    db = Database(options.pg_url) if "postgres" in stores else None
    if db is not None:
        await db.server_settings()  # fails early when PostgreSQL is not there
    wrk = await asyncio.to_thread(find_or_install_wrk)
    receiver = await asyncio.to_thread(deliver.choose_receiver, options.receiver)
    seconds = options.seconds or (QUICK_SECONDS if options.quick else SECONDS)
    print(f"# {wrk_version(wrk)}, {THREADS} thread, {CONNECTIONS} connections, {seconds:.0f} s "
          f"after {WARMUP_S:.0f} s of warm-up; receiver: {receiver.label}", flush=True)  # fmt: skip
    lines = []
    with tempfile.TemporaryDirectory(prefix="hw_bench_http_publish_") as tmp:
        keys = Keys()
        plan = Plan(Path(tmp), keys, 0, 0, (), 0.0, "aiohttp", receiver)
        ctx = Context(plan, wrk, write_scripts(Path(tmp), keys.token(), seconds), seconds)
        try:
            for scenario in options.scenarios.split(","):
                for store in ("ceiling", *stores):
                    pg = db if store == "postgres" else None
                    lines.append(await phase(ctx, scenario, store, pg))
        finally:
            if db is not None:
                await db.drop()
    return lines


def parse_options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SECONDS:.0f} s per run")
    parser.add_argument("--seconds", type=float, help=f"per run (default {SECONDS:.0f})")
    parser.add_argument("--pg-url", default=deliver.ADMIN_URL, help="admin URL (loopback only)")
    parser.add_argument("--receiver", choices=("nginx", "python"), default="nginx")
    parser.add_argument(
        "--scenarios", default="publish", help="publish,custom,inbound (comma-separated)"
    )
    options = parser.parse_args(argv)
    if set(options.scenarios.split(",")) - set(SCENARIOS):
        parser.error(f"--scenarios: choose from {', '.join(SCENARIOS)}")
    return options


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_options(argv)
    try:
        lines = asyncio.run(run(options))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted; child processes stopped and the benchmark database dropped")
        raise SystemExit(130) from None
    print("\n" + report.summary_table(lines) + "\n\n" + report.details(lines), flush=True)
    if any("failed" in line for line in lines):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
