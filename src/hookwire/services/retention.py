"""Retention: finished events (with their deliveries and attempt log), inbound messages and
deleted webhooks (with their secrets) older than ``RETENTION_DAYS`` are dropped; idempotency
keys after 24 h."""

from __future__ import annotations

import contextlib
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


async def purge(
    store: Store, secrets: SecretStore, older_than_days: int, now: datetime
) -> PurgeReport:
    purged = await store.purge(now - timedelta(days=older_than_days), now - timedelta(hours=24))
    for path in purged.webhook_secret_paths:
        with contextlib.suppress(Exception):  # a missing secret is already what we want
            await secrets.delete(path)
    return PurgeReport(
        purged.events, purged.claims, len(purged.webhook_secret_paths), purged.inbound_messages
    )
