"""Prometheus metrics, in a registry of their own per running hookwire (so two apps in one
process, as in the tests, never share counters), rendered at ``/metrics``.

What a process does itself (publishes, inbound requests, attempts it made) is counted as it
happens; the state of the queue, which every process shares through the store, is read from
the store when ``/metrics`` is scraped. Labels never carry tenant data or ids: an event type
is a label value only when it is a built-in one; a tenant's own types all count as
``custom`` (their names are the tenant's, and ``/metrics`` answers without a token).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from hookwire.catalog.builtin import load_builtin
from hookwire.domain.outcome import Outcome
from hookwire.store.base import QueueStats, Store
from hookwire.timeutil import utcnow

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
CUSTOM: Final = "custom"  # the label of every tenant-defined event type
InboundOutcome = Literal["accepted", "duplicate", "challenge", "rejected"]
DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


def status_class(status: str) -> str:
    """``"503"`` -> ``"5xx"``; ``"timeout"``, ``"connection_error"``, ``"blocked"`` as they are."""
    return f"{status[0]}xx" if status.isdigit() and len(status) == 3 else status


class Metrics:
    """Every metric hookwire exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._types = frozenset(load_builtin())
        registry = self.registry
        self._published = Counter(
            "hookwire_events_published",
            "Events published, by type (built-in types; tenants' own count as custom).",
            ["type"], registry=registry,
        )  # fmt: skip
        self._inbound = Counter(
            "hookwire_inbound_requests",
            "Requests received on inbound webhooks, by signature scheme and outcome "
            "(rejected: bad or missing signature, stale timestamp, body too large).",
            ["scheme", "outcome"], registry=registry,
        )  # fmt: skip
        self._attempts = Counter(
            "hookwire_delivery_attempts",
            "Delivery attempts made by this process, by outcome (succeeded, retry, gone) and "
            "status (2xx, 4xx, 5xx, timeout, connection_error, blocked).",
            ["outcome", "status"], registry=registry,
        )  # fmt: skip
        self._deferred = Counter(
            "hookwire_sends_deferred",
            "Sends given back unstarted and uncounted, by reason (slot: no connection slot "
            "came free in time; secrets: the secret store was unavailable).",
            ["reason"], registry=registry,
        )  # fmt: skip
        self._duration = Histogram(
            "hookwire_delivery_attempt_duration_seconds",
            "How long delivery attempts took, request sent to answer read.",
            buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self._deliveries = Gauge(
            "hookwire_deliveries", "Deliveries not finished, by status (every tenant).",
            ["status"], registry=registry,
        )  # fmt: skip
        self._due = Gauge(
            "hookwire_deliveries_due", "Pending deliveries whose attempt is due now.",
            registry=registry,
        )  # fmt: skip
        self._oldest_due = Gauge(
            "hookwire_oldest_due_age_seconds",
            "How late the most overdue pending delivery is (0 when none is due).",
            registry=registry,
        )  # fmt: skip
        self._waiting = Gauge(
            "hookwire_deliveries_waiting",
            "Pending deliveries of flow-controlled webhooks held back, by reason (ordering: "
            "behind an earlier delivery of their key; rate_limit, max_in_flight: due, but for "
            "that limit of their webhook).",
            ["reason"], registry=registry,
        )  # fmt: skip
        self._paused = Gauge(
            "hookwire_webhooks_paused", "Webhooks paused (by hand or after failures).",
            registry=registry,
        )  # fmt: skip

    # --- counted as it happens ---------------------------------------------------------------

    def published(self, event_type: str) -> None:
        self._published.labels(type=event_type if event_type in self._types else CUSTOM).inc()

    def inbound(self, scheme: str, outcome: InboundOutcome) -> None:
        self._inbound.labels(scheme=scheme, outcome=outcome).inc()

    def attempt(self, outcome: Outcome, duration_ms: int) -> None:
        self._attempts.labels(outcome=outcome.kind, status=status_class(outcome.status)).inc()
        self._duration.observe(duration_ms / 1000)

    def deferred(self, reason: str) -> None:
        self._deferred.labels(reason=reason).inc()

    # --- read from the store when scraped ----------------------------------------------------

    def queue(self, stats: QueueStats, now: datetime) -> None:
        for status in ("pending", "in_flight", "held"):
            self._deliveries.labels(status=status).set(getattr(stats, status))
        self._due.set(stats.due)
        late = (now - stats.next_due_at).total_seconds() if stats.next_due_at else 0.0
        self._oldest_due.set(max(late, 0.0))
        self._paused.set(stats.paused_webhooks)
        for reason in ("ordering", "rate_limit", "max_in_flight"):
            self._waiting.labels(reason=reason).set(getattr(stats, f"waiting_{reason}"))

    async def scrape(self, store: Store) -> bytes:
        """The queue's state read from ``store``, then every metric, rendered."""
        now = utcnow()
        self.queue(await store.queue_stats(now), now)
        return self.render()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
