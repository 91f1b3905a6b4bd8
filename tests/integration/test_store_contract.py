"""The Store port's contract: every adapter passes the same tests on a real database."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import timedelta

import pytest

from hookwire.domain.delivery import Candidate, Delivery, fan_out
from hookwire.domain.event import Event
from hookwire.domain.filters import DeliveryQuery, WebhookQuery
from hookwire.domain.retry import RetryPolicy
from hookwire.errors import StoreUnavailable
from hookwire.ids import new_id
from hookwire.store.base import Store
from hookwire.store.migrations import migrations
from tests import factories


async def test_webhook_round_trips_every_field(store: Store) -> None:
    owner = factories.principal(app="app-1")
    original = factories.webhook(
        owner,
        name="Payroll sync",
        event_types=("rfp.*", "integration-state-changed"),
        headers={"X-Team": "payroll"},
        tags=("prod", "eu"),
        retry_policy=RetryPolicy(max_attempts=3, backoff="linear", pause_after_failures=7),
        connector_id="conn_1",
        application_id="6f1c5c0e-8d4e-4b8e-9a39-0e7d3c2b1a00",
        envelope="workspace",
        paused_at=factories.utcnow(),
        last_delivery_status="500",
        consecutive_failures=3,
    )
    await store.insert_webhook(original)
    loaded = await store.get_webhook(owner, original.id)
    assert loaded == original


async def test_other_tenants_and_apps_see_nothing(store: Store) -> None:
    owner = factories.principal(app="app-1")
    hook = factories.webhook(owner)
    await store.insert_webhook(hook)
    stranger = factories.principal()
    other_app = dataclasses.replace(owner, app_id="app-2")
    human = dataclasses.replace(owner, app_id=None)
    assert await store.get_webhook(stranger, hook.id) is None
    assert await store.get_webhook(other_app, hook.id) is None
    assert await store.get_webhook(human, hook.id) == hook  # people see all of their tenant
    assert await store.list_webhooks(stranger, WebhookQuery()) == []
    assert await store.list_webhooks(other_app, WebhookQuery()) == []


async def test_update_is_compare_and_set_on_version(store: Store) -> None:
    owner = factories.principal()
    hook = factories.webhook(owner)
    await store.insert_webhook(hook)
    renamed = dataclasses.replace(hook, name="renamed", version=2)
    assert await store.update_webhook(renamed, expected_version=1)
    assert not await store.update_webhook(dataclasses.replace(hook, version=2), expected_version=1)
    assert (await store.get_webhook(owner, hook.id)) == renamed
    stolen = dataclasses.replace(renamed, tenant_id="someone-else", version=3)
    assert not await store.update_webhook(stolen, expected_version=2)


async def test_concurrent_updates_of_one_version_let_exactly_one_win(store: Store) -> None:
    owner = factories.principal()
    hook = factories.webhook(owner)
    await store.insert_webhook(hook)
    attempts = [
        store.update_webhook(dataclasses.replace(hook, name=f"n{i}", version=2), expected_version=1)
        for i in range(10)
    ]
    results = await asyncio.gather(*attempts)
    assert sum(r is not None for r in results) == 1


async def test_soft_deleted_rows_hide_unless_asked(store: Store) -> None:
    owner = factories.principal()
    hook = factories.webhook(owner)
    gone = factories.webhook(
        owner, is_deleted=True, deleted_at=factories.utcnow(), deleted_by="user-1"
    )
    await store.insert_webhook(hook)
    await store.insert_webhook(gone)
    assert await store.get_webhook(owner, gone.id) is None
    assert await store.get_webhook(owner, gone.id, include_deleted=True) == gone
    assert [w.id for w in await store.list_webhooks(owner, WebhookQuery())] == [hook.id]
    listed = await store.list_webhooks(owner, WebhookQuery(include_deleted=True))
    assert {w.id for w in listed} == {hook.id, gone.id}


async def test_list_is_newest_first_and_pages_without_gaps(store: Store) -> None:
    owner = factories.principal()
    hooks = [factories.webhook(owner) for _ in range(7)]
    for hook in hooks:
        await store.insert_webhook(hook)
    seen: list[str] = []
    before: str | None = None
    while True:
        page = await store.list_webhooks(owner, WebhookQuery(limit=3, before_id=before))
        seen += [w.id for w in page]
        if len(page) < 3:
            break
        before = page[-1].id
    assert seen == [h.id for h in reversed(hooks)]


async def test_list_filters(store: Store) -> None:
    owner = factories.principal()
    rfp = factories.webhook(owner, event_types=("rfp.*",), tags=("a", "b"), connector_id="c1")
    every = factories.webhook(owner, enabled=False)
    exact = factories.webhook(owner, event_types=("integration_installed",), tags=("b",))
    inbound = factories.webhook(owner, direction="inbound")
    for hook in (rfp, every, exact, inbound):
        await store.insert_webhook(hook)

    async def ids(**filters: object) -> set[str]:
        found = await store.list_webhooks(owner, WebhookQuery(**filters))  # type: ignore[arg-type]
        return {w.id for w in found}

    assert await ids(direction="inbound") == {inbound.id}
    assert await ids(enabled=False) == {every.id}
    assert await ids(connector_id="c1") == {rfp.id}
    assert await ids(tag="b") == {rfp.id, exact.id}
    assert await ids(tag="a", direction="outbound") == {rfp.id}
    assert await ids(event_type="rfp.created") == {rfp.id, every.id, inbound.id}
    # '_' and '.' are literal characters, never wildcards
    assert await ids(event_type="integrationXinstalled") == {every.id, inbound.id}
    assert await ids(event_type="rfpXcreated") == {every.id, inbound.id}
    assert await ids(event_type="integration_installed") == {exact.id, every.id, inbound.id}


async def test_secret_blobs(store: Store) -> None:
    assert await store.get_secret("hookwire/t/webhooks/x") is None
    await store.put_secret("hookwire/t/webhooks/x", b"\x00one")
    await store.put_secret("hookwire/t/webhooks/x", b"\x00two")
    assert await store.get_secret("hookwire/t/webhooks/x") == b"\x00two"
    await store.delete_secret("hookwire/t/webhooks/x")
    assert await store.get_secret("hookwire/t/webhooks/x") is None


async def test_timestamps_keep_microseconds_and_utc(store: Store) -> None:
    owner = factories.principal()
    moment = factories.utcnow() - timedelta(days=3, microseconds=7)
    hook = factories.webhook(owner, created_at=moment, updated_at=moment)
    await store.insert_webhook(hook)
    loaded = await store.get_webhook(owner, hook.id)
    assert loaded is not None
    assert loaded.created_at == moment
    assert loaded.created_at.utcoffset() == timedelta(0)


async def test_ping_and_migrations_recorded(store: Store) -> None:
    await store.ping()
    assert await store.applied_migrations() == [m.name for m in migrations(store.dialect)]
    assert await store.migrate() == []


async def test_an_event_and_its_deliveries_commit_together(store: Store) -> None:
    owner = factories.principal()
    hook = factories.webhook(owner)
    await store.insert_webhook(hook)
    event = Event(
        id=new_id("evt"), tenant_id=owner.tenant_id, type="integration-state-changed",
        type_version=1, data={"n": 1}, created_at=factories.utcnow(),
    )  # fmt: skip

    def with_a_twin_delivery(candidates: Sequence[Candidate]) -> list[Delivery]:
        good = fan_out(event, candidates, lambda: new_id("dlv"))
        twin = dataclasses.replace(good[0])
        return [*good, twin]  # the twin breaks the primary key: nothing may stay

    with pytest.raises(StoreUnavailable):
        await store.publish(event, with_a_twin_delivery, None)
    assert await store.get_event(owner, event.id) is None
    assert await store.list_deliveries(owner, DeliveryQuery()) == []
    published = await store.publish(event, lambda c: fan_out(event, c, lambda: new_id("dlv")), None)
    assert [d.webhook_id for d in published.deliveries or ()] == [hook.id]
    assert [d.id for d in await store.list_deliveries(owner, DeliveryQuery())] == [
        d.id for d in published.deliveries or ()
    ]
