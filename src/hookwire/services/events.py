"""Publishing events and reading them back (docs/architecture.md, "The data flow of an event").

An event is checked against its type's schema, then written with all its deliveries in ONE
store transaction. An ``Idempotency-Key`` is taken in that same transaction, so twenty
concurrent requests with one key publish one event; the others replay its first answer.

The service takes an :class:`~hookwire.domain.event.EventDraft` and a key already read at the
edge (:mod:`hookwire.domain.event_requests`): the body's shape and the key's are the request's;
``data`` against its type's schema needs the catalog, so it is checked here.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any, Final

from hookwire.domain.delivery import Delivery, fan_out
from hookwire.domain.event import IDEMPOTENCY_TTL, Event, EventDraft, accepted, build
from hookwire.domain.event_requests import read_idempotency_key, verify_event
from hookwire.domain.filters import DeliveryQuery, EventQuery
from hookwire.domain.principal import Principal
from hookwire.errors import Conflict, NotFound, ValidationFailed
from hookwire.ids import new_id
from hookwire.metrics import Metrics
from hookwire.services.event_types import EventTypeService
from hookwire.services.paging import Page, check_window, paged
from hookwire.store.base import IdempotencyKey, Store
from hookwire.timeutil import utcnow

log = logging.getLogger("hookwire.events")
DETAIL_DELIVERIES: Final = 10_000


@dataclasses.dataclass(frozen=True, slots=True)
class Receipt:
    """The answer of a publish: 202 and its body, first time or replayed."""

    body: dict[str, Any]
    replayed: bool = False
    status: int = 202


class EventService:
    """Publishing and the event log."""

    def __init__(self, store: Store, event_types: EventTypeService, metrics: Metrics) -> None:
        self.store = store
        self.event_types = event_types
        self.metrics = metrics

    async def publish(
        self, principal: Principal, draft: EventDraft, key: str | None = None
    ) -> Receipt:
        """Publish ``draft`` once its ``data`` is valid for its type, or replay the first
        answer to the same request with the Idempotency-Key ``key`` (read at the edge)."""
        read_idempotency_key(key)  # what the edge read: the guard against typed input made
        verify_event(draft)  # elsewhere (each a few microseconds; data is walked once, below)
        event_type = await self.event_types.resolve(principal, draft.type)
        errors = await self.event_types.data_errors(event_type, draft.data)
        if errors:
            raise ValidationFailed(errors)
        warnings = (f"event type {event_type.name} is deprecated",) if event_type.deprecated else ()
        digest = draft.request_hash()
        now = utcnow()
        if key is not None:
            replay = await self._replay(principal, key, digest, now)
            if replay is not None:
                return replay
        event_id = new_id("evt")
        event = build(draft, event_id=event_id, principal=principal, event_type=event_type, now=now)
        record = None
        if key is not None:
            record = IdempotencyKey(
                event.tenant_id, event.app_id, key, digest, event.id, now, warnings
            )
        published = await self.store.publish(
            event, lambda webhooks: fan_out(event, webhooks, lambda: new_id("dlv")), record
        )
        if published.taken and key is not None:  # a concurrent request with the key won
            replay = await self._replay(principal, key, digest, now)
            if replay is None:
                raise Conflict("the Idempotency-Key is being used by another request; retry")
            return replay
        count = len(published.deliveries or ())
        self.metrics.published(event.type)
        facts = {"event_type": event.type, "deliveries": count}
        log.debug(
            "event published", extra={"tenant_id": event.tenant_id, "event_id": event.id, **facts}
        )
        return Receipt(accepted(event, count, warnings))

    async def _replay(
        self, principal: Principal, key: str, digest: str, now: datetime
    ) -> Receipt | None:
        """The first answer for ``key`` in the principal's scope (tenant and app), if the key
        is taken there. The event is read as the caller: it is in the caller's scope, having
        been published by it, so the replay can never show what the caller could not read."""
        record = await self.store.get_idempotency_key(principal, key, now - IDEMPOTENCY_TTL)
        if record is None:
            return None
        if record.request_hash != digest:
            raise Conflict("this Idempotency-Key was used with a different request body")
        event = await self.store.get_event(principal, record.event_id)
        if event is None:
            raise Conflict("the event of this Idempotency-Key is gone; use a new key")
        deliveries = await self._deliveries_of(principal, event.id)
        return Receipt(accepted(event, len(deliveries), record.warnings), replayed=True)

    async def _deliveries_of(self, principal: Principal, event_id: str) -> list[Delivery]:
        query = DeliveryQuery(limit=DETAIL_DELIVERIES, event_id=event_id)
        return await self.store.list_deliveries(principal, query)

    async def get(self, principal: Principal, event_id: str) -> tuple[Event, list[Delivery]]:
        event = await self.store.get_event(principal, event_id)
        if event is None:
            raise NotFound(f"event {event_id} not found")
        return event, await self._deliveries_of(principal, event_id)

    async def list(
        self, principal: Principal, query: EventQuery, cursor: str | None
    ) -> Page[Event]:
        check_window(query.since, query.until)
        return await paged(
            query, cursor, lambda q: self.store.list_events(principal, q), lambda e: e.id
        )
