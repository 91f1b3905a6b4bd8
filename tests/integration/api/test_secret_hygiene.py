"""Secrets stay secret, and a failed create leaves nothing behind (both stores)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from hookwire.store.base import Store
from hookwire.store.postgres import PostgresStore
from hookwire.store.sqlite import SQLiteStore
from tests.conftest import WEBHOOKS, Api

SECRET = "whsec_" + "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFrLTEyMzQ1Ng=="


async def _raw_database_text(store: Store) -> str:
    """Everything the database holds, as text, read around the adapter."""
    if isinstance(store, SQLiteStore):
        await store.close()  # checkpoint the WAL so the main file has everything
        files = Path(store.engine.path).parent.glob(Path(store.engine.path).name + "*")
        return "".join(f.read_bytes().decode("latin-1") for f in files)
    assert isinstance(store, PostgresStore)
    conn = await asyncpg.connect(store.dsn)
    try:
        rows = await conn.fetch(
            "SELECT row_to_json(w)::text AS t FROM webhooks w "
            "UNION ALL SELECT encode(ciphertext, 'escape') FROM secrets"
        )
    finally:
        await conn.close()
    return "".join(r["t"] for r in rows)


async def test_a_secret_is_never_logged_listed_or_stored_in_clear(
    api: Api, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await api.create(secret=SECRET)
    url = f"{WEBHOOKS}/{created['id']}"
    seen = [
        await api.client.get(url),
        await api.client.get(WEBHOOKS),
        await api.client.patch(url, json={"name": "n"}, headers={"If-Match": '"1"'}),
        await api.client.post(url + "/pause"),
        await api.client.post(
            WEBHOOKS, json={"url": "https://a.example.com", "secret": SECRET + "!"}
        ),
    ]
    for response in seen:
        assert SECRET not in response.text
        assert SECRET[6:30] not in response.text
    rotated = await api.client.post(url + "/rotate-secret", json={"grace_period_s": 60})
    new_secret = rotated.json()["secret"]
    assert SECRET not in caplog.text and new_secret not in caplog.text
    stored = await _raw_database_text(store)
    assert created["id"] in stored  # the read really saw the rows
    assert SECRET not in stored and new_secret not in stored
    assert SECRET[6:30] not in stored


async def _make_inserts_fail(store: Store) -> None:
    """A real database trigger that aborts inserts of webhooks named 'boom'."""
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.engine.path) as conn:
            conn.execute(
                "CREATE TRIGGER boom BEFORE INSERT ON webhooks WHEN NEW.name = 'boom' "
                "BEGIN SELECT RAISE(ABORT, 'boom'); END"
            )
        return
    assert isinstance(store, PostgresStore)
    conn = await asyncpg.connect(store.dsn)
    try:
        await conn.execute(
            """
            CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.name = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER boom BEFORE INSERT ON webhooks FOR EACH ROW EXECUTE FUNCTION boom();
            """
        )
    finally:
        await conn.close()


async def _drop_trigger(store: Store) -> None:
    if isinstance(store, PostgresStore):
        conn = await asyncpg.connect(store.dsn)
        try:
            await conn.execute("DROP TRIGGER boom ON webhooks; DROP FUNCTION boom()")
        finally:
            await conn.close()


async def test_a_create_that_fails_in_the_database_leaves_no_secret(api: Api, store: Store) -> None:
    await _make_inserts_fail(store)
    try:
        response = await api.client.post(
            WEBHOOKS, json={"url": "https://a.example.com/x", "name": "boom", "secret": SECRET}
        )
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert SECRET not in response.text
        assert (await api.client.get(WEBHOOKS, params={"include_deleted": "true"})).json()[
            "data"
        ] == []
        stored = await _raw_database_text(store)
        assert "hookwire/acme/webhooks" not in stored  # no orphaned secret row
    finally:
        await _drop_trigger(store)
