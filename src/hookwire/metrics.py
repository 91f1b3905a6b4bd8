"""Prometheus metrics, in a registry of their own per running hookwire (so two apps in one
process, as in the tests, never share counters), rendered at ``/metrics``."""

from __future__ import annotations

from typing import Final, Literal

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
InboundOutcome = Literal["accepted", "duplicate", "challenge", "rejected"]


class Metrics:
    """Every metric hookwire exports. Labels never carry tenant data or ids."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._inbound = Counter(
            "hookwire_inbound_requests",
            "Requests received on inbound webhooks, by signature scheme and outcome "
            "(rejected: bad or missing signature, stale timestamp, body too large).",
            ["scheme", "outcome"],
            registry=self.registry,
        )

    def inbound(self, scheme: str, outcome: InboundOutcome) -> None:
        self._inbound.labels(scheme=scheme, outcome=outcome).inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
