"""/metrics on both stores: what this process did (publishes, attempts, inbound) and the queue's
state read from the store when scraped."""

from __future__ import annotations

import asyncio
import re

import pytest

from hookwire.catalog.builtin import load_builtin
from hookwire.delivery.worker import WorkerConfig
from hookwire.metrics import status_class
from hookwire.runtime import Runtime, run_engine
from hookwire.settings import Settings
from tests import receivers
from tests.conftest import WEBHOOKS, Api

EVENTS = "/api/v1/events"
TYPES = "/api/v1/event-types"
TEST_EVENT = {"type": "webhook_test", "data": {"test": True}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receivers listen on loopback."""
    return settings.replace(allow_private_targets=True)


async def scrape(api: Api) -> dict[str, float]:
    """Every sample of /metrics (name{labels} -> value), comments left out."""
    response = await api.anonymous().client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def test_publishes_and_attempts_are_counted(api: Api, runtime: Runtime) -> None:
    async with receivers.receiver() as target:
        target.statuses = [503]
        policy = {"initialDelayMs": 0, "maxAttempts": 3}
        await api.create(url=target.url, retry_policy=policy)
        for _ in range(2):
            assert (await api.client.post(EVENTS, json=TEST_EVENT)).status_code == 202
        config = WorkerConfig(poll_interval_s=0.05)
        await asyncio.wait_for(run_engine(runtime, asyncio.Event(), burst=True, config=config), 30)
    samples = await scrape(api)
    assert samples['hookwire_events_published_total{type="webhook_test"}'] == 2
    assert samples['hookwire_delivery_attempts_total{outcome="retry",status="5xx"}'] == 1
    assert samples['hookwire_delivery_attempts_total{outcome="succeeded",status="2xx"}'] == 2
    assert samples["hookwire_delivery_attempt_duration_seconds_count"] == 3
    assert samples['hookwire_delivery_attempt_duration_seconds_bucket{le="+Inf"}'] == 3
    assert samples['hookwire_deliveries{status="pending"}'] == 0
    assert samples["hookwire_deliveries_due"] == 0
    assert samples["hookwire_oldest_due_age_seconds"] == 0


async def test_the_queue_is_read_from_the_store(api: Api) -> None:
    waiting = await api.create(url="https://receiver.example.com/a")
    paused = await api.create(url="https://receiver.example.com/b")
    assert (await api.client.post(f"{WEBHOOKS}/{paused['id']}/pause")).status_code == 200
    for _ in range(3):  # no worker runs: each is pending for one webhook, held for the other
        assert (await api.client.post(EVENTS, json=TEST_EVENT)).status_code == 202
    await asyncio.sleep(0.05)
    samples = await scrape(api)
    # pending: the 3 events and the webhook.paused announcement, all for the running webhook
    assert samples['hookwire_deliveries{status="pending"}'] == 4
    assert samples['hookwire_deliveries{status="held"}'] == 3
    assert samples['hookwire_deliveries{status="in_flight"}'] == 0
    assert samples["hookwire_deliveries_due"] == 4
    assert 0.05 <= samples["hookwire_oldest_due_age_seconds"] < 30
    assert samples["hookwire_webhooks_paused"] == 1
    assert waiting["id"] not in str(samples) and "acme" not in str(samples)  # no tenant data


async def test_tenant_event_types_are_counted_as_custom(api: Api) -> None:
    """/metrics answers without a token: a tenant's type names (acme.secret-merger...) must
    not show there, nor can a tenant grow the label set."""
    for n in range(3):
        name = f"acme.secret-merger-with-globex-{n}"
        created = await api.client.post(TYPES, json={"name": name, "schema": {}})
        assert created.status_code == 201, created.text
        assert (await api.client.post(EVENTS, json={"type": name, "data": {}})).status_code == 202
    assert (await api.client.post(EVENTS, json=TEST_EVENT)).status_code == 202
    text = (await api.anonymous().client.get("/metrics")).text
    assert "secret-merger" not in text
    assert 'hookwire_events_published_total{type="custom"} 3.0' in text
    assert 'hookwire_events_published_total{type="webhook_test"} 1.0' in text
    labels = re.findall(r'hookwire_events_published_total\{type="([^"]+)"\}', text)
    assert set(labels) <= {"custom", *load_builtin()}


@pytest.mark.parametrize(
    ("status", "shown"),
    [("200", "2xx"), ("410", "4xx"), ("503", "5xx"), ("timeout", "timeout"),
     ("connection_error", "connection_error"), ("blocked", "blocked")],
)  # fmt: skip
def test_status_classes(status: str, shown: str) -> None:
    assert status_class(status) == shown
