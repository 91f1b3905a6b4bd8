"""Over HTTP, under wrk: events/s that ``POST /api/v1/events`` accepts (publish) and
requests/s that ``POST /api/v1/inbound/{id}`` verifies, stores and publishes (inbound), with
one webhook delivered meanwhile; beside the same wrk script against nginx (the ceiling).

    .venv/bin/python bench/http_publish.py [--scenarios publish,inbound] [--seconds 20]
        [--store sqlite|postgres|both] [--quick] [--no-record]

wrk: 1 thread, 32 connections, closed loop, a 3 s warm-up whose figures are dropped, then
20 s (10 with --quick). bench/README.md says more.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import kit, nginx
from bench.harness import HarnessError, Processes, free_port, processes
from bench.kit import EVENT_TYPE, CpuMeter, Run

THREADS: Final = 1
CONNECTIONS: Final = 32
WARMUP_S: Final = 3.0
MARKER: Final = "WRK-JSON "
SECRET: Final = "bench-github-secret-0123456789"
POOL_RATE: Final = 5_000  # inbound requests/s the pool of signed bodies is sized for
SCENARIOS: Final = ("publish", "inbound")

PUBLISH_LUA: Final = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""
# GitHub's delivery id is signed by nothing, so hookwire dedupes inbound requests by body:
# each request takes a body of its own from a pool signed beforehand (the warm-up and the
# measured run take different parts of it).
INBOUND_LUA: Final = """\
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
# Counts answers with another status than expected; done() prints wrk's figures as JSON.
LUA: Final = """\
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
function init(args)
  expected, run, unexpected = tonumber(args[1]) or 202, args[2] or "run", 0
end
function response(status, headers, body)
  if status ~= expected then unexpected = unexpected + 1 end
end
function done(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do wrong = wrong + thread:get("unexpected") end
  local e = summary.errors
  io.write(string.format(
    '{marker}{{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "unexpected": %d, "socket_errors": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, wrong, e.connect + e.read + e.write + e.timeout))
end
"""


def write_scripts(workdir: Path, token: str, seconds: float) -> dict[str, Path]:
    """The Lua script of each scenario, and the inbound pool of signed bodies."""
    data = kit.example_data()
    body = orjson.dumps({"type": EVENT_TYPE, "data": data}).decode()
    pool, warmup = workdir / "inbound-pool.txt", int(WARMUP_S * POOL_RATE)
    with pool.open("w", encoding="utf-8") as out:
        for n in range(warmup + int(seconds * POOL_RATE)):
            raw = orjson.dumps({"type": EVENT_TYPE, "n": n, "data": data})
            digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
            out.write(f"sha256={digest}\t{raw.decode()}\n")
    heads = {
        "publish": PUBLISH_LUA.format(body=body, token=token),
        "inbound": INBOUND_LUA.format(pool=pool, measured_from=warmup, threads=THREADS),
    }
    scripts = {name: workdir / f"{name}.lua" for name in heads}
    for name, head in heads.items():
        scripts[name].write_text(head + LUA.format(marker=MARKER), encoding="utf-8")
    return scripts


async def run_wrk(
    procs: Processes,
    script: Path,
    url: str,
    expected: int,
    seconds: float,
    name: str,
    roles: Mapping[str, Sequence[int]],
    pg: bool,
) -> dict[str, Any]:
    """One wrk run (stopped with the other processes on failure): its figures, the CPU of
    every role meanwhile, and its wall-clock window."""
    wrk = nginx.install("wrk", "wrk")
    argv = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:.0f}s", "--latency",
            "--timeout=10s", "-s", str(script), url, "--", str(expected), name]  # fmt: skip
    process = procs.start(name, argv, stop_signal=signal.SIGINT)
    meter = CpuMeter({"wrk": [process.pid], **roles}, postgres=pg)
    meter.start()
    started, deadline = time.time(), time.monotonic() + seconds + 30
    # wait without reaping: until it is, wrk's CPU times are still in /proc
    while os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() > deadline:
            raise HarnessError(f"wrk did not finish within {seconds + 30:.0f} s")
        await asyncio.sleep(0.1)
    ended, cpu = time.time(), meter.stop()
    procs.stop(name)
    found = [ln for ln in procs.output(name, 200).splitlines() if ln.startswith(MARKER)]
    if process.returncode != 0 or not found:
        raise HarnessError(f"wrk exited with {process.returncode}:\n{procs.output(name)}")
    return {**orjson.loads(found[-1][len(MARKER) :]), "cpu": cpu, "window": (started, ended)}


async def start_hookwire(run: Run, procs: Processes, scenario: str, store: str,
                         receiver: nginx.Receiver) -> tuple[str, dict[str, list[int]]]:  # fmt: skip
    """`hookwire serve` (SQLite) or `hookwire api` + 2 workers (PostgreSQL), healthy, with
    one webhook at the receiver (and for ``inbound`` an inbound GitHub webhook); the URL wrk
    POSTs to, and the roles."""
    url, port = await run.store_url(store, scenario), free_port()
    roles = run.start_engine(procs, store, url, port, api=True)
    base_url = f"http://127.0.0.1:{port}"
    await procs.until_healthy(base_url, 60)
    outbound: dict[str, Any] = {"url": receiver.webhook_url(0)}
    bodies = [outbound]
    if scenario == "inbound":
        outbound["event_types"] = ["inbound.received"]
        bodies.append({"direction": "inbound", "signature_scheme": "github", "secret": SECRET})
    async with kit.api(base_url, run.token()) as post:
        ids = [await kit.create_webhook(post, body) for body in bodies]
    path = f"/api/v1/inbound/{ids[-1]}" if scenario == "inbound" else kit.EVENTS_PATH
    return base_url + path, roles


async def measure(run: Run, scripts: dict[str, Path], seconds: float, scenario: str,
                  store: str) -> dict[str, Any]:  # fmt: skip
    """Warm-up, then the measured wrk run, against one setup (``store``, or the ceiling)."""
    with processes(run.workdir) as procs:
        receiver = nginx.start(procs, f"receiver-{scenario}-{store}")
        roles: dict[str, list[int]] = {"receiver": receiver.pids}
        url, expected = receiver.webhook_url(0), 204
        if store != "ceiling":
            url, engine = await start_hookwire(run, procs, scenario, store, receiver)
            roles, expected = {**engine, **roles}, 202
        pg = store == "postgres"
        await run_wrk(procs, scripts[scenario], url, expected, WARMUP_S, "wrk-warmup", roles, pg)
        async with run.waits(store) as waits:
            got = await run_wrk(procs, scripts[scenario], url, expected, seconds, "wrk", roles, pg)
        procs.stop_all()  # the receiver flushes its log
        during = nginx.lines_between(receiver.log, *got["window"]) if store != "ceiling" else 0
    duration = got["duration_us"] / 1e6
    return {"threads": THREADS, "connections": CONNECTIONS,
            "seconds": round(duration, 2), "requests": got["requests"],
            "events_per_s": round((got["requests"] - got["unexpected"]) / duration, 1),
            "p50_ms": got["p50_us"] / 1000, "p99_ms": got["p99_us"] / 1000,
            "max_ms": got["max_us"] / 1000, "unexpected_status": got["unexpected"],
            "socket_errors": got["socket_errors"], "deliveries_during": during,
            "cpu": got["cpu"], "pg_waits": waits}  # fmt: skip


async def main(args: Any) -> bool:
    results = kit.Results(record=not args.no_record)
    seconds = args.seconds or (10.0 if args.quick else 20.0)
    wrk = await asyncio.to_thread(nginx.install, "wrk", "wrk")
    print(f"# {wrk}: {THREADS} thread, {CONNECTIONS} connections, {seconds:.0f} s after "
          f"{WARMUP_S:.0f} s of warm-up", flush=True)  # fmt: skip
    async with kit.started(args) as run:
        scripts = write_scripts(run.workdir, run.token(), seconds)
        for scenario in args.scenarios:
            work = functools.partial(measure, run, scripts, seconds, scenario)
            ratios = ("events_per_s", "p50_ms", "p99_ms")
            await results.against_ceiling({"scenario": scenario}, kit.stores(args), work, ratios)
    return not results.failed


def parse(argv: Sequence[str] | None = None) -> Any:
    parser = kit.parser(__doc__)
    parser.add_argument("--seconds", type=float, help="per measured run (default 20)")
    parser.add_argument("--scenarios", type=lambda t: t.split(","), default=["publish"],
                        help=f"comma-separated, of {','.join(SCENARIOS)}")  # fmt: skip
    args = parser.parse_args(argv)
    if set(args.scenarios) - set(SCENARIOS):
        parser.error(f"--scenarios: choose from {', '.join(SCENARIOS)}")
    return args


if __name__ == "__main__":
    kit.main(lambda: main(parse()))
