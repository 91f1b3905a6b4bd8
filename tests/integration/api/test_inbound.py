"""Inbound webhooks over HTTP on both stores (docs/concepts.md "Inbound messages"): every scheme's
vendor-signed
request is accepted, stored and published; refusals store nothing but a count; duplicates
publish once, also when twenty arrive at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from hookwire.catalog.builtin import load_builtin
from hookwire.domain.inbound import SIGNED_ID_SCHEMES
from hookwire.domain.validation import schema_errors
from hookwire.services.container import Services
from tests.conftest import WEBHOOKS, Api
from tests.vendors import VENDORS, Vendor

MESSAGES = "/api/v1/inbound-messages"
EVENTS = "/api/v1/events"
SCHEMES = sorted(VENDORS)


def body_of(n: int = 1, **data: Any) -> bytes:
    """A Kombo-shaped event body (every scheme here treats it as opaque bytes)."""
    event = {"id": f"evt_{n}", "type": "data-changed", "data": {"integration_id": "x", **data}}
    return orjson.dumps(event)


Send = Callable[..., Awaitable[Any]]


async def inbound_webhook(api: Api, vendor: Vendor, **extra: Any) -> dict[str, Any]:
    response = await api.client.post(WEBHOOKS, json=vendor.create_body(**extra))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def send(
    api: Api, webhook: dict[str, Any], vendor: Vendor, body: bytes, *, delivery_id: str = "d-1",
    ts: int | None = None, key: str = "", **overrides: str | None,
) -> Any:  # fmt: skip
    headers = vendor.headers(body, ts=int(time.time()) if ts is None else ts,
                             delivery_id=delivery_id, key=key)  # fmt: skip
    for name, value in overrides.items():
        name = name.replace("_", "-")
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
        if value is not None:
            headers[name] = value
    path = "/api/v1/inbound/" + webhook["id"]
    return await api.anonymous().client.post(path, content=body, headers=headers)


async def messages(api: Api, **filters: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.client.get(MESSAGES, params=filters)).json()["data"]
    return found


async def received_events(api: Api) -> list[dict[str, Any]]:
    response = await api.client.get(EVENTS, params={"type": "inbound.received"})
    found: list[dict[str, Any]] = response.json()["data"]
    return found


# --- accepted: stored with headers and raw body, published to subscribers -----------------------


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_vendor_signed_request_is_stored_and_published(api: Api, scheme: str) -> None:
    vendor = VENDORS[scheme]
    subscriber = await api.create(event_types=["inbound.received"])
    hook = await inbound_webhook(api, vendor, connector_id="conn-1")
    body = body_of(1, note="ünïcode")
    response = await send(api, hook, vendor, body)
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]
    assert response.json() == {"id": message_id} and message_id.startswith("inm_")

    stored = (await api.client.get(f"{MESSAGES}/{message_id}")).json()
    assert stored["body"] == body.decode() and stored["body_encoding"] == "utf-8"
    assert stored["body_size"] == len(body)
    assert (stored["webhook_id"], stored["scheme"]) == (hook["id"], scheme)
    assert stored["provider_event"] == vendor.event_name
    assert stored["connector_id"] == "conn-1"
    for name in vendor.required:
        assert name.lower() in stored["headers"]
    expected_key = "id:d-1" if scheme in SIGNED_ID_SCHEMES else None  # else the body's hash
    if scheme == "stripe":
        expected_key = "id:evt_1"  # Stripe's event id is in the body
    assert stored["dedupe_key"] == expected_key or (
        expected_key is None and stored["dedupe_key"].startswith("sha256:")
    )

    [event] = await received_events(api)
    assert event["id"] == stored["event_id"] and event["connector_id"] == "conn-1"
    assert event["data"] == {
        "inbound_message_id": message_id,
        "webhook_id": hook["id"],
        "connector_id": "conn-1",
        "provider_event": vendor.event_name,
        "payload": orjson.loads(body),
    }
    schema = load_builtin()["inbound.received"].schema
    assert schema_errors(schema, event["data"]) == []
    detail = (await api.client.get(f"{EVENTS}/{event['id']}")).json()
    assert [d["webhook_id"] for d in detail["deliveries"]] == [subscriber["id"]]


async def test_the_listing_leaves_bodies_out_and_filters(api: Api) -> None:
    github, stripe = VENDORS["github"], VENDORS["stripe"]
    one = await inbound_webhook(api, github)
    two = await inbound_webhook(api, stripe)
    for n in range(3):
        assert (await send(api, one, github, body_of(n), delivery_id=f"g{n}")).status_code == 202
    assert (await send(api, two, stripe, body_of(9))).status_code == 202
    listed = await messages(api)
    assert len(listed) == 4 and all("body" not in m for m in listed)
    assert [m["id"] for m in listed] == sorted((m["id"] for m in listed), reverse=True)
    assert {m["webhook_id"] for m in await messages(api, webhook_id=one["id"])} == {one["id"]}
    assert len(await messages(api, provider_event="issues")) == 3
    first = (await api.client.get(MESSAGES, params={"limit": 2})).json()
    second = (await api.client.get(MESSAGES, params={"cursor": first["next_cursor"]})).json()
    assert [m["id"] for m in first["data"] + second["data"]] == [m["id"] for m in listed]
    assert second["next_cursor"] is None
    bad = await api.client.get(MESSAGES, params={"since": "2026-01-02T00:00:00Z",
                                                  "until": "2026-01-01T00:00:00Z"})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "/until"


# --- refused: 401, nothing stored but a count --------------------------------------------------


def _refusals(vendor: Vendor) -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = [
        ("tampered body", {"tamper": True}),
        ("wrong secret", {"key": vendor.other_key}),
    ]
    if vendor.timestamped:
        cases.append(("stale timestamp", {"ts": int(time.time()) - 360}))
        cases.append(("future timestamp", {"ts": int(time.time()) + 360}))
    cases += [(f"missing {name}", {name.replace("-", "_"): None}) for name in vendor.required]
    return cases


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_refused_requests_are_401_store_nothing_and_are_counted(
    api: Api, services: Services, scheme: str
) -> None:
    vendor = VENDORS[scheme]
    subscriber = await api.create(event_types=["inbound.received"])
    hook = await inbound_webhook(api, vendor)
    cases = _refusals(vendor)
    for what, case in cases:
        body = body_of(2)
        if case.pop("tamper", False):
            sent = body_of(2, integration_id="y")
            headers = vendor.headers(body, ts=int(time.time()), delivery_id="d-2")
            response = await api.anonymous().client.post(
                "/api/v1/inbound/" + hook["id"], content=sent, headers=headers
            )
        else:
            response = await send(api, hook, vendor, body, delivery_id="d-2", **case)
        assert response.status_code == 401, (what, response.text)
        problem = response.json()
        assert problem["type"] == "urn:hookwire:problem:bad-signature", what
        assert response.headers["content-type"] == "application/problem+json"
        assert "www-authenticate" not in response.headers  # a signature, not a bearer token
        assert vendor.signing_key not in response.text and vendor.secret not in response.text
    assert await messages(api) == [] and await received_events(api) == []
    shown = (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()
    assert shown["rejected_requests"] == len(cases) and shown["last_rejected_at"] is not None
    assert shown["version"] == hook["version"]  # counting is not a person's change
    assert (await api.client.get(f"{WEBHOOKS}/{subscriber['id']}")).json()["rejected_requests"] == 0
    metrics = (await api.anonymous().client.get("/metrics")).text
    line = f'hookwire_inbound_requests_total{{outcome="rejected",scheme="{scheme}"}} {len(cases)}.0'
    assert line in metrics
    # and the correctly signed request is still accepted afterwards
    assert (await send(api, hook, vendor, body_of(2), delivery_id="d-2")).status_code == 202


async def test_a_body_over_the_limit_is_413_and_counted(api: Api, services: Services) -> None:
    vendor = VENDORS["github"]
    hook = await inbound_webhook(api, vendor)
    big = b'{"a":"' + b"x" * services.settings.max_payload_bytes + b'"}'
    response = await send(api, hook, vendor, big)
    assert response.status_code == 413
    assert await messages(api) == []
    assert (await api.client.get(f"{WEBHOOKS}/{hook['id']}")).json()["rejected_requests"] == 1


@pytest.mark.parametrize("state", ["unknown", "garbage", "outbound", "disabled", "deleted"])
async def test_only_enabled_inbound_webhooks_receive(api: Api, state: str) -> None:
    vendor = VENDORS["github"]
    hook = await inbound_webhook(api, vendor)
    target = dict(hook)
    if state == "unknown":
        target["id"] = "wh_01JD3S7A2M8Q9X4T6V5B0C1N2P"
    elif state == "garbage":
        target["id"] = "../../webhooks%2F" + "x" * 300
    elif state == "outbound":
        target = await api.create(signature_scheme="github", secret=vendor.secret)
    elif state == "disabled":
        patched = await api.client.patch(
            f"{WEBHOOKS}/{hook['id']}", json={"enabled": False}, headers={"If-Match": '"1"'}
        )
        assert patched.status_code == 200
    else:
        assert (await api.client.delete(f"{WEBHOOKS}/{hook['id']}")).status_code == 204
    response = await send(api, target, vendor, body_of(3))
    assert response.status_code == 404, response.text
    assert "acme" not in response.text
    assert await messages(api) == []


# --- duplicates --------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_duplicate_answers_200_and_publishes_nothing(api: Api, scheme: str) -> None:
    vendor = VENDORS[scheme]
    await api.create(event_types=["inbound.received"])
    hook = await inbound_webhook(api, vendor)
    body = body_of(4)
    first = await send(api, hook, vendor, body, delivery_id="same")
    again = await send(api, hook, vendor, body, delivery_id="same")  # a provider's retry
    assert first.status_code == 202 and again.status_code == 200
    assert again.json() == {"duplicate": True, "id": first.json()["id"]}
    other = await send(api, hook, vendor, body_of(5), delivery_id="another")
    assert other.status_code == 202
    assert len(await messages(api)) == 2 and len(await received_events(api)) == 2


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_twenty_concurrent_duplicates_store_and_publish_once(api: Api, scheme: str) -> None:
    vendor = VENDORS[scheme]
    await api.create(event_types=["inbound.received"])
    hook = await inbound_webhook(api, vendor)
    body = body_of(6)
    responses = await asyncio.gather(
        *(send(api, hook, vendor, body, delivery_id="burst") for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [202], [r.text for r in responses]
    [winner] = [r.json()["id"] for r in responses if r.status_code == 202]
    assert {r.json()["id"] for r in responses} == {winner}
    assert len(await messages(api)) == 1
    [event] = await received_events(api)
    detail = (await api.client.get(f"{EVENTS}/{event['id']}")).json()
    assert len(detail["deliveries"]) == 1


@pytest.mark.parametrize("scheme", SCHEMES)
async def test_a_replayed_body_with_a_new_delivery_id_is_a_duplicate(api: Api, scheme: str) -> None:
    """The delivery id of GitHub, Shopify, Kombo, Slack and hmac-sha256 is a header nobody
    signs: a replay with a fresh one was accepted again (a new event each time). Standard
    Webhooks signs its id with the body, so another id there is another message."""
    vendor = VENDORS[scheme]
    hook = await inbound_webhook(api, vendor)
    body = body_of(8)
    first = await send(api, hook, vendor, body, delivery_id="original")
    replayed = await send(api, hook, vendor, body, delivery_id="fresh-and-unsigned")
    assert first.status_code == 202, first.text
    if scheme in {"standard-webhooks", "standard-webhooks-ed25519"}:
        assert replayed.status_code == 202, replayed.text
    else:
        assert replayed.status_code == 200, replayed.text
        assert replayed.json() == {"duplicate": True, "id": first.json()["id"]}


async def test_the_same_delivery_id_on_two_webhooks_is_not_a_duplicate(api: Api) -> None:
    vendor = VENDORS["github"]
    one, two = await inbound_webhook(api, vendor), await inbound_webhook(api, vendor)
    assert (await send(api, one, vendor, body_of(7), delivery_id="x")).status_code == 202
    assert (await send(api, two, vendor, body_of(7), delivery_id="x")).status_code == 202


# --- filters, Slack's handshake, rotation, the generic scheme ----------------------------------


async def test_event_types_filter_the_provider_event_but_every_message_is_stored(
    api: Api,
) -> None:
    vendor = VENDORS["github"]
    hook = await inbound_webhook(api, vendor, event_types=["push", "pull_*"])
    skipped = await send(api, hook, vendor, body_of(8), delivery_id="a")  # X-GitHub-Event: issues
    kept = await send(api, hook, vendor, body_of(9), delivery_id="b", X_GitHub_Event="pull_request")
    assert skipped.status_code == kept.status_code == 202
    by_id = {m["id"]: m for m in await messages(api)}
    assert by_id[skipped.json()["id"]]["event_id"] is None
    [event] = await received_events(api)
    assert event["id"] == by_id[kept.json()["id"]]["event_id"]
    assert event["data"]["provider_event"] == "pull_request"


async def test_slack_url_verification_is_answered_and_not_stored(api: Api) -> None:
    vendor = VENDORS["slack"]
    hook = await inbound_webhook(api, vendor)
    body = orjson.dumps(
        {"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9C", "type": "url_verification"}
    )
    response = await send(api, hook, vendor, body)
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9C"}
    assert await messages(api) == []
    forged = await send(api, hook, vendor, body, key=vendor.other_key)
    assert forged.status_code == 401  # the handshake is signed too


async def test_slack_names_the_inner_event(api: Api) -> None:
    vendor = VENDORS["slack"]
    hook = await inbound_webhook(api, vendor)
    body = orjson.dumps(
        {"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_mention"}}
    )
    assert (await send(api, hook, vendor, body)).status_code == 202
    assert [m["provider_event"] for m in await messages(api)] == ["app_mention"]


async def test_during_a_rotation_grace_both_secrets_verify(api: Api) -> None:
    vendor = VENDORS["github"]
    hook = await inbound_webhook(api, vendor)
    rotate = f"{WEBHOOKS}/{hook['id']}/rotate-secret"
    rotated = await api.client.post(rotate, json={"secret": vendor.other_key, "grace_period_s": 60})
    assert rotated.status_code == 200
    assert (await send(api, hook, vendor, body_of(10), delivery_id="old")).status_code == 202
    new = await send(api, hook, vendor, body_of(11), delivery_id="new", key=vendor.other_key)
    assert new.status_code == 202
    dropped = await api.client.post(
        rotate, json={"secret": "a-third-secret-000000", "grace_period_s": 0}
    )
    assert dropped.status_code == 200
    stale = await send(api, hook, vendor, body_of(12), delivery_id="late", key=vendor.other_key)
    assert stale.status_code == 401


async def test_a_non_json_body_is_published_as_text_or_form_fields(api: Api) -> None:
    vendor = VENDORS["github"]
    await api.create(event_types=["inbound.received"])
    hook = await inbound_webhook(api, vendor)
    form = b"payload=%7B%22a%22%3A1%7D&x=1&x=2"
    sent = await send(
        api, hook, vendor, form, delivery_id="f", Content_Type="application/x-www-form-urlencoded"
    )
    assert sent.status_code == 202
    binary = b"\xff\xfe\x00raw"
    assert (
        await send(
            api, hook, vendor, binary, delivery_id="b", Content_Type="application/octet-stream"
        )
    ).status_code == 202
    payloads = [e["data"]["payload"] for e in await received_events(api)]
    assert {"payload": '{"a":1}', "x": ["1", "2"]} in payloads
    assert "\ufffd\ufffd\ufffdraw" in payloads  # invalid UTF-8 and NUL replaced; the body is kept
    stored = (await api.client.get(f"{MESSAGES}/{sent.json()['id']}")).json()
    assert stored["body"] == form.decode()
    raw = next(m for m in await messages(api) if m["body_size"] == len(binary))
    shown = (await api.client.get(f"{MESSAGES}/{raw['id']}")).json()
    assert shown["body_encoding"] == "base64"


async def test_credentials_headers_are_not_stored(api: Api) -> None:
    vendor = VENDORS["github"]
    hook = await inbound_webhook(api, vendor)
    sent = await send(
        api, hook, vendor, body_of(13), Authorization="Basic dXNlcjpwYXNz", Cookie="s=1"
    )
    stored = (await api.client.get(f"{MESSAGES}/{sent.json()['id']}")).json()
    assert "authorization" not in stored["headers"] and "cookie" not in stored["headers"]
    assert "dXNlcjpwYXNz" not in str(stored)


# --- tenancy -----------------------------------------------------------------------------------


async def test_messages_are_read_by_their_tenant_and_app_only(api: Api) -> None:
    vendor = VENDORS["github"]
    app_one = api.as_tenant("acme", sub=None, app="app-1")
    hook = await inbound_webhook(app_one, vendor)
    sent = await send(api, hook, vendor, body_of(14))
    message_id = sent.json()["id"]
    assert (await app_one.client.get(f"{MESSAGES}/{message_id}")).status_code == 200
    assert (await api.client.get(f"{MESSAGES}/{message_id}")).status_code == 200  # the tenant
    for stranger in (api.as_tenant("globex"), api.as_tenant("acme", sub=None, app="app-2")):
        response = await stranger.client.get(f"{MESSAGES}/{message_id}")
        assert response.status_code == 404 and "acme" not in response.text
        assert await messages(stranger) == []
    assert (await api.anonymous().client.get(MESSAGES)).status_code == 401


async def test_json_nested_too_deep_to_send_on_is_published_as_text(api: Api) -> None:
    vendor = VENDORS["github"]
    await api.create(event_types=["inbound.received"])
    hook = await inbound_webhook(api, vendor)
    deep = b'{"a":' * 300 + b"1" + b"}" * 300
    response = await send(api, hook, vendor, deep)
    assert response.status_code == 202, response.text
    [event] = await received_events(api)
    assert event["data"]["payload"] == deep.decode()
