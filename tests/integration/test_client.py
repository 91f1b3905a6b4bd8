"""hookwire.Client: the same use cases as the HTTP API, in-process, on both stores."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import hookwire
from hookwire.catalog.builtin import load_builtin
from hookwire.domain.principal import Principal
from hookwire.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    SignatureInvalid,
    ValidationFailed,
    VersionConflict,
)
from hookwire.services.container import Services
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


EVENTS, DELIVERIES, EVENT_TYPES = "/api/v1/events", "/api/v1/deliveries", "/api/v1/event-types"
Write = Callable[[], Awaitable[Any]]


async def answer(api: Api, method: str, path: str, **kwargs: Any) -> Any:
    response = await api.client.request(method, path, **kwargs)
    assert response.is_success, response.text
    return response.json()


def client_of(services: Services) -> hookwire.Client:
    """The API fixture's caller (tenant ``acme``, ``user-1``) over the same services."""
    return hookwire.Client(services, Principal("acme", "user-1"))


async def test_client_reads_answer_exactly_the_apis_json(api: Api, services: Services) -> None:
    """Every read of the client (a resource or a page) equals the API's answer to the same
    request, over the same store."""
    client = client_of(services)
    hook = await api.create(event_types=["integration-*"])
    data = load_builtin()["integration-state-changed"].example
    published = await answer(
        api, "POST", EVENTS, json={"type": "integration-state-changed", "data": data}
    )
    schema = {"type": "object"}
    await answer(api, "POST", EVENT_TYPES, json={"name": "counter.bumped", "schema": schema})
    await answer(
        api,
        "PATCH",
        f"{EVENT_TYPES}/counter.bumped",
        json={"schema": {"type": "object", "required": []}},
    )

    kind, of_hook, counter = (
        "integration-state-changed",
        {"webhook_id": hook["id"]},
        "counter.bumped",
    )
    pairs = [
        (await client.get_webhook(hook["id"]), f"{WEBHOOKS}/{hook['id']}", {}),
        (await client.list_webhooks(limit=1), WEBHOOKS, {"limit": 1}),
        (await client.get_event(published["id"]), f"{EVENTS}/{published['id']}", {}),
        (await client.list_events(type=kind), EVENTS, {"type": kind}),
        (await client.list_deliveries(**of_hook), DELIVERIES, of_hook),
        (await client.get_event_type(counter), f"{EVENT_TYPES}/{counter}", {}),
        (await client.get_event_type(counter, 1), f"{EVENT_TYPES}/{counter}/versions/1", {}),
        (await client.list_event_types(limit=3), EVENT_TYPES, {"limit": 3}),
    ]
    for from_client, path, params in pairs:
        assert from_client == await answer(api, "GET", path, params=params), path
    assert (await client.list_deliveries())["data"], "a delivery to compare"


async def test_client_writes_answer_what_the_api_then_reads(api: Api, services: Services) -> None:
    """Every write of the client answers the resource as the API shows it afterwards, with the
    keys the API's own answer to that write has."""
    client = client_of(services)
    created = await client.create_webhook(url="https://receiver.example.com/h")
    over_http = await api.create()
    path = f"{WEBHOOKS}/{created['id']}"
    assert set(created) == set(over_http)
    other = f"{WEBHOOKS}/{over_http['id']}"
    writes: list[tuple[Write, Write]] = [
        (lambda: client.update_webhook(created["id"], 1, name="renamed"),
         lambda: answer(api, "PATCH", other, json={"name": "renamed", "version": 1})),
        (lambda: client.pause_webhook(created["id"]),
         lambda: answer(api, "POST", f"{other}/pause")),
        (lambda: client.resume_webhook(created["id"]),
         lambda: answer(api, "POST", f"{other}/resume")),
    ]  # fmt: skip
    for by_client, over_api in writes:
        written = await by_client()
        assert written == await answer(api, "GET", path)
        assert set(written) == set(await over_api())

    schema = {"type": "object"}
    made = await client.create_event_type("client.made", schema, description="d")
    made_http = await answer(
        api, "POST", EVENT_TYPES, json={"name": "http.made", "schema": schema, "description": "d"}
    )
    assert made == await answer(api, "GET", f"{EVENT_TYPES}/client.made")
    assert set(made) == set(made_http)
    changed = await client.update_event_type(
        "client.made", schema={"type": "object", "required": []}
    )
    assert changed == await answer(api, "GET", f"{EVENT_TYPES}/client.made")

    data = load_builtin()["integration-state-changed"].example
    event = {"type": "integration-state-changed", "data": data}
    receipt = await client.publish(event["type"], data)
    receipt_http = await answer(api, "POST", EVENTS, json=event)
    assert {k: v for k, v in receipt.items() if k not in {"id", "created_at"}} == {
        k: v for k, v in receipt_http.items() if k not in {"id", "created_at"}
    }  # fmt: skip
    assert set(receipt) == set(receipt_http)


async def test_a_key_the_client_used_replays_over_http(api: Api, services: Services) -> None:
    """The client and the API hash a request alike: the same key and body replay."""
    data = load_builtin()["integration-state-changed"].example
    body = {"type": "integration-state-changed", "data": data, "tags": ["a"]}
    first = await client_of(services).publish(
        body["type"], data, tags=["a"], idempotency_key="shared"
    )
    again = await api.client.post(EVENTS, json=body, headers={"Idempotency-Key": "shared"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first


async def test_client_refuses_in_the_apis_order(services: Services) -> None:
    """A bad Idempotency-Key is refused before the body is looked at, and an application's
    token before the event type's body, as over HTTP."""
    client = client_of(services)
    with pytest.raises(BadRequest):
        await client.publish("no such type", None, idempotency_key="x" * 300)
    app = client.as_tenant("acme", app_id="app-1")
    with pytest.raises(Forbidden):
        await app.create_event_type("Not A Name", 5)
    with pytest.raises(Forbidden):
        await app.update_event_type("webhook_test", colour=1)


async def test_client_inbound_answers_are_the_apis(api: Api, services: Services) -> None:
    """The client hands over a third party's request and reads inbound messages with the
    API's statuses and shapes."""
    vendor = VENDORS["stripe"]
    client = client_of(services)
    hook = await answer(api, "POST", WEBHOOKS, json=vendor.create_body())
    first, second = b'{"id": "evt_1", "type": "a"}', b'{"id": "evt_2", "type": "a"}'
    inbound = f"/api/v1/inbound/{hook['id']}"
    anonymous, accepted = api.anonymous().client, list[tuple[int, dict[str, Any]]]()
    for body, through_client in [(first, False), (second, True)]:
        headers = vendor.headers(body, ts=int(time.time()))
        if through_client:
            accepted.append(await client.receive(hook["id"], headers, body))
        else:
            response = await anonymous.post(inbound, content=body, headers=headers)
            accepted.append((response.status_code, response.json()))
        again = await anonymous.post(inbound, content=body, headers=headers)
        assert (again.status_code, again.json()) == await client.receive(hook["id"], headers, body)
    [(http_status, over_http), (client_status, by_client)] = accepted
    assert http_status == client_status == 202 and set(over_http) == set(by_client)
    messages = "/api/v1/inbound-messages"
    listed = await client.list_inbound_messages(webhook_id=hook["id"])
    assert listed == await answer(api, "GET", messages, params={"webhook_id": hook["id"]})
    for message in listed["data"]:
        one = await client.get_inbound_message(message["id"])
        assert one == await answer(api, "GET", f"{messages}/{message['id']}")
