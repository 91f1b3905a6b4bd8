"""Retention: finished events (with their deliveries and attempt log), inbound messages and
deleted webhooks (with their secrets) older than ``RETENTION_DAYS`` are dropped; idempotency
keys after 24 h."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from hookwire.secrets import SecretStore
from hookwire.store.base import Store


@dataclass(frozen=True, slots=True)
class PurgeReport:
    events: int
    idempotency_keys: int
    webhooks: int
    inbound_messages: int = 0


Step = Callable[[str, int, int], None]  # (what, done, total), for a progress bar


def _quiet(what: str, done: int, total: int) -> None:
    return None


async def purge(
    store: Store, secrets: SecretStore, older_than_days: int, now: datetime, step: Step = _quiet
) -> PurgeReport:
    """Purge the store in one transaction (``step("rows", 1, 1)`` when done), then remove
    the purged webhooks' secrets (``step("secrets", n, total)`` after each)."""
    purged = await store.purge(now - timedelta(days=older_than_days), now - timedelta(hours=24))
    step("rows", 1, 1)
    paths = purged.webhook_secret_paths
    for done, path in enumerate(paths, 1):
        with contextlib.suppress(Exception):  # a missing secret is already what we want
            await secrets.delete(path)
        step("secrets", done, len(paths))
    return PurgeReport(
        purged.events,
        purged.idempotency_keys,
        len(purged.webhook_secret_paths),
        purged.inbound_messages,
    )
