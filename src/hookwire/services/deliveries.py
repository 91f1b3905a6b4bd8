"""The delivery log and its actions: read deliveries with their attempts, retry one now."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime

from hookwire.domain.activity import Bucket, Health, series
from hookwire.domain.attempt import Attempt
from hookwire.domain.delivery import Delivery
from hookwire.domain.filters import DeliveryQuery
from hookwire.domain.flow import Backlog
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.errors import Conflict, NotFound
from hookwire.services.paging import Page, check_window, paged
from hookwire.store.base import Store
from hookwire.timeutil import utcnow


class DeliveryService:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, principal: Principal, delivery_id: str) -> tuple[Delivery, list[Attempt]]:
        """A delivery and every attempt made of it, oldest first."""
        found = await self.store.get_delivery(principal, delivery_id)
        if found is None:
            raise NotFound(f"delivery {delivery_id} not found")
        return found, await self.store.list_attempts(principal, delivery_id)

    async def list(
        self, principal: Principal, query: DeliveryQuery, cursor: str | None
    ) -> Page[Delivery]:
        check_window(query.since, query.until)
        return await paged(
            query, cursor, lambda q: self.store.list_deliveries(principal, q), lambda d: d.id
        )

    async def recent_attempts(
        self, principal: Principal, after_id: str | None, webhook_id: str | None, limit: int = 100
    ) -> builtins.list[Attempt]:
        """Attempts oldest first: those after ``after_id``, or the newest ``limit``."""
        return await self.store.recent_attempts(principal, after_id, webhook_id, limit)

    async def health(
        self, principal: Principal, webhook_ids: Sequence[str], since: datetime
    ) -> dict[str, Health]:
        """Each webhook's attempts and successes since ``since`` (none: ``Health()``)."""
        found = await self.store.attempt_health(principal, webhook_ids, since)
        return {webhook_id: found.get(webhook_id, Health()) for webhook_id in webhook_ids}

    async def activity(
        self, principal: Principal, webhook_id: str, until: datetime, width_s: int, count: int
    ) -> builtins.list[Bucket]:
        """The webhook's attempts in the ``count`` buckets of ``width_s`` seconds that end
        with the one holding ``until``, empty buckets included."""
        end = int(until.timestamp())
        start = end - end % width_s - (count - 1) * width_s
        since = datetime.fromtimestamp(start, UTC)
        found = await self.store.attempt_activity(principal, webhook_id, since, width_s)
        return series(found, start, width_s, count)

    async def backlog(
        self, principal: Principal, webhook: Webhook, now: datetime
    ) -> Backlog | None:
        """What the webhook's unfinished deliveries wait for now (docs/flow-control.md); None
        without flow control (nothing holds them back but the workers)."""
        if not webhook.gated:
            return None
        return await self.store.backlog(principal, webhook.id, now)

    async def retry(self, principal: Principal, delivery_id: str) -> Delivery:
        """A new attempt now, in any state but in flight (409: the attempt under way ends
        first): the delivery is due at once. One that had used up its attempts gets this one
        more; it is sent only if its webhook runs (the claim holds or cancels it otherwise)."""
        found = await self.store.requeue(principal, delivery_id, utcnow())
        if found is not None:
            return found
        if await self.store.get_delivery(principal, delivery_id) is None:
            raise NotFound(f"delivery {delivery_id} not found")
        raise Conflict(f"delivery {delivery_id} has an attempt in flight; retry once it ends")
