"""hookwire doctor on both stores: a store after real work is healthy; each inconsistency,
written into the database on purpose, is counted by its own check and by no other."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from hookwire.delivery.worker import WorkerConfig
from hookwire.runtime import Runtime, run_engine
from hookwire.services.container import Services
from hookwire.services.doctor import CHECKS, examine
from hookwire.settings import Settings
from hookwire.timeutil import iso, utcnow
from tests import receivers
from tests.conftest import Api

EVENT = {"type": "webhook_test", "data": {"test": True}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(allow_private_targets=True)


async def counts(services: Services) -> dict[str, int]:
    findings = await examine(services.store, services.secrets, utcnow(), lambda *_: None)
    assert [f.check for f in findings] == list(CHECKS)
    return {f.check: f.count for f in findings}


async def corrupt(database_url: str, sql: str, *args: Any) -> None:
    """Write straight into the database (``?`` placeholders; booleans and times as text)."""
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            conn.execute(sql, args)
        return
    numbered = sql
    for n in range(1, sql.count("?") + 1):
        numbered = numbered.replace("?", f"${n}", 1)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(numbered, *args)
    finally:
        await conn.close()


async def deliveries(api: Api, webhook_id: str, status: str) -> list[str]:
    params = {"webhook_id": webhook_id, "status": status}
    found = await api.client.get("/api/v1/deliveries", params=params)
    return [d["id"] for d in found.json()["data"]]


async def test_a_store_after_real_work_is_healthy_and_each_fault_is_counted(
    api: Api, services: Services, runtime: Runtime, settings: Settings
) -> None:
    async with receivers.receiver() as target:
        served = await api.create(url=target.url)
        for _ in range(6):
            assert (await api.client.post("/api/v1/events", json=EVENT)).status_code == 202
        config = WorkerConfig(poll_interval_s=0.05)
        await run_engine(runtime, stop=asyncio.Event(), burst=True, config=config)
    waiting = await api.create(url="https://receiver.example.com/later")  # never sent: no worker
    for _ in range(3):
        assert (await api.client.post("/api/v1/events", json=EVENT)).status_code == 202
    assert set((await counts(services)).values()) == {0}

    url = settings.database_url
    sent = await deliveries(api, served["id"], "succeeded")
    due = await deliveries(api, waiting["id"], "pending")
    sqlite = url.startswith("sqlite")
    ended = utcnow() - timedelta(minutes=10)
    faults: dict[str, tuple[Any, ...]] = {
        "expired_leases": (
            "UPDATE deliveries SET status = 'in_flight', lease_expires_at = ? WHERE id = ?",
            iso(ended) if sqlite else ended, due[0],
        ),
        "held_for_running_webhooks": ("UPDATE deliveries SET status = 'held' WHERE id = ?", due[1]),
        "pending_without_due_time": (
            "UPDATE deliveries SET next_attempt_at = NULL WHERE id = ?", due[2],
        ),
        "succeeded_without_2xx": ("DELETE FROM attempts WHERE delivery_id = ?", sent[0]),
        "attempts_missing": ("UPDATE deliveries SET attempt_count = 9 WHERE id = ?", sent[1]),
    }  # fmt: skip
    for sql, *args in faults.values():
        await corrupt(url, sql, *args)
    await services.store.put_secret("hookwire/acme/webhooks/wh_gone", b"stale")
    await services.secrets.delete(served["vault_path"])
    expected = {check: 0 for check in CHECKS}
    expected |= dict.fromkeys(faults, 1) | {"orphan_secrets": 1, "webhooks_without_secret": 1}
    expected["attempts_missing"] = 2  # sent[0] lost its attempt too
    assert await counts(services) == expected

    true = 1 if sqlite else True
    await corrupt(url, "UPDATE webhooks SET is_deleted = ? WHERE id = ?", true, waiting["id"])
    after = await counts(services)
    assert after["due_for_deleted_webhooks"] == 2  # the 2 of its 3 still pending or held
