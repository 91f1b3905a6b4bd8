"""Mixed traffic for a long time, then the reckoning: no event lost, no error, no memory growth
(issue 8).

    .venv/bin/python bench/load.py [--minutes 30] [--store sqlite|postgres] [--rate 30]
        [--sample-s 10] [--record]

hookwire runs as in production (SQLite: `hookwire serve`; PostgreSQL: `hookwire api` and two
`hookwire worker`) with two outbound webhooks at nginx, which answers 500 to a random tenth of
requests, and one inbound GitHub webhook. An open loop sends, every second, ``--rate`` events,
a quarter as many GitHub-signed inbound requests (each published onward as
``inbound.received``) and a quarter as many CRUD cycles (create, read, patch, list, delete a
webhook that receives nothing). Every ``--sample-s`` the RSS of each hookwire process is
recorded. When the time is up the run waits until every accepted event got a 2xx at both
webhooks, then runs `hookwire doctor`. It prints one JSON line and a summary, and exits 1 when
an event was lost, a request got an unexpected answer, doctor found anything, or a process's
memory grew more than ``--max-growth`` (25 %, plus 16 MiB) from the end of the first quarter
of the run to its end. tests/acceptance/test_load.py runs it for one minute per store.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import kit, nginx
from bench.harness import free_port, processes, run
from bench.kit import Run, progress

SECRET: Final = "load-github-secret-0123456789"
RETRY: Final = {"initialDelayMs": 500, "maxDelayMs": 4000, "maxAttempts": 100}
SLACK_MIB: Final = 16.0
HOOKS: Final = kit.WEBHOOKS_PATH


@dataclass(slots=True)
class Traffic:
    """The load generator and what it saw."""

    http: aiohttp.ClientSession
    base: str
    inbound_id: str
    sent: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # accepted publishes
    inbound: int = 0  # accepted inbound requests
    serial: Iterator[int] = field(default_factory=itertools.count)  # GitHub's bodies must differ
    limit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(64))

    async def call(self, kind: str, expected: int, method: str, path: str, **kw: Any) -> str | None:
        """One request; its answer's text when the status is the expected one."""
        async with self.limit, self.http.request(method, self.base + path, **kw) as answer:
            status, text = answer.status, await answer.text()
        self.sent[kind] += 1
        if status == expected:
            return text
        self.unexpected[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {status} {text[:200]}")
        return None

    async def publish(self) -> None:
        body = {"type": "webhook_test", "data": {"test": True}}
        if (
            text := await self.call("publish", 202, "POST", kit.EVENTS_PATH, json=body)
        ) is not None:
            self.events.append(json.loads(text)["id"])

    async def inbound_request(self) -> None:
        n = next(self.serial)
        body = json.dumps({"action": "opened", "n": n}).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature-256": signature, "X-GitHub-Event": "issues",
                   "X-GitHub-Delivery": f"load-{n}",
                   "Content-Type": "application/json"}  # fmt: skip
        path = f"/api/v1/inbound/{self.inbound_id}"
        if await self.call("inbound", 202, "POST", path, data=body, headers=headers) is not None:
            self.inbound += 1

    async def crud(self, target: str) -> None:
        made = {"url": target, "event_types": ["load.never"], "name": "crud"}
        if (text := await self.call("create", 201, "POST", HOOKS, json=made)) is None:
            return
        url = f"{HOOKS}/{json.loads(text)['id']}"
        await self.call("read", 200, "GET", url)
        await self.call(
            "patch", 200, "PATCH", url, json={"name": "crud-2"}, headers={"If-Match": '"1"'}
        )
        await self.call("list", 200, "GET", HOOKS, params={"limit": "20"})
        await self.call("delete", 204, "DELETE", url)


async def open_loop(
    kinds: Sequence[tuple[Callable[[], Coroutine[Any, Any, None]], float]], seconds: float
) -> None:
    """Start each kind's requests on schedule (per second, 10 ticks a second), whatever the
    answers."""
    running: set[asyncio.Task[None]] = set()
    owed = [0.0] * len(kinds)
    start, tick = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        for n, (make, per_second) in enumerate(kinds):
            owed[n] += per_second / 10
            while owed[n] >= 1:
                owed[n] -= 1
                running.add(task := asyncio.create_task(make()))
                task.add_done_callback(running.discard)
        tick += 1
        await asyncio.sleep(max(0.0, start + tick / 10 - time.monotonic()))
    await asyncio.gather(*running)


async def received_events(http: aiohttp.ClientSession, base: str) -> list[str]:
    """The ``inbound.received`` event ids of every stored inbound message."""
    ids, cursor = [], None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        async with http.get(base + "/api/v1/inbound-messages", params=params) as answer:
            page = await answer.json()
        ids += [message["event_id"] for message in page["data"] if message["event_id"]]
        if (cursor := page["next_cursor"]) is None:
            return ids


def growth(samples: list[dict[str, Any]], role: str, max_growth: float) -> dict[str, Any]:
    series = [s[role] for s in samples if s.get(role) is not None] or [0.0]
    warm, last = series[len(series) // 4], series[-1]
    limit = warm * (1 + max_growth) + SLACK_MIB
    return {"warm_mib": round(warm, 1), "end_mib": round(last, 1), "max_mib": round(max(series), 1),
            "grew": last > limit, "limit_mib": round(limit, 1)}  # fmt: skip


async def drive(args: Any, bench: Run, store: str) -> dict[str, Any]:
    with processes(bench.workdir) as procs:
        receiver = nginx.start(procs, "receiver", fail_percent=10)
        url, port = await bench.store_url(store, "load"), free_port()
        roles = bench.start_engine(procs, store, url, port, api=True)
        base = f"http://127.0.0.1:{port}"
        await procs.until_healthy(base, 60)
        auth = {"Authorization": f"Bearer {bench.token()}"}
        async with aiohttp.ClientSession(
            headers=auth, timeout=aiohttp.ClientTimeout(total=60)
        ) as http:
            paths = []
            for n in range(2):
                made = {"url": receiver.webhook_url(n), "retry_policy": RETRY, "name": f"load-{n}"}
                async with http.post(base + HOOKS, json=made) as answer:
                    assert answer.status == 201, await answer.text()
                paths.append(urlsplit(receiver.webhook_url(n)).path)
            inbound = {"direction": "inbound", "signature_scheme": "github", "secret": SECRET}
            async with http.post(base + HOOKS, json=inbound) as answer:
                traffic = Traffic(http, base, (await answer.json())["id"])
            samples: list[dict[str, Any]] = []

            async def sample(started: float) -> None:
                while True:
                    rss = {role: kit.rss_mib(pids[0]) for role, pids in roles.items()}
                    samples.append({"t_s": round(time.monotonic() - started), **rss})
                    await asyncio.sleep(args.sample_s)

            started = time.monotonic()
            sampler = asyncio.create_task(sample(started))
            progress(f"{store}: {args.rate}/s events for {args.minutes * 60:.0f} s")
            kinds = [(traffic.publish, args.rate), (traffic.inbound_request, args.rate / 4),
                     (lambda: traffic.crud(receiver.webhook_url(9)), args.rate / 4)]  # fmt: skip
            await open_loop(kinds, args.minutes * 60)
            sent_s = time.monotonic() - started
            expected = traffic.events + await received_events(http, base)
            wanted = {nginx.arrival_key(path, event) for path in paths for event in expected}
            statuses: Counter[str] = Counter()
            ok: set[str] = set()

            def note(key: str, _at: float, status: int) -> None:
                statuses["ok" if 200 <= status < 300 else "failed"] += 1
                ok.update((key,) if 200 <= status < 300 else ())

            arrivals = nginx.Arrivals(receiver.log, by_path=True, listener=note)
            deadline = time.monotonic() + args.drain_s
            while wanted - ok and time.monotonic() < deadline:
                arrivals.read()
                procs.check_alive()
                await asyncio.sleep(0.5)
            arrivals.read()
            sampler.cancel()
        doctor = await asyncio.to_thread(run, ["doctor"], bench.workdir, bench.env(url), 600)
    return {"scenario": "load", "store": store, "minutes": args.minutes, "rate": args.rate,
            "seconds_sending": round(sent_s, 1), "requests": dict(traffic.sent),
            "unexpected": dict(traffic.unexpected), "examples": traffic.examples,
            "events_accepted": len(traffic.events), "inbound_accepted": traffic.inbound,
            "deliveries_expected": len(wanted), "lost": len(wanted - ok),
            "receiver_requests": statuses.total(), "receiver_500s": statuses["failed"],
            "doctor_healthy": doctor.returncode == 0,
            "memory": {role: growth(samples, role, args.max_growth) for role in roles},
            "memory_samples": samples}  # fmt: skip


def problems(result: dict[str, Any]) -> list[str]:
    found = [f"{result['lost']} deliveries never got a 2xx"] if result["lost"] else []
    if sum(result["unexpected"].values()):
        found.append(f"unexpected answers: {result['unexpected']} {result['examples']}")
    found += [] if result["doctor_healthy"] else ["hookwire doctor found problems"]
    return found + [f"{role} memory grew: {m}" for role, m in result["memory"].items() if m["grew"]]


def summary(r: dict[str, Any]) -> str:
    requests, errors = sum(r["requests"].values()), sum(r["unexpected"].values())
    lines = [
        f"load on {r['store']}: {r['minutes']} min at {r['rate']} events/s "
        f"(+{r['rate'] / 4:g} inbound/s, +{r['rate'] / 4:g} CRUD cycles/s)",
        f"requests {requests}, unexpected answers {errors} ({errors / max(requests, 1):.4%})",
        f"events accepted {r['events_accepted']}, inbound accepted {r['inbound_accepted']}, "
        f"deliveries expected {r['deliveries_expected']}, lost {r['lost']}",
        f"receiver: {r['receiver_requests']} requests, {r['receiver_500s']} answered 500 on "
        "purpose (then retried)",
        f"doctor: {'healthy' if r['doctor_healthy'] else 'PROBLEMS'}",
    ]  # fmt: skip
    lines += [
        f"{role} RSS MiB: after the first quarter {m['warm_mib']}, end {m['end_mib']}, "
        f"max {m['max_mib']} (limit {m['limit_mib']})"
        for role, m in r["memory"].items()
    ]
    samples = r["memory_samples"][:: max(len(r["memory_samples"]) // 10, 1)]
    return "\n".join(lines) + "\nmemory over time (MiB): " + "; ".join(
        f"{s['t_s']} s " + ", ".join(f"{role} {s[role]:.1f}" for role in r["memory"] if s.get(role))
        for s in samples)  # fmt: skip


async def main(args: Any) -> bool:
    async with kit.started(args) as run:
        result = await drive(args, run, args.store)
    kit.Results(record=args.record).emit({k: v for k, v in result.items() if k != "memory_samples"})
    print(summary(result), flush=True)
    for problem in (found := problems(result)):
        print(f"FAILED: {problem}", flush=True)
    return not found


def parse(argv: Sequence[str] | None = None) -> Any:
    parser = kit.parser(__doc__, store=False)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=kit.ADMIN_URL)
    parser.add_argument("--rate", type=float, default=30.0, help="events per second")
    parser.add_argument("--sample-s", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--drain-s", type=float, default=180.0, help="wait for the last ones")
    parser.add_argument("--max-growth", type=float, default=0.25)
    parser.add_argument("--record", action="store_true", help="append to bench/results/load.jsonl")
    return parser.parse_args(argv)


if __name__ == "__main__":
    kit.main(lambda: main(parse()))
