"""Flow control per webhook (docs/flow-control.md) on both stores: the settings' validation,
then the worker against real loopback receivers: a rate limit, a cap on requests in flight,
FIFO order per ordering key under retries, exhaustion and pause, and no webhook waiting behind
another's limits. Each ends with ``hookwire doctor``'s checks at zero. The several-process
tests on PostgreSQL are in tests/acceptance/test_flow_control_processes.py."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from hookwire.delivery.sender import Sender
from hookwire.delivery.worker import Worker, WorkerConfig
from hookwire.domain.flow import NEVER, RateLimit
from hookwire.services.announcements import paused
from hookwire.services.container import Services
from hookwire.services.doctor import examine
from hookwire.settings import Settings
from hookwire.store.base import Job
from hookwire.store.gates import SWEEP_EVERY
from hookwire.store.queries import load
from hookwire.store.sql_store import SQLStore
from hookwire.store.steps import execute
from hookwire.timeutil import utcnow
from tests import receivers
from tests.conftest import WEBHOOKS, Api
from tests.integration.test_dashboard import signed_in

EVENTS = "/api/v1/events"
FAST_RETRY = {"initialDelayMs": 10, "maxDelayMs": 20, "maxAttempts": 5}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(allow_private_targets=True)


def worker(services: Services, sender: Sender, **config: Any) -> Worker:
    options = {"poll_interval_s": 0.05, "shutdown_grace_s": 5, **config}
    return Worker(
        services.store, services.secrets, sender, WorkerConfig(**options), announcer=paused
    )


async def run_until(
    services: Services, sender: Sender, done: Any, timeout: float = 60, **config: Any
) -> None:
    """Run a worker until ``done()`` (a limited webhook is never "drained" by a burst)."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker(services, sender, **config).run(stop=stop))
    try:
        await receivers.until(done, timeout)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def publish(api: Api, key: str | None = None, n: int = 1) -> list[str]:
    ids = []
    for _ in range(n):
        body: dict[str, Any] = {"type": "webhook_test", "data": {"test": True}}
        if key is not None:
            body["ordering_key"] = key
        answer = await api.client.post(EVENTS, json=body)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["id"])
    return ids


async def healthy(services: Services) -> None:
    findings = await examine(services.store, services.secrets, utcnow(), lambda *_: None)
    assert {f.check: f.count for f in findings if f.count} == {}


async def statuses(api: Api, webhook_id: str) -> list[str]:
    found = await api.client.get(
        "/api/v1/deliveries", params={"webhook_id": webhook_id, "limit": 200}
    )
    return sorted(d["status"] for d in found.json()["data"])


# --- the settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "pointer"),
    [
        ("rate_limit", {"max": 0, "per": "second"}, "/rate_limit/max"),
        ("rate_limit", {"max": 100_001, "per": "second"}, "/rate_limit/max"),
        ("rate_limit", {"max": 5, "per": "day"}, "/rate_limit/per"),
        ("rate_limit", {"max": 5}, "/rate_limit/per"),
        ("rate_limit", {"max": 5, "per": "second", "burst": 2}, "/rate_limit/burst"),
        ("rate_limit", 5, "/rate_limit"),
        ("max_in_flight", 0, "/max_in_flight"),
        ("max_in_flight", 1001, "/max_in_flight"),
        ("max_in_flight", 2.5, "/max_in_flight"),
        ("ordering", "lifo", "/ordering"),
        ("ordering", None, "/ordering"),
    ],
)
async def test_bad_settings_are_422_at_their_pointer(
    api: Api, field: str, value: Any, pointer: str
) -> None:
    answer = await api.client.post(WEBHOOKS, json={"url": "https://r.example.com/h", field: value})
    assert answer.status_code == 422, answer.text
    assert pointer in [e["path"] for e in answer.json()["errors"]]
    hook = await api.create()
    patched = await api.client.patch(
        f"{WEBHOOKS}/{hook['id']}", json={field: value, "version": hook["version"]}
    )
    assert patched.status_code == 422, patched.text
    assert pointer in [e["path"] for e in patched.json()["errors"]]


async def test_settings_round_trip_and_clear(api: Api) -> None:
    hook = await api.create()
    assert (hook["rate_limit"], hook["max_in_flight"], hook["ordering"]) == (None, None, "none")
    limits = {"rate_limit": {"max": 10, "per": "minute"}, "max_in_flight": 3, "ordering": "fifo"}
    patched = await api.client.patch(
        f"{WEBHOOKS}/{hook['id']}", json={**limits, "version": hook["version"]}
    )
    assert patched.status_code == 200, patched.text
    read = (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()
    assert {k: read[k] for k in limits} == limits
    cleared = await api.client.patch(
        f"{WEBHOOKS}/{hook['id']}",
        json={"rate_limit": None, "max_in_flight": None, "ordering": "none",
              "version": read["version"]},
    )  # fmt: skip
    assert cleared.status_code == 200
    assert {k: cleared.json()[k] for k in limits} == {
        "rate_limit": None, "max_in_flight": None, "ordering": "none"
    }  # fmt: skip


async def test_integral_numbers_are_read_as_integers(api: Api) -> None:
    hook = await api.create(max_in_flight=2.0, rate_limit={"max": 5.0, "per": "second"})
    assert (hook["max_in_flight"], hook["rate_limit"]) == (2, {"max": 5, "per": "second"})
    assert isinstance(hook["max_in_flight"], int) and isinstance(hook["rate_limit"]["max"], int)


async def test_inbound_webhooks_take_no_flow_control(api: Api) -> None:
    answer = await api.client.post(
        WEBHOOKS, json={"direction": "inbound", "max_in_flight": 2, "ordering": "fifo"}
    )
    assert answer.status_code == 422
    assert {e["path"] for e in answer.json()["errors"]} == {"/max_in_flight", "/ordering"}


@pytest.mark.parametrize("key", ["", "k" * 256, 7, ["a"]])
async def test_a_bad_ordering_key_is_422(api: Api, key: Any) -> None:
    body = {"type": "webhook_test", "data": {}, "ordering_key": key}
    answer = await api.client.post(EVENTS, json=body)
    assert answer.status_code == 422, answer.text
    assert [e["path"] for e in answer.json()["errors"]] == ["/ordering_key"]


async def test_the_ordering_key_is_on_event_reads(api: Api) -> None:
    [with_key] = await publish(api, key="employee-42")
    [without] = await publish(api)
    assert (await api.client.get(f"{EVENTS}/{with_key}")).json()["ordering_key"] == "employee-42"
    assert (await api.client.get(f"{EVENTS}/{without}")).json()["ordering_key"] is None
    listed = (await api.client.get(EVENTS)).json()["data"]
    assert {e["id"]: e["ordering_key"] for e in listed} == {with_key: "employee-42", without: None}


# --- the store, with its own clock --------------------------------------------------------------


async def test_the_claim_keeps_a_rate_limit_in_every_window(api: Api, services: Services) -> None:
    """Claims every 50 ms for 3.5 s of the store's own time: never more than 4 leases in a
    second and a slot (the limit's guarantee, docs/flow-control.md), and the limit is used."""
    limit = RateLimit(4, "second")
    hook = await api.create(rate_limit=limit.to_json())
    await publish(api, n=20)
    store, start = services.store, utcnow()
    leased = []
    for step in range(70):
        now = start + timedelta(milliseconds=50 * step)
        jobs = await store.claim(now, 100)
        assert {j.webhook.id for j in jobs} <= {hook["id"]}
        leased += [now] * len(jobs)
    reach = timedelta(seconds=1, microseconds=limit.slot_us)
    assert max(sum(t <= u < t + reach for u in leased) for t in leased) == 4
    assert len(leased) >= 12  # about 4 per 1.03 s over 3.5 s


async def test_the_claim_keeps_the_cap_until_a_lease_ends(api: Api, services: Services) -> None:
    hook = await api.create(max_in_flight=2)
    await publish(api, n=5)
    now = utcnow()
    first = await services.store.claim(now, 100)
    assert len(first) == 2
    assert await services.store.claim(now, 100) == []
    later = first[0].delivery.lease_expires_at
    assert later is not None
    taken_over = await services.store.claim(later + timedelta(seconds=1), 100)
    assert len(taken_over) == 2  # both leases ended: each is taken again, within the cap
    assert {j.webhook.id for j in taken_over} == {hook["id"]}


# --- the worker, against real receivers ---------------------------------------------------------


class Concurrency:
    """Answers after ``delay`` and records how many requests overlapped, per ordering key."""

    def __init__(self, delay: float = 0.05, statuses: dict[str, list[int]] | None = None) -> None:
        self.delay = delay
        self.now = 0
        self.most = 0
        self.per_key: dict[str, int] = defaultdict(int)
        self.key_overlaps = 0
        self.arrivals: list[str] = []
        self.statuses = statuses or {}
        self.key_of: dict[str, str] = {}

    async def answer(self, request: web.Request) -> web.StreamResponse:
        event_id = request.headers["webhook-id"]
        key = self.key_of.get(event_id, "")
        self.arrivals.append(event_id)
        self.now += 1
        self.per_key[key] += 1
        self.most = max(self.most, self.now)
        self.key_overlaps += self.per_key[key] > 1
        try:
            await asyncio.sleep(self.delay)
            planned = self.statuses.get(event_id)
            return web.Response(status=planned.pop(0) if planned else 200)
        finally:
            self.now -= 1
            self.per_key[key] -= 1


async def test_a_rate_limit_holds_at_the_receiver(
    api: Api, services: Services, sender: Sender
) -> None:
    async with receivers.receiver() as target:
        hook = await api.create(url=target.url, rate_limit={"max": 5, "per": "second"})
        await publish(api, n=12)
        await run_until(services, sender, lambda: len(target.received) == 12)
    arrivals = sorted(r.at for r in target.received)
    # A second less 100 ms: the guarantee is on starts, and an arrival may lag its start.
    assert max(sum(t <= u < t + 0.9 for u in arrivals) for t in arrivals) <= 5
    assert arrivals[-1] - arrivals[0] >= 2 * 0.9  # 12 at 5 per second: three windows
    assert await statuses(api, hook["id"]) == ["succeeded"] * 12
    await healthy(services)


async def test_the_cap_bounds_requests_in_flight(
    api: Api, services: Services, sender: Sender
) -> None:
    receiver = Concurrency(delay=0.1)
    async with receivers.receiver(behaviour=receiver.answer) as target:
        hook = await api.create(url=target.url, max_in_flight=2)
        await publish(api, n=10)
        await run_until(services, sender, lambda: len(target.received) == 10)
    assert receiver.most == 2
    assert await statuses(api, hook["id"]) == ["succeeded"] * 10
    await healthy(services)


async def _fifo_run(api: Api, receiver: Concurrency) -> dict[str, list[str]]:
    """Three keys, six events each, published key after key; the receiver told each's key."""
    published: dict[str, list[str]] = {}
    for key in ("alice", "bob", "carol"):
        published[key] = await publish(api, key=key, n=6)
        receiver.key_of.update(dict.fromkeys(published[key], key))
    return published


def _assert_in_order(receiver: Concurrency, published: dict[str, list[str]]) -> None:
    """Per key: one request at a time, and once an event arrived no earlier one arrives."""
    assert receiver.key_overlaps == 0
    for events in published.values():
        seen = [e for e in receiver.arrivals if e in events]
        firsts = list(dict.fromkeys(seen))
        assert firsts == events
        last_of = {e: max(i for i, x in enumerate(seen) if x == e) for e in events}
        first_of = {e: seen.index(e) for e in events}
        for earlier, later in itertools.pairwise(events):
            assert last_of[earlier] < first_of[later]


async def test_fifo_keeps_each_keys_order_under_retries(
    api: Api, services: Services, sender: Sender
) -> None:
    receiver = Concurrency(delay=0.01)
    async with receivers.receiver(behaviour=receiver.answer) as target:
        hook = await api.create(url=target.url, ordering="fifo", retry_policy=FAST_RETRY)
        published = await _fifo_run(api, receiver)
        for events in published.values():  # some fail, once or twice, before they succeed
            receiver.statuses.update({events[1]: [500, 503], events[4]: [500]})
        total = 18 + 3 * 3
        await run_until(services, sender, lambda: len(target.received) == total)
    _assert_in_order(receiver, published)
    assert receiver.most > 1  # the keys went side by side
    assert await statuses(api, hook["id"]) == ["succeeded"] * 18
    await healthy(services)


async def test_fifo_goes_on_after_an_exhausted_delivery(
    api: Api, services: Services, sender: Sender
) -> None:
    receiver = Concurrency(delay=0.005)
    async with receivers.receiver(behaviour=receiver.answer) as target:
        policy = {**FAST_RETRY, "maxAttempts": 2}
        hook = await api.create(url=target.url, ordering="fifo", retry_policy=policy)
        events = await publish(api, key="k", n=3)
        receiver.key_of.update(dict.fromkeys(events, "k"))
        receiver.statuses[events[0]] = [500, 500]
        await run_until(services, sender, lambda: len(target.received) == 4)
    assert receiver.arrivals == [events[0], events[0], events[1], events[2]]
    assert await statuses(api, hook["id"]) == ["failed", "succeeded", "succeeded"]
    await healthy(services)


async def test_fifo_order_holds_across_a_pause(
    api: Api, services: Services, sender: Sender
) -> None:
    receiver = Concurrency(delay=0.005)
    async with receivers.receiver(behaviour=receiver.answer) as target:
        hook = await api.create(url=target.url, ordering="fifo")
        paused_now = await api.client.post(f"{WEBHOOKS}/{hook['id']}/pause")
        assert paused_now.status_code == 200
        published = await _fifo_run(api, receiver)
        assert set(await statuses(api, hook["id"])) == {"held"}
        assert (await api.client.post(f"{WEBHOOKS}/{hook['id']}/resume")).status_code == 200
        await healthy(services)
        await run_until(services, sender, lambda: len(target.received) == 18)
    _assert_in_order(receiver, published)
    await healthy(services)


async def test_turning_fifo_on_orders_the_backlog_and_off_releases_it(
    api: Api, services: Services, sender: Sender
) -> None:
    receiver = Concurrency(delay=0.005)
    async with receivers.receiver(behaviour=receiver.answer) as target:
        hook = await api.create(url=target.url)
        published = await _fifo_run(api, receiver)
        current = (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()
        answer = await api.client.patch(
            f"{WEBHOOKS}/{hook['id']}", json={"ordering": "fifo", "version": current["version"]}
        )
        assert answer.status_code == 200
        await healthy(services)
        await run_until(services, sender, lambda: len(target.received) == 18)
        _assert_in_order(receiver, published)
        more = await publish(api, key="alice", n=3)
        answer = await api.client.patch(
            f"{WEBHOOKS}/{hook['id']}",
            json={"ordering": "none", "version": answer.json()["version"]},
        )
        assert answer.status_code == 200
        await healthy(services)
        await run_until(services, sender, lambda: len(target.received) == 21)
    assert set(receiver.arrivals[-3:]) == set(more)
    await healthy(services)


async def test_a_throttled_webhook_does_not_hold_up_another(
    api: Api, services: Services, sender: Sender
) -> None:
    async with receivers.receiver() as slow, receivers.receiver() as free:
        throttled = await api.create(url=slow.url, rate_limit={"max": 1, "per": "hour"})
        capped = await api.create(url=slow.url, max_in_flight=1)
        open_ = await api.create(url=free.url, event_types=["webhook_test"])
        await publish(api, n=30)
        await run_until(
            services,
            sender,
            lambda: len(free.received) == 30 and len(slow.received) == 31,
            batch_size=4,
        )
    assert len(slow.received) == 31  # the hour's one, and the capped webhook's 30
    assert await statuses(api, open_["id"]) == ["succeeded"] * 30
    assert (await statuses(api, throttled["id"])).count("pending") == 29
    assert await statuses(api, capped["id"]) == ["succeeded"] * 30
    await healthy(services)


async def test_adding_a_cap_to_a_webhook_with_a_backlog_gates_it(
    api: Api, services: Services, sender: Sender
) -> None:
    receiver = Concurrency(delay=0.05)
    async with receivers.receiver(behaviour=receiver.answer) as target:
        hook = await api.create(url=target.url)
        await publish(api, n=8)
        answer = await api.client.patch(
            f"{WEBHOOKS}/{hook['id']}", json={"max_in_flight": 1, "version": hook["version"]}
        )
        assert answer.status_code == 200
        await healthy(services)
        await run_until(services, sender, lambda: len(target.received) == 8)
    assert receiver.most == 1
    await healthy(services)


async def test_the_test_send_is_exempt(api: Api, services: Services) -> None:
    async with receivers.receiver() as target:
        hook = await api.create(url=target.url, rate_limit={"max": 1, "per": "hour"})
        for _ in range(3):
            answer = await api.client.post(f"{WEBHOOKS}/{hook['id']}/test")
            assert answer.status_code == 200, answer.text
    assert len(target.received) == 3


async def test_metrics_count_what_waits_by_reason(api: Api, services: Services) -> None:
    await api.create(rate_limit={"max": 1, "per": "hour"}, event_types=["webhook_test"])
    await api.create(max_in_flight=1, event_types=["webhook_test"])
    await api.create(ordering="fifo", event_types=["webhook_test"])
    await publish(api, key="k", n=3)
    assert len(await services.store.claim(utcnow(), 100)) == 3  # one of each webhook
    metrics = (await api.anonymous().client.get("/metrics")).text
    for reason in ("ordering", "rate_limit", "max_in_flight"):
        assert f'hookwire_deliveries_waiting{{reason="{reason}"}} 2.0' in metrics
    assert "acme" not in metrics  # no tenant data in labels


async def test_the_dashboard_shows_limits_and_what_waits(api: Api, services: Services) -> None:
    hook = await api.create(rate_limit={"max": 1, "per": "hour"}, max_in_flight=4,
                            ordering="fifo")  # fmt: skip
    plain = await api.create()
    await publish(api, key="k", n=3)
    await publish(api, key="j", n=2)
    assert len(await services.store.claim(utcnow(), 100)) == 1 + 5  # the hour's one; plain's 5
    browser, _ = await signed_in(api)
    listed = (await browser.get("/dashboard/webhooks")).text
    assert "1/hour · 4 at once · FIFO per ordering key" in listed
    page = (await browser.get(f"/dashboard/webhooks/{hook['id']}")).text
    assert "1/hour · 4 at once · FIFO per ordering key" in page
    backlog = page.split('id="backlog">')[1].split("</td>")[0]
    assert "1 due, held by the rate limit until" in backlog  # key j's head
    assert "1 in flight" in backlog and "3 behind an earlier delivery" in backlog
    other = (await browser.get(f"/dashboard/webhooks/{plain['id']}")).text
    assert "none: as fast as the receiver answers" in other


async def test_gates_take_turns_when_the_batch_is_small(api: Api, services: Services) -> None:
    """Six capped webhooks with work, a claim of one gated delivery at a time: each webhook
    is served once before any is served twice (a gate just served goes to the back)."""
    hooks = {(await api.create(max_in_flight=10))["id"] for _ in range(6)}
    await publish(api, n=3)
    served = []
    start = utcnow()
    for step in range(12):
        [job] = await services.store.claim(start + timedelta(milliseconds=step), 1)
        served.append(job.webhook.id)
    assert set(served[:6]) == hooks and set(served[6:]) == hooks


async def test_two_workers_keep_the_rate_and_the_cap_together(
    api: Api, services: Services, sender: Sender
) -> None:
    """Two workers on one store (on PostgreSQL as two processes would: each claims through
    the gates' row locks): the rate and the cap are the webhook's, not each worker's."""
    receiver = Concurrency(delay=0.05)
    async with receivers.receiver(behaviour=receiver.answer) as target:
        await api.create(url=target.url, rate_limit={"max": 8, "per": "second"}, max_in_flight=3)
        await publish(api, n=24)
        stop = asyncio.Event()
        runs = [
            asyncio.create_task(worker(services, sender, batch_size=4).run(stop=stop))
            for _ in range(2)
        ]
        try:
            await receivers.until(lambda: len(target.received) == 24, 60)
        finally:
            stop.set()
            await asyncio.gather(*runs)
    arrivals = sorted(r.at for r in target.received)
    assert max(sum(t <= u < t + 0.9 for u in arrivals) for t in arrivals) <= 8
    assert receiver.most <= 3
    await healthy(services)


async def test_fifo_order_holds_when_a_worker_dies_mid_request(
    api: Api, services: Services, sender: Sender
) -> None:
    """A worker killed while its request hangs keeps its lease; once the lease ends another
    worker sends that delivery again, and only then the later ones of its key."""
    hanging, released = asyncio.Event(), asyncio.Event()
    receiver = Concurrency(delay=0.005)

    async def answer(request: web.Request) -> web.StreamResponse:
        if not hanging.is_set():
            hanging.set()
            receiver.arrivals.append(request.headers["webhook-id"])
            await released.wait()  # the worker dies before this answers
            return web.Response(status=200)
        return await receiver.answer(request)

    async with receivers.receiver(behaviour=answer) as target:
        hook = await api.create(url=target.url, ordering="fifo")
        published = await _fifo_run(api, receiver)
        dying = worker(services, sender)
        doomed = asyncio.create_task(dying.run())
        await asyncio.wait_for(hanging.wait(), 30)
        sends = list(dying._inflight)  # its requests die with it, as in a SIGKILL
        for task in [doomed, *sends]:
            task.cancel()  # no graceful stop: its leases stay
        await asyncio.gather(doomed, *sends, return_exceptions=True)
        later = timedelta(minutes=2)  # past the lease: timeoutMs + 30 s
        successor = Worker(
            services.store, services.secrets, sender,
            WorkerConfig(poll_interval_s=0.05, shutdown_grace_s=5), announcer=paused,
            clock=lambda: utcnow() + later,
        )  # fmt: skip
        stop = asyncio.Event()
        run = asyncio.create_task(successor.run(stop=stop))
        try:
            async with asyncio.timeout(60):
                while await statuses(api, hook["id"]) != ["succeeded"] * 18:
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            released.set()
            await run
    first = receiver.arrivals[0]
    assert receiver.arrivals.count(first) == 2  # sent again: at least once
    _assert_in_order(receiver, published)  # the dead worker's other sends may repeat too
    await healthy(services)


# --- regressions: changes to a gated webhook outside a claim ----------------------------------


async def _version(api: Api, hook: dict[str, Any]) -> str:
    """The webhook's ``If-Match`` value now."""
    current = (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()
    return f'"{current["version"]}"'


@pytest.mark.parametrize(
    "flow", [{"max_in_flight": 1}, {"rate_limit": {"max": 100, "per": "second"}}]
)
async def test_a_resume_releases_a_limited_webhooks_deliveries(
    api: Api, services: Services, sender: Sender, flow: dict[str, Any]
) -> None:
    """Resuming set FIFO order from scratch on any gated webhook, and on one without FIFO that
    left all but one waiting for a promotion that never comes."""
    async with receivers.receiver() as target:
        hook = await api.create(url=target.url, **flow)
        assert (await api.client.post(f"{WEBHOOKS}/{hook['id']}/pause")).status_code == 200
        await publish(api, n=3)
        assert (await api.client.post(f"{WEBHOOKS}/{hook['id']}/resume")).status_code == 200
        await run_until(services, sender, lambda: len(target.received) == 3)
    await healthy(services)


async def test_a_recover_on_a_capped_webhook_sends_every_one(
    api: Api, services: Services, sender: Sender
) -> None:
    async with receivers.receiver() as target:
        target.statuses = [410, 410, 410]  # gone: each fails at once, and pauses the webhook
        hook = await api.create(url=target.url, max_in_flight=4)
        await publish(api, n=3)
        await run_until(services, sender, lambda: len(target.received) == 3)
        assert (await api.client.post(f"{WEBHOOKS}/{hook['id']}/resume")).status_code == 200
        since = (utcnow() - timedelta(minutes=5)).isoformat()
        answer = await api.client.post(f"{WEBHOOKS}/{hook['id']}/recover", json={"since": since})
        assert answer.status_code == 200, answer.text
        await run_until(services, sender, lambda: len(target.received) == 6)
    await healthy(services)


async def test_lifting_a_rate_limit_opens_the_gate_it_closed(
    api: Api, services: Services, sender: Sender
) -> None:
    async with receivers.receiver() as target:
        limits = {"rate_limit": {"max": 1, "per": "hour"}, "max_in_flight": 4}
        hook = await api.create(url=target.url, **limits)
        await publish(api, n=3)
        await run_until(services, sender, lambda: len(target.received) == 1)
        headers = {"If-Match": await _version(api, hook)}
        lifted = await api.client.patch(
            f"{WEBHOOKS}/{hook['id']}", json={"rate_limit": None}, headers=headers
        )
        assert lifted.status_code == 200, lifted.text
        await run_until(services, sender, lambda: len(target.received) == 3)
    await healthy(services)


async def test_a_dead_workers_lease_on_a_deleted_webhook_ends_cancelled(
    api: Api, services: Services
) -> None:
    """The lease of a worker that died outlives its webhook's pause and delete: when it ends,
    the delivery is cancelled, not left in flight for good."""
    hook = await api.create(url="http://127.0.0.1:9/h", max_in_flight=2)
    url = f"{WEBHOOKS}/{hook['id']}"
    await publish(api)
    [job] = await services.store.claim(utcnow(), 10)  # the worker that took it dies
    assert (await api.client.post(f"{url}/pause")).status_code == 200
    for cap in (None, 2):  # a new gate, claimed while the webhook is paused
        answer = await api.client.patch(
            url, json={"max_in_flight": cap}, headers={"If-Match": await _version(api, hook)}
        )
        assert answer.status_code == 200, answer.text
    assert await services.store.claim(utcnow(), 10) == []
    assert (await api.client.delete(url)).status_code == 204
    later = utcnow() + timedelta(minutes=5)  # the lease ended long ago
    assert await services.store.claim(later, 10) == []
    found = (await api.client.get(f"/api/v1/deliveries/{job.delivery.id}")).json()
    assert found["status"] == "cancelled"


async def test_the_sweep_wakes_a_gate_whose_wake_was_lost(api: Api, services: Services) -> None:
    """As if the API process died between a publish's commit and its wake: the gate sleeps
    with a delivery due. The next claim after SWEEP_EVERY seconds wakes it."""
    hook = await api.create(max_in_flight=2)
    await publish(api)
    store = services.store
    assert isinstance(store, SQLStore)
    asleep = {"webhook_id": hook["id"], "work_at": NEVER, "open_at": utcnow(),
              "closed_by": None, "rate_slots": []}  # fmt: skip
    await store._autocommit(execute("update_gate", asleep))
    store._swept_at = time.monotonic()
    assert await store.claim(utcnow(), 10) == []
    later = utcnow() + timedelta(minutes=2)
    findings = await examine(store, services.secrets, later, lambda *_: None)
    assert {f.check: f.count for f in findings}["sleeping_gates"] == 1
    store._swept_at -= SWEEP_EVERY
    assert [j.webhook.id for j in await store.claim(utcnow(), 10)] == [hook["id"]]


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
async def test_a_publish_to_many_fifo_webhooks_does_not_deadlock_with_a_settle(
    api: Api, services: Services, database_url: str
) -> None:
    """A settle updates its deliveries in webhook id order; a publish reads the earlier
    delivery of its key at each FIFO webhook FOR SHARE, in the same order. Before, it locked
    them in whatever order its plan met them, deadlocked with the settle, and answered 503."""
    queries = load("postgres")
    hooks = sorted([(await api.create(ordering="fifo"))["id"] for _ in range(12)])
    [first] = await publish(api, key="k")
    jobs: dict[str, Job] = {}
    async with asyncio.timeout(10):
        while len(jobs) < len(hooks):  # a claim takes up to half its batch through gates
            jobs |= {j.webhook.id: j for j in await services.store.claim(utcnow(), 10)}
    assert all(j.delivery.event_id == first for j in jobs.values())
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():  # one settle of every webhook's attempt, in id order
            for n, webhook_id in enumerate(hooks):
                job, settle = jobs[webhook_id], queries["settle_delivery"]
                params = {"id": job.delivery.id, "status": "succeeded", "next_attempt_at": None,
                          "now": utcnow(), "lease": job.delivery.lease_expires_at}  # fmt: skip
                await conn.execute(settle.text, *settle.args(params))
                if n == 0:  # the next event of the key is published meanwhile
                    publishing = asyncio.create_task(publish(api, key="k"))
                    await asyncio.sleep(0.3)
    finally:
        await conn.close()
    [second] = await publishing
    waiting = (await api.client.get(f"{EVENTS}/{second}")).json()
    assert len(waiting["delivery_ids"]) == 12


async def test_one_claim_serves_every_gate_its_budget_reaches(api: Api, services: Services) -> None:
    """A FIFO webhook's room is what its limits allow (all of the budget), not what it has (one
    head per key): the claim asks the next gates for the rest."""
    hooks = {(await api.create(ordering="fifo"))["id"] for _ in range(8)}
    await publish(api, key="k", n=2)
    jobs = await services.store.claim(utcnow(), 16)  # 8 through gates
    assert {j.webhook.id for j in jobs} == hooks
