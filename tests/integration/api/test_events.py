"""Publishing events over HTTP on both stores: validation, fan-out, envelopes, reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from hookwire.catalog.builtin import load_builtin
from hookwire.domain.principal import Principal
from hookwire.domain.validation import schema_errors
from hookwire.store.base import Store
from tests.conftest import WEBHOOKS, Api

EVENTS = "/api/v1/events"
SEEDS = Path(__file__).parents[2] / "data" / "seeds"
STATE_CHANGED = "integration-state-changed"


def example(name: str) -> Any:
    return load_builtin()[name].example


async def publish(api: Api, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = await api.client.post(EVENTS, json=body, headers=headers)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


async def deliveries_of(api: Api, event_id: str) -> list[dict[str, Any]]:
    detail = (await api.client.get(f"{EVENTS}/{event_id}")).json()
    found: list[dict[str, Any]] = detail["deliveries"]
    return found


async def nothing_written(api: Api) -> None:
    assert (await api.client.get(EVENTS)).json()["data"] == []
    assert (await api.client.get("/api/v1/deliveries")).json()["data"] == []


@pytest.mark.parametrize("name", sorted(load_builtin()))
async def test_every_builtin_example_publishes(api: Api, name: str) -> None:
    accepted = await publish(api, {"type": name, "data": example(name)})
    assert accepted["type"] == name
    assert accepted["id"].startswith("evt_")
    assert accepted["deliveries"] == 0


@pytest.mark.parametrize("name", [STATE_CHANGED, "connection-flow-failed"])
async def test_delivered_event_envelope_validates_against_the_full_seed_schema(
    api: Api, store: Store, name: str
) -> None:
    await api.create(event_types=[name])
    accepted = await publish(api, {"type": name, "data": example(name)})
    [summary] = await deliveries_of(api, accepted["id"])
    delivery = await store.get_delivery(Principal("acme"), summary["id"])
    assert delivery is not None
    body = orjson.loads(delivery.body)
    assert body == {"id": accepted["id"], "type": name, "data": example(name)}
    seed_schema = json.loads((SEEDS / f"{name}.schema.json").read_text())
    del seed_schema["$id"]  # a fragment, which draft 2020-12 forbids (test_builtin_catalog)
    assert schema_errors(seed_schema, body) == []
    assert delivery.body == orjson.dumps(body)  # compact UTF-8, exactly what will be sent


async def test_workspace_envelope_is_the_seed_003_shape(api: Api, store: Store) -> None:
    await api.create(envelope="workspace", event_types=["integration_*"])
    data = example("integration_installed")
    accepted = await publish(
        api,
        {"type": "integration_installed", "data": data, "customer_id": "cus_9", "state": "s-1"},
    )
    [summary] = await deliveries_of(api, accepted["id"])
    delivery = await store.get_delivery(Principal("acme"), summary["id"])
    assert delivery is not None
    assert orjson.loads(delivery.body) == {
        "workspace_id": "acme",
        "customer_id": "cus_9",
        "event": "integration_installed",
        "state": "s-1",
        "payload": data,
    }


async def test_invalid_data_is_422_with_every_pointer_and_nothing_written(api: Api) -> None:
    await api.create()
    data = dict(example(STATE_CHANGED))
    data["integration_category"] = "CRM"
    data["end_user"] = {"organization_name": "Acme", "creator_email": "nope", "origin_id": None}
    del data["state"]
    data["surprise"] = 1
    response = await api.client.post(EVENTS, json={"type": STATE_CHANGED, "data": data})
    assert response.status_code == 422
    assert {e["path"] for e in response.json()["errors"]} == {
        "/data/integration_category",
        "/data/end_user/creator_email",
        "/data/state",
        "/data/surprise",
    }
    await nothing_written(api)


async def test_nullable_fields_accept_null(api: Api) -> None:
    data = dict(example(STATE_CHANGED))
    data["end_user"] = {"organization_name": "Acme", "creator_email": None, "origin_id": None}
    await publish(api, {"type": STATE_CHANGED, "data": data})


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"type": "no-such-type", "data": {}}, "/type"),
        ({"type": STATE_CHANGED}, "/data"),
        ({"data": {}}, "/type"),
        ({"type": STATE_CHANGED, "data": None}, "/data"),
        ({"type": STATE_CHANGED, "data": {}, "colour": "red"}, "/colour"),
        ({"type": STATE_CHANGED, "data": {}, "tags": "x"}, "/tags"),
        ({"type": 7, "data": {}}, "/type"),
    ],
)
async def test_bad_publish_bodies(api: Api, body: dict[str, Any], path: str) -> None:
    response = await api.client.post(EVENTS, json=body)
    assert response.status_code == 422, response.text
    assert path in {e["path"] for e in response.json()["errors"]}
    await nothing_written(api)


async def test_the_bodys_shape_is_checked_before_its_type_is_looked_up(api: Api) -> None:
    body = {"type": "no-such-type", "data": {}, "colour": "red", "tags": [1]}
    response = await api.client.post(EVENTS, json=body)
    assert response.status_code == 422, response.text
    assert [e["path"] for e in response.json()["errors"]] == ["/colour", "/tags/0"]


async def test_an_oversized_event_is_413_and_nothing_written(api: Api) -> None:
    data = dict(example("inbound.received"))
    data["payload"] = {"blob": "x" * api.settings.max_payload_bytes}
    response = await api.client.post(EVENTS, json={"type": "inbound.received", "data": data})
    assert response.status_code == 413
    await nothing_written(api)


async def test_fan_out_follows_patterns_state_and_connectors(api: Api) -> None:
    every = await api.create()
    matching = await api.create(event_types=["integration-*"])
    exact = await api.create(event_types=[STATE_CHANGED])
    other = await api.create(event_types=["rfp.*", "integration_*"])
    disabled = await api.create(enabled=False)
    deleted = await api.create()
    assert (await api.client.delete(f"{WEBHOOKS}/{deleted['id']}")).status_code == 204
    paused = await api.create()
    assert (await api.client.post(f"{WEBHOOKS}/{paused['id']}/pause")).status_code == 200
    own_connector = await api.create(connector_id="conn_1")
    other_connector = await api.create(connector_id="conn_2")
    await api.create(direction="inbound", url=None)
    await api.as_tenant("globex").create()

    body = {"type": STATE_CHANGED, "data": example(STATE_CHANGED), "connector_id": "conn_1"}
    accepted = await publish(api, body)
    found = {d["webhook_id"]: d for d in await deliveries_of(api, accepted["id"])}
    expected = {every["id"], matching["id"], exact["id"], paused["id"], own_connector["id"]}
    assert set(found) == expected
    assert accepted["deliveries"] == len(expected)
    assert found[paused["id"]]["status"] == "held"
    assert found[paused["id"]]["next_attempt_at"] is None
    assert found[every["id"]]["status"] == "pending"
    assert found[every["id"]]["next_attempt_at"] == accepted["created_at"]
    for absent in (other, disabled, deleted, other_connector):
        assert absent["id"] not in found

    unscoped = await publish(api, {"type": STATE_CHANGED, "data": example(STATE_CHANGED)})
    unscoped_hooks = {d["webhook_id"] for d in await deliveries_of(api, unscoped["id"])}
    assert own_connector["id"] not in unscoped_hooks and every["id"] in unscoped_hooks


async def test_an_app_token_publishes_to_its_own_webhooks(api: Api) -> None:
    app = api.as_tenant("acme", sub=None, app="app-1")
    mine = await app.create()
    await api.create()  # a person's webhook of the same tenant
    accepted = await publish(app, {"type": STATE_CHANGED, "data": example(STATE_CHANGED)})
    assert accepted["deliveries"] == 1
    assert [d["webhook_id"] for d in await deliveries_of(app, accepted["id"])] == [mine["id"]]
    assert (
        await api.as_tenant("acme", app="app-2").client.get(f"{EVENTS}/{accepted['id']}")
    ).status_code == 404


async def test_events_list_filters_and_pages(api: Api) -> None:
    ids = []
    for name in ("webhook_test", STATE_CHANGED, "webhook_test", "webhook_test"):
        ids.append((await publish(api, {"type": name, "data": example(name)}))["id"])
    tests = (await api.client.get(EVENTS, params={"type": "webhook_test"})).json()["data"]
    assert [e["id"] for e in tests] == [ids[3], ids[2], ids[0]]
    first = (await api.client.get(EVENTS, params={"limit": 3})).json()
    assert [e["id"] for e in first["data"]] == ids[:0:-1]
    rest = (
        await api.client.get(EVENTS, params={"limit": 3, "cursor": first["next_cursor"]})
    ).json()
    assert [e["id"] for e in rest["data"]] == [ids[0]] and rest["next_cursor"] is None
    created = [e["created_at"] for e in first["data"]]
    window = {"since": created[-1], "until": created[0]}
    between = (await api.client.get(EVENTS, params=window)).json()["data"]
    assert [e["id"] for e in between] == [ids[2], ids[1]]
    backwards = await api.client.get(EVENTS, params={"since": created[0], "until": created[-1]})
    assert backwards.status_code == 422


async def test_event_and_delivery_reads(api: Api) -> None:
    hook = await api.create()
    accepted = await publish(api, {"type": "webhook_test", "data": {"test": True}})
    detail = (await api.client.get(f"{EVENTS}/{accepted['id']}")).json()
    assert detail["data"] == {"test": True} and detail["type_version"] == 1
    [delivery_id] = detail["delivery_ids"]
    delivery = (await api.client.get(f"/api/v1/deliveries/{delivery_id}")).json()
    assert delivery == {
        "id": delivery_id,
        "event_id": accepted["id"],
        "webhook_id": hook["id"],
        "status": "pending",
        "attempt_count": 0,
        "next_attempt_at": accepted["created_at"],
        "created_at": accepted["created_at"],
        "updated_at": accepted["created_at"],
        "attempts": [],
    }
    for filters in (
        {"webhook_id": hook["id"]},
        {"event_id": accepted["id"]},
        {"status": "pending"},
    ):
        listed = (await api.client.get("/api/v1/deliveries", params=filters)).json()["data"]
        assert [d["id"] for d in listed] == [delivery_id]
    none = (await api.client.get("/api/v1/deliveries", params={"status": "failed"})).json()
    assert none["data"] == []
    bad = await api.client.get("/api/v1/deliveries", params={"status": "lost"})
    assert bad.status_code == 422
    stranger = api.as_tenant("globex")
    assert (await stranger.client.get(f"{EVENTS}/{accepted['id']}")).status_code == 404
    assert (await stranger.client.get(f"/api/v1/deliveries/{delivery_id}")).status_code == 404
    assert (await stranger.client.get("/api/v1/deliveries")).json()["data"] == []


@pytest.mark.parametrize(("depth", "status"), [(253, 202), (300, 400), (1000, 400)])
async def test_data_nested_deeper_than_can_be_sent_is_400_not_a_crash(
    api: Api, depth: int, status: int
) -> None:
    """orjson reads 1024 levels but writes 254: a body between the two once parsed, then
    failed to be stored (a 500). The body here is ``depth`` levels deep in all."""
    created = await api.client.post(
        "/api/v1/event-types", json={"name": "deep.thing", "schema": {"type": "object"}}
    )
    assert created.status_code == 201
    await api.create(event_types=["deep.*"], envelope="workspace")
    nested = b"[" * (depth - 2) + b"]" * (depth - 2)
    body = b'{"type": "deep.thing", "data": {"x": ' + nested + b"}}"
    response = await api.client.post(EVENTS, content=body)
    assert response.status_code == status, response.text
    if status == 400:
        assert "nested deeper than 254 levels" in response.json()["detail"]
        await nothing_written(api)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b'{"type": "webhook_test", "data": {"test": true, "s": "a\\u0000b"}}', "/data/s"),
        (b'{"type": "webhook_test", "data": {"test": true, "k\\u0000": 1}}', "/data/k\x00"),
        (b'{"type": "webhook_test", "data": {"test": true}, "tags": ["x", "\\u0000"]}', "/tags/1"),
    ],
)
async def test_nul_characters_are_422_on_both_stores(api: Api, raw: bytes, path: str) -> None:
    """PostgreSQL cannot store U+0000 (it answered 503, "retry later", forever); SQLite could.
    Both refuse it now, at the field."""
    await api.create()
    response = await api.client.post(EVENTS, content=raw)
    assert response.status_code == 422, response.text
    assert [e["path"] for e in response.json()["errors"]] == [path]
    await nothing_written(api)
    escaped = b'{"type": "webhook_test", "data": {"test": true}, "tags": ["\\\\u0000"]}'
    assert (await api.client.post(EVENTS, content=escaped)).status_code == 202  # a backslash


async def test_a_nul_in_a_webhook_field_is_422(api: Api) -> None:
    raw = b'{"url": "https://receiver.example.com/h", "name": "a\\u0000"}'
    response = await api.client.post(WEBHOOKS, content=raw)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "/name"
