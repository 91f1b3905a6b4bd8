"""Migrating an empty database gives exactly the expected schema, on both dialects.

The expected schema is a snapshot in ``tests/integration/schema/<dialect>.txt``. After adding
a migration, regenerate it with ``HOOKWIRE_UPDATE_SCHEMA=1 pytest
tests/integration/test_migrations.py`` and review the diff: it is the schema change the
migration makes.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from hookwire.domain.event import IDEMPOTENCY_TTL, Event
from hookwire.domain.principal import Principal
from hookwire.ids import new_id
from hookwire.store import migrations
from hookwire.store.base import Store
from hookwire.store.postgres import PostgresStore
from hookwire.store.sqlite import SQLiteStore
from hookwire.timeutil import iso, utcnow

SNAPSHOTS = Path(__file__).parent / "schema"
_SPACE = re.compile(r"\s+")


def _sqlite_schema(path: str) -> str:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT type, name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ).fetchall()
    return "\n".join(f"{kind} {name}: {_SPACE.sub(' ', sql)}" for kind, name, sql in rows)


async def _postgres_schema(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY table_name, ordinal_position"
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
        )
        constraints = await conn.fetch(
            "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
        )
    finally:
        await conn.close()
    lines = [
        f"column {r['table_name']}.{r['column_name']} {r['data_type']} "
        f"null={r['is_nullable']} default={r['column_default']}"
        for r in columns
    ]
    lines += [f"index {r['indexname']}: {r['indexdef']}" for r in indexes]
    lines += [f"constraint {r['tbl']}.{r['conname']}: {r['def']}" for r in constraints]
    return "\n".join(lines)


def _check(dialect: str, actual: str) -> None:
    snapshot = SNAPSHOTS / f"{dialect}.txt"
    if os.environ.get("HOOKWIRE_UPDATE_SCHEMA"):
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(actual + "\n")
    assert actual + "\n" == snapshot.read_text()


async def test_sqlite_migrations_build_the_expected_schema(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "m.db"))
    await store.open()
    try:
        assert await store.applied_migrations() == []
        applied = await store.migrate()
        assert applied == [m.name for m in migrations.migrations("sqlite")]
        assert await store.migrate() == []
    finally:
        await store.close()
    _check("sqlite", _sqlite_schema(str(tmp_path / "m.db")))


@pytest.mark.postgres
async def test_postgres_migrations_build_the_expected_schema(empty_pg_url: str) -> None:
    store = PostgresStore(empty_pg_url)
    await store.open()
    try:
        assert await store.applied_migrations() == []
        applied = await store.migrate()
        assert applied == [m.name for m in migrations.migrations("postgres")]
        assert await store.migrate() == []
    finally:
        await store.close()
    _check("postgres", await _postgres_schema(empty_pg_url))


async def _race(stores: list[Store], dialect: str) -> None:
    """Several stores (as separate processes would) migrate one empty database at once."""
    for store in stores:
        await store.open()
    try:
        results = await asyncio.gather(*(s.migrate() for s in stores))
    finally:
        for store in stores:
            await store.close()
    applied = [name for result in results for name in result]
    assert sorted(applied) == [m.name for m in migrations.migrations(dialect)]


@pytest.mark.postgres
async def test_racing_postgres_migrators_apply_each_migration_once(empty_pg_url: str) -> None:
    await _race([PostgresStore(empty_pg_url, min_size=1, max_size=1) for _ in range(4)], "postgres")


async def test_racing_sqlite_migrators_apply_each_migration_once(tmp_path: Path) -> None:
    await _race([SQLiteStore(str(tmp_path / "race.db")) for _ in range(3)], "sqlite")


# --- 0007: idempotency keys claimed before it keep the scope that claimed them --------------

SCOPED = "0007_idempotency_key_scope"
Execute = Callable[[str], Awaitable[object]]


async def _claims_survive_0007(
    store: Store, execute: Execute, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys claimed before 0007 (by an app, by a tenant-level token, and one whose event is
    gone) are migrated into the scope of their event's app, so each caller still replays."""
    everything = migrations.migrations
    monkeypatch.setattr(
        migrations,
        "migrations",
        lambda dialect: [m for m in everything(dialect) if m.name < SCOPED],
    )
    await store.migrate()
    now = utcnow()
    events = {
        app: Event(new_id("evt"), "acme", "webhook_test", 1, {}, now, app)
        for app in ("app-1", None)
    }
    for event in events.values():  # as the schema before 0007 holds one (today's code is newer)
        app_id = "NULL" if event.app_id is None else f"'{event.app_id}'"
        await execute(
            "INSERT INTO events (id, tenant_id, app_id, type, type_version, data, created_at) "
            f"VALUES ('{event.id}', 'acme', {app_id}, 'webhook_test', 1, '{{}}', '{iso(now)}')"
        )
    keys = {"by-app": events["app-1"].id, "by-tenant": events[None].id, "event-gone": "evt_gone"}
    await execute(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, event_id, created_at) VALUES "
        + ", ".join(
            f"('acme', '{key}', 'h', '{event_id}', '{iso(now)}')" for key, event_id in keys.items()
        )
    )
    monkeypatch.undo()
    assert (await store.migrate())[0] == SCOPED  # and those after it

    app, tenant, fresh = Principal("acme", app_id="app-1"), Principal("acme"), now - IDEMPOTENCY_TTL
    by_app = await store.get_idempotency_key(app, "by-app", fresh)
    assert by_app is not None and (by_app.app_id, by_app.event_id) == ("app-1", keys["by-app"])
    assert await store.get_idempotency_key(tenant, "by-app", fresh) is None
    by_tenant = await store.get_idempotency_key(tenant, "by-tenant", fresh)
    assert by_tenant is not None and by_tenant.app_id is None
    assert by_tenant.event_id == keys["by-tenant"]
    assert await store.get_idempotency_key(app, "by-tenant", fresh) is None
    gone = await store.get_idempotency_key(tenant, "event-gone", fresh)
    assert gone is not None and gone.app_id is None


async def test_sqlite_0007_keeps_each_key_in_the_scope_that_claimed_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(str(tmp_path / "upgrade.db"))
    await store.open()

    async def execute(sql: str) -> object:
        return await store.engine.write(lambda conn: conn.executescript(sql), transaction=False)

    try:
        await _claims_survive_0007(store, execute, monkeypatch)
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_0007_keeps_each_key_in_the_scope_that_claimed_it(
    empty_pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PostgresStore(empty_pg_url, min_size=1, max_size=1)
    await store.open()

    async def execute(sql: str) -> object:
        conn = await asyncpg.connect(empty_pg_url)
        try:
            return await conn.execute(sql)
        finally:
            await conn.close()

    try:
        await _claims_survive_0007(store, execute, monkeypatch)
    finally:
        await store.close()
