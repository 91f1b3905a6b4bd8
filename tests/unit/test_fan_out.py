"""Pure fan-out, envelopes and publish-body rules."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from hookwire.domain.delivery import (
    Candidate,
    Tally,
    fan_out,
    pause_reason,
    receives,
    settled,
    tally,
    waiting,
)
from hookwire.domain.event import Event, EventDraft, request_hash
from hookwire.domain.event_requests import read_event
from hookwire.domain.outcome import Outcome
from hookwire.domain.retry import RetryPolicy
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
    # what the stores hand to fan-out: the columns it reads, same answer
    assert receives(Candidate.of(hook(**changes)), EVENT) is expected


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


def test_read_event_reports_every_error() -> None:
    with pytest.raises(ValidationFailed) as info:
        read_event({"data": None, "tags": [1], "x": 1})
    assert {e.path for e in info.value.errors} == {"/type", "/data", "/tags/0", "/x"}


def test_request_hash_ignores_key_order_but_not_values() -> None:
    assert request_hash({"a": 1, "b": {"c": 2, "d": 3}}) == request_hash(
        {"b": {"d": 3, "c": 2}, "a": 1}
    )
    assert request_hash({"a": 1}) != request_hash({"a": 2})


def test_request_hash_stays_what_it_was() -> None:
    """An Idempotency-Key's record outlives a deploy (24 h), so a body's digest must not
    change between releases; null is not absent."""
    body: dict[str, Any] = {"type": "order.paid", "data": {"b": [1, 2.5, None], "a": "é"}}
    body["tags"] = ["x"]
    digest = "79a9a1b93e09ad48fe8df449503412635099c3ca243b244375907c17bcb2687a"
    assert request_hash(body) == read_event(body).request_hash() == digest
    assert read_event({**body, "connector_id": None}).request_hash() == (
        "a231a3586bc11d6e3a1a9251e68444538a18a0ddd0f60950a43bb68f3ef75862"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"type": "t", "data": {"a": 1}},
        {"type": "t", "data": {"a": 1}, "tags": []},
        {"type": "t", "data": {"a": 1}, "tags": ["x", "y"], "state": None},
        {"type": "t", "data": [1], "connector_id": "c", "customer_id": "u", "state": "s"},
    ],
)
def test_a_drafts_digest_is_its_bodys(body: dict[str, Any]) -> None:
    """The digest covers the request as sent: a field given as null or [] is not left out."""
    assert read_event(body).request_hash() == request_hash(body)


def test_a_draft_built_in_code_digests_the_fields_it_sets() -> None:
    draft = EventDraft("t", {"a": 1}, state="s", tags=("x",))
    assert draft.request_hash() == request_hash(
        {"type": "t", "data": {"a": 1}, "state": "s", "tags": ["x"]}
    )


def _at(seconds: int) -> datetime:
    return EVENT.created_at + timedelta(seconds=seconds)


OK, FAIL, GONE = Outcome("succeeded", "200"), Outcome("retry", "500"), Outcome("gone", "410")


def test_tally_counts_failures_after_the_last_success_in_start_order() -> None:
    counted = tally([(_at(3), FAIL), (_at(1), FAIL), (_at(2), OK), (_at(4), FAIL)])
    assert counted == Tally(at=_at(4), status="500", reset=True, failures=2, gone=False)
    only_failures = tally([(_at(1), FAIL), (_at(2), FAIL)])
    assert only_failures.reset is False and only_failures.failures == 2
    assert tally([(_at(1), FAIL), (_at(2), OK)]) == Tally(_at(2), "200", True, 0, False)
    with pytest.raises(ValueError):
        tally([])


def test_pause_reason_from_a_tally() -> None:
    policy = RetryPolicy(pause_after_failures=3)
    at_limit = hook(retry_policy=policy, consecutive_failures=3)
    below = hook(retry_policy=policy, consecutive_failures=2)
    failing = tally([(_at(1), FAIL)])
    assert pause_reason(at_limit, failing) == "failures"
    assert pause_reason(below, failing) is None
    assert pause_reason(below, tally([(_at(1), GONE)])) == "gone"
    assert pause_reason(at_limit, tally([(_at(1), OK)])) is None
    assert pause_reason(hook(paused_at=utcnow(), consecutive_failures=9), failing) is None
    assert pause_reason(hook(is_deleted=True, consecutive_failures=99), failing) is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "pending"),
        ({"paused_at": utcnow()}, "held"),
        ({"enabled": False}, "held"),
        ({"enabled": False, "paused_at": utcnow()}, "held"),
        ({"is_deleted": True}, "cancelled"),
        ({"is_deleted": True, "enabled": False, "paused_at": utcnow()}, "cancelled"),
    ],
)
def test_waiting_deliveries_follow_the_webhooks_state(
    changes: dict[str, object], expected: str
) -> None:
    assert waiting(hook(**changes)) == expected


def test_a_failed_attempt_waits_as_its_webhook_is_now() -> None:
    """A retry of a disabled webhook is held, not left pending to be claimed and held then."""
    delivery = fan_out(EVENT, [hook()], lambda: "dlv_1")[0]
    retry_at = utcnow() + timedelta(seconds=5)
    failed = Outcome("retry", "500")
    assert settled(delivery, hook(), failed, retry_at) == ("pending", retry_at)
    assert settled(delivery, hook(enabled=False), failed, retry_at) == ("held", None)
    assert settled(delivery, hook(is_deleted=True), failed, retry_at) == ("cancelled", None)
    assert settled(delivery, hook(enabled=False), Outcome("succeeded", "200"), None) == (
        "succeeded",
        None,
    )
