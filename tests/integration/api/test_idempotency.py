"""Idempotency-Key and the one-transaction rule of publishing, on both stores."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from hookwire.catalog.builtin import load_builtin
from hookwire.store.base import Store
from hookwire.store.postgres import PostgresStore
from hookwire.store.sqlite import SQLiteStore
from tests.conftest import Api

EVENTS = "/api/v1/events"
BODY = {"type": "webhook_test", "data": {"test": True}}


async def event_count(api: Api) -> int:
    return len((await api.client.get(EVENTS)).json()["data"])


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


async def test_twenty_concurrent_duplicates_publish_one_event(api: Api) -> None:
    await api.create()
    data = load_builtin()["integration-state-changed"].example
    body = {"type": "integration-state-changed", "data": data}
    responses = await asyncio.gather(
        *(
            api.client.post(EVENTS, json=body, headers={"Idempotency-Key": "burst"})
            for _ in range(20)
        )
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19
    assert await event_count(api) == 1
    assert len((await api.client.get("/api/v1/deliveries")).json()["data"]) == 1


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
