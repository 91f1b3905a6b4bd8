"""PostgreSQL for tests: a migrated template, cloned into a fresh database per test session;
each test starts with every table emptied (TRUNCATE is far cheaper than a new clone).

The server is the real one on 127.0.0.1:5432 (``HOOKWIRE_TEST_DATABASE_URL`` overrides).
When it cannot be reached the tests FAIL: CI must never pass by skipping PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from hookwire.store.postgres import PostgresStore

ADMIN_URL = os.environ.get(
    "HOOKWIRE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
_counter = itertools.count()


def url_for(database: str) -> str:
    """The admin URL with another database name."""
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path="/" + database))


async def _admin(sql: str) -> None:
    try:
        conn = await asyncpg.connect(ADMIN_URL, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is required and not reachable at {ADMIN_URL}: {exc}. "
            "Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            pytrace=False,
        )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(name: str, template: str | None = None) -> str:
    clause = f' TEMPLATE "{template}"' if template else " TEMPLATE template0"
    await _admin(f'CREATE DATABASE "{name}"{clause}')
    return url_for(name)


async def drop_database(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def unique_name(kind: str) -> str:
    return f"hw_{kind}_{os.getpid()}_{next(_counter)}"


async def _build_template(name: str) -> None:
    url = await create_database(name)
    store = PostgresStore(url, min_size=1, max_size=1)
    await store.open()
    try:
        await store.migrate()
    finally:
        await store.close()


@contextmanager
def template_database() -> Iterator[str]:
    """A migrated database to clone from, for the whole session."""
    name = unique_name("tpl")
    asyncio.run(_build_template(name))
    try:
        yield name
    finally:
        asyncio.run(drop_database(name))


async def empty_tables(url: str) -> None:
    """Empty every table but the migration record, so a test starts from a clean schema."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        tables = await conn.fetch(
            "SELECT quote_ident(tablename) AS name FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )
        if tables:
            names = ", ".join(t["name"] for t in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@contextmanager
def session_database(template: str) -> Iterator[str]:
    """A clone of ``template`` for the whole test session."""
    name = unique_name("s")
    url = asyncio.run(create_database(name, template=template))
    try:
        yield url
    finally:
        asyncio.run(drop_database(name))
