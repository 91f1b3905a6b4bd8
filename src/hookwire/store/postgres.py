"""The PostgreSQL adapter of the Store port: asyncpg with a connection pool (the scale-out)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import orjson

from hookwire.domain.delivery import Delivery, pause_reason
from hookwire.domain.event import Event
from hookwire.domain.inbound import InboundMessage
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.errors import StoreUnavailable
from hookwire.store import migrations as schema
from hookwire.store import rows
from hookwire.store.base import (
    CLAIM_TTL,
    LEASE_MARGIN,
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
from hookwire.store.queries import load
from hookwire.timeutil import iso, utcnow

Q = load("postgres")
T = TypeVar("T")
MIGRATION_LOCK = 0x686F6F6B  # "hook": one migrator at a time across processes
CHANNEL = "hookwire_due"  # NOTIFY when deliveries become due; workers LISTEN
LEASE_MARGIN_MS = round(LEASE_MARGIN.total_seconds() * 1000)
DEADLOCK_RETRIES = 3
# InternalClientError: asyncpg's state machine on a connection the server dropped mid-query
# (seen when PostgreSQL restarts under load); it is the database going away, not a bug of ours.
_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)


class _Connection(asyncpg.Connection):  # type: ignore[misc]
    """A pool connection that skips asyncpg's reset query on release (one round trip per
    use, ~5 % of a publish's CPU): hookwire keeps no session state on pooled connections (no
    SET, LISTEN, cursors or session advisory locks; the migration lock is transaction-scoped,
    LISTEN has its own connection). An open transaction is still rolled back on release."""

    def get_reset_query(self) -> str:
        return ""


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(
            kind, schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
        )  # fmt: skip


def _args(name: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    query = Q[name]
    return query.text, query.args(params)


class PostgresStore(NamedQueries):
    """Store port over one PostgreSQL database."""

    dialect = "postgres"

    def __init__(self, dsn: str, min_size: int = 2, max_size: int = 10) -> None:
        self.dsn = dsn
        self._sizes = (min_size, max_size)
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._due = asyncio.Event()
        self._notifier: asyncio.Task[None] | None = None
        self._poked = False

    def __repr__(self) -> str:
        return "PostgresStore(<dsn hidden>)"

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self._sizes[0],
                max_size=self._sizes[1],
                init=_init_connection,
                connection_class=_Connection,
            )
        except _DRIVER_ERRORS as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc

    def _poke(self) -> None:
        """Tell the workers that deliveries are due: NOTIFY after the commit, coalesced, and
        never inside the writing transaction (a NOTIFY there takes PostgreSQL's global notify
        lock at commit, so every publish would queue behind every other)."""
        self._poked = True
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.create_task(self._notify())

    async def _notify(self) -> None:
        while self._poked:
            self._poked = False
            with contextlib.suppress(StoreUnavailable):  # the polling backstop remains
                async with self._conn() as conn:
                    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)

    async def close(self) -> None:
        if self._notifier is not None:
            with contextlib.suppress(Exception):
                await self._notifier
            self._notifier = None
        if self._listener is not None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._listener.close()
            self._listener = None
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
        text, args = _args(name, params)
        async with self._conn() as conn:
            found: list[asyncpg.Record] = await conn.fetch(text, *args)
            return found

    async def _write(self, name: str, table: rows.Table, params: Mapping[str, Any]) -> int:
        text, args = _args(name, params)
        async with self._conn() as conn:
            status: str = await conn.execute(text, *args)
        return int(status.rsplit(" ", 1)[-1])

    def _plain(self, table: rows.Table, row: asyncpg.Record) -> Mapping[str, Any]:
        plain: Mapping[str, Any] = row  # asyncpg decodes jsonb, timestamptz and booleans
        return plain

    async def ping(self) -> None:
        async with self._conn() as conn:
            await conn.fetchval("SELECT 1")

    async def migrate(self, applied: Callable[[str], None] | None = None) -> list[str]:
        async with self._conn() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute(schema.TABLE_SQL)
            before = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            done = []
            for migration in schema.pending("postgres", before):
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)",
                    migration.name,
                    iso(utcnow()),
                )
                done.append(migration.name)
                if applied is not None:
                    applied(migration.name)
            return done

    async def applied_migrations(self) -> list[str]:
        async with self._conn() as conn:
            if not await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
                return []
            found = await conn.fetch("SELECT name FROM schema_migrations ORDER BY 1")
            return [r["name"] for r in found]

    # --- webhooks ------------------------------------------------------------------------

    async def update_webhook(
        self, webhook: Webhook, *, expected_version: int, transition: Transition = NO_TRANSITION
    ) -> Webhook | None:
        params = rows.update_params(webhook, expected_version, transition.pause)

        async def write(conn: asyncpg.Connection) -> Webhook | None:
            found = await conn.fetch(*_flat("update_webhook", params))
            if not found:
                return None
            stored = rows.webhook_from_row(found[0])
            await _reconcile(conn, stored, webhook.updated_at, before=found[0])
            if transition.announce is not None:
                await _publish_in(conn, transition.announce.event, transition.announce.fan_out)
            return stored

        stored = await self._transaction(write)
        if stored is not None:
            self._poke()  # released deliveries or an announcement may be due
        return stored

    async def _transaction(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction, again when PostgreSQL aborted it to break a
        deadlock: a transition locks its webhook and then the webhooks its announcement goes
        to, so two transitions (or a settle that pauses) can wait for each other."""
        for attempt in range(DEADLOCK_RETRIES):
            try:
                async with self._conn() as conn, conn.transaction():
                    return await work(conn)
            except StoreUnavailable as exc:
                deadlocked = isinstance(exc.__cause__, asyncpg.DeadlockDetectedError)
                if not deadlocked or attempt == DEADLOCK_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    # --- secret blobs (local secret backend) ---------------------------------------------

    # --- event types -----------------------------------------------------------------------

    # --- publishing and reads --------------------------------------------------------------

    async def publish(self, event: Event, fan_out: FanOut, claim: Claim | None) -> Published:
        async with self._conn() as conn:
            if claim is None:  # no transaction: _publish_in's insert is one statement
                deliveries = await _publish_in(conn, event, fan_out)
            else:
                async with conn.transaction():
                    params = {
                        **rows.claim_params(claim),
                        "expired_before": claim.created_at - CLAIM_TTL,
                    }
                    if await conn.fetchval(*_flat("claim_key", params)) is None:
                        return Published(taken=True)
                    deliveries = await _publish_in(conn, event, fan_out)
        if any(d.status == "pending" for d in deliveries):
            self._poke()
        return Published(deliveries=deliveries)

    async def receive(
        self, message: InboundMessage, event: Event | None, fan_out: FanOut
    ) -> Received:
        row = rows.inbound_to_row(message)
        async with self._conn() as conn, conn.transaction():
            if await conn.fetchval(*_flat("insert_inbound_message", row)) is None:
                earlier = await conn.fetchval(*_flat("inbound_duplicate", row))
                return Received(earlier, duplicate=True)
            deliveries = await _publish_in(conn, event, fan_out) if event is not None else []
        if any(d.status == "pending" for d in deliveries):
            self._poke()
        return Received(message.id, deliveries=len(deliveries))

    # --- the delivery engine -----------------------------------------------------------

    async def claim(self, now: datetime, limit: int) -> list[Job]:
        params = {"now": now, "limit": limit, "lease_margin_ms": LEASE_MARGIN_MS}
        async with self._conn() as conn, conn.transaction():
            claimed = await conn.fetch(*_flat("claim_due", params))
            leased = [  # the others were held or cancelled: their webhook no longer runs
                rows.delivery_from_row(r) for r in claimed if r["status"] == "in_flight"
            ]
            if not leased:
                return []
            ids = sorted({d.webhook_id for d in leased})
            found = await conn.fetch(*_flat("webhooks_by_id", {"ids": ids}))
        hooks = {w.id: w for w in map(rows.webhook_from_row, found)}
        return [Job(d, hooks[d.webhook_id]) for d in leased]

    async def settle(
        self, settlements: Sequence[Settlement], announce: Announcer, now: datetime
    ) -> None:
        async def write(conn: asyncpg.Connection) -> None:
            await _settle(conn, settlements, announce, now)

        await self._transaction(write)

    async def release(
        self, jobs: Sequence[Job], now: datetime, due_at: datetime | None = None
    ) -> None:
        text = Q["release_lease"].text
        batch = [Q["release_lease"].args(rows.release_params(j, now, due_at or now)) for j in jobs]
        async with self._conn() as conn:
            await conn.executemany(text, batch)
        if due_at is None:  # due now; a later due time wakes the workers by itself (next_due)
            self._poke()

    async def next_due(self) -> datetime | None:
        async with self._conn() as conn:
            due: datetime | None = await conn.fetchval(Q["next_due"].text)
        return due

    async def requeue(
        self, principal: Principal, delivery_id: str, now: datetime
    ) -> Delivery | None:
        params = {**rows.scope_params(principal), "id": delivery_id, "now": now}
        async with self._conn() as conn, conn.transaction():
            found = await conn.fetch(*_flat("requeue_delivery", params))
        self._poke()
        return rows.delivery_from_row(found[0]) if found else None

    async def recover(
        self, principal: Principal, webhook_id: str, since: datetime, until: datetime | None,
        now: datetime,
    ) -> int:  # fmt: skip
        params = {"tenant_id": principal.tenant_id, "webhook_id": webhook_id, "since": since,
                  "until": until, "now": now}  # fmt: skip
        async with self._conn() as conn, conn.transaction():
            status = await conn.execute(*_flat("recover_deliveries", params))
        self._poke()
        return int(status.rsplit(" ", 1)[-1])

    async def purge(self, before: datetime, claims_before: datetime) -> Purged:
        async with self._conn() as conn, conn.transaction():
            events = await conn.execute(*_flat("purge_events", {"before": before}))
            claims = await conn.execute(*_flat("purge_claims", {"before": claims_before}))
            inbound = await conn.execute(*_flat("purge_inbound_messages", {"before": before}))
            gone = await conn.fetch(*_flat("purge_webhooks", {"before": before}))
        counts = [int(status.rsplit(" ", 1)[-1]) for status in (events, claims, inbound)]
        return Purged(counts[0], counts[1], [row["vault_path"] for row in gone], counts[2])

    async def wait_for_work(self, timeout: float) -> None:
        if self._listener is None:
            try:
                self._listener = await asyncpg.connect(self.dsn)
                await self._listener.add_listener(CHANNEL, lambda *_: self._due.set())
            except _DRIVER_ERRORS:
                self._listener = None  # the polling backstop still works
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._due.wait(), timeout)
        self._due.clear()


async def _publish_in(conn: asyncpg.Connection, event: Event, fan_out: FanOut) -> list[Delivery]:
    """Insert ``event`` and the deliveries ``fan_out`` makes of its candidate webhooks: two
    round trips, the second one statement (atomic without a transaction of its own). That
    statement re-reads the candidates locked, so the deliveries returned are those written,
    each with the status its webhook's state at commit gave it."""
    scope = {"tenant_id": event.tenant_id, "app_id": event.app_id}
    params = {**scope, "connector_id": event.connector_id, "type": event.type}
    candidates = await conn.fetch(*_flat("fanout_webhooks", params))
    deliveries = fan_out([rows.candidate_from_row(r) for r in candidates])
    params = rows.event_with_deliveries(event, deliveries)
    inserted = await conn.fetch(*_flat("insert_event_with_deliveries", params))
    written = {r["id"]: r["status"] for r in inserted}
    return [rows.as_written(d, written[d.id]) for d in deliveries if d.id in written]


async def _reconcile(
    conn: asyncpg.Connection,
    webhook: Webhook,
    now: datetime,
    before: Mapping[str, Any] | None = None,
) -> None:
    """Bring the webhook's waiting deliveries in line with its state (the row is locked),
    unless its state ``before`` this write called for the same."""
    statement = rows.reconcile(webhook, before)
    if statement is not None:
        await conn.execute(*_flat(statement, {"webhook_id": webhook.id, "now": now}))


async def _settle(
    conn: asyncpg.Connection, settlements: Sequence[Settlement], announce: Announcer, now: datetime
) -> None:
    attempts = [Q["insert_attempt"].args(rows.attempt_to_row(s.attempt)) for s in settlements]
    await conn.executemany(Q["insert_attempt"].text, attempts)
    for group in rows.by_webhook(settlements).values():
        counted, note = rows.tally_params(group)
        noted = await conn.fetch(*_flat("note_attempts", note))
        if not noted:
            continue
        webhook = rows.webhook_from_row(noted[0])
        reason = pause_reason(webhook, counted)
        if reason is not None:
            paused = await conn.fetch(*_flat("auto_pause", {"id": webhook.id, "at": now}))
            if paused:
                webhook = rows.webhook_from_row(paused[0])
                await _reconcile(conn, webhook, now)
                announcement = announce(webhook, reason, now)
                await _publish_in(conn, announcement.event, announcement.fan_out)
        params = [Q["settle_delivery"].args(p) for p in rows.settle_params(group, webhook, now)]
        await conn.executemany(Q["settle_delivery"].text, params)


def _flat(name: str, params: Mapping[str, Any]) -> list[Any]:
    text, args = _args(name, params)
    return [text, *args]
