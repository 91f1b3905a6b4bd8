"""Every attempt is recorded, timed from its request, and retried at its due time
(docs/concepts.md), on both stores against real loopback receivers.

- Whatever raises inside an attempt ends as an attempt row (outcome ``error``) that counts
  toward ``maxAttempts``; nothing is left for a lease expiry to resend silently.
- hookwire's own queue for connection slots is not part of an attempt's timeout; a send that
  cannot get a slot in time goes back unsent and uncounted.
- A retry goes when it is due, not at the worker's next poll.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from hookwire.delivery.sender import Sender
from hookwire.delivery.worker import Worker, WorkerConfig
from hookwire.domain.principal import Principal
from hookwire.services.announcements import paused
from hookwire.services.container import Services
from hookwire.settings import Settings
from tests import receivers
from tests.conftest import WEBHOOKS, Api

EVENTS = "/api/v1/events"
TEST_EVENT = {"type": "webhook_test", "data": {"test": True}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(allow_private_targets=True)


@pytest.fixture
async def narrow_sender() -> AsyncIterator[Sender]:
    """Two connections per host: a burst queues in hookwire before its requests start."""
    opened = Sender(allow_private=True, limit_per_host=2)
    await opened.open()
    yield opened
    await opened.close()


def worker(services: Services, sender: Sender, **config: Any) -> Worker:
    config.setdefault("poll_interval_s", 0.05)
    config_ = WorkerConfig(**config)
    return Worker(services.store, services.secrets, sender, config_, announcer=paused)


async def drain(services: Services, sender: Sender, **config: Any) -> Worker:
    burst = worker(services, sender, **config)
    await asyncio.wait_for(burst.run(burst=True), timeout=60)
    return burst


async def publish(api: Api, times: int = 1) -> None:
    for _ in range(times):
        response = await api.client.post(EVENTS, json=TEST_EVENT)
        assert response.status_code == 202, response.text


async def deliveries_of(api: Api, webhook_id: str) -> list[dict[str, Any]]:
    found = await api.client.get("/api/v1/deliveries", params={"webhook_id": webhook_id})
    return [
        (await api.client.get(f"/api/v1/deliveries/{d['id']}")).json() for d in found.json()["data"]
    ]


async def test_an_attempt_whose_secret_is_gone_is_recorded_counted_and_fails(
    api: Api, services: Services, sender: Sender
) -> None:
    """The webhook's secret was removed from the secret store behind hookwire's back: signing
    raises. Before, the delivery stayed in flight with no attempt and was resent after every
    lease, forever; now each try is an ``error`` attempt and maxAttempts ends it."""
    async with receivers.receiver() as target:
        policy = {"initialDelayMs": 0, "maxAttempts": 2}
        hook = await api.create(url=target.url, event_types=["webhook_test"], retry_policy=policy)
        stored = await services.webhooks.get(Principal("acme"), hook["id"])
        await services.secrets.delete(stored.vault_path)
        await publish(api)
        await drain(services, sender)
    assert target.received == []
    [delivery] = await deliveries_of(api, hook["id"])
    assert (delivery["status"], delivery["attempt_count"]) == ("failed", 2)
    assert [a["outcome"] for a in delivery["attempts"]] == ["error", "error"]
    assert all("no secret" in a["error"] for a in delivery["attempts"])
    webhook = (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()
    assert webhook["last_delivery_status"] == "error"


async def test_a_burst_queued_in_hookwire_does_not_time_out_at_a_healthy_receiver(
    api: Api, services: Services, narrow_sender: Sender
) -> None:
    """Eight requests through two connections to a receiver that answers in 0.4 s: the last
    waits 1.2 s for a connection, more than the 1 s timeout. The wait is hookwire's, so no
    attempt may time out (before: five of eight did, counting toward auto-pause)."""
    async with receivers.receiver(receivers.hang(0.4)) as target:
        policy = {"timeoutMs": 1000, "initialDelayMs": 0, "maxAttempts": 1}
        hook = await api.create(url=target.url, event_types=["webhook_test"], retry_policy=policy)
        await publish(api, 8)
        await drain(services, narrow_sender)
    deliveries = await deliveries_of(api, hook["id"])
    attempts = [a for d in deliveries for a in d["attempts"]]
    assert [a["outcome"] for a in attempts] == ["200"] * 8
    assert max(a["duration_ms"] for a in attempts) < 1000
    starts = sorted(a["started_at"] for a in attempts)
    assert starts[-1] > starts[0]  # the log shows when each request started, after its wait


async def test_a_send_that_cannot_get_a_slot_in_time_goes_back_unsent_and_uncounted(
    api: Api, services: Services
) -> None:
    """One connection to a receiver that takes 1 s, and sends that may wait 0.3 s for it:
    the second goes back to the queue (due again a second later) without an attempt, and is
    sent once the connection is free: one attempt each, none counted for the wait."""
    sender = Sender(allow_private=True, limit_per_host=1)
    await sender.open()
    try:
        async with receivers.receiver(receivers.hang(1.0)) as target:
            policy = {"timeoutMs": 5000, "initialDelayMs": 0, "maxAttempts": 1}
            hook = await api.create(
                url=target.url, event_types=["webhook_test"], retry_policy=policy
            )
            await publish(api, 2)
            running = worker(services, sender, slot_wait_s=0.3)
            stop = asyncio.Event()
            task = asyncio.create_task(running.run(stop=stop))
            try:
                await receivers.until(lambda: len(target.received) == 2, timeout=20)
                await asyncio.sleep(1.2)  # the second answer comes and is settled
            finally:
                stop.set()
                await asyncio.wait_for(task, 10)
    finally:
        await sender.close()
    assert running.stats.deferred >= 1
    deliveries = await deliveries_of(api, hook["id"])
    assert sorted((d["status"], d["attempt_count"]) for d in deliveries) == [("succeeded", 1)] * 2
    assert [len(d["attempts"]) for d in deliveries] == [1, 1]
    assert len(target.received) == 2


async def test_retries_go_at_their_due_time_not_at_the_next_poll(
    api: Api, services: Services, sender: Sender
) -> None:
    """Backoff 200 ms doubling, jitter ±20 %: gaps of 0.2, 0.4, 0.8 and 1.6 s, each within
    50 ms of its due time. The worker polls every second (the default) as a backstop only;
    before, the gaps were 1.0, 1.0, 1.0 and 2.0 s."""
    async with receivers.receiver(receivers.respond(500)) as target:
        policy = {"initialDelayMs": 200, "backoff": "exponential", "maxAttempts": 5}
        await api.create(url=target.url, event_types=["webhook_test"], retry_policy=policy)
        stop = asyncio.Event()
        running = asyncio.create_task(worker(services, sender, poll_interval_s=1.0).run(stop=stop))
        try:
            await publish(api)
            await receivers.until(lambda: len(target.received) == 5, timeout=20)
        finally:
            stop.set()
            await asyncio.wait_for(running, 10)
    arrivals = [r.at for r in target.received]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    for gap, due in zip(gaps, (0.2, 0.4, 0.8, 1.6), strict=True):
        assert due * 0.8 <= gap <= due * 1.2 + 0.05, (gaps, due)


async def test_a_slow_host_does_not_hold_up_other_webhooks(api: Api, services: Services) -> None:
    """Another tenant's endpoint answers, in 4 s, thirty events queued before ours. Its
    sends beyond those it can take wait a little or give up at once (uncounted), so they
    never fill the worker: ours arrives before the slow endpoint has answered even once
    (before: after all thirty, 48 s with this worker of 8 sends and 2 connections a host)."""
    sender = Sender(allow_private=True, limit_per_host=2)
    await sender.open()
    slow_tenant = api.as_tenant("slow")
    try:
        async with (
            receivers.receiver(receivers.hang(4.0)) as slow,
            receivers.receiver() as ours,
        ):
            policy = {"timeoutMs": 5000}
            await slow_tenant.create(
                url=slow.url, event_types=["webhook_test"], retry_policy=policy
            )
            await api.create(url=ours.url, event_types=["webhook_test"])
            await publish(slow_tenant, 30)
            await publish(api)
            running = worker(services, sender, concurrency=8)
            stop = asyncio.Event()
            task = asyncio.create_task(running.run(stop=stop))
            try:
                await receivers.until(lambda: len(ours.received) == 1, timeout=60)
            finally:
                stop.set()
                await asyncio.wait_for(task, 30)
    finally:
        await sender.close()
    assert slow.received, "the slow endpoint got nothing"
    assert ours.received[0].at < slow.received[0].at + 4.0


async def test_a_nul_in_an_answer_is_recorded_and_loses_no_other_attempt(
    api: Api, services: Services, sender: Sender
) -> None:
    """PostgreSQL's text cannot hold U+0000: one receiver answering ``ok\\0`` made the whole
    batch of attempts fail to record, so every delivery in it (any tenant's) was sent again
    after its lease, and the receiver's own never counted (review of issue 15)."""

    async def nul(request: web.Request) -> web.StreamResponse:
        return web.Response(status=200, body=b"ok\x00done", headers={"X-Note": "a"})

    async with receivers.receiver(nul) as odd, receivers.receiver() as plain:
        odd_hook = await api.create(url=odd.url, event_types=["webhook_test"])
        plain_hook = await api.create(url=plain.url, event_types=["webhook_test"])
        await publish(api, 5)
        await drain(services, sender)
    assert (len(odd.received), len(plain.received)) == (5, 5)
    for hook in (odd_hook, plain_hook):
        deliveries = await deliveries_of(api, hook["id"])
        assert [(d["status"], len(d["attempts"])) for d in deliveries] == [("succeeded", 1)] * 5
    [first, *_] = await deliveries_of(api, odd_hook["id"])
    assert first["attempts"][0]["response_body"] == "ok\ufffddone"
