"""The SQLite adapter of the Store port: stdlib ``sqlite3`` in WAL mode (the default store)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import orjson

from hookwire.domain.attempt import Attempt
from hookwire.domain.delivery import Delivery, pause_reason
from hookwire.domain.event import Event
from hookwire.domain.event_type import EventType
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.store import migrations as schema
from hookwire.store import rows
from hookwire.store.base import (
    CLAIM_TTL,
    LEASE_MARGIN,
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
from hookwire.store.queries import load
from hookwire.store.sqlite_engine import SQLiteEngine
from hookwire.timeutil import iso, parse_iso, utcnow

Q = load("sqlite")
T = TypeVar("T")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _encode(table: rows.Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values -> SQLite values: JSON as text, times as RFC 3339 text."""
    out = {name: _plain(value) for name, value in row.items()}
    for name in table.json & out.keys():
        out[name] = orjson.dumps(out[name]).decode()
    return out


def _decode(table: rows.Table, row: sqlite3.Row) -> dict[str, Any]:
    values = dict(row)
    for name in table.json & values.keys():
        values[name] = orjson.loads(values[name])
    for name in table.time & values.keys():
        if values[name] is not None:
            values[name] = parse_iso(values[name])
    return values


def _webhook(row: sqlite3.Row) -> Webhook:
    return rows.webhook_from_row(_decode(rows.WEBHOOKS, row))


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


def _publish_in(conn: sqlite3.Connection, event: Event, fan_out: FanOut) -> list[Delivery]:
    """Insert ``event`` and the deliveries ``fan_out`` makes of its candidate webhooks."""
    scope = {"tenant_id": event.tenant_id, "app_id": event.app_id}
    params = {**scope, "connector_id": event.connector_id, "type": event.type}
    candidates = conn.execute(Q["fanout_webhooks"].text, params).fetchall()
    deliveries = fan_out([_webhook(row) for row in candidates])
    _execute(conn, "insert_event", _encode(rows.EVENTS, rows.event_to_row(event)))
    conn.executemany(
        Q["insert_delivery"].text,
        [_encode(rows.DELIVERIES, rows.delivery_to_row(d)) for d in deliveries],
    )
    return deliveries


def _publish(event: Event, fan_out: FanOut, claim: Claim | None) -> Callable[..., Published]:
    def run(conn: sqlite3.Connection) -> Published:
        if claim is not None:
            params = {**rows.claim_params(claim), "expired_before": claim.created_at - CLAIM_TTL}
            if not conn.execute(Q["claim_key"].text, _encode(rows.CLAIMS, params)).fetchall():
                return Published(taken=True)
        return Published(deliveries=_publish_in(conn, event, fan_out))

    return run


def _update_webhook(
    webhook: Webhook, expected_version: int, transition: Transition
) -> Callable[[sqlite3.Connection], Webhook | None]:
    def run(conn: sqlite3.Connection) -> Webhook | None:
        params = rows.update_params(webhook, expected_version, transition.pause)
        found = conn.execute(Q["update_webhook"].text, _encode(rows.WEBHOOKS, params)).fetchall()
        if not found:
            return None
        if transition.deliveries is not None:
            change = {"webhook_id": webhook.id, "now": iso(webhook.updated_at)}
            _execute(conn, f"{transition.deliveries}_deliveries", change)
        if transition.announce is not None:
            _publish_in(conn, transition.announce.event, transition.announce.fan_out)
        return _webhook(found[0])

    return run


def _lease_due(now: datetime, limit: int) -> Callable[[sqlite3.Connection], list[Job]]:
    def run(conn: sqlite3.Connection) -> list[Job]:
        due = conn.execute(Q["due_deliveries"].text, {"now": iso(now), "limit": limit}).fetchall()
        deliveries = [_delivery(row) for row in due][:limit]
        if not deliveries:
            return []
        ids = orjson.dumps(sorted({d.webhook_id for d in deliveries})).decode()
        hooks = {
            w.id: w for w in map(_webhook, conn.execute(Q["webhooks_by_id"].text, {"ids": ids}))
        }
        jobs = []
        for delivery in deliveries:
            webhook = hooks[delivery.webhook_id]
            lease = now + timedelta(milliseconds=webhook.retry_policy.timeout_ms) + LEASE_MARGIN
            leased = dataclasses.replace(delivery, status="in_flight", lease_expires_at=lease)
            jobs.append(Job(leased, webhook))
        conn.executemany(
            Q["lease_delivery"].text,
            [{"id": j.delivery.id, "lease": iso(j.delivery.lease_expires_at), "now": iso(now)}
             for j in jobs],
        )  # fmt: skip
        return jobs

    return run


def _settle(
    conn: sqlite3.Connection, settlements: Sequence[Settlement], announce: Announcer, now: datetime
) -> None:
    attempts = [_encode(rows.ATTEMPTS, rows.attempt_to_row(s.attempt)) for s in settlements]
    conn.executemany(Q["insert_attempt"].text, attempts)
    for group in rows.by_webhook(settlements).values():
        counted, note = rows.tally_params(group)
        noted = conn.execute(Q["note_attempts"].text, _encode(rows.Table(), note)).fetchall()
        if not noted:
            continue
        webhook = _webhook(noted[0])
        reason = pause_reason(webhook, counted)
        if reason is not None:
            pause = {"id": webhook.id, "at": iso(now)}
            paused = conn.execute(Q["auto_pause"].text, pause).fetchall()
            if paused:
                webhook = _webhook(paused[0])
                _execute(conn, "hold_deliveries", {"webhook_id": webhook.id, "now": iso(now)})
                announcement = announce(webhook, reason, now)
                _publish_in(conn, announcement.event, announcement.fan_out)
        params = [_encode(rows.Table(), p) for p in rows.settle_params(group, webhook, now)]
        conn.executemany(Q["settle_delivery"].text, params)


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

    async def _all(self, name: str, params: Mapping[str, Any]) -> list[sqlite3.Row]:
        encoded = {k: _plain(v) for k, v in params.items()}
        return await self.engine.read(lambda conn: conn.execute(Q[name].text, encoded).fetchall())

    async def _one(
        self, name: str, params: Mapping[str, Any], make: Callable[[sqlite3.Row], T]
    ) -> T | None:
        found = await self._all(name, params)
        return make(found[0]) if found else None

    async def _write(self, name: str, table: rows.Table, params: Mapping[str, Any]) -> int:
        encoded = _encode(table, params)
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
            "get_webhook", {**params, "include_deleted": include_deleted}, _webhook
        )

    async def list_webhooks(self, principal: Principal, query: WebhookQuery) -> list[Webhook]:
        return [
            _webhook(r)
            for r in await self._all("list_webhooks", rows.list_params(principal, query))
        ]

    async def update_webhook(
        self, webhook: Webhook, *, expected_version: int, transition: Transition = NO_TRANSITION
    ) -> Webhook | None:
        stored = await self.engine.write(_update_webhook(webhook, expected_version, transition))
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
        return await self._one("get_event_type", params, _event_type)

    async def list_event_types(
        self, tenant_id: str, after: str | None, limit: int
    ) -> list[EventType]:
        params = {"tenant_id": tenant_id, "after": after, "limit": limit}
        return [_event_type(r) for r in await self._all("list_event_types", params)]

    async def update_event_type(self, event_type: EventType) -> bool:
        row = rows.event_type_to_row(event_type)
        return await self._write("update_event_type", rows.EVENT_TYPES, row) == 1

    # --- publishing and reads --------------------------------------------------------------

    async def publish(self, event: Event, fan_out: FanOut, claim: Claim | None) -> Published:
        published = await self.engine.write(_publish(event, fan_out, claim))
        if published.deliveries:
            self._due.set()
        return published

    async def get_claim(self, tenant_id: str, key: str, fresh_after: datetime) -> Claim | None:
        params = {"tenant_id": tenant_id, "key": key, "fresh_after": fresh_after}
        return await self._one("get_claim", params, _claim_row)

    async def get_event(self, principal: Principal, event_id: str) -> Event | None:
        return await self._one(
            "get_event", {**rows.scope_params(principal), "id": event_id}, _event
        )

    async def list_events(self, principal: Principal, query: EventQuery) -> list[Event]:
        return [
            _event(r) for r in await self._all("list_events", rows.query_params(principal, query))
        ]

    async def get_delivery(self, principal: Principal, delivery_id: str) -> Delivery | None:
        params = {**rows.scope_params(principal), "id": delivery_id}
        return await self._one("get_delivery", params, _delivery)

    async def list_deliveries(self, principal: Principal, query: DeliveryQuery) -> list[Delivery]:
        params = rows.query_params(principal, query)
        return [_delivery(r) for r in await self._all("list_deliveries", params)]

    async def list_attempts(self, principal: Principal, delivery_id: str) -> list[Attempt]:
        params = {"tenant_id": principal.tenant_id, "delivery_id": delivery_id}
        return [_attempt(r) for r in await self._all("list_attempts", params)]

    # --- the delivery engine -----------------------------------------------------------

    async def claim(self, now: datetime, limit: int) -> list[Job]:
        return await self.engine.write(_lease_due(now, limit))

    async def settle(
        self, settlements: Sequence[Settlement], announce: Announcer, now: datetime
    ) -> None:
        await self.engine.write(lambda conn: _settle(conn, settlements, announce, now))
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
        return _delivery(found[0]) if found else None

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


def _attempt(row: sqlite3.Row) -> Attempt:
    return rows.attempt_from_row(_decode(rows.ATTEMPTS, row))


def _event(row: sqlite3.Row) -> Event:
    return rows.event_from_row(_decode(rows.EVENTS, row))


def _delivery(row: sqlite3.Row) -> Delivery:
    return rows.delivery_from_row(_decode(rows.DELIVERIES, row))


def _event_type(row: sqlite3.Row) -> EventType:
    return rows.event_type_from_row(_decode(rows.EVENT_TYPES, row))


def _claim_row(row: sqlite3.Row) -> Claim:
    return rows.claim_from_row(_decode(rows.CLAIMS, row))
