"""The delivery engine beside a plain aiohttp loop: drain, fan-out, retries, latency.

    .venv/bin/python bench/deliver.py [--scenarios drain,fanout,retries,latency]
        [--events 20000] [--fanout-events E] [--rates 200,500] [--store sqlite|postgres|both]
        [--quick] [--no-record]

SQLite is one ``hookwire serve``; PostgreSQL 2 ``hookwire worker`` (and ``hookwire api`` where
events come over HTTP); the receiver is nginx. bench/README.md says what each scenario
measures. Every step is capped at 120 s; a capped figure is over what arrived.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
import orjson

from hookwire.client import Client
from hookwire.delivery.worker import USER_AGENT, WorkerConfig
from hookwire.domain import envelope
from hookwire.domain.event import Event
from hookwire.ids import new_id
from hookwire.signing.base import Message
from hookwire.signing.keys import STANDARD, generate_secret
from hookwire.signing.registry import get_scheme
from hookwire.timeutil import utcnow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ as a package
from bench import kit, nginx
from bench.harness import HarnessError, free_port, processes
from bench.kit import EVENT_TYPE, PHASE_CAP_S, TENANT, CpuMeter, Run
from bench.nginx import Arrivals

CONCURRENCY: Final = WorkerConfig().concurrency  # 256, as the worker
FAN_OUT: Final = 10
FAIL_PERCENT: Final = 10  # answered 500 in the retries scenario
RETRY_GRACE_S: Final = 30.0  # after the last first attempt, for the retries
SEND_GRACE_S: Final = 15.0  # after the last scheduled send, for the answers still due
ARRIVAL_GRACE_S: Final = 20.0  # after the sends, for the deliveries still due
SCENARIOS: Final = ("drain", "fanout", "retries", "latency")
PERCENTILES: Final = ("p50_ms", "p95_ms", "p99_ms")


def signer() -> Callable[[str], tuple[bytes, dict[str, str]]]:
    """Delivery bodies as hookwire renders them, signed as its worker signs them."""
    secret, data, scheme = generate_secret(STANDARD), kit.example_data(), get_scheme(STANDARD)

    def request(event_id: str) -> tuple[bytes, dict[str, str]]:
        body = envelope.render(Event(event_id, TENANT, EVENT_TYPE, 1, data, utcnow()), "event")
        signed = scheme.sign(Message(event_id, int(time.time()), body), [secret])
        return body, {"content-type": "application/json", "user-agent": USER_AGENT,
                      "webhook-id": event_id, **signed}  # fmt: skip

    return request


@asynccontextmanager
async def plain_poster() -> AsyncIterator[
    Callable[[str, bytes, Mapping[str, str]], Awaitable[bool]]
]:
    """``post(url, body, headers) -> answered 204`` through a bare aiohttp session with the
    connector limits of hookwire's Sender (512, 64 per host)."""
    connector = aiohttp.TCPConnector(limit=512, limit_per_host=64)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(url: str, body: bytes, headers: Mapping[str, str]) -> bool:
            async with session.post(url, data=body, headers=dict(headers)) as answer:
                await answer.read()
                return answer.status == 204

        yield post


# --- drains: the plain loop, then hookwire's processes on a queued backlog --------------------


async def ceiling_drain(run: Run, webhooks: int, events: int) -> dict[str, Any]:
    """``events x webhooks`` posts of one body signed once, to the webhooks' paths in turn."""
    body, headers = signer()(new_id("evt"))
    refused = 0
    with processes(run.workdir) as procs:
        receiver = nginx.start(procs, f"receiver-ceiling-{webhooks}")
        meter = CpuMeter({"bench (client)": [os.getpid()], "receiver": receiver.pids})
        async with plain_poster() as post:

            async def one(i: int) -> None:
                nonlocal refused
                refused += not await post(receiver.webhook_url(i % webhooks), body, headers)

            meter.start()
            started = time.perf_counter()
            posted = await kit.concurrently(CONCURRENCY, events * webhooks, one)
            seconds, cpu = time.perf_counter() - started, meter.stop()
        procs.stop(receiver.name)  # flushes its log
    (arrivals := Arrivals(receiver.log)).read()
    if arrivals.lines != posted or refused:
        raise HarnessError(f"{arrivals.lines} of {posted} posts logged, {refused} not 204")
    return {"webhooks": webhooks, "events": events, "deliveries": events * webhooks,
            "arrived": posted, "seconds": round(seconds, 3), "per_s": round(posted / seconds, 1),
            "capped": posted < events * webhooks, "cpu": cpu}  # fmt: skip


async def drain(
    run: Run, store: str, webhooks: int, events: int, retries: bool = False
) -> dict[str, Any]:
    """Publish ``events`` to ``webhooks`` webhooks in this process with no worker running (not
    timed), start hookwire's processes, and time the first to the last arrival (``store``
    ceiling: the plain loop instead). With
    ``retries`` the receiver fails FAIL_PERCENT % of requests: the figure is successful first
    attempts/s, and the wait goes on until the failed ones were sent again (or 30 s)."""
    if store == "ceiling":
        return await ceiling_drain(run, webhooks, events)
    name = f"{store}-drain-{webhooks}" + ("-retries" if retries else "")
    url = await run.store_url(store, name)
    seen: defaultdict[str, list[int]] = defaultdict(list)  # the statuses answered, per key
    with processes(run.workdir) as procs:
        receiver = nginx.start(procs, f"receiver-{name}", FAIL_PERCENT if retries else 0)
        settings = run.keys.settings(url, run.workdir)
        client = await Client.open(settings, tenant_id=TENANT, migrate=True)
        try:
            for n in range(webhooks):
                await client.create_webhook(url=receiver.webhook_url(n))
            ids: list[str] = []
            data = kit.example_data()

            async def publish(_: int) -> None:
                ids.append((await client.publish(EVENT_TYPE, data))["id"])

            capped = await kit.concurrently(32, events, publish) < events
        finally:
            await client.close()
        paths = [urlsplit(receiver.webhook_url(n)).path for n in range(webhooks)]
        keys = [nginx.arrival_key(path, event_id) for path in paths for event_id in ids]
        spawned = time.time()
        roles = run.start_engine(procs, store, url, free_port())
        meter = CpuMeter({**roles, "receiver": receiver.pids}, postgres=store == "postgres")
        arrivals = Arrivals(receiver.log, True, lambda key, _, status: seen[key].append(status))
        async with run.waits(store) as waits:
            done = await nginx.wait_for(arrivals, keys, PHASE_CAP_S, procs, meter.start)
            cpu, deadline = meter.stop(), time.monotonic() + RETRY_GRACE_S
            failed = [key for key in keys if seen[key][:1] == [500]]
            while (
                retries
                and any(len(seen[key]) < 2 for key in failed)
                and time.monotonic() < deadline
            ):
                procs.check_alive()
                await asyncio.sleep(0.5)
                arrivals.read()
        procs.stop_all()  # hookwire first, the receiver (flushing its log) last
    arrivals.read()
    if not (times := arrivals.times(keys)):
        raise HarnessError("no delivery reached the receiver")
    seconds = max(max(times) - min(times), 1e-3)
    line = {"webhooks": webhooks, "events": events, "deliveries": len(keys), "arrived": len(times),
            "seconds": round(seconds, 3), "per_s": round(len(times) / seconds, 1),
            "capped": capped or not done, "duplicates": arrivals.duplicates,
            "startup_s": round(min(times) - spawned, 2), "cpu": cpu, "pg_waits": waits}  # fmt: skip
    if retries:
        first_ok = sum(1 for key in keys if seen[key][:1] and 200 <= seen[key][0] < 300)
        line |= {"fail_percent": FAIL_PERCENT, "first_failed": len(failed),
                 "retried": sum(1 for key in failed if len(seen[key]) > 1),
                 "delivered": sum(1 for key in keys if any(200 <= s < 300 for s in seen[key])),
                 "first_ok_per_s": round(first_ok / seconds, 1)}  # fmt: skip
    return line


# --- latency: open-loop sends, arrival minus the scheduled send time ---------------------------


async def open_loop(
    send: Callable[[int], Awaitable[str | None]], rate: float, seconds: float
) -> dict[str, Any]:
    """``send(i)`` at t0 + i/rate without waiting for earlier answers: the scheduled time per
    id it returned, the sends that failed, and those still unanswered SEND_GRACE_S after the
    last one was due (cancelled: lost)."""
    loop = asyncio.get_running_loop()
    t0_loop, t0_wall = loop.time() + 0.1, time.time() + 0.1
    scheduled: dict[str, float] = {}

    async def one(i: int) -> bool:
        try:
            sent = await send(i)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            return False
        scheduled.update({sent: t0_wall + i / rate} if sent else {})
        return sent is not None

    tasks = []
    for i in range(round(rate * seconds)):
        await asyncio.sleep(max(0.0, t0_loop + i / rate - loop.time()))
        tasks.append(asyncio.create_task(one(i)))
    finished, pending = await asyncio.wait(tasks, timeout=SEND_GRACE_S)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    errors = sum(1 for task in finished if not task.result())
    return {"scheduled": scheduled, "send_errors": errors, "unanswered": len(pending)}


def latency_line(rate: float, seconds: float, sent: dict[str, Any], arrivals: Arrivals,
                 cpu: dict[str, float]) -> dict[str, Any]:  # fmt: skip
    delays = sorted((arrivals.first[key] - at) * 1000
                    for key, at in sent["scheduled"].items() if key in arrivals.first)  # fmt: skip
    stats = {f"p{round(f * 100)}_ms": round(kit.percentile(delays, f), 1) if delays else None
             for f in (0.50, 0.95, 0.99)}  # fmt: skip
    return {"rate": rate, "seconds": seconds, "sent": len(sent["scheduled"]),
            "send_errors": sent["send_errors"], "unanswered": sent["unanswered"],
            "arrived": len(delays), **stats, "max_ms": round(delays[-1], 1) if delays else None,
            "cpu": cpu}  # fmt: skip


async def ceiling_latency(run: Run, rate: float, seconds: float) -> dict[str, Any]:
    """The plain loop posting straight to the receiver on the same schedule."""
    request = signer()
    with processes(run.workdir) as procs:
        receiver = nginx.start(procs, f"receiver-ceiling-{rate:.0f}")
        async with plain_poster() as post:

            async def send(i: int) -> str | None:
                body, headers = request(event_id := f"evt_ceiling_{i:08d}")
                return event_id if await post(receiver.webhook_url(0), body, headers) else None

            meter = CpuMeter({"bench (client)": [os.getpid()], "receiver": receiver.pids})
            meter.start()
            sent, cpu = await open_loop(send, rate, seconds), meter.stop()
        arrivals = Arrivals(receiver.log)
        await nginx.wait_for(arrivals, sent["scheduled"], ARRIVAL_GRACE_S, procs)
        procs.stop(receiver.name)
    arrivals.read()
    return latency_line(rate, seconds, sent, arrivals, cpu)


async def latency(run: Run, store: str, rate: float, seconds: float) -> dict[str, Any]:
    """Open loop at ``rate`` over HTTP (aiohttp, 64 connections) through `hookwire serve` or
    `hookwire api` + workers, after 20 warm-up events; ``api_ready_s``: exec to /healthz.
    ``store`` ceiling: the plain loop."""
    if store == "ceiling":
        return await ceiling_latency(run, rate, seconds)
    url = await run.store_url(store, f"latency-{rate:.0f}")
    with processes(run.workdir) as procs:
        receiver = nginx.start(procs, f"receiver-{store}-{rate:.0f}")
        port, spawned = free_port(), time.monotonic()
        roles = run.start_engine(procs, store, url, port, api=True)
        await procs.until_healthy(base_url := f"http://127.0.0.1:{port}", 60)
        ready_s = round(time.monotonic() - spawned, 2)
        roles = {"bench (client)": [os.getpid()], **roles, "receiver": receiver.pids}
        meter, arrivals = CpuMeter(roles, postgres=store == "postgres"), Arrivals(receiver.log)
        async with kit.api(base_url, run.token()) as post:
            await kit.create_webhook(post, {"url": receiver.webhook_url(0)})
            body = orjson.dumps({"type": EVENT_TYPE, "data": kit.example_data()})

            async def send(_: int) -> str | None:
                status, answer = await post(kit.EVENTS_PATH, body)
                return str(answer["id"]) if status == 202 else None

            warmup = [event for i in range(20) if (event := await send(i))]
            if not await nginx.wait_for(arrivals, warmup, 15, procs):
                raise HarnessError("the warm-up events did not arrive within 15 s")
            async with run.waits(store) as waits:
                meter.start()
                sent, cpu = await open_loop(send, rate, seconds), meter.stop()
        await nginx.wait_for(arrivals, sent["scheduled"], ARRIVAL_GRACE_S, procs)
        procs.stop_all()  # the receiver last: it was started first
    arrivals.read()
    return {**latency_line(rate, seconds, sent, arrivals, cpu), "api_ready_s": ready_s,
            "pg_waits": waits}  # fmt: skip


# --- the command -------------------------------------------------------------------------------


async def main(args: Any) -> bool:
    results, stores, chosen = kit.Results(not args.no_record), kit.stores(args), args.scenarios
    async with kit.started(args) as run:
        plain: dict[str, dict[str, Any]] = {}
        if {"drain", "retries"} & set(chosen):
            work = functools.partial(drain, run, webhooks=1, events=args.events)
            ident = {"scenario": "drain", "webhooks": 1}
            plain = await results.against_ceiling(ident, stores, work, ("per_s",))
        if "fanout" in chosen:
            events = args.fanout_events or args.events
            work = functools.partial(drain, run, webhooks=FAN_OUT, events=events)
            ident = {"scenario": "drain", "webhooks": FAN_OUT}
            await results.against_ceiling(ident, stores, work, ("per_s",))
        for store in stores if "retries" in chosen else ():
            retried = drain(run, store, 1, args.events, retries=True)
            if line := await results.measure({"scenario": "retries", "store": store}, retried):
                reference = {"first_ok_per_s": plain[store]["per_s"]} if store in plain else None
                line["plain_per_s"] = reference and reference["first_ok_per_s"]
                results.emit(line, reference, ("first_ok_per_s",))
        seconds = 15.0 if args.quick else 30.0
        for rate in args.rates if "latency" in chosen else ():
            work = functools.partial(latency, run, rate=rate, seconds=seconds)
            ident = {"scenario": "latency", "rate": rate}
            await results.against_ceiling(ident, stores, work, PERCENTILES)
    return not results.failed


def parse(argv: Sequence[str] | None = None) -> Any:
    parser = kit.parser(__doc__)
    parser.add_argument("--scenarios", type=lambda t: t.split(","), default=list(SCENARIOS),
                        help=f"comma-separated, of {','.join(SCENARIOS)}")  # fmt: skip
    parser.add_argument("--events", type=int, default=20_000, help="events per drain")
    parser.add_argument("--fanout-events", type=int, help=f"events to {FAN_OUT} webhooks")
    parser.add_argument("--rates", type=lambda t: [float(r) for r in t.split(",")],
                        default=[200.0, 500.0], help="latency: events/s, e.g. 200,500")  # fmt: skip
    args = parser.parse_args(argv)
    if set(args.scenarios) - set(SCENARIOS) or args.events < 1 or min(args.rates) <= 0:
        parser.error(f"--scenarios of {','.join(SCENARIOS)}; --events, --rates positive")
    return args


if __name__ == "__main__":
    kit.main(lambda: main(parse()))
