"""Flow control across real processes on PostgreSQL (docs/flow-control.md): `hookwire api` and
two `hookwire worker`, a loopback receiver, webhooks made and events published through the
HTTP API. A rate limit, a cap on requests in flight and FIFO order hold across the workers,
FIFO also across a worker SIGKILLed in the middle of a request. Each test ends with every
delivery succeeded, none pending or in flight, and `hookwire doctor` finding nothing wrong.

The receiver tells which worker sent each request (the process holding the client end of the
connection, from /proc), so a test can check that both workers sent, and kill one while it is
sending. The rate and cap tests publish while the workers run: each publish wakes both (a
settle wakes no other worker; the one that made it claims again itself).

The last two tests publish each event as soon as the one before it arrived, so the publish
often meets the worker recording that answer and claiming again: they found two races that
left a delivery unsent for good (a gate a claim drained while a publish was under way; a FIFO
delivery written waiting while the settle of the one before it promoted nothing), now fixed.

The single-process tests of the same rules, on both stores, are in
tests/integration/test_flow_control.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from bench.harness import Keys, terminate

from tests import receivers
from tests.acceptance.processes import (
    assert_healthy,
    async_server,
    free_port,
    start_worker,
)
from tests.conftest import WEBHOOKS

EVENTS = "/api/v1/events"
DELIVERIES = "/api/v1/deliveries"
EVENT = {"type": "webhook_test", "data": {"test": True}}
# A short timeout keeps the lease of a killed worker's delivery short: timeoutMs + 30 s.
POLICY = {"timeoutMs": 2000, "initialDelayMs": 50, "maxDelayMs": 200, "maxAttempts": 10}
FINISHED = {"succeeded", "failed", "cancelled"}
ROUNDS, ROUND = 10, 6  # the cap test's rounds of events published at once


# --- which process sent a request ----------------------------------------------------------------


def _port(address: str) -> int:
    """The port of a /proc/net/tcp address (``0100007F:1F90``)."""
    return int(address.rsplit(":", 1)[1], 16)


def _client_socket(client_port: int, server_port: int) -> str | None:
    """The inode of the loopback socket from ``client_port`` to ``server_port``."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if _port(fields[1]) == client_port and _port(fields[2]) == server_port:
            return fields[9]
    return None


def sender_of(request: web.Request, pids: Sequence[int]) -> int | None:
    """Which of ``pids`` holds the client end of ``request``'s connection."""
    assert request.transport is not None
    client_port = request.transport.get_extra_info("peername")[1]
    server_port = request.transport.get_extra_info("sockname")[1]
    inode = _client_socket(client_port, server_port)
    if inode is None:
        return None
    for pid in pids:
        with contextlib.suppress(OSError):  # a process that just died
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
    return None


# --- the receiver ------------------------------------------------------------------------------


@dataclass
class Request:
    event_id: str
    sender: int | None
    start: float  # time.monotonic()
    end: float | None = None  # when its answer was given (None: still held)


@dataclass
class Recorder:
    """Holds each request ``hold`` seconds, answers 500 to the first attempt of every
    ``fail_every``-th event it sees (0: never), and records every request: which event, which
    worker, when it came and when it was answered."""

    hold: float
    fail_every: int = 0
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # of the workers, by pid
    requests: list[Request] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)

    async def answer(self, request: web.Request) -> web.StreamResponse:
        event_id = request.headers["webhook-id"]
        arrived = Request(event_id, None, time.monotonic())
        self.requests.append(arrived)
        arrived.sender = sender_of(request, [w.pid for w in self.workers])
        self.seen[event_id] += 1
        first = self.seen[event_id] == 1
        fail = first and self.fail_every > 0 and len(self.seen) % self.fail_every == 0
        try:
            await asyncio.sleep(self.hold)
            return web.Response(status=500 if fail else 200)
        finally:
            arrived.end = time.monotonic()

    async def until_requests(self, count: int, timeout: float) -> None:
        await receivers.until(lambda: len(self.requests) >= count, timeout)

    def held(self) -> list[Request]:
        return [r for r in self.requests if r.end is None]

    def by_sender(self) -> Counter[str]:
        """Requests per worker name ("?" when the sender was not found)."""
        return Counter(self.names.get(r.sender or 0, "?") for r in self.requests)


def most_at_once(requests: Sequence[Request]) -> int:
    """The most requests held at the receiver at the same moment."""
    edges = sorted(
        [(r.start, 1) for r in requests] + [(r.end or float("inf"), -1) for r in requests],
        key=lambda edge: (edge[0], edge[1]),  # an answer before a start at the same instant
    )
    return max(itertools.accumulate(step for _, step in edges), default=0)


# --- the processes -----------------------------------------------------------------------------


async def ready_worker(tmp: Path, env: dict[str, str], name: str, recorder: Recorder) -> None:
    """A `hookwire worker`, known to ``recorder`` from its start, and up: its /metrics answers."""
    port = free_port()
    process = start_worker(tmp, {**env, "HOOKWIRE_METRICS_PORT": str(port)}, name)
    recorder.workers.append(process)
    recorder.names[process.pid] = name
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp / f"{name}.log").read_text()
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise AssertionError(f"worker {name} did not start")


@dataclass
class Scene:
    tmp: Path
    env: dict[str, str]
    client: httpx.AsyncClient
    webhook_id: str
    recorder: Recorder

    async def start_workers(self, *names: str) -> None:
        await asyncio.gather(*(ready_worker(self.tmp, self.env, n, self.recorder) for n in names))

    async def publish(self, key: str | None = None) -> str:
        body = EVENT if key is None else {**EVENT, "ordering_key": key}
        answer = await self.client.post(EVENTS, json=body)
        assert answer.status_code == 202, answer.text
        event_id: str = answer.json()["id"]
        return event_id

    async def deliveries(self, **params: str) -> list[dict[str, Any]]:
        found = await self.client.get(DELIVERIES, params={"limit": "200", **params})
        assert found.status_code == 200, found.text
        data: list[dict[str, Any]] = found.json()["data"]
        return data

    async def all_finished(self, count: int, timeout: float) -> list[str]:
        """Wait until the webhook's ``count`` deliveries have all ended; their statuses."""
        deadline = time.monotonic() + timeout
        while True:
            found = await self.deliveries(webhook_id=self.webhook_id)
            statuses = sorted(d["status"] for d in found)
            if len(statuses) == count and set(statuses) <= FINISHED:
                return statuses
            left = [
                (d["status"], d["next_attempt_at"]) for d in found if d["status"] not in FINISHED
            ]
            assert time.monotonic() < deadline, (Counter(statuses), left)
            await asyncio.sleep(0.2)

    async def assert_healthy(self) -> None:
        """`hookwire doctor` finds nothing wrong, and no delivery waits or is in flight."""
        await asyncio.to_thread(assert_healthy, self.tmp, self.env)
        assert await self.deliveries(status="pending") == []
        assert await self.deliveries(status="in_flight") == []


@asynccontextmanager
async def scene(
    tmp: Path, database_url: str, recorder: Recorder, **flow: Any
) -> AsyncIterator[Scene]:
    """On a migrated PostgreSQL, `hookwire api`, the receiver and a webhook at it with ``flow``
    control; the workers a test starts are stopped when it ends."""
    keys, port = Keys(), free_port()
    env, token = keys.env(database_url, port), keys.token("acme")
    async with receivers.receiver(recorder.answer) as target:
        async with async_server(["api"], tmp, env, port) as api:
            auth = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=api.base_url, headers=auth, timeout=30) as client:
                body = {"url": target.url, "retry_policy": POLICY, **flow}
                made = await client.post(WEBHOOKS, json=body)
                assert made.status_code == 201, made.text
                try:
                    yield Scene(tmp, env, client, made.json()["id"], recorder)
                finally:  # not blocking the loop: the receiver answers what is in flight
                    await asyncio.to_thread(terminate, recorder.workers, 40)


def report(what: str, recorder: Recorder, seconds: float) -> None:
    senders = dict(sorted(recorder.by_sender().items()))
    print(f"\n{what}: {len(recorder.requests)} requests in {seconds:.1f} s, by worker {senders}")


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_a_rate_limit_holds_across_two_workers(tmp_path: Path, pg_url: str) -> None:
    """10 a second; 45 events, the first attempt of every 9th fails: 50 requests (retries
    count), 5 full windows. No 0.9 s holds more than 10 arrivals (a second less 100 ms for an
    arrival's lag behind its start), and the limit is used: after the first 10, which go at
    once, about 10 every 1.03 s (60 slots of a second, 62 counted: 97 % of the limit)."""
    recorder = Recorder(hold=0.01, fail_every=9)
    limit = {"max": 10, "per": "second"}
    async with scene(tmp_path, pg_url, recorder, rate_limit=limit) as s:
        await s.start_workers("w1", "w2")
        for _ in range(45):
            await s.publish()
        statuses = await s.all_finished(45, timeout=60)
        await s.assert_healthy()
    arrivals = sorted(r.start for r in recorder.requests)
    span = arrivals[-1] - arrivals[0]
    report("rate limit 10/s", recorder, span)
    assert statuses == ["succeeded"] * 45
    assert len(arrivals) == 50
    assert max(sum(t <= u < t + 0.9 for u in arrivals) for t in arrivals) <= 10
    assert (len(arrivals) - 10) / span >= 8, span  # 4.1 s at 97 %; 5 s at 80 %
    assert set(recorder.by_sender()) == {"w1", "w2"}  # both sent


@pytest.mark.postgres
async def test_the_cap_holds_across_two_workers(tmp_path: Path, pg_url: str) -> None:
    """At most 3 requests in flight, whichever worker sent them, and 3 reached. The events
    come in rounds of 6 published at once: each round wakes both workers; whichever claims
    first sends 3, and a worker that settles one sends the next (sometimes the other one,
    woken by a publish of the round, gets there first: then both send at once)."""
    recorder = Recorder(hold=0.15)
    async with scene(tmp_path, pg_url, recorder, max_in_flight=3) as s:
        await s.start_workers("w1", "w2")
        began = time.monotonic()
        for round_ in range(1, ROUNDS + 1):
            await asyncio.gather(*(s.publish() for _ in range(ROUND)))
            await recorder.until_requests(ROUND * round_, 30)
            await receivers.until(lambda: not recorder.held(), 30)
            await asyncio.sleep(0.2)  # the last settle and claim over: the round ends quiet
        statuses = await s.all_finished(ROUND * ROUNDS, timeout=60)
        await s.assert_healthy()
    report("cap 3", recorder, time.monotonic() - began)
    rounds = [recorder.requests[ROUND * i : ROUND * (i + 1)] for i in range(ROUNDS)]
    print(f"rounds both workers sent in: {sum(len({r.sender for r in m}) > 1 for m in rounds)}")
    assert statuses == ["succeeded"] * ROUND * ROUNDS
    assert len(recorder.requests) == ROUND * ROUNDS
    assert most_at_once(recorder.requests) == 3
    assert set(recorder.by_sender()) == {"w1", "w2"}  # both sent


def assert_in_order(requests: Sequence[Request], published: dict[str, list[str]]) -> None:
    """Per key: one request at a time, every event, and once an event arrived no earlier one
    arrives (the same one again may: at-least-once)."""
    for key, events in published.items():
        mine = [r for r in requests if r.event_id in events]
        assert most_at_once(mine) == 1, key
        seen = [r.event_id for r in sorted(mine, key=lambda r: r.start)]
        assert list(dict.fromkeys(seen)) == events, key
        order = [events.index(e) for e in seen]
        assert order == sorted(order), (key, order)


async def kill_a_sender(recorder: Recorder, after: int) -> str:
    """Once ``after`` requests arrived, SIGKILL a worker while the receiver holds its request;
    the event of that request."""
    deadline = time.monotonic() + 60
    while True:
        held = [r for r in recorder.held() if r.sender is not None]
        if len(recorder.requests) >= after and held:
            victim = next(w for w in recorder.workers if w.pid == held[0].sender)
            victim.send_signal(signal.SIGKILL)
            await asyncio.to_thread(victim.wait)
            return held[0].event_id
        assert time.monotonic() < deadline, "no worker was ever caught sending"
        await asyncio.sleep(0.005)


@pytest.mark.postgres
async def test_fifo_holds_across_two_workers_and_a_kill(tmp_path: Path, pg_url: str) -> None:
    """4 keys of 10 events; the first attempt of every 4th event fails (its retry holds its
    key); a worker is SIGKILLed in the middle of a request and another one started. The
    delivery it was sending goes again when its lease ends (2 s + 30 s), before anything later
    of its key. The events are published before the workers start: see the next test."""
    keys = ("alice", "bob", "carol", "dave")
    recorder = Recorder(hold=0.05, fail_every=4)
    published: dict[str, list[str]] = {key: [] for key in keys}
    async with scene(tmp_path, pg_url, recorder, ordering="fifo") as s:
        for key in itertools.islice(itertools.cycle(keys), 40):
            published[key].append(await s.publish(key))
        await s.start_workers("w1", "w2")
        began = time.monotonic()
        cut = await kill_a_sender(recorder, after=12)
        await s.start_workers("w3")
        statuses = await s.all_finished(40, timeout=90)
        await s.assert_healthy()
    report("fifo, 4 keys", recorder, time.monotonic() - began)
    assert statuses == ["succeeded"] * 40
    assert_in_order(recorder.requests, published)
    assert recorder.seen[cut] >= 2  # the request cut short went again


# --- publishes that meet a worker recording the answer before ------------------------------------
# Each event is published as soon as the receiver has answered the one before it, so the
# publish often runs while the worker records that answer and claims again.


async def publish_each_once_the_last_arrived(
    s: Scene, recorder: Recorder, count: int, key: str | None = None
) -> None:
    for n in range(1, count + 1):
        await s.publish(key)
        with contextlib.suppress(AssertionError):
            await recorder.until_requests(n, 3)
        if len(recorder.requests) < n:
            left = [d["next_attempt_at"] for d in await s.deliveries(status="pending")]
            raise AssertionError(f"event {n} never sent; pending, next_attempt_at: {left}")


@pytest.mark.postgres
async def test_a_delivery_published_as_its_gate_drains_goes(tmp_path: Path, pg_url: str) -> None:
    """A claim that leaves the gate without work while a publish is under way looks again,
    for a delivery due at any time (the publish stamps it by its own clock)."""
    recorder = Recorder(hold=0)
    async with scene(tmp_path, pg_url, recorder, max_in_flight=5) as s:
        await s.start_workers("w1")
        await publish_each_once_the_last_arrived(s, recorder, 200)
        await s.assert_healthy()


@pytest.mark.postgres
async def test_a_fifo_event_published_as_the_one_before_it_is_answered_goes(
    tmp_path: Path, pg_url: str
) -> None:
    """The publish's look at the earlier delivery of its key waits for a settle ending it
    (FOR SHARE), so the new one is written due, or written waiting and promoted."""
    recorder = Recorder(hold=0)
    async with scene(tmp_path, pg_url, recorder, ordering="fifo") as s:
        await s.start_workers("w1")
        await publish_each_once_the_last_arrived(s, recorder, 200, key="k")
        await s.assert_healthy()
