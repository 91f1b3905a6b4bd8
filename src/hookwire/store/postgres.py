"""The PostgreSQL adapter of the Store port: asyncpg with a connection pool (the scale-out)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, ParamSpec, TypeVar

import asyncpg
import orjson

from hookwire.domain.delivery import Delivery
from hookwire.domain.event import Event
from hookwire.errors import StoreUnavailable
from hookwire.store import flows, rows
from hookwire.store import migrations as schema
from hookwire.store.queries import load
from hookwire.store.sql_store import SQLStore
from hookwire.store.steps import (
    Execute,
    ExecuteMany,
    Fetch,
    FetchMany,
    Flow,
    InsertEvent,
    Step,
    drive_async,
)
from hookwire.timeutil import iso, utcnow

Q = load("postgres")
T = TypeVar("T")
P = ParamSpec("P")
MIGRATION_LOCK = 0x686F6F6B  # "hook": one migrator at a time across processes
CHANNEL = "hookwire_due"  # NOTIFY when deliveries become due; workers LISTEN
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


class PostgresStore(SQLStore):
    """Store port over one PostgreSQL database."""

    dialect = "postgres"
    claim_flow = staticmethod(flows.claim_due)

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

    # --- the executor ------------------------------------------------------------------

    async def _read(self, flow: Flow[T]) -> T:
        async with self._conn() as conn:
            return await drive_async(flow, lambda step: _run(conn, step))

    _autocommit = _read  # asyncpg commits each statement outside a transaction

    async def _transaction(self, make: Callable[P, Flow[T]], *a: P.args, **k: P.kwargs) -> T:
        """Run the flow in one transaction, again when PostgreSQL aborted it to break a
        deadlock: a transition locks its webhook and then the webhooks its announcement goes
        to, so two transitions (or a settle that pauses) can wait for each other."""
        for attempt in range(DEADLOCK_RETRIES):
            try:
                async with self._conn() as conn, conn.transaction():
                    return await drive_async(make(*a, **k), lambda step: _run(conn, step))
            except StoreUnavailable as exc:
                deadlocked = isinstance(exc.__cause__, asyncpg.DeadlockDetectedError)
                if not deadlocked or attempt == DEADLOCK_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

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


async def _run(conn: asyncpg.Connection, step: Step) -> Any:
    """Run one step of a flow on ``conn`` (asyncpg decodes jsonb, timestamptz and booleans)."""
    match step:
        case Fetch(name, params):
            return await conn.fetch(*_flat(name, params))
        case Execute(name, params):
            status: str = await conn.execute(*_flat(name, params))
            return int(status.rsplit(" ", 1)[-1])
        case ExecuteMany(name, batch):
            await conn.executemany(Q[name].text, [Q[name].args(params) for params in batch])
            return None
        case FetchMany(name, batch):
            return await conn.fetchmany(Q[name].text, [Q[name].args(params) for params in batch])
        case InsertEvent(event, deliveries):
            return await _insert_event(conn, event, deliveries)
    raise TypeError(f"not a step: {step!r}")


async def _insert_event(
    conn: asyncpg.Connection, event: Event, deliveries: Sequence[Delivery]
) -> list[Delivery]:
    """Insert the event and its deliveries in one statement (atomic without a transaction of
    its own). It re-reads the candidate webhooks locked ``FOR KEY SHARE``, so the deliveries
    returned are those written, each with the status its webhook's state at commit gave it."""
    inserted = await conn.fetch(*_flat("insert_event_with_deliveries",
                                       rows.event_with_deliveries(event, deliveries)))  # fmt: skip
    written = {r["id"]: (r["status"], r["gated"], r["next_attempt_at"]) for r in inserted}
    return [rows.as_written(d, *written[d.id]) for d in deliveries if d.id in written]


def _flat(name: str, params: Mapping[str, Any]) -> list[Any]:
    query = Q[name]
    return [query.text, *query.args(params)]
