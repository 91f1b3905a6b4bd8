"""A webhook's state decides what happens to its deliveries (docs/concepts.md), on both stores.

Pause, disable and delete stop sending; resume and enable release what waited. The claim
reads the webhook again, so a delivery made pending by any path (a manual retry, a race)
is never sent to a stopped webhook. On PostgreSQL the publish and the transitions agree
on an order through row locks: the last tests hold a transition open in a second
connection and show that a publish waits for it and then writes what its result says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from hookwire.delivery.sender import Sender
from hookwire.delivery.worker import Worker, WorkerConfig
from hookwire.domain.delivery import fan_out
from hookwire.domain.event import Event
from hookwire.ids import new_id
from hookwire.services.announcements import paused
from hookwire.services.container import Services
from hookwire.settings import Settings
from hookwire.store.postgres import PostgresStore
from hookwire.timeutil import utcnow
from tests import factories, receivers
from tests.conftest import WEBHOOKS, Api

EVENTS = "/api/v1/events"
TEST_EVENT = {"type": "webhook_test", "data": {"test": True}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(allow_private_targets=True)


async def drain(services: Services, sender: Sender) -> None:
    config = WorkerConfig(poll_interval_s=0.05, shutdown_grace_s=5)
    worker = Worker(services.store, services.secrets, sender, config, announcer=paused)
    await asyncio.wait_for(worker.run(burst=True), timeout=60)


async def publish(api: Api) -> str:
    response = await api.client.post(EVENTS, json=TEST_EVENT)
    assert response.status_code == 202, response.text
    event_id: str = response.json()["id"]
    return event_id


async def statuses(api: Api, webhook_id: str) -> list[str]:
    found = await api.client.get("/api/v1/deliveries", params={"webhook_id": webhook_id})
    return sorted(d["status"] for d in found.json()["data"])


async def patch(api: Api, hook: dict[str, Any], **changes: Any) -> dict[str, Any]:
    current = (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()
    headers = {"If-Match": f'"{current["version"]}"'}
    answer = await api.client.patch(f"{WEBHOOKS}/{hook['id']}", json=changes, headers=headers)
    assert answer.status_code == 200, answer.text
    patched: dict[str, Any] = answer.json()
    return patched


async def act(api: Api, hook: dict[str, Any], action: str) -> None:
    answer = await api.client.post(f"{WEBHOOKS}/{hook['id']}/{action}")
    assert answer.status_code == 200, answer.text


async def test_disabling_holds_what_waits_and_enabling_releases_it(
    api: Api, services: Services, sender: Sender
) -> None:
    async with receivers.receiver() as target:
        hook = await api.create(url=target.url, event_types=["webhook_test"])
        await publish(api)
        await patch(api, hook, enabled=False)
        assert await statuses(api, hook["id"]) == ["held"]
        await publish(api)  # made while disabled: no delivery at all (§4)
        await drain(services, sender)
        assert target.received == []
        await patch(api, hook, enabled=True)
        assert await statuses(api, hook["id"]) == ["pending"]
        await drain(services, sender)
    assert len(target.received) == 1
    assert await statuses(api, hook["id"]) == ["succeeded"]


async def test_a_resume_of_a_disabled_webhook_keeps_its_deliveries_held(
    api: Api, services: Services, sender: Sender
) -> None:
    async with receivers.receiver() as target:
        hook = await api.create(url=target.url, event_types=["webhook_test"])
        await act(api, hook, "pause")
        await publish(api)
        await patch(api, hook, enabled=False)
        await act(api, hook, "resume")
        await drain(services, sender)
        assert target.received == []
        assert await statuses(api, hook["id"]) == ["held"]
        await patch(api, hook, enabled=True)
        await drain(services, sender)
    assert len(target.received) == 1


async def test_a_manual_retry_to_a_stopped_webhook_is_held_or_cancelled_never_sent(
    api: Api, services: Services, sender: Sender
) -> None:
    """Retry makes a failed delivery pending whatever its webhook's state; the claim reads the
    webhook again and holds (paused, disabled) or cancels (deleted) instead of sending."""
    async with receivers.receiver(receivers.respond(500)) as target:
        policy = {"initialDelayMs": 0, "maxAttempts": 1}
        hooks = [
            await api.create(url=target.url, event_types=["webhook_test"], retry_policy=policy)
            for _ in range(3)
        ]
        await publish(api)
        await drain(services, sender)
        assert len(target.received) == 3
        await act(api, hooks[0], "pause")
        await patch(api, hooks[1], enabled=False)
        for hook in hooks:
            [failed] = (
                await api.client.get("/api/v1/deliveries", params={"webhook_id": hook["id"]})
            ).json()["data"]
            retried = await api.client.post(f"/api/v1/deliveries/{failed['id']}/retry")
            assert retried.status_code == 200, retried.text
        assert (await api.client.delete(f"{WEBHOOKS}/{hooks[2]['id']}")).status_code == 204
        await drain(services, sender)
        assert len(target.received) == 3  # nothing more was sent
    assert [await statuses(api, h["id"]) for h in hooks[:2]] == [["held"], ["held"]]
    found = await api.client.get("/api/v1/deliveries", params={"webhook_id": hooks[2]["id"]})
    assert [d["status"] for d in found.json()["data"]] == ["cancelled"]


# --- PostgreSQL: a transition under way orders a concurrent publish ------------------------


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_url)
    await store.open()
    yield store
    await store.close()


async def _publish_during(
    store: PostgresStore, pg_url: str, webhook_id: str, change: str
) -> list[str]:
    """Publish while another connection has ``change``d the webhook and not yet committed:
    the publish must wait for the commit and write what the committed state says."""
    owner = factories.principal("acme")
    event = Event(new_id("evt"), owner.tenant_id, "webhook_test", 1, {"test": True}, utcnow())
    conn = await asyncpg.connect(pg_url)
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("SELECT id FROM webhooks WHERE id = $1 FOR UPDATE", webhook_id)
        await conn.execute(change, webhook_id)
        publishing = asyncio.create_task(
            store.publish(event, lambda c: fan_out(event, c, lambda: new_id("dlv")), None)
        )
        await asyncio.sleep(0.3)
        assert not publishing.done(), "the publish did not wait for the transition"
        await transaction.commit()
        published = await asyncio.wait_for(publishing, 10)
    finally:
        await conn.close()
    return [d.status for d in published.deliveries or ()]


@pytest.mark.postgres
async def test_a_publish_waits_for_a_pause_under_way_and_holds(
    pg_store: PostgresStore, pg_url: str
) -> None:
    hook = factories.webhook(factories.principal("acme"), event_types=("webhook_test",))
    await pg_store.insert_webhook(hook)
    pause = "UPDATE webhooks SET paused_at = now() WHERE id = $1"
    assert await _publish_during(pg_store, pg_url, hook.id, pause) == ["held"]


@pytest.mark.postgres
async def test_a_publish_waits_for_a_resume_under_way_and_sends(
    pg_store: PostgresStore, pg_url: str
) -> None:
    hook = factories.webhook(
        factories.principal("acme"), event_types=("webhook_test",), paused_at=utcnow()
    )
    await pg_store.insert_webhook(hook)
    resume = "UPDATE webhooks SET paused_at = NULL WHERE id = $1"
    assert await _publish_during(pg_store, pg_url, hook.id, resume) == ["pending"]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "change",
    [
        "UPDATE webhooks SET is_deleted = true, deleted_at = now() WHERE id = $1",
        "UPDATE webhooks SET enabled = false WHERE id = $1",
        "UPDATE webhooks SET event_types = '[\"integration.*\"]' WHERE id = $1",
    ],
    ids=["delete", "disable", "unsubscribe"],
)
async def test_a_publish_waits_for_a_stop_under_way_and_writes_nothing_for_it(
    pg_store: PostgresStore, pg_url: str, change: str
) -> None:
    hook = factories.webhook(factories.principal("acme"), event_types=("webhook_test",))
    await pg_store.insert_webhook(hook)
    assert await _publish_during(pg_store, pg_url, hook.id, change) == []


async def test_a_manual_retry_of_a_delivery_in_flight_is_refused_and_keeps_its_lease(
    api: Api, services: Services
) -> None:
    """Breaking the lease would let a second worker send it alongside the first."""
    await api.create(url="https://receiver.example.com/hooks", event_types=["webhook_test"])
    await publish(api)
    [job] = await services.store.claim(utcnow(), 10)
    retried = await api.client.post(f"/api/v1/deliveries/{job.delivery.id}/retry")
    assert retried.status_code == 409, retried.text
    assert retried.headers["content-type"] == "application/problem+json"
    stored = await services.store.get_delivery(factories.principal("acme"), job.delivery.id)
    assert stored is not None and stored.status == "in_flight"
    assert stored.lease_expires_at == job.delivery.lease_expires_at
