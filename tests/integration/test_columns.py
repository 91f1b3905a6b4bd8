"""A column's name says its type (store/rows.py): SQLite's executor turns JSON text and RFC 3339
text into values by those names alone, so every column of that name in the PostgreSQL schema
must have that type, and every jsonb, timestamptz and boolean column must carry such a name."""

from __future__ import annotations

import asyncpg
import pytest

from hookwire.store import rows

pytestmark = pytest.mark.postgres

KINDS = {
    "jsonb": rows.JSON_COLUMNS,
    "timestamp with time zone": rows.TIME_COLUMNS,
    "boolean": rows.BOOL_COLUMNS,
}


async def _columns(url: str) -> list[tuple[str, str, str]]:
    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name <> 'schema_migrations'"
        )
    finally:
        await conn.close()
    return [(r["table_name"], r["column_name"], r["data_type"]) for r in found]


async def test_every_typed_column_is_named_as_its_type(pg_url: str) -> None:
    columns = await _columns(pg_url)
    assert {table for table, _, _ in columns} >= {"webhooks", "events", "deliveries", "attempts"}
    wrong = [
        (table, name, kind)
        for table, name, kind in columns
        if (kind in KINDS and name not in KINDS[kind])
        or any(name in names and kind != k for k, names in KINDS.items())
    ]
    assert wrong == []
