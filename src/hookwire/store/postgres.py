"""The PostgreSQL adapter of the Store port: asyncpg with a connection pool (the scale-out)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson

from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.errors import StoreUnavailable
from hookwire.store import migrations as schema
from hookwire.store.base import WebhookQuery
from hookwire.store.queries import load
from hookwire.store.rows import list_params, scope_params, webhook_from_row, webhook_to_row
from hookwire.timeutil import iso, utcnow

Q = load("postgres")
MIGRATION_LOCK = 0x686F6F6B  # "hook": one migrator at a time across processes
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(
            kind, schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
        )  # fmt: skip


class PostgresStore:
    """Store port over one PostgreSQL database."""

    dialect = "postgres"

    def __init__(self, dsn: str, min_size: int = 2, max_size: int = 10) -> None:
        self.dsn = dsn
        self._sizes = (min_size, max_size)
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        return "PostgresStore(<dsn hidden>)"

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self._sizes[0],
                max_size=self._sizes[1],
                init=_init_connection,
            )
        except _DRIVER_ERRORS as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            raise StoreUnavailable("the PostgreSQL store is not open")
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except _DRIVER_ERRORS as exc:
            raise StoreUnavailable(f"PostgreSQL error: {exc}") from exc

    async def _fetch(self, name: str, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        query = Q[name]
        async with self._conn() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(query.text, *query.args(params))
            return rows

    async def _execute(self, name: str, params: Mapping[str, Any]) -> str:
        query = Q[name]
        async with self._conn() as conn:
            status: str = await conn.execute(query.text, *query.args(params))
            return status

    async def ping(self) -> None:
        async with self._conn() as conn:
            await conn.fetchval("SELECT 1")

    async def migrate(self) -> list[str]:
        async with self._conn() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute(schema.TABLE_SQL)
            applied = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            done = []
            for migration in schema.pending("postgres", applied):
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)",
                    migration.name,
                    iso(utcnow()),
                )
                done.append(migration.name)
            return done

    async def applied_migrations(self) -> list[str]:
        async with self._conn() as conn:
            if not await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
                return []
            return [
                r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations ORDER BY 1")
            ]

    # --- webhooks ------------------------------------------------------------------------

    async def insert_webhook(self, webhook: Webhook) -> None:
        await self._execute("insert_webhook", webhook_to_row(webhook))

    async def get_webhook(
        self, principal: Principal, webhook_id: str, *, include_deleted: bool = False
    ) -> Webhook | None:
        rows = await self._fetch(
            "get_webhook",
            {**scope_params(principal), "id": webhook_id, "include_deleted": include_deleted},
        )
        return webhook_from_row(rows[0]) if rows else None

    async def list_webhooks(self, principal: Principal, query: WebhookQuery) -> list[Webhook]:
        rows = await self._fetch(
            "list_webhooks",
            list_params(principal, query),
        )
        return [webhook_from_row(row) for row in rows]

    async def update_webhook(self, webhook: Webhook, *, expected_version: int) -> bool:
        params = {**webhook_to_row(webhook), "expected_version": expected_version}
        return await self._execute("update_webhook", params) == "UPDATE 1"

    # --- secret blobs (local secret backend) ---------------------------------------------

    async def put_secret(self, path: str, blob: bytes) -> None:
        await self._execute("put_secret", {"path": path, "ciphertext": blob, "now": utcnow()})

    async def get_secret(self, path: str) -> bytes | None:
        rows = await self._fetch("get_secret", {"path": path})
        return bytes(rows[0]["ciphertext"]) if rows else None

    async def delete_secret(self, path: str) -> None:
        await self._execute("delete_secret", {"path": path})
