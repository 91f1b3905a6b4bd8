"""Generated interleavings (docs/concepts.md, docs/flow-control.md) against real processes, on
both stores: what a webhook's pause, resume, disable, enable and delete, and its rate limit, cap
and FIFO order, mean while events are published, inbound messages fan out and workers send
(and die).

For a bounded time a seeded generator (tests/interleavings/) publishes through every API
process (with ordering keys from a small set, or none), posts signed inbound messages, and
pauses, resumes, disables, enables, deletes, re-subscribes, re-targets and creates webhooks at
random moments, and sets, changes and lifts their rate limits, caps and FIFO order while
deliveries wait; in the kill variant it also SIGKILLs a random worker and starts another. Each
webhook starts with flow control chosen by the seed. Two webhooks are never touched (control),
two are only paused and resumed, two are paused, resumed and get their flow control changed.
Then the generator stops, every receiver answers 200, every rate limit is lifted and every
paused webhook resumed and every disabled one enabled through the API, the workers drain, and
the suite proves:

1. `hookwire doctor` is healthy;
2. no delivery is held on a running webhook, neither when the generator stopped nor after the
   drain (a resume releases every held delivery, also those of concurrent publishes);
3. nothing is sent after a stop: an arrival at a webhook after its pause, disable or delete
   answered at T (until the next resume or enable was sent; for a delete, ever) comes from an
   attempt that started by T + 1 s (tests/interleavings/scene.py GRACE_S says why), and a
   publish made while it was disabled or deleted created no delivery for it;
4. every accepted event of a subscribed type reached every control, pause-only and flow
   webhook with a 2xx answer, and every accepted event is readable through the API; every
   arrival has an attempt recorded (unless a SIGKILL cut it short);
5. no delivery of a deleted webhook is left pending, held or in flight;
6. flow control held at the receivers: while a webhook was FIFO, no two requests of one
   ordering key were in flight at once and no event arrived after a later one of its key had
   arrived (publish order: created_at, then id; publishes whose requests overlapped are not
   ordered); while it had a cap, no more requests were in flight at once; while it had a rate
   limit, no window held more arrivals than its leases could make (an hourly limit exactly;
   one per second within about a third: tests/interleavings/flow.py says why, and when a
   changed setting is checked from);
7. nothing was dropped: every event published while a webhook surely took it (created,
   enabled, subscribed, nothing changing that meanwhile) has a delivery for it, and every
   delivery ended after the drain (a waiting one went once its rate limit was lifted).

Topologies: SQLite runs `hookwire serve` (one process: docs/production.md keeps
SQLite to one process; `api` and `worker` apart are for PostgreSQL); PostgreSQL runs two
`hookwire api` and two `hookwire worker` on one fresh database.

`HOOKWIRE_INTERLEAVINGS_SEED` replays the generator's choices (a failure prints the seed) and
`HOOKWIRE_INTERLEAVINGS_SECONDS` runs it longer than CI's 8 s per case, e.g.
`HOOKWIRE_INTERLEAVINGS_SECONDS=300 .venv/bin/pytest tests/acceptance/test_interleavings.py -s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import interleavings, receivers
from tests.acceptance.processes import (
    async_server,
    free_port,
    run,
    service_env,
    start_worker,
    stopped,
)

SECONDS = 8.0  # per case in CI; HOOKWIRE_INTERLEAVINGS_SECONDS for the long runs
CHURN = 6  # webhooks that get every operation, besides 2 control and 2 pause-only ones
CASES = [
    pytest.param("sqlite", False, id="sqlite-serve"),
    pytest.param("postgres", False, id="postgres", marks=pytest.mark.postgres),
    pytest.param("postgres", True, id="postgres-kill-workers", marks=pytest.mark.postgres),
]


class Workers:
    """`hookwire worker` processes: started until up, SIGKILLed and replaced on demand."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env = tmp, env
        self.started: list[subprocess.Popen[bytes]] = []
        self.alive: list[subprocess.Popen[bytes]] = []

    async def start(self) -> None:
        port = free_port()
        env = {**self.env, "HOOKWIRE_METRICS_PORT": str(port)}
        name = f"worker{len(self.started)}"
        process = start_worker(self.tmp, env, name)
        self.started.append(process)
        self.alive.append(process)
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                assert process.poll() is None, (self.tmp / f"{name}.log").read_text()
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise AssertionError(f"{name} did not start")

    async def kill_one(self, rng: random.Random) -> float:
        """SIGKILL a random worker mid-work and start another; when the victim died."""
        victim = rng.choice(self.alive)
        self.alive.remove(victim)
        victim.send_signal(signal.SIGKILL)
        await asyncio.to_thread(victim.wait)
        died = time.time()
        await self.start()
        return died


@dataclass
class Cluster:
    env: dict[str, str]
    api_urls: list[str]
    token: str
    workers: Workers | None = None


async def hookwire(args: list[str], tmp: Path, env: dict[str, str]) -> str:
    done = await asyncio.to_thread(run, args, tmp, env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@asynccontextmanager
async def cluster(store: str, database: str, tmp: Path) -> AsyncIterator[Cluster]:
    """`hookwire serve` on SQLite; two `hookwire api` and two workers on PostgreSQL."""
    ports = [free_port(), free_port()]
    env = service_env(database, ports[0])
    token = await hookwire(["token", "--tenant", "acme", "--ttl", "24h"], tmp, env)
    async with AsyncExitStack() as stack:
        if store == "sqlite":
            serve = await stack.enter_async_context(async_server(["serve"], tmp, env, ports[0]))
            yield Cluster(env, [serve.base_url], token)
            return
        await hookwire(["migrate"], tmp, env)
        second = {**env, "HOOKWIRE_PORT": str(ports[1])}
        apis = [await stack.enter_async_context(async_server(["api"], tmp, e, p))
                for e, p in ((env, ports[0]), (second, ports[1]))]  # fmt: skip
        workers = Workers(tmp, env)
        with stopped(workers.started):
            for _ in range(2):
                await workers.start()
            yield Cluster(env, [api.base_url for api in apis], token, workers)


@pytest.fixture
def database(store_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh PostgreSQL database (the suite fails when the server is down), or a file."""
    if store_name == "postgres":
        url: str = request.getfixturevalue("empty_pg_url")
        return url
    return f"sqlite:///{tmp_path / 'hookwire.db'}"


@dataclass
class Ran:
    scene: interleavings.Scene
    outcome: interleavings.Outcome
    violations: dict[str, list[str]]
    notes: dict[str, object]


async def exercise(
    hookwire_at: Cluster, bases: list[str], sink: interleavings.Sink, kill: bool, seed: int
) -> Ran:
    """Set the scene, run the generator, stop, restore, drain, check."""
    headers = {"Authorization": f"Bearer {hookwire_at.token}"}
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, headers=headers, timeout=60)
            )
            for url in hookwire_at.api_urls
        ]
        scene = interleavings.Scene(clients, bases, sink, seed)
        await interleavings.prepare(scene, CHURN)
        killer = hookwire_at.workers.kill_one if kill and hookwire_at.workers else None
        seconds = interleavings.seconds_from_env(SECONDS)
        await interleavings.generate(scene, seconds, killer)
        # a backlog drains well within the time it took to build; leases take 32 s more
        outcome = await interleavings.finish(scene, drain_s=30 + seconds + (35 if killer else 0))
        return Ran(scene, outcome, *await interleavings.check(scene, outcome))


async def doctor(tmp: Path, env: dict[str, str]) -> list[str]:
    """`hookwire doctor`'s report when it finds anything, after the processes stopped."""
    checked = await asyncio.to_thread(run, ["doctor"], tmp, env)
    healthy = checked.returncode == 0 and "healthy" in checked.stdout
    return [] if healthy else [checked.stdout + checked.stderr]


@pytest.mark.parametrize(("store_name", "kill_workers"), CASES)
async def test_generated_interleavings_keep_the_concurrency_rules(
    store_name: str, kill_workers: bool, database: str, tmp_path: Path
) -> None:
    seed = interleavings.seed_from_env()
    sink = interleavings.Sink(seed)
    begun = time.monotonic()
    async with (
        receivers.receiver(sink.behaviour()) as one,
        receivers.receiver(sink.behaviour()) as two,
    ):
        bases = [r.url.removesuffix("/hooks") for r in (one, two)]
        async with cluster(store_name, database, tmp_path) as hookwire_at:
            ran = await exercise(hookwire_at, bases, sink, kill_workers, seed)
    ran.violations["hookwire doctor"] = await doctor(tmp_path, hookwire_at.env)
    log = tmp_path / "interleavings.json"
    interleavings.save(log, ran.scene, ran.violations, ran.notes)
    seconds = interleavings.seconds_from_env(SECONDS)
    report = interleavings.Report(
        f"interleavings: {interleavings.SEED_ENV}={seed} {interleavings.SECONDS_ENV}={seconds:g}"
        f" store={store_name} kill_workers={kill_workers} ({time.monotonic() - begun:.0f} s;"
        f" log {log})",
        interleavings.counts(ran.scene, ran.outcome) | ran.notes,
        ran.violations,
    )
    print("\n" + report.summary())
    assert not report.violated, report.message()
