"""Fixtures shared by every suite: real stores on real files and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hookwire.store.base import Store
from hookwire.store.postgres import PostgresStore
from hookwire.store.sqlite import SQLiteStore
from tests import pg


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    with pg.template_database() as name:
        yield name


@pytest.fixture
async def pg_url(pg_template: str) -> AsyncIterator[str]:
    """A fresh, migrated PostgreSQL database for this test."""
    name = pg.unique_name("t")
    url = await pg.create_database(name, template=pg_template)
    yield url
    await pg.drop_database(name)


@pytest.fixture
def sqlite_path(tmp_path: Path) -> str:
    return str(tmp_path / "hookwire.db")


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    if kind == "postgres":
        request.applymarker(pytest.mark.postgres)
    return kind


@pytest.fixture
def database_url(store_kind: str, request: pytest.FixtureRequest) -> str:
    """A ``HOOKWIRE_DATABASE_URL`` for an empty-but-migrated database of each kind."""
    if store_kind == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return "sqlite:///" + str(request.getfixturevalue("sqlite_path"))


@pytest.fixture
async def store(store_kind: str, database_url: str) -> AsyncIterator[Store]:
    """An open, migrated store of each kind."""
    opened: Store
    if store_kind == "postgres":
        opened = PostgresStore(database_url)
    else:
        opened = SQLiteStore.from_url(database_url)
    await opened.open()
    await opened.migrate()
    yield opened
    await opened.close()
