"""What both adapters do the same way: run a named query and turn its rows into objects.

An adapter supplies three primitives — fetch the rows of a named query, run a named statement
and count the rows it changed, and turn a fetched row of a table into plain values — and gets
every simple read and write of the Store port from here. What differs between the dialects
(claiming, settling, publishing in one transaction, migrations) stays in the adapters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson

from hookwire.domain.activity import Bucket, Health
from hookwire.domain.attempt import Attempt
from hookwire.domain.delivery import Delivery
from hookwire.domain.event import Event
from hookwire.domain.event_type import EventType
from hookwire.domain.inbound import InboundMessage
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.store import rows
from hookwire.store.base import (
    Claim,
    DeliveryQuery,
    EventQuery,
    InboundQuery,
    QueueStats,
    WebhookQuery,
)
from hookwire.timeutil import utcnow

T = TypeVar("T")
Make = Callable[[Mapping[str, Any]], T]


class NamedQueries(ABC):
    @abstractmethod
    async def _fetch(self, name: str, params: Mapping[str, Any]) -> Sequence[Any]:
        """The rows of the named query."""

    @abstractmethod
    async def _write(self, name: str, table: rows.Table, params: Mapping[str, Any]) -> int:
        """Run the named statement with ``params`` (plain values of ``table``); rows changed."""

    @abstractmethod
    def _plain(self, table: rows.Table, row: Any) -> Mapping[str, Any]:
        """A fetched row of ``table`` as plain values (lists, dicts, bools, datetimes)."""

    async def _rows(
        self, name: str, params: Mapping[str, Any], table: rows.Table, make: Make[T]
    ) -> list[T]:
        return [make(self._plain(table, row)) for row in await self._fetch(name, params)]

    async def _first(
        self, name: str, params: Mapping[str, Any], table: rows.Table, make: Make[T]
    ) -> T | None:
        found = await self._rows(name, params, table, make)
        return found[0] if found else None

    # --- webhooks ----------------------------------------------------------------------------

    async def insert_webhook(self, webhook: Webhook) -> None:
        await self._write("insert_webhook", rows.WEBHOOKS, rows.webhook_to_row(webhook))

    async def get_webhook(
        self, principal: Principal, webhook_id: str, *, include_deleted: bool = False
    ) -> Webhook | None:
        params = {**rows.scope_params(principal), "id": webhook_id}
        params["include_deleted"] = include_deleted
        return await self._first("get_webhook", params, rows.WEBHOOKS, rows.webhook_from_row)

    async def list_webhooks(self, principal: Principal, query: WebhookQuery) -> list[Webhook]:
        params = rows.list_params(principal, query)
        return await self._rows("list_webhooks", params, rows.WEBHOOKS, rows.webhook_from_row)

    # --- secret blobs (local secret backend) -------------------------------------------------

    async def put_secret(self, path: str, blob: bytes) -> None:
        params = {"path": path, "ciphertext": blob, "now": utcnow()}
        await self._write("put_secret", rows.Table(), params)

    async def get_secret(self, path: str) -> bytes | None:
        return await self._first(
            "get_secret", {"path": path}, rows.Table(), lambda row: bytes(row["ciphertext"])
        )

    async def delete_secret(self, path: str) -> None:
        await self._write("delete_secret", rows.Table(), {"path": path})

    # --- event types -------------------------------------------------------------------------

    async def insert_event_type(self, event_type: EventType) -> bool:
        row = rows.event_type_to_row(event_type)
        return await self._write("insert_event_type", rows.EVENT_TYPES, row) == 1

    async def get_event_type(
        self, tenant_id: str, name: str, version: int | None = None
    ) -> EventType | None:
        params = {"tenant_id": tenant_id, "name": name, "version": version}
        return await self._first(
            "get_event_type", params, rows.EVENT_TYPES, rows.event_type_from_row
        )

    async def list_event_types(
        self, tenant_id: str, after: str | None, limit: int
    ) -> list[EventType]:
        params = {"tenant_id": tenant_id, "after": after, "limit": limit}
        return await self._rows(
            "list_event_types", params, rows.EVENT_TYPES, rows.event_type_from_row
        )

    async def update_event_type(self, event_type: EventType) -> bool:
        row = rows.event_type_to_row(event_type)
        return await self._write("update_event_type", rows.EVENT_TYPES, row) == 1

    # --- reads of events, deliveries, attempts and idempotency keys ---------------------------

    async def get_claim(
        self, principal: Principal, key: str, fresh_after: datetime
    ) -> Claim | None:
        params = {**rows.key_scope(principal.tenant_id, principal.app_id), "key": key}
        params["fresh_after"] = fresh_after
        return await self._first("get_claim", params, rows.CLAIMS, rows.claim_from_row)

    async def get_event(self, principal: Principal, event_id: str) -> Event | None:
        params = {**rows.scope_params(principal), "id": event_id}
        return await self._first("get_event", params, rows.EVENTS, rows.event_from_row)

    async def list_events(self, principal: Principal, query: EventQuery) -> list[Event]:
        params = rows.query_params(principal, query)
        return await self._rows("list_events", params, rows.EVENTS, rows.event_from_row)

    async def get_delivery(self, principal: Principal, delivery_id: str) -> Delivery | None:
        params = {**rows.scope_params(principal), "id": delivery_id}
        return await self._first("get_delivery", params, rows.DELIVERIES, rows.delivery_from_row)

    async def list_deliveries(self, principal: Principal, query: DeliveryQuery) -> list[Delivery]:
        params = rows.query_params(principal, query)
        return await self._rows("list_deliveries", params, rows.DELIVERIES, rows.delivery_from_row)

    async def list_attempts(self, principal: Principal, delivery_id: str) -> list[Attempt]:
        params = {"tenant_id": principal.tenant_id, "delivery_id": delivery_id}
        return await self._rows("list_attempts", params, rows.ATTEMPTS, rows.attempt_from_row)

    async def attempt_health(
        self, principal: Principal, webhook_ids: Sequence[str], since: datetime
    ) -> dict[str, Health]:
        params = {"tenant_id": principal.tenant_id, "since": since,
                  "webhook_ids": orjson.dumps(list(webhook_ids)).decode()}  # fmt: skip
        found = await self._rows("attempt_health", params, rows.Table(), dict)
        return {row["webhook_id"]: Health(row["attempts"], row["succeeded"]) for row in found}

    async def attempt_activity(
        self, principal: Principal, webhook_id: str, since: datetime, width_s: int
    ) -> list[Bucket]:
        params = {"tenant_id": principal.tenant_id, "webhook_id": webhook_id, "since": since,
                  "width": width_s}  # fmt: skip
        found = await self._rows("attempt_activity", params, rows.Table(), dict)
        return [
            Bucket(int(r["bucket"]), r["attempts"], r["succeeded"], r["retrying"]) for r in found
        ]

    async def recent_attempts(
        self, principal: Principal, after_id: str | None, webhook_id: str | None, limit: int
    ) -> list[Attempt]:
        params = {"tenant_id": principal.tenant_id, "webhook_id": webhook_id, "limit": limit}
        if after_id is not None:
            params["after_id"] = after_id
            return await self._rows("attempts_after", params, rows.ATTEMPTS, rows.attempt_from_row)
        latest = await self._rows("latest_attempts", params, rows.ATTEMPTS, rows.attempt_from_row)
        return latest[::-1]

    # --- inbound webhooks --------------------------------------------------------------------

    async def inbound_webhook(self, webhook_id: str) -> Webhook | None:
        return await self._first(
            "inbound_webhook", {"id": webhook_id}, rows.WEBHOOKS, rows.webhook_from_row
        )

    async def note_rejected(self, webhook_id: str, at: datetime) -> None:
        await self._write("note_rejected", rows.Table(), {"id": webhook_id, "at": at})

    async def get_inbound_message(
        self, principal: Principal, message_id: str
    ) -> InboundMessage | None:
        params = {**rows.scope_params(principal), "id": message_id}
        return await self._first(
            "get_inbound_message", params, rows.INBOUND_MESSAGES, rows.inbound_from_row
        )

    async def list_inbound_messages(
        self, principal: Principal, query: InboundQuery
    ) -> list[InboundMessage]:
        params = rows.query_params(principal, query)
        return await self._rows(
            "list_inbound_messages", params, rows.INBOUND_MESSAGES, rows.inbound_from_row
        )

    # --- operations --------------------------------------------------------------------------

    async def consistency(self, stale_before: datetime) -> dict[str, int]:
        found = await self._rows("consistency", {"stale_before": stale_before}, rows.Table(), dict)
        return {name: int(count) for name, count in found[0].items()}

    async def webhook_vault_paths(self) -> list[str]:
        return await self._rows(
            "webhook_vault_paths", {}, rows.Table(), lambda row: str(row["vault_path"])
        )

    async def queue_stats(self, now: datetime) -> QueueStats:
        found = await self._first("queue_stats", {"now": now}, rows.QUEUE_STATS, rows.queue_stats)
        assert found is not None  # one row, always
        return found
