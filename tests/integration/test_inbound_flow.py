"""Inbound end to end on both stores: vendors' published example requests are accepted, and
what arrives is delivered onward, signed, to an outbound subscriber on a real loopback
receiver by the real worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from hookwire.delivery.sender import Sender
from hookwire.delivery.worker import Worker, WorkerConfig
from hookwire.services.container import Services
from hookwire.settings import Settings
from hookwire.signing.keys import public_key
from tests import receivers
from tests.conftest import WEBHOOKS, Api
from tests.vendors import VENDORS

MESSAGES = "/api/v1/inbound-messages"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver listens on loopback, so the subscriber must be allowed a private target."""
    return settings.replace(allow_private_targets=True)


@pytest.fixture
async def sender() -> AsyncIterator[Sender]:
    opened = Sender(allow_private=True)
    await opened.open()
    yield opened
    await opened.close()


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
        worker = Worker(
            services.store, services.secrets, sender, WorkerConfig(poll_interval_s=0.05)
        )
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

# docs.github.com, "Validating webhook deliveries" -> "Testing the webhook payload validation".
GITHUB_SECRET, GITHUB_BODY = "It's a Secret to Everybody", b"Hello, World!"
GITHUB_SIG = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# api.slack.com/authentication/verifying-requests-from-slack, the worked example.
SLACK_SECRET, SLACK_TS = "8f742231b10e8888abcd99yyyzzz85a5", 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

# github.com/standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py.
SW_ID, SW_TS, SW_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# ... libraries/go/webhook_asymmetric_test.go (TestAsymmetricWebhookSign): the same message
# signed with the published key, verified here with its public half.
ED_KEY = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
ED_PUBLIC = public_key("standard-webhooks-ed25519", ED_KEY, inbound=False) or ""
ED_SIG = (
    "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)


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
