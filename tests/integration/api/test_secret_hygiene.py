"""Secrets stay secret, and a failed create leaves nothing behind (both stores)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from hookwire.delivery.worker import WorkerConfig
from hookwire.runtime import Runtime, run_engine
from hookwire.services.container import Services
from hookwire.settings import Settings
from hookwire.store.base import Store
from hookwire.store.postgres import PostgresStore
from hookwire.store.sqlite import SQLiteStore
from hookwire.tokens import mint
from tests import receivers
from tests.conftest import PUBLIC_URL, WEBHOOKS, Api, _open_clients
from tests.vendors import VENDORS

SECRET = "whsec_" + "c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFrLTEyMzQ1Ng=="


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The traffic test's receiver listens on loopback."""
    return settings.replace(allow_private_targets=True)


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


async def test_after_real_traffic_no_answer_page_metric_or_log_holds_a_secret(
    api: Api, services: Services, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    github = VENDORS["github"]
    async with receivers.receiver() as target:
        outbound = await api.create(url=target.url, secret=SECRET)
        inbound = (await api.client.post(WEBHOOKS, json=github.create_body())).json()
        published = {"type": "webhook_test", "data": {"test": True}}
        event = (await api.client.post("/api/v1/events", json=published)).json()
        await run_engine(runtime, asyncio.Event(), burst=True,
                         config=WorkerConfig(poll_interval_s=0.05))  # fmt: skip
        body = b'{"zen": "keep it logically awesome"}'
        signed = github.headers(body, ts=int(time.time()), delivery_id="d-1")
        forged = github.headers(body, ts=int(time.time()), key=github.other_key)
        for headers in (signed, forged):
            await api.anonymous().client.post(f"/api/v1/inbound/{inbound['id']}", content=body,
                                              headers=headers)  # fmt: skip
    assert len(target.received) == 1
    rejected = "whsec_" + "x" * 10  # too short: refused, and not repeated back
    refused = await api.client.post(f"{WEBHOOKS}/{outbound['id']}/rotate-secret",
                                    json={"secret": rejected})  # fmt: skip
    assert refused.status_code == 422 and rejected not in refused.text
    rotated = (await api.client.post(f"{WEBHOOKS}/{outbound['id']}/rotate-secret")).json()
    secrets = [SECRET, github.secret, rotated["secret"], rejected]

    detail = (await api.client.get(f"/api/v1/events/{event['id']}")).json()
    [message] = (await api.client.get("/api/v1/inbound-messages")).json()["data"]
    answers = [
        await api.client.get(path) for path in (
            WEBHOOKS, f"{WEBHOOKS}/{outbound['id']}", f"{WEBHOOKS}/{inbound['id']}",
            "/api/v1/events", f"/api/v1/events/{event['id']}", "/api/v1/deliveries",
            f"/api/v1/deliveries/{detail['delivery_ids'][0]}", "/api/v1/inbound-messages",
            f"/api/v1/inbound-messages/{message['id']}", "/metrics",
        )
    ]  # fmt: skip
    browser = httpx.AsyncClient(transport=api.transport, base_url=PUBLIC_URL)  # Secure cookie
    _open_clients.append(browser)
    token = mint(api.settings, "acme")
    await browser.post("/dashboard/login", data={"token": token})
    pages = [await browser.get(f"/dashboard/webhooks/{w}") for w in (outbound["id"], inbound["id"])]
    pages.append(await browser.get("/dashboard/webhooks"))
    attempts = answers[6].json()["attempts"]
    assert attempts and attempts[0]["request_headers"]["webhook-signature"] == "[redacted]"
    texts = [a.text for a in answers + pages] + [caplog.text]
    assert [r.status_code for r in answers + pages] == [200] * len(answers + pages)
    for secret in secrets:
        for text in texts:
            assert secret not in text
            assert secret.removeprefix("whsec_")[:20] not in text
