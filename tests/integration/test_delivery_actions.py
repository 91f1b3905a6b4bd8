"""The actions around deliveries, on both stores: test, retry, recover, purge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hookwire.services.container import Services
from hookwire.services.retention import purge
from hookwire.settings import Settings
from hookwire.timeutil import iso, utcnow
from tests import receivers
from tests.conftest import WEBHOOKS, Api
from tests.drain import drain

EVENTS = "/api/v1/events"
ONCE = {"initialDelayMs": 0, "maxAttempts": 1}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(allow_private_targets=True)


async def first_delivery(api: Api, event_id: str) -> dict[str, Any]:
    delivery_id = (await api.client.get(f"{EVENTS}/{event_id}")).json()["delivery_ids"][0]
    detail: dict[str, Any] = (await api.client.get(f"/api/v1/deliveries/{delivery_id}")).json()
    return detail


async def statuses(api: Api, event_ids: list[str]) -> list[str]:
    return [(await first_delivery(api, e))["status"] for e in event_ids]


async def publish(api: Api) -> str:
    response = await api.client.post(EVENTS, json={"type": "webhook_test", "data": {"test": True}})
    event_id: str = response.json()["id"]
    return event_id


async def test_the_test_action_sends_once_now_and_stores_nothing(api: Api) -> None:
    async with receivers.receiver(receivers.respond(418)) as target:
        hook = await api.create(url=target.url)
        response = await api.client.post(f"{WEBHOOKS}/{hook['id']}/test")
    assert response.status_code == 200
    result = response.json()
    assert result["success"] is False and result["status_code"] == 418
    assert result["response_body"] == "418" and result["error"] is None
    assert isinstance(result["duration_ms"], int)
    assert len(target.received) == 1
    assert b'"type":"webhook_test","data":{"test":true}' in target.received[0].body
    assert (await api.client.get(EVENTS)).json()["data"] == []


async def test_the_test_action_reports_connection_errors(api: Api) -> None:
    hook = await api.create(url="http://127.0.0.1:9/closed")
    result = (await api.client.post(f"{WEBHOOKS}/{hook['id']}/test")).json()
    assert result == {**result, "success": False, "status_code": None}
    assert result["error"]


async def test_retry_gives_a_failed_delivery_one_more_attempt(api: Api, services: Services) -> None:
    async with receivers.receiver() as target:
        target.statuses = [500]
        await api.create(url=target.url, retry_policy=ONCE)
        event_id = await publish(api)
        await drain(services)
        failed = await first_delivery(api, event_id)
        assert failed["status"] == "failed"
        retried = await api.client.post(f"/api/v1/deliveries/{failed['id']}/retry")
        assert retried.status_code == 200 and retried.json()["status"] == "pending"
        await drain(services)
    done = await first_delivery(api, event_id)
    assert done["status"] == "succeeded" and done["attempt_count"] == 2
    assert len(target.received) == 2
    stranger = api.as_tenant("globex")
    assert (
        await stranger.client.post(f"/api/v1/deliveries/{failed['id']}/retry")
    ).status_code == 404


async def test_recover_requeues_failed_deliveries_in_the_window(
    api: Api, services: Services
) -> None:
    async with receivers.receiver(receivers.respond(500)) as target:
        hook = await api.create(url=target.url, retry_policy=ONCE)
        since = iso(utcnow())
        events = [await publish(api) for _ in range(3)]
        await drain(services)
        assert await statuses(api, events) == ["failed"] * 3
        target.behaviour = None  # the receiver is fixed
        url = f"{WEBHOOKS}/{hook['id']}/recover"
        future = await api.client.post(url, json={"since": iso(utcnow() + timedelta(hours=1))})
        assert future.json() == {"requeued": 0}
        response = await api.client.post(url, json={"since": since})
        assert response.status_code == 200 and response.json() == {"requeued": 3}
        await drain(services)
    assert await statuses(api, events) == ["succeeded"] * 3
    bad = await api.client.post(url, json={"since": "yesterday"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "/since"
    backwards = await api.client.post(url, json={"since": since, "until": since})
    assert backwards.status_code == 422
    assert (
        await api.as_tenant("globex").client.post(url, json={"since": since})
    ).status_code == 404


async def test_purge_drops_old_finished_events_and_keeps_the_rest(
    api: Api, services: Services
) -> None:
    async with receivers.receiver() as target:
        await api.create(url=target.url)
        done = await publish(api)
        await drain(services)
    paused = await api.create(url="http://127.0.0.1:9/never")
    await api.client.post(f"{WEBHOOKS}/{paused['id']}/pause")
    waiting = await publish(api)  # held for the paused webhook: not finished
    gone = await api.create()
    await api.client.delete(f"{WEBHOOKS}/{gone['id']}")
    report = await purge(services.store, services.secrets, 1, utcnow() + timedelta(days=2))
    assert report.events == 1 and report.webhooks == 1
    assert (await api.client.get(f"{EVENTS}/{done}")).status_code == 404
    assert (await api.client.get(f"{EVENTS}/{waiting}")).status_code == 200
    assert await services.secrets.get(gone["vault_path"]) is None
    kept = await purge(services.store, services.secrets, 30, utcnow())
    assert kept.events == 0 and kept.webhooks == 0
