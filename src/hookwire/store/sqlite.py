"""The SQLite adapter of the Store port: stdlib ``sqlite3`` in WAL mode (the default store).

An executor for ``SQLStore``: reads run on the reader pool, every write on the one writer
thread, inside its group-committed transaction (``sqlite_engine``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from hookwire.store import flows
from hookwire.store import migrations as schema
from hookwire.store import sqlite_codec as codec
from hookwire.store.sql_store import SQLStore
from hookwire.store.sqlite_engine import SQLiteEngine
from hookwire.store.steps import Flow, drive
from hookwire.timeutil import iso, utcnow

T = TypeVar("T")
P = ParamSpec("P")


class SQLiteStore(SQLStore):
    """Store port over one SQLite file."""

    dialect = "sqlite"
    claim_flow = staticmethod(flows.lease_due)

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

    # --- the executor ------------------------------------------------------------------

    async def _read(self, flow: Flow[T]) -> T:
        return await self.engine.read(lambda conn: drive(flow, lambda s: codec.run(conn, s)))

    async def _transaction(self, make: Callable[P, Flow[T]], *a: P.args, **k: P.kwargs) -> T:
        return await self._autocommit(make(*a, **k))  # the writer never deadlocks

    async def _autocommit(self, flow: Flow[T]) -> T:
        return await self.engine.write(lambda conn: drive(flow, lambda s: codec.run(conn, s)))

    def _poke(self) -> None:
        self._due.set()

    async def wait_for_work(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._due.wait(), timeout)
        self._due.clear()

    # --- migrations --------------------------------------------------------------------

    async def migrate(self, applied: Callable[[str], None] | None = None) -> list[str]:
        return await self.engine.write(lambda conn: _migrate(conn, applied), transaction=False)

    async def applied_migrations(self) -> list[str]:
        def read(conn: sqlite3.Connection) -> list[str]:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'"
            ).fetchone()
            if not exists:
                return []
            return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY 1")]

        return await self.engine.read(read)


def statements(sql: str) -> list[str]:
    """Split a migration file into complete statements."""
    found, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            found.append(current.strip())
            current = ""
    return [s for s in found if s]


def _migrate(conn: sqlite3.Connection, applied: Callable[[str], None] | None) -> list[str]:
    conn.execute("BEGIN IMMEDIATE")  # serialises racing processes on the same file
    try:
        conn.execute(schema.TABLE_SQL)
        before = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        done = []
        for migration in schema.pending("sqlite", before):
            for statement in statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, iso(utcnow())),
            )
            done.append(migration.name)
            if applied is not None:
                applied(migration.name)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return done
