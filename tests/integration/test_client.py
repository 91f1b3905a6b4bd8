"""hookwire.Client: the same use cases as the HTTP API, in-process, on both stores."""

from __future__ import annotations

import time

import pytest

import hookwire
from hookwire.catalog.builtin import load_builtin
from hookwire.errors import (
    NotFound,
    PayloadTooLarge,
    SignatureInvalid,
    ValidationFailed,
    VersionConflict,
)
from hookwire.settings import Settings
from tests.conftest import WEBHOOKS, Api
from tests.vendors import VENDORS


async def test_client_manages_webhooks_and_publishes(settings: Settings) -> None:
    async with await hookwire.Client.open(settings, tenant_id="acme", sub="svc") as client:
        hook = await client.create_webhook(
            url="https://receiver.example.com/h", event_types=["integration-*"]
        )
        assert hook["secret"].startswith("whsec_")
        assert hook["created_by"] == "svc"
        data = load_builtin()["integration-state-changed"].example
        accepted = await client.publish("integration-state-changed", data, idempotency_key="k")
        assert accepted["deliveries"] == 1
        again = await client.publish("integration-state-changed", data, idempotency_key="k")
        assert again == accepted
        event = await client.get_event(accepted["id"])
        assert event["delivery_ids"] == [d["id"] for d in event["deliveries"]]
        assert event["deliveries"][0]["webhook_id"] == hook["id"]

        updated = await client.update_webhook(hook["id"], 1, name="renamed")
        assert updated["version"] == 2
        with pytest.raises(VersionConflict) as stale:
            await client.update_webhook(hook["id"], 1, name="again")
        assert stale.value.current_version == 2

        with pytest.raises(ValidationFailed) as invalid:
            await client.publish("integration-state-changed", {"integration_tool": 5})
        assert "/data/integration_tool" in {e.path for e in invalid.value.errors}

        other = client.as_tenant("globex")
        with pytest.raises(NotFound):
            await other.get_webhook(hook["id"])
        assert (await other.list_events())["data"] == []
        assert [e["id"] for e in (await client.list_events())["data"]] == [accepted["id"]]


async def test_client_defines_and_versions_event_types(settings: Settings) -> None:
    async with await hookwire.Client.open(settings, tenant_id="acme") as client:
        schema = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
        created = await client.create_event_type("counter.bumped", schema, example={"n": 1})
        assert created["version"] == 1
        changed = await client.update_event_type("counter.bumped", schema={"type": "object"})
        assert changed["version"] == 2
        assert (await client.get_event_type("counter.bumped", 1))["schema"] == schema
        accepted = await client.publish("counter.bumped", {"anything": True})
        assert accepted["deliveries"] == 0
        names = [t["name"] for t in (await client.list_event_types(limit=200))["data"]]
        assert "counter.bumped" in names and "webhook_test" in names


async def test_client_hands_over_inbound_requests_and_reads_them(settings: Settings) -> None:
    vendor = VENDORS["stripe"]
    async with await hookwire.Client.open(settings, tenant_id="acme") as client:
        hook = await client.create_webhook(**vendor.create_body())
        body = b'{"id": "evt_9", "type": "invoice.paid"}'
        headers = vendor.headers(body, ts=int(time.time()))
        status, answer = await client.receive(hook["id"], headers, body)
        assert status == 202 and answer["id"].startswith("inm_")
        assert await client.receive(hook["id"], headers, body) == (
            200, {"duplicate": True, "id": answer["id"]},
        )  # fmt: skip
        with pytest.raises(SignatureInvalid):
            await client.receive(hook["id"], headers, body + b" ")
        with pytest.raises(PayloadTooLarge):
            await client.receive(hook["id"], headers, b" " * (settings.max_payload_bytes + 1))
        [listed] = (await client.list_inbound_messages(provider_event="invoice.paid"))["data"]
        assert (await client.get_inbound_message(listed["id"]))["body"] == body.decode()
        assert (await client.as_tenant("globex").list_inbound_messages())["data"] == []


async def test_client_answers_the_apis_shapes_for_secrets_shown_once(
    api: Api, settings: Settings
) -> None:
    """Create and rotate-secret answer the webhook, its secret and, during a rotation's grace
    period, ``previous_secret_expires_at``: the client's answers have the API's keys (it used
    to drop the expiry)."""
    over_http = await api.client.post(WEBHOOKS, json={"url": "https://receiver.example.com/h"})
    rotated_http = await api.client.post(
        f"{WEBHOOKS}/{over_http.json()['id']}/rotate-secret", json={"grace_period_s": 60}
    )
    assert rotated_http.status_code == 200, rotated_http.text
    async with await hookwire.Client.open(settings, tenant_id="acme", sub="user-1") as client:
        created = await client.create_webhook(url="https://receiver.example.com/h")
        rotated = await client.rotate_secret(created["id"], grace_period_s=60)
    assert set(created) == set(over_http.json())
    assert set(rotated) == set(rotated_http.json())
    assert rotated["previous_secret_expires_at"] > rotated["updated_at"]
