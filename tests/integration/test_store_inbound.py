"""The Store port's contract for inbound webhooks, on both adapters."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from hookwire.domain.delivery import Candidate, Delivery, fan_out
from hookwire.domain.event import Event
from hookwire.domain.filters import DeliveryQuery, EventQuery, InboundQuery
from hookwire.domain.inbound import InboundMessage
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.errors import StoreUnavailable
from hookwire.ids import new_id
from hookwire.store.base import FanOut, Store
from tests import factories


def message_for(hook: Webhook, key: str = "id:d-1", **changes: Any) -> InboundMessage:
    base = InboundMessage(
        id=new_id("inm"), tenant_id=hook.tenant_id, app_id=hook.app_id, webhook_id=hook.id,
        scheme="github", dedupe_key=key, body=b"\x00\xff{}", body_size=4,
        received_at=factories.utcnow(), headers={"x-github-event": "push"},
        provider_event="push", event_id=new_id("evt"),
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def event_for(message: InboundMessage) -> Event:
    assert message.event_id is not None
    return Event(
        id=message.event_id, tenant_id=message.tenant_id, app_id=message.app_id,
        type="inbound.received", type_version=1, data={"inbound_message_id": message.id},
        created_at=message.received_at,
    )  # fmt: skip


def to_all(event: Event) -> FanOut:
    return lambda candidates: fan_out(event, candidates, lambda: new_id("dlv"))


async def hooks(store: Store, owner: Principal) -> tuple[Webhook, Webhook]:
    inbound = factories.webhook(owner, direction="inbound", signature_scheme="github")
    outbound = factories.webhook(owner)
    await store.insert_webhook(inbound)
    await store.insert_webhook(outbound)
    return inbound, outbound


async def test_a_message_round_trips_and_lists_without_its_body(store: Store) -> None:
    owner = factories.principal(app="app-1")
    inbound, outbound = await hooks(store, owner)
    message = message_for(inbound, connector_id="c-1")
    event = event_for(message)
    received = await store.receive(message, event, to_all(event))
    assert (received.message_id, received.duplicate, received.deliveries) == (message.id, False, 1)
    assert await store.get_inbound_message(owner, message.id) == message
    [listed] = await store.list_inbound_messages(owner, InboundQuery())
    assert listed == dataclasses.replace(message, body=None)
    [delivery] = await store.list_deliveries(owner, DeliveryQuery())
    assert (delivery.event_id, delivery.webhook_id) == (event.id, outbound.id)
    stranger = factories.principal()
    assert await store.get_inbound_message(stranger, message.id) is None
    assert await store.list_inbound_messages(stranger, InboundQuery()) == []


async def test_a_duplicate_writes_nothing_and_names_the_first(store: Store) -> None:
    owner = factories.principal()
    inbound, _ = await hooks(store, owner)
    first = message_for(inbound)
    await store.receive(first, event_for(first), to_all(event_for(first)))
    again = message_for(inbound)
    received = await store.receive(again, event_for(again), to_all(event_for(again)))
    assert (received.message_id, received.duplicate, received.deliveries) == (first.id, True, 0)
    assert [m.id for m in await store.list_inbound_messages(owner, InboundQuery())] == [first.id]
    assert [e.id for e in await store.list_events(owner, EventQuery())] == [first.event_id]


async def test_message_and_event_commit_together(store: Store) -> None:
    owner = factories.principal()
    inbound, _ = await hooks(store, owner)
    message = message_for(inbound)
    event = event_for(message)

    def with_a_twin_delivery(candidates: Sequence[Candidate]) -> list[Delivery]:
        good = fan_out(event, candidates, lambda: new_id("dlv"))
        return [*good, dataclasses.replace(good[0])]  # the twin breaks the primary key

    with pytest.raises(StoreUnavailable):
        await store.receive(message, event, with_a_twin_delivery)
    assert await store.list_inbound_messages(owner, InboundQuery()) == []
    assert await store.get_event(owner, event.id) is None
    # the dedupe key was not taken by the failed attempt
    assert not (await store.receive(message, event, to_all(event))).duplicate


async def test_a_filtered_message_is_stored_without_an_event(store: Store) -> None:
    owner = factories.principal()
    inbound, _ = await hooks(store, owner)
    message = message_for(inbound, event_id=None)
    received = await store.receive(message, None, lambda candidates: [])
    assert not received.duplicate and received.deliveries == 0
    assert await store.get_inbound_message(owner, message.id) == message
    assert await store.list_events(owner, EventQuery()) == []


async def test_the_receiving_webhook_is_found_by_id_alone(store: Store) -> None:
    owner = factories.principal()
    inbound, outbound = await hooks(store, owner)
    off = factories.webhook(owner, direction="inbound", enabled=False)
    gone = factories.webhook(owner, direction="inbound", is_deleted=True)
    for hook in (off, gone):
        await store.insert_webhook(hook)
    assert await store.inbound_webhook(inbound.id) == inbound
    for hook in (outbound, off, gone):
        assert await store.inbound_webhook(hook.id) is None
    assert await store.inbound_webhook(new_id("wh")) is None


async def test_rejections_are_counted_and_survive_a_persons_update(store: Store) -> None:
    owner = factories.principal()
    inbound, _ = await hooks(store, owner)
    at = factories.utcnow()
    await store.note_rejected(inbound.id, at - timedelta(seconds=1))
    await store.note_rejected(inbound.id, at)
    renamed = dataclasses.replace(inbound, name="renamed", version=2)  # a stale copy: count 0
    stored = await store.update_webhook(renamed, expected_version=1)
    assert stored is not None
    assert (stored.rejected_requests, stored.last_rejected_at) == (2, at)
    assert stored.name == "renamed"


async def test_retention_drops_old_messages_only(store: Store) -> None:
    owner = factories.principal()
    inbound, _ = await hooks(store, owner)
    now = factories.utcnow()
    old = message_for(inbound, "id:old", received_at=now - timedelta(days=31), event_id=None)
    new = message_for(inbound, "id:new", event_id=None)
    for message in (old, new):
        await store.receive(message, None, lambda candidates: [])
    purged = await store.purge(now - timedelta(days=30), now - timedelta(hours=24))
    assert purged.inbound_messages == 1
    assert [m.id for m in await store.list_inbound_messages(owner, InboundQuery())] == [new.id]
