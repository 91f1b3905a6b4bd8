"""Pure fan-out, envelopes and publish-body rules."""

from __future__ import annotations

import dataclasses
import itertools

import orjson
import pytest

from hookwire.domain.delivery import fan_out, receives
from hookwire.domain.event import Event, check_publish, request_hash
from hookwire.domain.webhook import Webhook
from hookwire.errors import ValidationFailed
from hookwire.timeutil import utcnow
from tests import factories

OWNER = factories.principal("acme")
EVENT = Event(
    id="evt_01JD3S7A2M8Q9X4T6V5B0C1N2P",
    tenant_id="acme",
    type="integration_installed",
    type_version=1,
    data={"id": "int_1", "ünïcode": "✓"},
    created_at=utcnow(),
    customer_id="cus_1",
    state="s",
)


def hook(**changes: object) -> Webhook:
    return factories.webhook(OWNER, **changes)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, True),
        ({"event_types": ("integration_*",)}, True),
        ({"event_types": ("integration-*",)}, False),
        ({"event_types": ("rfp.*", "integration_installed")}, True),
        ({"enabled": False}, False),
        ({"is_deleted": True}, False),
        ({"direction": "inbound"}, False),
        ({"tenant_id": "globex"}, False),
        ({"connector_id": "c1"}, False),
        ({"paused_at": utcnow()}, True),
    ],
)
def test_receives(changes: dict[str, object], expected: bool) -> None:
    assert receives(hook(**changes), EVENT) is expected


def test_connector_scoped_webhook_gets_its_connectors_events() -> None:
    scoped = dataclasses.replace(EVENT, connector_id="c1")
    assert receives(hook(connector_id="c1"), scoped)
    assert not receives(hook(connector_id="c2"), scoped)


def test_fan_out_renders_each_envelope_once_and_holds_paused_webhooks() -> None:
    counter = itertools.count()
    hooks = [hook(), hook(envelope="workspace"), hook(paused_at=utcnow()), hook(enabled=False)]
    deliveries = fan_out(EVENT, hooks, lambda: f"dlv_{next(counter)}")
    assert [d.webhook_id for d in deliveries] == [h.id for h in hooks[:3]]
    assert [d.status for d in deliveries] == ["pending", "pending", "held"]
    assert deliveries[0].next_attempt_at == EVENT.created_at
    assert deliveries[2].next_attempt_at is None
    assert deliveries[0].body is deliveries[2].body  # rendered once, shared
    assert orjson.loads(deliveries[0].body) == {
        "id": EVENT.id,
        "type": EVENT.type,
        "data": EVENT.data,
    }
    assert orjson.loads(deliveries[1].body) == {
        "workspace_id": "acme", "customer_id": "cus_1", "event": EVENT.type, "state": "s",
        "payload": EVENT.data,
    }  # fmt: skip
    assert b" " not in deliveries[0].body.replace(b"\xe2\x9c\x93", b"")  # compact UTF-8
    assert "✓".encode() in deliveries[0].body


def test_check_publish_reports_every_error() -> None:
    with pytest.raises(ValidationFailed) as info:
        check_publish({"data": None, "tags": [1], "x": 1})
    assert {e.path for e in info.value.errors} == {"/type", "/data", "/tags/0", "/x"}


def test_request_hash_ignores_key_order_but_not_values() -> None:
    assert request_hash({"a": 1, "b": {"c": 2, "d": 3}}) == request_hash(
        {"b": {"d": 3, "c": 2}, "a": 1}
    )
    assert request_hash({"a": 1}) != request_hash({"a": 2})
