"""Persistence: the :class:`~hookwire.store.base.Store` port and its SQLite/PostgreSQL adapters."""

from __future__ import annotations

from hookwire.store.base import Store

__all__ = ["Store", "open_store"]


def open_store(database_url: str) -> Store:
    """The adapter for a ``sqlite:///path`` or ``postgresql://…`` URL (not yet opened)."""
    if database_url.startswith("sqlite://"):
        from hookwire.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(database_url)
    from hookwire.store.postgres import PostgresStore

    return PostgresStore(database_url)
