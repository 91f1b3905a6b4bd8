"""The SQLite adapter of the Store port: stdlib ``sqlite3`` in WAL mode (the default store)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import orjson

from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.store import migrations as schema
from hookwire.store.base import WebhookQuery
from hookwire.store.queries import load
from hookwire.store.rows import (
    JSON_COLUMNS,
    TIME_COLUMNS,
    list_params,
    scope_params,
    webhook_from_row,
    webhook_to_row,
)
from hookwire.store.sqlite_engine import SQLiteEngine
from hookwire.timeutil import iso, parse_iso, utcnow

Q = load("sqlite")


def _encode(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for name in JSON_COLUMNS & out.keys():
        out[name] = orjson.dumps(out[name]).decode()
    for name in TIME_COLUMNS & out.keys():
        out[name] = iso(out[name])
    return out


def _decode(row: sqlite3.Row) -> Webhook:
    values = dict(row)
    for name in JSON_COLUMNS:
        values[name] = orjson.loads(values[name])
    for name in TIME_COLUMNS:
        if values[name] is not None:
            values[name] = parse_iso(values[name])
    return webhook_from_row(values)


def _execute(conn: sqlite3.Connection, name: str, params: Mapping[str, Any]) -> None:
    conn.execute(Q[name].text, params)


def _statements(sql: str) -> list[str]:
    """Split a migration file into complete statements."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]


def _migrate(conn: sqlite3.Connection) -> list[str]:
    conn.execute("BEGIN IMMEDIATE")  # serialises racing processes on the same file
    try:
        conn.execute(schema.TABLE_SQL)
        applied = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        done = []
        for migration in schema.pending("sqlite", applied):
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, iso(utcnow())),
            )
            done.append(migration.name)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return done


class SQLiteStore:
    """Store port over one SQLite file."""

    dialect = "sqlite"

    def __init__(self, path: str, readers: int = 4) -> None:
        self.engine = SQLiteEngine(path, readers)

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """``sqlite:///relative.db`` or ``sqlite:////absolute/path.db``."""
        return cls(url.removeprefix("sqlite://").removeprefix("/") or "hookwire.db")

    async def open(self) -> None:
        self.engine.start()

    async def close(self) -> None:
        await self.engine.close()

    async def ping(self) -> None:
        await self.engine.read(lambda conn: conn.execute("SELECT 1").fetchone())

    async def migrate(self) -> list[str]:
        return await self.engine.write(_migrate, transaction=False)

    async def applied_migrations(self) -> list[str]:
        def read(conn: sqlite3.Connection) -> list[str]:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'"
            ).fetchone()
            if not exists:
                return []
            return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY 1")]

        return await self.engine.read(read)

    # --- webhooks ------------------------------------------------------------------------

    async def insert_webhook(self, webhook: Webhook) -> None:
        params = _encode(webhook_to_row(webhook))
        await self.engine.write(lambda conn: _execute(conn, "insert_webhook", params))

    async def get_webhook(
        self, principal: Principal, webhook_id: str, *, include_deleted: bool = False
    ) -> Webhook | None:
        params = {**scope_params(principal), "id": webhook_id, "include_deleted": include_deleted}
        row = await self.engine.read(
            lambda conn: conn.execute(Q["get_webhook"].text, params).fetchone()
        )
        return None if row is None else _decode(row)

    async def list_webhooks(self, principal: Principal, query: WebhookQuery) -> list[Webhook]:
        params = list_params(principal, query)
        rows = await self.engine.read(
            lambda conn: conn.execute(Q["list_webhooks"].text, params).fetchall()
        )
        return [_decode(row) for row in rows]

    async def update_webhook(self, webhook: Webhook, *, expected_version: int) -> bool:
        params = _encode(webhook_to_row(webhook))
        params["expected_version"] = expected_version
        changed: int = await self.engine.write(
            lambda conn: conn.execute(Q["update_webhook"].text, params).rowcount
        )
        return changed == 1

    # --- secret blobs (local secret backend) ---------------------------------------------

    async def put_secret(self, path: str, blob: bytes) -> None:
        params = {"path": path, "ciphertext": blob, "now": iso(utcnow())}
        await self.engine.write(lambda conn: _execute(conn, "put_secret", params))

    async def get_secret(self, path: str) -> bytes | None:
        row = await self.engine.read(
            lambda conn: conn.execute(Q["get_secret"].text, {"path": path}).fetchone()
        )
        return None if row is None else bytes(row[0])

    async def delete_secret(self, path: str) -> None:
        await self.engine.write(lambda conn: _execute(conn, "delete_secret", {"path": path}))
