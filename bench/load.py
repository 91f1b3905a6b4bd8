"""Mixed traffic for a long time, then the reckoning: no event lost, no error, no memory growth
(issue 8).

    .venv/bin/python bench/load.py [--minutes 30] [--store sqlite|postgres] [--rate 30]

hookwire runs as in production (SQLite: `hookwire serve`; PostgreSQL: `hookwire api` and two
`hookwire worker`) with two outbound webhooks at nginx on loopback, which answers 500 to a
random tenth of requests (bench/nginx.py), and one inbound GitHub webhook. An open loop then
sends, every second: ``--rate`` events (POST /api/v1/events), a quarter as many GitHub-signed
inbound requests (each published onward as ``inbound.received``), and a quarter as many CRUD
cycles (create, read, patch, list and delete a webhook that receives nothing).

Every ``--sample-s`` the resident memory of each hookwire process is recorded. When the time is
up the traffic stops and the run waits until every accepted event (published, and the
``inbound.received`` of every accepted inbound request) got a 2xx at both webhooks, then runs
`hookwire doctor`. It prints one JSON line and a summary, and exits 1 when an event was lost,
a request got an unexpected answer, doctor found anything, or a process's memory grew more
than ``--max-growth`` (default 25 %, plus 16 MiB of slack) from the end of the first quarter of
the run to its end. tests/acceptance/test_load.py runs it for one minute per store in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import deliver, nginx
from bench.database import ThrowawayDatabase
from bench.deliver import HOOKWIRE, Arrivals, Keys, Plan, Processes, arrival_key

SECRET: Final = "load-github-secret-0123456789"
RETRY: Final = {"initialDelayMs": 500, "maxDelayMs": 4000, "maxAttempts": 100}
SLACK_MIB: Final = 16.0


def progress(message: str) -> None:
    print(f"[load] {message}", file=sys.stderr, flush=True)


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass(slots=True)
class Tally:
    """What the load generator saw."""

    sent: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # accepted publishes
    inbound: int = 0  # accepted inbound requests

    def check(self, kind: str, status: int, expected: int, body: str = "") -> bool:
        self.sent[kind] += 1
        if status == expected:
            return True
        self.unexpected[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {status} {body[:200]}")
        return False


class Traffic:
    def __init__(self, http: aiohttp.ClientSession, base: str, inbound_id: str) -> None:
        self.http, self.base, self.inbound_id = http, base, inbound_id
        self.tally = Tally()
        self.limit = asyncio.Semaphore(64)
        self.serial = 0

    async def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
        async with self.limit, self.http.request(method, self.base + path, **kwargs) as answer:
            return answer.status, await answer.text()

    async def publish(self) -> None:
        body = {"type": "webhook_test", "data": {"test": True}}
        status, text = await self._request("POST", "/api/v1/events", json=body)
        if self.tally.check("publish", status, 202, text):
            self.tally.events.append(json.loads(text)["id"])

    async def inbound(self) -> None:
        self.serial += 1
        body = json.dumps({"action": "opened", "n": self.serial}).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "X-Hub-Signature-256": signature, "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": f"load-{self.serial}", "Content-Type": "application/json",
        }  # fmt: skip
        path = f"/api/v1/inbound/{self.inbound_id}"
        status, text = await self._request("POST", path, data=body, headers=headers)
        if self.tally.check("inbound", status, 202, text):
            self.tally.inbound += 1

    async def crud(self, target: str) -> None:
        hooks = "/api/v1/integration/webhooks"
        made = {"url": target, "event_types": ["load.never"], "name": "crud"}
        status, text = await self._request("POST", hooks, json=made)
        if not self.tally.check("create", status, 201, text):
            return
        url = f"{hooks}/{json.loads(text)['id']}"
        status, text = await self._request("GET", url)
        self.tally.check("read", status, 200, text)
        status, text = await self._request("PATCH", url, json={"name": "crud-2"},
                                           headers={"If-Match": '"1"'})  # fmt: skip
        self.tally.check("patch", status, 200, text)
        status, text = await self._request("GET", hooks, params={"limit": "20"})
        self.tally.check("list", status, 200, text)
        status, text = await self._request("DELETE", url)
        self.tally.check("delete", status, 204, text)


async def open_loop(traffic: Traffic, rate: float, seconds: float, target: str) -> None:
    """Start each second's requests on schedule (10 ticks a second), whatever the answers."""
    running: set[asyncio.Task[None]] = set()
    kinds = ((traffic.publish, rate), (traffic.inbound, rate / 4),
             (lambda: traffic.crud(target), rate / 4))  # fmt: skip
    owed = [0.0] * len(kinds)
    start = time.monotonic()
    tick = 0
    while time.monotonic() - start < seconds:
        for n, (make, per_second) in enumerate(kinds):
            owed[n] += per_second / 10
            while owed[n] >= 1:
                owed[n] -= 1
                task = asyncio.create_task(make())
                running.add(task)
                task.add_done_callback(running.discard)
        tick += 1
        await asyncio.sleep(max(0.0, start + tick / 10 - time.monotonic()))
    await asyncio.gather(*running)


async def sample_memory(roles: dict[str, list[int]], every: float, into: list[dict[str, Any]],
                        started: float) -> None:  # fmt: skip
    while True:
        row: dict[str, Any] = {"t_s": round(time.monotonic() - started)}
        for role, pids in roles.items():
            row[role] = rss_mib(pids[0])
        into.append(row)
        await asyncio.sleep(every)


async def received_events(http: aiohttp.ClientSession, base: str) -> list[str]:
    """The ``inbound.received`` event ids of every stored inbound message."""
    ids, cursor = [], None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        async with http.get(base + "/api/v1/inbound-messages", params=params) as answer:
            page = await answer.json()
        ids += [m["event_id"] for m in page["data"] if m["event_id"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


@dataclass(slots=True)
class Delivered:
    """From the receiver's log: the keys (path + webhook-id) that got a 2xx, and requests."""

    ok: set[str] = field(default_factory=set)
    requests: int = 0
    failed: int = 0

    def note(self, key: str, arrived_at: float, status: int) -> None:
        self.requests += 1
        if 200 <= status < 300:
            self.ok.add(key)
        else:
            self.failed += 1


def growth(samples: list[dict[str, Any]], role: str, max_growth: float) -> dict[str, Any]:
    series = [s[role] for s in samples if s.get(role) is not None]
    warm = series[len(series) // 4] if series else 0.0
    last, peak = (series[-1], max(series)) if series else (0.0, 0.0)
    limit = warm * (1 + max_growth) + SLACK_MIB
    return {"warm_mib": round(warm, 1), "end_mib": round(last, 1), "max_mib": round(peak, 1),
            "grew": last > limit, "limit_mib": round(limit, 1)}  # fmt: skip


async def run(options: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="hw_load_") as tmp,
        deliver.processes(Path(tmp)) as procs,
    ):
        return await run_in(options, Path(tmp), procs)


async def run_in(options: argparse.Namespace, workdir: Path, procs: Processes) -> dict[str, Any]:
    keys = Keys()
    choice = await asyncio.to_thread(deliver.choose_receiver, "nginx")
    receiver = await deliver.start_receiver(procs, "receiver", choice, fail_percent=10)
    plan = Plan(workdir, keys, 0, 0, (), 0.0, "aiohttp", choice)
    db = ThrowawayDatabase(options.pg_url, "hw_bench_load") if options.store == "postgres" else None
    url = await db.fresh() if db is not None else f"sqlite:///{workdir / 'load.db'}"
    try:
        if db is not None:
            await deliver.migrate(plan, url)
        port = nginx.free_port()
        roles = deliver.start_engine(procs, plan, options.store, url, port, api=True)
        base = f"http://127.0.0.1:{port}"
        await deliver.wait_healthy(base, procs)
        return await drive(options, Setup(keys, procs, receiver, roles, base, url, workdir))
    finally:
        procs.stop_all()
        if db is not None:
            await db.drop()


@dataclass(frozen=True, slots=True)
class Setup:
    """A running hookwire and its receiver."""

    keys: Keys
    procs: Processes
    receiver: deliver.Receiver
    roles: dict[str, list[int]]
    base: str
    url: str
    workdir: Path


async def drive(options: argparse.Namespace, setup: Setup) -> dict[str, Any]:
    keys, procs, receiver, roles, base = (
        setup.keys,
        setup.procs,
        setup.receiver,
        setup.roles,
        setup.base,
    )
    auth = {"Authorization": f"Bearer {keys.token()}"}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(headers=auth, timeout=timeout) as http:
        hooks = base + "/api/v1/integration/webhooks"
        paths = []
        for n in range(2):
            made = {"url": receiver.webhook_url(n), "retry_policy": RETRY, "name": f"load-{n}"}
            async with http.post(hooks, json=made) as answer:
                assert answer.status == 201, await answer.text()
            paths.append(urlsplit(receiver.webhook_url(n)).path)
        inbound = {"direction": "inbound", "signature_scheme": "github", "secret": SECRET}
        async with http.post(hooks, json=inbound) as answer:
            inbound_id = (await answer.json())["id"]
        traffic = Traffic(http, base, inbound_id)
        samples: list[dict[str, Any]] = []
        started = time.monotonic()
        sampler = asyncio.create_task(sample_memory(roles, options.sample_s, samples, started))
        seconds = options.minutes * 60
        progress(f"{options.store}: {options.rate}/s events for {seconds:.0f} s")
        await open_loop(traffic, options.rate, seconds, receiver.webhook_url(9))
        sent_s = time.monotonic() - started
        expected = traffic.tally.events + await received_events(http, base)
        wanted = {arrival_key(path, event_id) for path in paths for event_id in expected}
        delivered = Delivered()
        arrivals = Arrivals(receiver.log, by_path=True, listener=delivered.note)
        deadline = time.monotonic() + options.drain_s
        while wanted - delivered.ok and time.monotonic() < deadline:
            arrivals.read()
            procs.check_alive()
            await asyncio.sleep(0.5)
        arrivals.read()
        sampler.cancel()
    lost = len(wanted - delivered.ok)
    doctor = await asyncio.to_thread(
        subprocess.run, [HOOKWIRE, "doctor"], env=keys.env(setup.url, setup.workdir),
        cwd=setup.workdir,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    memory = {role: growth(samples, role, options.max_growth) for role in roles}
    tally = traffic.tally
    return {
        "bench": "load", "store": options.store, "minutes": options.minutes, "rate": options.rate,
        "seconds_sending": round(sent_s, 1), "requests": dict(tally.sent),
        "unexpected": dict(tally.unexpected), "examples": tally.examples,
        "events_accepted": len(tally.events), "inbound_accepted": tally.inbound,
        "deliveries_expected": len(wanted), "lost": lost,
        "receiver_requests": delivered.requests, "receiver_500s": delivered.failed,
        "doctor_healthy": doctor.returncode == 0, "memory": memory,
        "memory_samples": samples,
    }  # fmt: skip


def failed(result: dict[str, Any]) -> list[str]:
    problems = []
    if result["lost"]:
        problems.append(f"{result['lost']} deliveries never got a 2xx")
    if sum(result["unexpected"].values()):
        problems.append(f"unexpected answers: {result['unexpected']} {result['examples']}")
    if not result["doctor_healthy"]:
        problems.append("hookwire doctor found problems")
    problems += [f"{role} memory grew: {m}" for role, m in result["memory"].items() if m["grew"]]
    return problems


def summary(result: dict[str, Any]) -> str:
    requests = sum(result["requests"].values())
    errors = sum(result["unexpected"].values())
    lines = [
        f"load on {result['store']}: {result['minutes']} min at {result['rate']} events/s "
        f"(+{result['rate'] / 4:g} inbound/s, +{result['rate'] / 4:g} CRUD cycles/s)",
        f"requests {requests}, unexpected answers {errors} ({errors / max(requests, 1):.4%})",
        f"events accepted {result['events_accepted']}, inbound accepted "
        f"{result['inbound_accepted']}, deliveries expected {result['deliveries_expected']}, "
        f"lost {result['lost']}",
        f"receiver: {result['receiver_requests']} requests, {result['receiver_500s']} answered "
        "500 on purpose (then retried)",
        f"doctor: {'healthy' if result['doctor_healthy'] else 'PROBLEMS'}",
    ]
    for role, m in result["memory"].items():
        lines.append(f"{role} RSS MiB: after the first quarter {m['warm_mib']}, end "
                     f"{m['end_mib']}, max {m['max_mib']} (limit {m['limit_mib']})")  # fmt: skip
    samples = result["memory_samples"]
    step = max(len(samples) // 10, 1)
    lines.append("memory over time (MiB): " + "; ".join(
        f"{s['t_s']} s " + ", ".join(f"{role} {s[role]:.1f}" for role in result["memory"]
                                     if s.get(role) is not None)
        for s in samples[::step]
    ))  # fmt: skip
    return "\n".join(lines)


def parse_options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rate", type=float, default=30.0, help="events per second")
    parser.add_argument("--sample-s", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--drain-s", type=float, default=180.0, help="wait for the last ones")
    parser.add_argument("--max-growth", type=float, default=0.25)
    parser.add_argument("--pg-url", default=deliver.ADMIN_URL)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    options = parse_options(argv)
    try:
        result = asyncio.run(run(options))
    except KeyboardInterrupt:
        progress("interrupted; child processes stopped and the database dropped")
        raise SystemExit(130) from None
    print(json.dumps({k: v for k, v in result.items() if k != "memory_samples"}), flush=True)
    print(summary(result), flush=True)
    problems = failed(result)
    for problem in problems:
        print(f"FAILED: {problem}", flush=True)
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    main()
