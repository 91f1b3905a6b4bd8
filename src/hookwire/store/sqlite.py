"""The SQLite adapter of the Store port: stdlib ``sqlite3`` in WAL mode (the default store)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from hookwire.domain.delivery import Delivery
from hookwire.domain.event import Event
from hookwire.domain.inbound import InboundMessage
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.store import rows
from hookwire.store import sqlite_codec as codec
from hookwire.store import sqlite_writes as writes
from hookwire.store.base import (
    NO_TRANSITION,
    Announcer,
    Claim,
    FanOut,
    Job,
    Published,
    Purged,
    Received,
    Settlement,
    Transition,
)
from hookwire.store.named import NamedQueries
from hookwire.store.sqlite_codec import Q
from hookwire.store.sqlite_engine import SQLiteEngine
from hookwire.timeutil import iso

T = TypeVar("T")


class SQLiteStore(NamedQueries):
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

    async def migrate(self, applied: Callable[[str], None] | None = None) -> list[str]:
        return await self.engine.write(
            lambda conn: writes.migrate(conn, applied), transaction=False
        )

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

    async def _fetch(self, name: str, params: Mapping[str, Any]) -> list[sqlite3.Row]:
        encoded = {k: codec.plain(v) for k, v in params.items()}
        return await self.engine.read(lambda conn: conn.execute(Q[name].text, encoded).fetchall())

    async def _write(self, name: str, table: rows.Table, params: Mapping[str, Any]) -> int:
        encoded = codec.encode(table, params)
        changed: int = await self.engine.write(
            lambda conn: conn.execute(Q[name].text, encoded).rowcount
        )
        return changed

    def _plain(self, table: rows.Table, row: sqlite3.Row) -> Mapping[str, Any]:
        return codec.decode(table, row)

    async def update_webhook(
        self, webhook: Webhook, *, expected_version: int, transition: Transition = NO_TRANSITION
    ) -> Webhook | None:
        stored = await self.engine.write(
            writes.update_webhook(webhook, expected_version, transition)
        )
        if stored is not None:
            self._due.set()  # released deliveries or an announcement may be due
        return stored

    # --- secret blobs (local secret backend) ---------------------------------------------

    # --- event types -----------------------------------------------------------------------

    # --- publishing and reads --------------------------------------------------------------

    async def publish(self, event: Event, fan_out: FanOut, claim: Claim | None) -> Published:
        published = await self.engine.write(writes.publish(event, fan_out, claim))
        if published.deliveries:
            self._due.set()
        return published

    async def receive(
        self, message: InboundMessage, event: Event | None, fan_out: FanOut
    ) -> Received:
        received = await self.engine.write(writes.receive(message, event, fan_out))
        if received.deliveries:
            self._due.set()
        return received

    # --- the delivery engine -----------------------------------------------------------

    async def claim(self, now: datetime, limit: int) -> list[Job]:
        return await self.engine.write(writes.lease_due(now, limit))

    async def settle(
        self, settlements: Sequence[Settlement], announce: Announcer, now: datetime
    ) -> None:
        await self.engine.write(lambda conn: writes.settle(conn, settlements, announce, now))
        self._due.set()  # retries may be due already, announcements were published

    async def release(
        self, jobs: Sequence[Job], now: datetime, due_at: datetime | None = None
    ) -> None:
        params = [
            codec.encode(rows.Table(), rows.release_params(j, now, due_at or now)) for j in jobs
        ]
        await self.engine.write(lambda conn: conn.executemany(Q["release_lease"].text, params))
        if due_at is None:  # due now; a later due time wakes the worker by itself (next_due)
            self._due.set()

    async def next_due(self) -> datetime | None:
        [found] = await self._fetch("next_due", {})
        due: datetime | None = codec.decode(rows.QUEUE_STATS, found)["next_due_at"]
        return due

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
            inbound = conn.execute(Q["purge_inbound_messages"].text, {"before": iso(before)})
            gone = conn.execute(Q["purge_webhooks"].text, {"before": iso(before)}).fetchall()
            return Purged(events, claims, [row[0] for row in gone], inbound.rowcount)

        return await self.engine.write(run)

    async def wait_for_work(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._due.wait(), timeout)
        self._due.clear()
