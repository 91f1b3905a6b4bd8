"""Versioned schema migrations, one folder of ``NNNN_name.sql`` files per dialect.

A migration is applied once, in name order, inside a transaction, and recorded in
``schema_migrations``. Files are never edited after they ship: a change is a new file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

TABLE_SQL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """The migrations of ``dialect``, in the order they apply."""
    folder = resources.files("hookwire.store.migrations").joinpath(dialect)
    found = [
        Migration(entry.name.removesuffix(".sql"), entry.read_text())
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found, key=lambda m: m.name)


def pending(dialect: str, applied: set[str]) -> list[Migration]:
    return [m for m in migrations(dialect) if m.name not in applied]
