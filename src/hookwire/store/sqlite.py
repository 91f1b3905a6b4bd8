"""The SQLite adapter of the Store port: stdlib ``sqlite3`` in WAL mode (the default store)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from hookwire.domain.attempt import Attempt
from hookwire.domain.delivery import Delivery
from hookwire.domain.event import Event
from hookwire.domain.event_type import EventType
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.store import rows
from hookwire.store import sqlite_codec as codec
from hookwire.store import sqlite_writes as writes
from hookwire.store.base import (
    NO_TRANSITION,
    Announcer,
    Claim,
    DeliveryQuery,
    EventQuery,
    FanOut,
    Job,
    Published,
    Purged,
    Settlement,
    Transition,
    WebhookQuery,
)
from hookwire.store.sqlite_codec import Q
from hookwire.store.sqlite_engine import SQLiteEngine
from hookwire.timeutil import iso, utcnow

T = TypeVar("T")


class SQLiteStore:
    """Store port over one SQLite file."""

    dialect = "sqlite"

    def __init__(self, path: str, readers: int = 4) -> None:
        self.engine = SQLiteEngine(path, readers)
        self._due = asyncio.Event()  # set when this process wrote something due (one process)

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
        return await self.engine.write(writes.migrate, transaction=False)

    async def applied_migrations(self) -> list[str]:
        def read(conn: sqlite3.Connection) -> list[str]:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'"
            ).fetchone()
            if not exists:
                return []
            return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY 1")]

        return await self.engine.read(read)

    async def _all(self, name: str, params: Mapping[str, Any]) -> list[sqlite3.Row]:
        encoded = {k: codec.plain(v) for k, v in params.items()}
        return await self.engine.read(lambda conn: conn.execute(Q[name].text, encoded).fetchall())

    async def _one(
        self, name: str, params: Mapping[str, Any], make: Callable[[sqlite3.Row], T]
    ) -> T | None:
        found = await self._all(name, params)
        return make(found[0]) if found else None

    async def _write(self, name: str, table: rows.Table, params: Mapping[str, Any]) -> int:
        encoded = codec.encode(table, params)
        changed: int = await self.engine.write(
            lambda conn: conn.execute(Q[name].text, encoded).rowcount
        )
        return changed

    # --- webhooks ------------------------------------------------------------------------

    async def insert_webhook(self, webhook: Webhook) -> None:
        await self._write("insert_webhook", rows.WEBHOOKS, rows.webhook_to_row(webhook))

    async def get_webhook(
        self, principal: Principal, webhook_id: str, *, include_deleted: bool = False
    ) -> Webhook | None:
        params = {**rows.scope_params(principal), "id": webhook_id}
        return await self._one(
            "get_webhook", {**params, "include_deleted": include_deleted}, codec.webhook_of
        )

    async def list_webhooks(self, principal: Principal, query: WebhookQuery) -> list[Webhook]:
        return [
            codec.webhook_of(r)
            for r in await self._all("list_webhooks", rows.list_params(principal, query))
        ]

    async def update_webhook(
        self, webhook: Webhook, *, expected_version: int, transition: Transition = NO_TRANSITION
    ) -> Webhook | None:
        stored = await self.engine.write(
            writes.update_webhook(webhook, expected_version, transition)
        )
        if transition.deliveries == "release" or transition.announce is not None:
            self._due.set()
        return stored

    # --- secret blobs (local secret backend) ---------------------------------------------

    async def put_secret(self, path: str, blob: bytes) -> None:
        params = {"path": path, "ciphertext": blob, "now": utcnow()}
        await self._write("put_secret", rows.Table(), params)

    async def get_secret(self, path: str) -> bytes | None:
        return await self._one("get_secret", {"path": path}, lambda row: bytes(row[0]))

    async def delete_secret(self, path: str) -> None:
        await self._write("delete_secret", rows.Table(), {"path": path})

    # --- event types -----------------------------------------------------------------------

    async def insert_event_type(self, event_type: EventType) -> bool:
        row = rows.event_type_to_row(event_type)
        return await self._write("insert_event_type", rows.EVENT_TYPES, row) == 1

    async def get_event_type(
        self, tenant_id: str, name: str, version: int | None = None
    ) -> EventType | None:
        params = {"tenant_id": tenant_id, "name": name, "version": version}
        return await self._one("get_event_type", params, codec.event_type_of)

    async def list_event_types(
        self, tenant_id: str, after: str | None, limit: int
    ) -> list[EventType]:
        params = {"tenant_id": tenant_id, "after": after, "limit": limit}
        return [codec.event_type_of(r) for r in await self._all("list_event_types", params)]

    async def update_event_type(self, event_type: EventType) -> bool:
        row = rows.event_type_to_row(event_type)
        return await self._write("update_event_type", rows.EVENT_TYPES, row) == 1

    # --- publishing and reads --------------------------------------------------------------

    async def publish(self, event: Event, fan_out: FanOut, claim: Claim | None) -> Published:
        published = await self.engine.write(writes.publish(event, fan_out, claim))
        if published.deliveries:
            self._due.set()
        return published

    async def get_claim(self, tenant_id: str, key: str, fresh_after: datetime) -> Claim | None:
        params = {"tenant_id": tenant_id, "key": key, "fresh_after": fresh_after}
        return await self._one("get_claim", params, codec.claim_of)

    async def get_event(self, principal: Principal, event_id: str) -> Event | None:
        return await self._one(
            "get_event", {**rows.scope_params(principal), "id": event_id}, codec.event_of
        )

    async def list_events(self, principal: Principal, query: EventQuery) -> list[Event]:
        return [
            codec.event_of(r)
            for r in await self._all("list_events", rows.query_params(principal, query))
        ]

    async def get_delivery(self, principal: Principal, delivery_id: str) -> Delivery | None:
        params = {**rows.scope_params(principal), "id": delivery_id}
        return await self._one("get_delivery", params, codec.delivery_of)

    async def list_deliveries(self, principal: Principal, query: DeliveryQuery) -> list[Delivery]:
        params = rows.query_params(principal, query)
        return [codec.delivery_of(r) for r in await self._all("list_deliveries", params)]

    async def list_attempts(self, principal: Principal, delivery_id: str) -> list[Attempt]:
        params = {"tenant_id": principal.tenant_id, "delivery_id": delivery_id}
        return [codec.attempt_of(r) for r in await self._all("list_attempts", params)]

    # --- the delivery engine -----------------------------------------------------------

    async def claim(self, now: datetime, limit: int) -> list[Job]:
        return await self.engine.write(writes.lease_due(now, limit))

    async def settle(
        self, settlements: Sequence[Settlement], announce: Announcer, now: datetime
    ) -> None:
        await self.engine.write(lambda conn: writes.settle(conn, settlements, announce, now))
        self._due.set()  # retries may be due already, announcements were published

    async def release(self, jobs: Sequence[Job], now: datetime) -> None:
        params = [
            {"id": j.delivery.id, "lease": iso(j.delivery.lease_expires_at), "now": iso(now)}
            for j in jobs
        ]
        await self.engine.write(lambda conn: conn.executemany(Q["release_lease"].text, params))

    async def requeue(
        self, principal: Principal, delivery_id: str, now: datetime
    ) -> Delivery | None:
        params = {**rows.scope_params(principal), "id": delivery_id, "now": iso(now)}
        found = await self.engine.write(
            lambda conn: conn.execute(Q["requeue_delivery"].text, params).fetchall()
        )
        self._due.set()
        return codec.delivery_of(found[0]) if found else None

    async def recover(
        self, principal: Principal, webhook_id: str, since: datetime, until: datetime | None,
        now: datetime,
    ) -> int:  # fmt: skip
        params = {"tenant_id": principal.tenant_id, "webhook_id": webhook_id, "since": since,
                  "until": until, "now": now}  # fmt: skip
        count = await self._write("recover_deliveries", rows.Table(), params)
        self._due.set()
        return count

    async def purge(self, before: datetime, claims_before: datetime) -> Purged:
        def run(conn: sqlite3.Connection) -> Purged:
            events = conn.execute(Q["purge_events"].text, {"before": iso(before)}).rowcount
            claims = conn.execute(Q["purge_claims"].text, {"before": iso(claims_before)}).rowcount
            gone = conn.execute(Q["purge_webhooks"].text, {"before": iso(before)}).fetchall()
            return Purged(events, claims, [row[0] for row in gone])

        return await self.engine.write(run)

    async def wait_for_work(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._due.wait(), timeout)
        self._due.clear()
