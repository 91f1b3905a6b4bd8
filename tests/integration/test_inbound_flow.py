"""Inbound end to end on both stores: vendors' published example requests are accepted, and
what arrives is delivered onward, signed, to an outbound subscriber on a real loopback
receiver by the real worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from hookwire.delivery.sender import Sender
from hookwire.delivery.worker import Worker, WorkerConfig
from hookwire.services.announcements import paused
from hookwire.services.container import Services
from hookwire.settings import Settings
from hookwire.signing.keys import public_key
from tests import receivers
from tests.conftest import WEBHOOKS, Api
from tests.vendors import (
    ED_KEY,
    ED_SIG,
    GITHUB_BODY,
    GITHUB_SECRET,
    GITHUB_SIG,
    SLACK_BODY,
    SLACK_SECRET,
    SLACK_SIG,
    SLACK_TS,
    SW_BODY,
    SW_ID,
    SW_SECRET,
    SW_SIG,
    SW_TS,
    VENDORS,
)

MESSAGES = "/api/v1/inbound-messages"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver listens on loopback, so the subscriber must be allowed a private target."""
    return settings.replace(allow_private_targets=True)


async def inbound_hook(api: Api, scheme: str, secret: str) -> str:
    body = {"direction": "inbound", "signature_scheme": scheme, "secret": secret}
    response = await api.client.post(WEBHOOKS, json=body)
    assert response.status_code == 201, response.text
    hook_id: str = response.json()["id"]
    return hook_id


async def post(api: Api, hook_id: str, body: bytes, headers: dict[str, str]) -> Any:
    return await api.anonymous().client.post(
        f"/api/v1/inbound/{hook_id}", content=body, headers=headers
    )


def at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@pytest.mark.parametrize("scheme", ["github", "standard-webhooks", "stripe", "shopify"])
async def test_what_arrives_is_delivered_signed_to_an_outbound_subscriber(
    api: Api, services: Services, sender: Sender, scheme: str
) -> None:
    vendor = VENDORS[scheme]
    payload = {
        "id": "evt_42",
        "type": "data-changed",
        "data": {"changed_models": ["hris_employees"]},
    }
    body = orjson.dumps(payload)
    async with receivers.receiver() as target:
        subscriber = await api.create(url=target.url, event_types=["inbound.*"])
        hook = await api.client.post(WEBHOOKS, json=vendor.create_body(connector_id="greenhouse"))
        hook_id = hook.json()["id"]
        now = int(services.inbound.clock().timestamp())
        accepted = await post(api, hook_id, body, vendor.headers(body, ts=now, delivery_id="d-42"))
        assert accepted.status_code == 202, accepted.text
        config = WorkerConfig(poll_interval_s=0.05)
        worker = Worker(services.store, services.secrets, sender, config, announcer=paused)
        await asyncio.wait_for(worker.run(burst=True), timeout=60)
    [request] = target.received
    StandardWebhook(subscriber["secret"]).verify(request.body, request.headers)
    delivered = orjson.loads(request.body)
    assert delivered["type"] == "inbound.received"
    assert delivered["data"] == {
        "inbound_message_id": accepted.json()["id"],
        "webhook_id": hook_id,
        "connector_id": "greenhouse",
        "provider_event": vendor.event_name,
        "payload": payload,
    }


# --- the vendors' published examples -------------------------------------------------------------

# The Ed25519 reference message is verified with the public half of the published key.
ED_PUBLIC = public_key("standard-webhooks-ed25519", ED_KEY, inbound=False) or ""


async def test_githubs_documented_example_is_accepted(api: Api) -> None:
    hook_id = await inbound_hook(api, "github", GITHUB_SECRET)
    headers = {"X-Hub-Signature-256": GITHUB_SIG, "X-GitHub-Event": "ping"}
    response = await post(api, hook_id, GITHUB_BODY, headers)
    assert response.status_code == 202, response.text
    tampered = await post(api, hook_id, b"Hello, World?", headers)
    assert tampered.status_code == 401


async def test_slacks_documented_example_is_accepted_at_its_time(
    api: Api, services: Services
) -> None:
    hook_id = await inbound_hook(api, "slack", SLACK_SECRET)
    headers = {
        "X-Slack-Request-Timestamp": str(SLACK_TS),
        "X-Slack-Signature": SLACK_SIG,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    services.inbound.clock = lambda: at(SLACK_TS + 299)
    response = await post(api, hook_id, SLACK_BODY, headers)
    assert response.status_code == 202, response.text
    stored = (await api.client.get(f"{MESSAGES}/{response.json()['id']}")).json()
    assert stored["body"] == SLACK_BODY.decode()
    services.inbound.clock = lambda: at(SLACK_TS + 301)  # the same request, replayed later
    assert (await post(api, hook_id, SLACK_BODY, headers)).status_code == 401


@pytest.mark.parametrize(
    ("scheme", "secret", "signature"),
    [("standard-webhooks", SW_SECRET, SW_SIG), ("standard-webhooks-ed25519", ED_PUBLIC, ED_SIG)],
)
async def test_the_standard_webhooks_reference_vectors_are_accepted(
    api: Api, services: Services, scheme: str, secret: str, signature: str
) -> None:
    hook_id = await inbound_hook(api, scheme, secret)
    headers = {"webhook-id": SW_ID, "webhook-timestamp": str(SW_TS), "webhook-signature": signature}
    services.inbound.clock = lambda: at(SW_TS)
    response = await post(api, hook_id, SW_BODY, headers)
    assert response.status_code == 202, response.text
    stored = (await api.client.get(f"{MESSAGES}/{response.json()['id']}")).json()
    assert stored["dedupe_key"] == f"id:{SW_ID}"
