"""``hookwire doctor``: what should never be, counted. Each check is 0 on a healthy store; the
fault-injection tests run it after killing workers and restarting databases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from hookwire.secrets import SecretStore
from hookwire.store.base import Store

# A lease that ended this long ago should have been taken over by a running worker.
STALE_AFTER: Final = timedelta(seconds=60)
CHECKS: Final = {
    "expired_leases": "deliveries in flight whose lease ended over 60 s ago (no worker running?)",
    "due_for_deleted_webhooks": "pending or held deliveries of deleted webhooks (not cancelled)",
    "held_for_running_webhooks": "held deliveries of webhooks that are not paused (not released)",
    "pending_without_due_time": "pending deliveries with no next attempt time and no earlier "
    "delivery of their ordering key to wait for (never sent)",
    "fifo_overlaps": "ordering keys of FIFO webhooks with more than one delivery in flight",
    "over_cap": "webhooks with more deliveries in flight than their max_in_flight",
    "gates_missing": "flow-controlled webhooks without a gate (their deliveries are never sent)",
    "gated_mismatch": "unfinished deliveries whose flow control disagrees with their webhook's",
    "sleeping_gates": "flow-controlled webhooks with a delivery due over 60 s ago that could go, "
    "whose gate does not look for work",
    "succeeded_without_2xx": "succeeded deliveries with no 2xx attempt in their log",
    "attempts_missing": "deliveries counting more attempts than their log holds",
    "orphan_secrets": "secrets (local backend) of no webhook",
    "webhooks_without_secret": "webhooks whose secret is missing from the secret store",
}


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    count: int
    meaning: str


async def examine(
    store: Store, secrets: SecretStore, now: datetime, progress: Callable[[int, int], None]
) -> list[Finding]:
    """Every check; ``progress(done, total)`` as the webhooks' secrets are looked up."""
    counts = await store.consistency(now - STALE_AFTER)
    paths = await store.webhook_vault_paths()
    missing = 0
    for done, path in enumerate(paths, 1):
        document = await secrets.get(path)
        missing += not (document and "current" in document)
        progress(done, len(paths))
    counts["webhooks_without_secret"] = missing
    return [Finding(check, counts[check], meaning) for check, meaning in CHECKS.items()]
