"""The delivery engine against real loopback receivers, on both stores."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook as StandardWebhook

from hookwire.delivery.sender import Sender
from hookwire.delivery.worker import Worker, WorkerConfig
from hookwire.domain.attempt import MAX_LOGGED_HEADERS, MAX_LOGGED_VALUE
from hookwire.domain.filters import DeliveryQuery
from hookwire.domain.principal import Principal
from hookwire.services import announcements
from hookwire.services.container import Services
from hookwire.services.doctor import examine
from hookwire.settings import Settings
from hookwire.store.base import Store
from hookwire.store.postgres import PostgresStore
from hookwire.timeutil import utcnow
from tests import receivers
from tests.conftest import WEBHOOKS, Api

EVENTS = "/api/v1/events"
FAST_RETRY = {"initialDelayMs": 0, "maxAttempts": 5}
TEST_EVENT = {"type": "webhook_test", "data": {"test": True}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Receivers listen on loopback, so these webhooks must be allowed private targets."""
    return settings.replace(allow_private_targets=True)


WorkerFactory = Callable[..., Worker]


@pytest.fixture
def make_worker(services: Services, sender: Sender) -> WorkerFactory:
    def make(**options: Any) -> Worker:
        config = WorkerConfig(poll_interval_s=0.05, shutdown_grace_s=5)
        options.setdefault("announcer", announcements.paused)
        return Worker(
            services.store, services.secrets, options.pop("sender", sender), config, **options
        )

    return make


async def drain(make_worker: WorkerFactory, **options: Any) -> Worker:
    worker = make_worker(**options)
    await asyncio.wait_for(worker.run(burst=True), timeout=60)
    return worker


async def delivery_detail(services: Services, api: Api, event_id: str) -> list[dict[str, Any]]:
    event = (await api.client.get(f"{EVENTS}/{event_id}")).json()
    details = []
    for delivery_id in event["delivery_ids"]:
        details.append((await api.client.get(f"/api/v1/deliveries/{delivery_id}")).json())
    return details


async def publish(api: Api, body: dict[str, Any] = TEST_EVENT) -> str:
    response = await api.client.post(EVENTS, json=body)
    assert response.status_code == 202, response.text
    event_id: str = response.json()["id"]
    return event_id


async def test_a_delivery_arrives_signed_and_is_logged(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver() as target:
        hook = await api.create(url=target.url, headers={"X-Team": "payroll"})
        event_id = await publish(api)
        worker = await drain(make_worker)
    assert worker.stats.succeeded == 1
    [request] = target.received
    assert orjson.loads(request.body) == {
        "id": event_id,
        "type": "webhook_test",
        "data": {"test": True},
    }
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("hookwire/")
    assert headers["webhook-id"] == event_id
    assert headers["x-team"] == "payroll"
    StandardWebhook(hook["secret"]).verify(request.body, headers)  # raises when it does not verify

    [delivery] = await delivery_detail(services, api, event_id)
    assert delivery["status"] == "succeeded" and delivery["attempt_count"] == 1
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] == 200 and attempt["success"] is True
    assert attempt["response_body"] == "answer 200"
    assert attempt["request_headers"]["webhook-signature"] == "[redacted]"
    assert hook["secret"] not in str(delivery)
    stored = (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()
    assert stored["last_delivery_status"] == "200" and stored["consecutive_failures"] == 0
    assert stored["last_delivery_at"] == attempt["started_at"]


async def test_failures_are_retried_until_success(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver() as target:
        target.statuses = [500, 503]
        hook = await api.create(url=target.url, retry_policy=FAST_RETRY)
        event_id = await publish(api)
        await drain(make_worker)
    assert len(target.received) == 3
    assert len(set(target.bodies())) == 1  # the same bytes on every attempt
    [delivery] = await delivery_detail(services, api, event_id)
    assert delivery["status"] == "succeeded" and delivery["attempt_count"] == 3
    assert [a["outcome"] for a in delivery["attempts"]] == ["500", "503", "200"]
    stored = (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()
    assert stored["consecutive_failures"] == 0 and stored["last_delivery_status"] == "200"


async def test_exhausted_attempts_fail_the_delivery(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver(receivers.respond(500)) as target:
        hook = await api.create(url=target.url, retry_policy={**FAST_RETRY, "maxAttempts": 3})
        event_id = await publish(api)
        await drain(make_worker)
    assert len(target.received) == 3
    [delivery] = await delivery_detail(services, api, event_id)
    assert delivery["status"] == "failed" and delivery["attempt_count"] == 3
    stored = (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()
    assert stored["consecutive_failures"] == 3 and stored["last_delivery_status"] == "500"
    assert stored["paused_at"] is None


async def test_repeated_failure_pauses_holds_and_announces(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver(receivers.respond(500)) as failing, receivers.receiver() as ops:
        policy = {**FAST_RETRY, "maxAttempts": 10, "pauseAfterFailures": 3}
        hook = await api.create(url=failing.url, retry_policy=policy, event_types=["webhook_test"])
        watcher = await api.create(url=ops.url, event_types=["webhook.*"])
        first = await publish(api)
        await drain(make_worker)
        second = await publish(api)
        await drain(make_worker)
    assert len(failing.received) == 3  # paused after the third failure, nothing more sent
    stored = (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()
    assert stored["paused_at"] is not None and stored["is_active"] is False
    assert stored["consecutive_failures"] == 3
    [held_first] = await delivery_detail(services, api, first)
    [held_second] = await delivery_detail(services, api, second)
    assert held_first["status"] == "held" and held_second["status"] == "held"
    [announcement] = ops.received
    body = orjson.loads(announcement.body)
    assert body["type"] == "webhook.paused"
    assert body["data"]["webhook_id"] == hook["id"]
    assert body["data"]["reason"] == "failures" and body["data"]["consecutive_failures"] == 3
    assert watcher["id"] not in str(body["data"])


async def test_gone_fails_for_good_and_pauses(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver(receivers.respond(410)) as target:
        hook = await api.create(url=target.url, retry_policy=FAST_RETRY)
        event_id = await publish(api)
        await drain(make_worker)
    assert len(target.received) == 1
    [delivery] = await delivery_detail(services, api, event_id)
    assert delivery["status"] == "failed"
    assert (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()["paused_at"] is not None


async def test_retry_after_is_waited_for(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver(receivers.respond(429, **{"Retry-After": "120"})) as target:
        await api.create(url=target.url, retry_policy=FAST_RETRY)
        before = utcnow()
        event_id = await publish(api)
        await drain(make_worker)
    assert len(target.received) == 1
    [delivery] = await delivery_detail(services, api, event_id)
    assert delivery["status"] == "pending"
    due = datetime.fromisoformat(delivery["next_attempt_at"].replace("Z", "+00:00"))
    assert due >= before + timedelta(seconds=120)


async def test_retry_after_is_capped_at_the_policys_longest_wait(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    """A receiver asking for a week waits at most maxDelayMs (docs/concepts.md "Retries": the wait
    is capped)."""
    week = "604800"
    async with receivers.receiver(receivers.respond(429, **{"Retry-After": week})) as target:
        policy = {**FAST_RETRY, "initialDelayMs": 1000, "maxDelayMs": 60_000}
        await api.create(url=target.url, retry_policy=policy)
        before = utcnow()
        event_id = await publish(api)
        await drain(make_worker)
    [delivery] = await delivery_detail(services, api, event_id)
    due = datetime.fromisoformat(delivery["next_attempt_at"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=59) <= due <= utcnow() + timedelta(seconds=61)


async def test_redirects_are_not_followed(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver(receivers.respond(302, Location="/elsewhere")) as target:
        await api.create(url=target.url, retry_policy={**FAST_RETRY, "maxAttempts": 1})
        event_id = await publish(api)
        await drain(make_worker)
    assert [r.path for r in target.received] == ["/hooks"]
    [delivery] = await delivery_detail(services, api, event_id)
    assert delivery["status"] == "failed" and delivery["attempts"][0]["outcome"] == "302"


async def test_private_targets_are_blocked_at_connect_time(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    strict = Sender(allow_private=False)
    await strict.open()
    try:
        async with receivers.receiver() as target:
            by_name = target.url.replace("127.0.0.1", "localhost")
            await api.create(url=target.url, retry_policy={**FAST_RETRY, "maxAttempts": 1})
            await api.create(url=by_name, retry_policy={**FAST_RETRY, "maxAttempts": 1})
            event_id = await publish(api)
            await drain(make_worker, sender=strict)
    finally:
        await strict.close()
    assert target.received == []
    deliveries = await delivery_detail(services, api, event_id)
    assert [d["attempts"][0]["outcome"] for d in deliveries] == ["blocked", "blocked"]
    assert all(d["status"] == "failed" for d in deliveries)


async def test_a_hanging_receiver_stalls_nobody_else(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver(receivers.hang(10)) as slow, receivers.receiver() as fast:
        await api.create(url=slow.url, retry_policy={"timeoutMs": 3000, "maxAttempts": 1})
        await api.create(url=fast.url)
        worker = make_worker()
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        try:
            first = await publish(api)
            await receivers.until(lambda: bool(slow.received))  # an attempt now hangs 3 s
            hung_at = slow.received[0].at
            later = [await publish(api) for _ in range(5)]
            await receivers.until(lambda: len(fast.received) >= 6)
            # the events published while an attempt hung went out before it timed out
            assert max(r.at for r in fast.received) < hung_at + 3.0
            await receivers.until(lambda: len(slow.received) >= 6 and worker.stats.failed >= 6)
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
    outcomes = [
        a["outcome"]
        for e in [first, *later]
        for d in await delivery_detail(services, api, e)
        for a in d["attempts"]
    ]
    assert sorted(outcomes) == ["200"] * 6 + ["timeout"] * 6
    assert await doctor_counts(services) == {}


async def test_huge_trickling_and_resetting_answers_are_cut_short(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    once = {"maxAttempts": 1, "timeoutMs": 1500}
    async with (
        receivers.receiver(receivers.huge(10 * 1024 * 1024)) as huge,
        receivers.receiver(receivers.trickle(0.05)) as trickling,
        receivers.receiver(receivers.reset()) as resetting,
    ):
        hooks = {
            (await api.create(url=huge.url, retry_policy=once))["id"]: "huge",
            (await api.create(url=trickling.url, retry_policy=once))["id"]: "trickle",
            (await api.create(url=resetting.url, retry_policy=once))["id"]: "reset",
        }
        event_id = await publish(api)
        await drain(make_worker)
    by_kind = {hooks[d["webhook_id"]]: d for d in await delivery_detail(services, api, event_id)}
    big = by_kind["huge"]["attempts"][0]
    assert big["status_code"] == 200 and len(big["response_body"]) == 4096
    assert by_kind["trickle"]["attempts"][0]["outcome"] in {"timeout", "200"}
    assert by_kind["trickle"]["attempts"][0]["duration_ms"] < 5000
    assert by_kind["reset"]["attempts"][0]["outcome"] == "connection_error"
    assert await doctor_counts(services) == {}


async def test_pause_holds_and_resume_releases_and_announces(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver() as target, receivers.receiver() as ops:
        hook = await api.create(url=target.url, event_types=["webhook_test"])
        await api.create(url=ops.url, event_types=["webhook.*"])
        assert (await api.client.post(f"{WEBHOOKS}/{hook['id']}/pause")).status_code == 200
        event_id = await publish(api)
        await drain(make_worker)
        assert target.received == []
        [held] = await delivery_detail(services, api, event_id)
        assert held["status"] == "held"
        assert (await api.client.post(f"{WEBHOOKS}/{hook['id']}/resume")).status_code == 200
        await drain(make_worker)
    assert len(target.received) == 1
    [delivered] = await delivery_detail(services, api, event_id)
    assert delivered["status"] == "succeeded"
    kinds = [
        (orjson.loads(r.body)["type"], orjson.loads(r.body)["data"]["reason"]) for r in ops.received
    ]
    assert kinds == [("webhook.paused", "manual"), ("webhook.resumed", "manual")]


async def test_delete_cancels_what_was_not_sent(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver() as target:
        hook = await api.create(url=target.url)
        event_id = await publish(api)
        assert (await api.client.delete(f"{WEBHOOKS}/{hook['id']}")).status_code == 204
        await drain(make_worker)
    assert target.received == []
    [cancelled] = await delivery_detail(services, api, event_id)
    assert cancelled["status"] == "cancelled"


async def test_rotation_signs_with_both_secrets_during_the_grace_period(
    api: Api, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver() as target:
        hook = await api.create(url=target.url)
        rotated = (await api.client.post(f"{WEBHOOKS}/{hook['id']}/rotate-secret")).json()
        await publish(api)
        await drain(make_worker)
    [request] = target.received
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert len(headers["webhook-signature"].split(" ")) == 2
    StandardWebhook(hook["secret"]).verify(request.body, headers)
    StandardWebhook(rotated["secret"]).verify(request.body, headers)


async def test_an_expired_lease_is_sent_again_and_a_late_settle_changes_nothing(
    api: Api, services: Services, store: Store, make_worker: WorkerFactory
) -> None:
    async with receivers.receiver() as target:
        await api.create(url=target.url)
        event_id = await publish(api)
        dead = make_worker()
        [job] = await store.claim(utcnow(), 10)  # a worker claims, then dies before sending
        assert await store.claim(utcnow(), 10) == []  # leased: nobody else takes it
        late = utcnow() + timedelta(seconds=60)  # past timeoutMs + 30 s
        await drain(make_worker, clock=lambda: late)
        assert len(target.received) == 1
        stale = await dead.attempt(job)  # the dead worker's attempt surfaces after all
        await store.settle([stale], lambda *a: pytest.fail("no pause expected"), utcnow())
    [delivery] = await delivery_detail(services, api, event_id)
    assert delivery["status"] == "succeeded" and delivery["attempt_count"] == 1
    assert len(delivery["attempts"]) == 2  # both attempts happened and are logged


async def test_other_tenants_cannot_read_attempts(api: Api, make_worker: WorkerFactory) -> None:
    async with receivers.receiver() as target:
        await api.create(url=target.url)
        event_id = await publish(api)
        await drain(make_worker)
    delivery_id = (await api.client.get(f"{EVENTS}/{event_id}")).json()["delivery_ids"][0]
    assert (
        await api.as_tenant("globex").client.get(f"/api/v1/deliveries/{delivery_id}")
    ).status_code == 404


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
async def test_the_worker_rides_out_a_database_outage(
    api: Api, store: Store, make_worker: WorkerFactory
) -> None:
    """PostgreSQL only: the outage is the pool going away and coming back."""
    async with receivers.receiver() as target:
        await api.create(url=target.url)
        await publish(api)
        await store.close()  # every claim now fails with StoreUnavailable
        worker = make_worker()
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop=stop))
        try:
            await asyncio.sleep(0.3)
            assert not running.done()  # it logged the failures and kept going
            await store.open()
            await receivers.until(lambda: len(target.received) == 1, timeout=30)
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
    assert worker.stats.succeeded == 1


@pytest.mark.parametrize("store_kind", ["postgres"], indirect=True)
async def test_two_workers_settle_a_fan_out_without_deadlocks(
    api: Api, services: Services, database_url: str, sender: Sender
) -> None:
    """Two workers (two pools) settle batches that touch the same ten webhooks: each batch
    updates every webhook's counters, so they must take those row locks in one order."""
    second = PostgresStore(database_url)
    await second.open()
    try:
        async with receivers.receiver() as target:
            for _ in range(10):
                await api.create(url=target.url)
            for _ in range(60):
                await publish(api)
            config = WorkerConfig(batch_size=40, poll_interval_s=0.05, shutdown_grace_s=5)
            workers = [
                Worker(store, services.secrets, sender, config, announcer=announcements.paused)
                for store in (services.store, second)
            ]
            async with asyncio.timeout(60):
                await asyncio.gather(*(w.run(burst=True) for w in workers))
    finally:
        await second.close()
    assert sum(w.stats.claimed for w in workers) == 600
    assert sum(w.stats.succeeded for w in workers) == 600
    assert len(target.received) == 600  # nothing sent twice after a failed settle
    left = await services.store.list_deliveries(Principal("acme"), DeliveryQuery(limit=1000))
    assert {d.status for d in left} == {"succeeded"}


async def test_a_receiver_that_flips_between_200_and_500_gets_everything_and_doctor_agrees(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    flips = iter(range(10**6))

    async def flip(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500 if next(flips) % 2 else 200)

    async with receivers.receiver(flip) as target:
        await api.create(url=target.url, retry_policy={**FAST_RETRY, "maxAttempts": 10})
        events = [await publish(api) for _ in range(30)]
        await drain(make_worker)
    succeeded = {r.headers["webhook-id"] for r in target.received}
    assert succeeded == set(events)  # each arrived, most more than once (a 500 is retried)
    listed = await api.client.get("/api/v1/deliveries", params={"status": "succeeded"})
    assert len(listed.json()["data"]) == 30
    assert await doctor_counts(services) == {}


async def doctor_counts(services: Services) -> dict[str, int]:
    """What `hookwire doctor` finds (the checks that are not 0)."""
    findings = await examine(services.store, services.secrets, utcnow(), lambda *_: None)
    return {f.check: f.count for f in findings if f.count}


async def test_a_receivers_header_fields_are_kept_within_bounds(
    api: Api, services: Services, make_worker: WorkerFactory
) -> None:
    """aiohttp reads up to 128 fields of 8 KiB: a receiver could make every attempt store a
    megabyte. The log keeps the first fields, up to MAX_LOGGED_HEADERS bytes."""
    fields = {f"X-Big-{i:03d}": "v" * 8000 for i in range(120)}
    async with receivers.receiver(receivers.respond(200, **fields)) as target:
        await api.create(url=target.url)
        event_id = await publish(api)
        await drain(make_worker)
    [delivery] = await delivery_detail(services, api, event_id)
    [attempt] = delivery["attempts"]
    assert attempt["outcome"] == "200"
    kept = attempt["response_headers"]
    assert sum(len(k) + len(v) for k, v in kept.items()) <= MAX_LOGGED_HEADERS
    assert all(len(v) <= MAX_LOGGED_VALUE for v in kept.values())
    assert "X-Big-000" in kept  # the first fields, in order
