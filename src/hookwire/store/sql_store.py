"""The Store port over a SQL database, written once: every read and write as named statements
and flows (``store/flows.py``), run by an executor.

An adapter is an executor of :mod:`~hookwire.store.steps`: it supplies ``_read`` (reads, no
transaction), ``_transaction`` (one transaction, which may be run again when the database
aborted it to break a deadlock), ``_autocommit`` (a flow whose one write is a single statement,
atomic by itself) and ``_poke`` (tell the workers deliveries are due), plus what truly differs
between the dialects: opening, migrating, waiting for work, and which claim flow it runs.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import orjson

from hookwire.domain.activity import Bucket, Health
from hookwire.domain.attempt import Attempt
from hookwire.domain.delivery import Delivery
from hookwire.domain.event import Event
from hookwire.domain.event_type import EventType
from hookwire.domain.filters import DeliveryQuery, EventQuery, InboundQuery, WebhookQuery
from hookwire.domain.flow import Backlog
from hookwire.domain.inbound import InboundMessage
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.store import flows, gates, rows
from hookwire.store.base import (
    NO_TRANSITION,
    Announcer,
    FanOut,
    IdempotencyKey,
    Job,
    Published,
    Purged,
    QueueStats,
    Received,
    Settlement,
    Transition,
)
from hookwire.store.steps import Flow, Row, execute, fetch, one
from hookwire.timeutil import utcnow

T = TypeVar("T")
P = ParamSpec("P")


def _rows(name: str, params: dict[str, Any], make: Callable[[Row], T]) -> Flow[list[T]]:
    return [make(row) for row in (yield from fetch(name, params))]


def _first(name: str, params: dict[str, Any], make: Callable[[Row], T]) -> Flow[T | None]:
    row = yield from one(name, params)
    return None if row is None else make(row)


class SQLStore(ABC):
    """The Store port, given an executor (the adapter)."""

    dialect: str
    claim_flow: Callable[[datetime, int], Flow[list[Job]]]
    _swept_at: float = -gates.SWEEP_EVERY  # when this process last swept the gates (monotonic)

    @abstractmethod
    async def _read(self, flow: Flow[T]) -> T:
        """Run a flow that only reads."""

    @abstractmethod
    async def _transaction(self, make: Callable[P, Flow[T]], *a: P.args, **k: P.kwargs) -> T:
        """Run ``make(*a, **k)`` in one transaction (again, from the start, after a deadlock)."""

    @abstractmethod
    async def _autocommit(self, flow: Flow[T]) -> T:
        """Run a flow whose one write is a single statement (atomic without a transaction)."""

    @abstractmethod
    def _poke(self) -> None:
        """Deliveries became due now: wake the workers."""

    # --- webhooks ----------------------------------------------------------------------------

    async def insert_webhook(self, webhook: Webhook) -> None:
        await self._transaction(flows.insert_webhook, webhook)

    async def get_webhook(
        self, principal: Principal, webhook_id: str, *, include_deleted: bool = False
    ) -> Webhook | None:
        params = {**rows.scope_params(principal), "id": webhook_id}
        params["include_deleted"] = include_deleted
        return await self._read(_first("get_webhook", params, rows.webhook_from_row))

    async def list_webhooks(self, principal: Principal, query: WebhookQuery) -> list[Webhook]:
        params = rows.list_params(principal, query)
        return await self._read(_rows("list_webhooks", params, rows.webhook_from_row))

    async def update_webhook(
        self, webhook: Webhook, *, expected_version: int, transition: Transition = NO_TRANSITION
    ) -> Webhook | None:
        stored = await self._transaction(
            flows.update_webhook, webhook, expected_version, transition
        )
        if stored is not None:
            self._poke()  # released deliveries or an announcement may be due
        return stored

    # --- secret blobs (local secret backend) -------------------------------------------------

    async def put_secret(self, path: str, blob: bytes) -> None:
        params = {"path": path, "ciphertext": blob, "now": utcnow()}
        await self._autocommit(execute("put_secret", params))

    async def get_secret(self, path: str) -> bytes | None:
        return await self._read(
            _first("get_secret", {"path": path}, lambda row: bytes(row["ciphertext"]))
        )

    async def delete_secret(self, path: str) -> None:
        await self._autocommit(execute("delete_secret", {"path": path}))

    # --- event types -------------------------------------------------------------------------

    async def insert_event_type(self, event_type: EventType) -> bool:
        row = rows.event_type_to_row(event_type)
        return await self._autocommit(execute("insert_event_type", row)) == 1

    async def get_event_type(
        self, tenant_id: str, name: str, version: int | None = None
    ) -> EventType | None:
        params = {"tenant_id": tenant_id, "name": name, "version": version}
        return await self._read(_first("get_event_type", params, rows.event_type_from_row))

    async def list_event_types(
        self, tenant_id: str, after: str | None, limit: int
    ) -> list[EventType]:
        params = {"tenant_id": tenant_id, "after": after, "limit": limit}
        return await self._read(_rows("list_event_types", params, rows.event_type_from_row))

    async def update_event_type(self, event_type: EventType) -> bool:
        row = rows.event_type_to_row(event_type)
        return await self._autocommit(execute("update_event_type", row)) == 1

    # --- publishing --------------------------------------------------------------------------

    async def publish(self, event: Event, fan_out: FanOut, key: IdempotencyKey | None) -> Published:
        if key is None:  # one statement writes: no transaction of its own (a round trip less)
            deliveries = await self._autocommit(flows.publish_in(event, fan_out))
            published = Published(deliveries=deliveries)
        else:
            published = await self._transaction(flows.publish, event, fan_out, key)
        if any(d.status == "pending" for d in published.deliveries or ()):
            self._poke()
        return published

    async def get_idempotency_key(
        self, principal: Principal, key: str, fresh_after: datetime
    ) -> IdempotencyKey | None:
        params = {**rows.key_scope(principal.tenant_id, principal.app_id), "key": key}
        params["fresh_after"] = fresh_after
        return await self._read(
            _first("get_idempotency_key", params, rows.idempotency_key_from_row)
        )

    # --- reads of events, deliveries and attempts --------------------------------------------

    async def get_event(self, principal: Principal, event_id: str) -> Event | None:
        params = {**rows.scope_params(principal), "id": event_id}
        return await self._read(_first("get_event", params, rows.event_from_row))

    async def list_events(self, principal: Principal, query: EventQuery) -> list[Event]:
        params = rows.query_params(principal, query)
        return await self._read(_rows("list_events", params, rows.event_from_row))

    async def get_delivery(self, principal: Principal, delivery_id: str) -> Delivery | None:
        params = {**rows.scope_params(principal), "id": delivery_id}
        return await self._read(_first("get_delivery", params, rows.delivery_from_row))

    async def list_deliveries(self, principal: Principal, query: DeliveryQuery) -> list[Delivery]:
        params = rows.query_params(principal, query)
        return await self._read(_rows("list_deliveries", params, rows.delivery_from_row))

    async def list_attempts(self, principal: Principal, delivery_id: str) -> list[Attempt]:
        params = {"tenant_id": principal.tenant_id, "delivery_id": delivery_id}
        return await self._read(_rows("list_attempts", params, rows.attempt_from_row))

    async def attempt_health(
        self, principal: Principal, webhook_ids: Sequence[str], since: datetime
    ) -> dict[str, Health]:
        params = {"tenant_id": principal.tenant_id, "since": since,
                  "webhook_ids": orjson.dumps(list(webhook_ids)).decode()}  # fmt: skip
        found = await self._read(fetch("attempt_health", params))
        return {row["webhook_id"]: Health(row["attempts"], row["succeeded"]) for row in found}

    async def attempt_activity(
        self, principal: Principal, webhook_id: str, since: datetime, width_s: int
    ) -> list[Bucket]:
        params = {"tenant_id": principal.tenant_id, "webhook_id": webhook_id, "since": since,
                  "width": width_s}  # fmt: skip
        found = await self._read(fetch("attempt_activity", params))
        return [
            Bucket(int(r["bucket"]), r["attempts"], r["succeeded"], r["retrying"]) for r in found
        ]

    async def backlog(self, principal: Principal, webhook_id: str, now: datetime) -> Backlog:
        params = {"tenant_id": principal.tenant_id, "webhook_id": webhook_id, "now": now}
        found = await self._read(one("webhook_backlog", params))
        assert found is not None  # one row, always
        return Backlog(**found)

    async def recent_attempts(
        self, principal: Principal, after_id: str | None, webhook_id: str | None, limit: int
    ) -> list[Attempt]:
        params = {"tenant_id": principal.tenant_id, "webhook_id": webhook_id, "limit": limit}
        if after_id is not None:
            params["after_id"] = after_id
            return await self._read(_rows("attempts_after", params, rows.attempt_from_row))
        latest = await self._read(_rows("latest_attempts", params, rows.attempt_from_row))
        return latest[::-1]

    # --- inbound webhooks --------------------------------------------------------------------

    async def inbound_webhook(self, webhook_id: str) -> Webhook | None:
        return await self._read(
            _first("inbound_webhook", {"id": webhook_id}, rows.webhook_from_row)
        )

    async def note_rejected(self, webhook_id: str, at: datetime) -> None:
        await self._autocommit(execute("note_rejected", {"id": webhook_id, "at": at}))

    async def receive(
        self, message: InboundMessage, event: Event | None, fan_out: FanOut
    ) -> Received:
        received, due = await self._transaction(flows.receive, message, event, fan_out)
        if due:
            self._poke()
        return received

    async def get_inbound_message(
        self, principal: Principal, message_id: str
    ) -> InboundMessage | None:
        params = {**rows.scope_params(principal), "id": message_id}
        return await self._read(_first("get_inbound_message", params, rows.inbound_from_row))

    async def list_inbound_messages(
        self, principal: Principal, query: InboundQuery
    ) -> list[InboundMessage]:
        params = rows.query_params(principal, query)
        return await self._read(_rows("list_inbound_messages", params, rows.inbound_from_row))

    # --- the delivery engine -----------------------------------------------------------------

    async def claim(self, now: datetime, limit: int) -> list[Job]:
        """Gated webhooks first, with up to half the batch (their gates decide how much), then
        the others: neither kind waits behind the other's backlog."""
        jobs: list[Job] = []
        if time.monotonic() - self._swept_at >= gates.SWEEP_EVERY:
            self._swept_at = time.monotonic()
            await self._autocommit(execute("sweep_gates", {"now": now}))
        if await self._read(one("gates_due", {"now": now})) is not None:
            claimed = await self._transaction(gates.claim, now, limit - limit // 2)
            jobs = claimed.jobs
            if claimed.drained:
                await self._transaction(gates.recheck, claimed.drained, now)
        if len(jobs) < limit:
            jobs += await self._transaction(self.claim_flow, now, limit - len(jobs))
        return jobs

    async def settle(
        self, settlements: Sequence[Settlement], announce: Announcer, now: datetime
    ) -> None:
        if await self._transaction(flows.settle, settlements, announce, now):
            self._poke()  # an automatic pause was announced

    async def release(
        self, jobs: Sequence[Job], now: datetime, due_at: datetime | None = None
    ) -> None:
        await self._transaction(flows.give_back, jobs, now, due_at or now)
        if due_at is None:  # due now; a later due time wakes the workers by itself (next_due)
            self._poke()

    async def next_due(self) -> datetime | None:
        found = await self._read(one("next_due", {}))
        due: datetime | None = found["next_due_at"] if found else None
        return due

    async def requeue(
        self, principal: Principal, delivery_id: str, now: datetime
    ) -> Delivery | None:
        params = {**rows.scope_params(principal), "id": delivery_id, "now": now}
        found = await self._transaction(flows.requeue, params, now)
        self._poke()
        return found

    async def recover(
        self, principal: Principal, webhook_id: str, since: datetime, until: datetime | None,
        now: datetime,
    ) -> int:  # fmt: skip
        params = {"tenant_id": principal.tenant_id, "webhook_id": webhook_id, "since": since,
                  "until": until, "now": now}  # fmt: skip
        count = await self._transaction(flows.recover, params, now)
        self._poke()
        return count

    # --- operations --------------------------------------------------------------------------

    async def purge(self, before: datetime, keys_before: datetime) -> Purged:
        return await self._transaction(flows.purge, before, keys_before)

    async def consistency(self, stale_before: datetime) -> dict[str, int]:
        found = await self._read(one("consistency", {"stale_before": stale_before}))
        assert found is not None  # one row, always
        return {name: int(count) for name, count in found.items()}

    async def webhook_vault_paths(self) -> list[str]:
        return await self._read(
            _rows("webhook_vault_paths", {}, lambda row: str(row["vault_path"]))
        )

    async def queue_stats(self, now: datetime) -> QueueStats:
        found = await self._read(_first("queue_stats", {"now": now}, rows.queue_stats))
        assert found is not None  # one row, always
        return found
