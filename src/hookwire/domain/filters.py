"""What a list read asks for: its filters and a keyset window (``limit``, ``before_id``).

The edges (API, dashboard, CLI, ``hookwire.Client``) build these from a request, the services
bound them, and the store reads them; each list is newest first, keyset-paginated by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class WebhookQuery:
    """Which webhooks a list shows; newest first, keyset-paginated by id."""

    limit: int = 50
    before_id: str | None = None
    direction: str | None = None
    enabled: bool | None = None
    connector_id: str | None = None
    tag: str | None = None
    event_type: str | None = None
    include_deleted: bool = False


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events a list shows; newest first, keyset-paginated by id."""

    limit: int = 50
    before_id: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    """Which deliveries a list shows; newest first, keyset-paginated by id."""

    limit: int = 50
    before_id: str | None = None
    webhook_id: str | None = None
    event_id: str | None = None
    status: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before


@dataclass(frozen=True, slots=True)
class InboundQuery:
    """Which inbound messages a list shows; newest first, keyset-paginated by id."""

    limit: int = 50
    before_id: str | None = None
    webhook_id: str | None = None
    provider_event: str | None = None
    since: datetime | None = None
    until: datetime | None = None
