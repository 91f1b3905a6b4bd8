"""Idempotency-Key and the one-transaction rule of publishing, on both stores."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from hookwire.catalog.builtin import load_builtin
from hookwire.domain.event import IDEMPOTENCY_TTL
from hookwire.store.base import Store
from hookwire.store.postgres import PostgresStore
from hookwire.store.sqlite import SQLiteStore
from hookwire.timeutil import utcnow
from tests.conftest import Api

EVENTS = "/api/v1/events"
BODY = {"type": "webhook_test", "data": {"test": True}}
OTHER_BODY = {"type": "integration_oauth_token_fixed", "data": {"id": "int_1"}}
APP_ONE, APP_TWO = "app-1", "app-2"
KEY = {"Idempotency-Key": "order-7"}


async def event_count(api: Api) -> int:
    return len((await api.client.get(EVENTS)).json()["data"])


def app(api: Api, app_id: str) -> Api:
    """A token of tenant acme's application ``app_id`` (no person)."""
    return api.as_tenant("acme", sub=None, app=app_id)


async def webhooks_delivered(api: Api, event_id: str) -> list[str]:
    found = await api.client.get("/api/v1/deliveries", params={"event_id": event_id})
    return [d["webhook_id"] for d in found.json()["data"]]


async def test_a_replayed_key_returns_the_first_answer_and_creates_nothing(api: Api) -> None:
    await api.create()
    first = await api.client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "order-1"})
    again = await api.client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await event_count(api) == 1
    assert len((await api.client.get("/api/v1/deliveries")).json()["data"]) == 1


async def test_key_order_in_the_body_does_not_matter(api: Api) -> None:
    first = await api.client.post(
        EVENTS,
        content=b'{"type":"webhook_test","data":{"test":true}}',
        headers={"Idempotency-Key": "k"},
    )
    again = await api.client.post(
        EVENTS,
        content=b'{"data":{"test":true},"type":"webhook_test"}',
        headers={"Idempotency-Key": "k"},
    )
    assert again.json() == first.json()


async def test_the_same_key_with_another_body_is_409(api: Api) -> None:
    await api.client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "order-2"})
    other = {"type": "integration_oauth_token_fixed", "data": {"id": "int_1"}}
    response = await api.client.post(EVENTS, json=other, headers={"Idempotency-Key": "order-2"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert await event_count(api) == 1


async def test_keys_are_per_tenant(api: Api) -> None:
    globex = api.as_tenant("globex")
    one = await api.client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "shared"})
    two = await globex.client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "shared"})
    assert one.json()["id"] != two.json()["id"]


async def test_twenty_concurrent_duplicates_in_each_scope_publish_one_event_each(
    api: Api,
) -> None:
    """Two apps and a tenant-level token race on one key at once: each scope's twenty
    requests publish one event (the tenant-level one fans out to both apps' webhooks)."""
    scopes = [api, app(api, APP_ONE), app(api, APP_TWO)]
    hooks = [(await each.create())["id"] for each in scopes[1:]]
    data = load_builtin()["integration-state-changed"].example
    body = {"type": "integration-state-changed", "data": data}
    responses = await asyncio.gather(
        *(
            each.client.post(EVENTS, json=body, headers={"Idempotency-Key": "burst"})
            for _ in range(20)
            for each in scopes
        )
    )
    assert {r.status_code for r in responses} == {202}
    ids = []
    for index in range(len(scopes)):
        own = responses[index :: len(scopes)]
        assert len({r.json()["id"] for r in own}) == 1
        assert sum(r.headers.get("idempotent-replayed") == "true" for r in own) == 19
        ids.append(own[0].json()["id"])
    assert len(set(ids)) == 3 and await event_count(api) == 3
    for each, event_id, hook in zip(scopes[1:], ids[1:], hooks, strict=True):
        assert await event_count(each) == 1
        assert await webhooks_delivered(each, event_id) == [hook]
    assert sorted(await webhooks_delivered(api, ids[0])) == sorted(hooks)
    assert len((await api.client.get("/api/v1/deliveries")).json()["data"]) == 4


async def test_another_app_sending_an_apps_key_and_body_publishes_its_own_event(
    api: Api,
) -> None:
    one, two = app(api, APP_ONE), app(api, APP_TWO)
    await one.create()
    theirs = await two.create()
    first = await one.client.post(EVENTS, json=BODY, headers=KEY)
    other = await two.client.post(EVENTS, json=BODY, headers=KEY)
    assert other.status_code == 202
    assert "idempotent-replayed" not in other.headers
    assert other.json()["id"] != first.json()["id"]
    assert other.json()["deliveries"] == 1
    assert await webhooks_delivered(two, other.json()["id"]) == [theirs["id"]]
    assert await event_count(one) == await event_count(two) == 1
    replay = await one.client.post(EVENTS, json=BODY, headers=KEY)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()


async def test_another_apps_key_with_a_different_body_is_not_a_conflict(api: Api) -> None:
    """A 409 would tell app2 that app1 used the key."""
    one, two = app(api, APP_ONE), app(api, APP_TWO)
    await one.client.post(EVENTS, json=BODY, headers=KEY)
    other = await two.client.post(EVENTS, json=OTHER_BODY, headers=KEY)
    assert other.status_code == 202, other.text
    assert "idempotent-replayed" not in other.headers
    assert other.json()["type"] == OTHER_BODY["type"]


async def test_the_tenant_level_scope_and_an_apps_scope_are_separate(api: Api) -> None:
    """A token without app_id has a scope of its own, distinct from every app's."""
    one = app(api, APP_ONE)
    tenant = await api.client.post(EVENTS, json=BODY, headers=KEY)
    mine = await one.client.post(EVENTS, json=BODY, headers=KEY)
    assert mine.status_code == 202 and "idempotent-replayed" not in mine.headers
    assert mine.json()["id"] != tenant.json()["id"]
    for caller, answer in ((api, tenant), (one, mine)):
        again = await caller.client.post(EVENTS, json=BODY, headers=KEY)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == answer.json()
    apps_key = {"Idempotency-Key": "the-apps"}
    assert (await one.client.post(EVENTS, json=OTHER_BODY, headers=apps_key)).status_code == 202
    assert (await api.client.post(EVENTS, json=BODY, headers=apps_key)).status_code == 202


async def test_within_one_app_a_key_still_replays_and_another_body_is_409(api: Api) -> None:
    """Each app keeps its own claim on a shared key: replays, and conflicts, stay its own."""
    one, two = app(api, APP_ONE), app(api, APP_TWO)
    await one.create()
    await two.create()
    answers = [await caller.client.post(EVENTS, json=BODY, headers=KEY) for caller in (one, two)]
    for caller, answer in zip((one, two), answers, strict=True):
        again = await caller.client.post(EVENTS, json=BODY, headers=KEY)
        assert again.status_code == 202
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == answer.json()
        assert again.json()["deliveries"] == 1
        conflict = await caller.client.post(EVENTS, json=OTHER_BODY, headers=KEY)
        assert conflict.status_code == 409
        assert await event_count(caller) == 1
    assert answers[0].json()["id"] != answers[1].json()["id"]


async def test_purge_drops_expired_keys_of_every_scope_and_keeps_fresh_ones(
    api: Api, store: Store
) -> None:
    scopes = [api, app(api, APP_ONE), app(api, APP_TWO)]
    for caller in scopes:
        assert (await caller.client.post(EVENTS, json=BODY, headers=KEY)).status_code == 202
    await _age_claims(store, timedelta(hours=25))
    fresh = await scopes[1].client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "new"})
    now = utcnow()
    purged = await store.purge(now - timedelta(days=30), now - IDEMPOTENCY_TTL)
    assert purged.idempotency_keys == 3
    again = await scopes[1].client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "new"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == fresh.json()


async def test_a_key_older_than_24_hours_is_free_again(api: Api, store: Store) -> None:
    first = await api.client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "old"})
    await _age_claims(store, timedelta(hours=25))
    again = await api.client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "old"})
    assert again.status_code == 202
    assert again.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in again.headers


async def test_a_bad_key_is_400(api: Api) -> None:
    response = await api.client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "x" * 300})
    assert response.status_code == 400
    assert await event_count(api) == 0


@pytest.mark.parametrize(
    "body", [None, {"colour": "red"}, {"type": "no-such-type", "data": {}}, BODY]
)
async def test_a_bad_key_is_400_whatever_the_body(api: Api, body: Any) -> None:
    """The key is read before the body: a bad key with a bad body is still 400."""
    headers = {"Idempotency-Key": "x" * 300}
    response = await api.client.post(EVENTS, json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert await event_count(api) == 0


async def test_a_failing_delivery_insert_leaves_no_event(api: Api, store: Store) -> None:
    """ONE transaction: a database error on the deliveries rolls the event back too."""
    await api.create()
    await _fail_delivery_inserts(store)
    try:
        response = await api.client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "atomic"})
        assert response.status_code == 503
        assert await event_count(api) == 0
    finally:
        await _allow_delivery_inserts(store)
    retried = await api.client.post(EVENTS, json=BODY, headers={"Idempotency-Key": "atomic"})
    assert retried.status_code == 202  # the key was not taken by the failed attempt
    assert "idempotent-replayed" not in retried.headers


async def _sql(store: Store, sqlite_sql: str, postgres_sql: str) -> None:
    if isinstance(store, SQLiteStore):
        await store.engine.write(lambda conn: conn.executescript(sqlite_sql), transaction=False)
        return
    assert isinstance(store, PostgresStore)
    conn = await asyncpg.connect(store.dsn)
    try:
        await conn.execute(postgres_sql)
    finally:
        await conn.close()


async def _age_claims(store: Store, by: timedelta) -> None:
    hours = int(by.total_seconds() // 3600)
    await _sql(
        store,
        "UPDATE idempotency_keys SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', "
        f"created_at, '-{hours} hours');",
        f"UPDATE idempotency_keys SET created_at = created_at - interval '{hours} hours'",
    )


async def _fail_delivery_inserts(store: Store) -> None:
    await _sql(
        store,
        "CREATE TRIGGER no_deliveries BEFORE INSERT ON deliveries "
        "BEGIN SELECT RAISE(ABORT, 'no deliveries'); END;",
        """
        CREATE FUNCTION no_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'no deliveries'; END $$;
        CREATE TRIGGER no_deliveries BEFORE INSERT ON deliveries
            FOR EACH ROW EXECUTE FUNCTION no_deliveries();
        """,
    )


async def _allow_delivery_inserts(store: Store) -> None:
    await _sql(
        store,
        "DROP TRIGGER no_deliveries;",
        "DROP TRIGGER no_deliveries ON deliveries; DROP FUNCTION no_deliveries()",
    )
