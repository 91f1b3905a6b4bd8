"""Mapping between domain objects and flat rows of plain values, shared by both adapters.

A column's name says its type (``JSON_COLUMNS``, ``TIME_COLUMNS``, ``BOOL_COLUMNS``). Each
executor converts its own column types (JSON text or jsonb, integer or boolean, text or
timestamptz) to and from plain Python values by those sets: lists and dicts, bools, aware
datetimes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, cast

from hookwire.domain.attempt import Attempt
from hookwire.domain.delivery import (
    CANDIDATE_COLUMNS,
    Candidate,
    Delivery,
    Status,
    Tally,
    Waiting,
    settled,
    tally,
    waiting,
    waiting_for,
)
from hookwire.domain.event import Event
from hookwire.domain.event_type import EventType
from hookwire.domain.filters import DeliveryQuery, EventQuery, InboundQuery, WebhookQuery
from hookwire.domain.flow import RateLimit
from hookwire.domain.inbound import InboundMessage
from hookwire.domain.principal import Principal
from hookwire.domain.retry import RetryPolicy
from hookwire.domain.webhook import ENGINE_FIELDS, FIXED_FIELDS, Webhook
from hookwire.store.base import IdempotencyKey, Job, QueueStats, Settlement
from hookwire.store.steps import Row
from hookwire.timeutil import parse_iso

# A column's type follows from its name, the same in every table and query
# (tests/integration/test_columns.py checks these against the PostgreSQL schema). SQLite keeps
# JSON as text and times as RFC 3339 text; its executor converts by these sets.
JSON_COLUMNS: Final = frozenset({
    "event_types", "headers", "retry_policy", "tags", "signature_options",  # webhooks
    "data",  # events
    "schema", "example",  # event_types
    "warnings",  # idempotency_keys
    "request_headers", "response_headers",  # attempts
    "rate_limit", "rate_slots",  # webhooks, webhook_gates
})  # fmt: skip
TIME_COLUMNS: Final = frozenset({
    "created_at", "updated_at", "deleted_at", "last_delivery_at", "paused_at",
    "last_rejected_at", "next_attempt_at", "lease_expires_at", "received_at", "started_at",
    "next_due_at", "was_paused_at", "work_at", "open_at", "lease_ends_at",
})  # fmt: skip
BOOL_COLUMNS: Final = frozenset(
    {"is_deleted", "enabled", "deprecated", "was_enabled", "was_deleted", "gated", "was_gated"}
)
TENANT_SCOPE: Final = ""  # idempotency_keys.app_id of a token without app_id (no app has '')

WEBHOOK_COLUMNS: Final = tuple(f.name for f in dataclasses.fields(Webhook))
UPDATED: Final = frozenset(WEBHOOK_COLUMNS) - FIXED_FIELDS - ENGINE_FIELDS  # by update_webhook
_EVENT_TYPE_COLUMNS: Final = (
    "tenant_id", "name", "version", "description", "schema", "example", "deprecated",
    "created_at", "updated_at",
)  # fmt: skip


def webhook_to_row(webhook: Webhook) -> dict[str, Any]:
    """Column name -> plain value (JSON columns as lists/dicts)."""
    row = {name: getattr(webhook, name) for name in WEBHOOK_COLUMNS}
    row["event_types"] = list(webhook.event_types)
    row["tags"] = list(webhook.tags)
    row["headers"] = dict(webhook.headers)
    row["signature_options"] = dict(webhook.signature_options)
    row["retry_policy"] = webhook.retry_policy.to_json()
    row["rate_limit"] = webhook.rate_limit.to_json() if webhook.rate_limit else None
    return row


def webhook_from_row(row: Mapping[str, Any]) -> Webhook:
    """The inverse of :func:`webhook_to_row`."""
    values = {name: row[name] for name in WEBHOOK_COLUMNS}
    values["event_types"] = tuple(values["event_types"])
    values["tags"] = tuple(values["tags"])
    values["retry_policy"] = RetryPolicy.from_json(
        values["retry_policy"], values["retry_policy"].get("pauseAfterFailures", 20)
    )
    values["rate_limit"] = RateLimit.from_json(values["rate_limit"])
    for name in BOOL_COLUMNS & values.keys():
        values[name] = bool(values[name])
    return Webhook(**values)


def candidate_from_row(row: Mapping[str, Any]) -> Candidate:
    """A fan-out candidate from the ``fanout_webhooks`` columns (decoded)."""
    values = {name: row[name] for name in CANDIDATE_COLUMNS}
    values["event_types"] = tuple(values["event_types"])
    for name in BOOL_COLUMNS & values.keys():
        values[name] = bool(values[name])
    return Candidate(**values)


def _shallow(obj: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, values shared (``asdict`` would deep-copy the data)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def event_to_row(event: Event) -> dict[str, Any]:
    row = _shallow(event)
    row["tags"] = list(event.tags)
    return row


def event_from_row(row: Mapping[str, Any]) -> Event:
    values = {f.name: row[f.name] for f in dataclasses.fields(Event)}
    values["tags"] = tuple(values["tags"])
    return Event(**values)


NO_KEY: Final = ""
"""``deliveries.ordering_key`` of an event without one: null is one key of its own, and a key
has at least one character. Not NULL, so that equality and the index find it."""


def delivery_to_row(delivery: Delivery) -> dict[str, Any]:
    row = _shallow(delivery)
    if delivery.ordering_key is None:
        row["ordering_key"] = NO_KEY
    return row


def event_with_deliveries(event: Event, deliveries: Sequence[Delivery]) -> dict[str, Any]:
    """Parameters of PostgreSQL's ``insert_event_with_deliveries``: the event's columns and
    its deliveries' varying columns as parallel arrays. The statement takes ``event_id``,
    ``tenant_id`` and the times from the event, as :func:`~hookwire.domain.delivery.fan_out`
    sets them; a delivery that disagrees is a bug, refused here."""
    if any(
        (d.event_id, d.tenant_id, d.created_at) != (event.id, event.tenant_id, event.created_at)
        for d in deliveries
    ):
        raise ValueError("the deliveries are not this event's")
    return {
        **event_to_row(event),
        "delivery_ids": [d.id for d in deliveries],
        "delivery_app_ids": [d.app_id for d in deliveries],
        "delivery_webhook_ids": [d.webhook_id for d in deliveries],
        "delivery_statuses": [d.status for d in deliveries],
        "delivery_next_attempt_at": [d.next_attempt_at for d in deliveries],
        "delivery_bodies": [d.body for d in deliveries],
    }


def as_written(
    delivery: Delivery, status: str, gated: bool, next_attempt_at: datetime | str | None
) -> Delivery:
    """``delivery`` as the store wrote it (the insert's ``RETURNING status, gated,
    next_attempt_at``): a waiting one is ``held`` when its webhook was paused at commit,
    ``pending`` when it was running, and then due now, or not yet (FIFO: an earlier delivery
    of its key is unfinished); ``gated`` as its webhook's flow control was."""
    due = parse_iso(next_attempt_at) if isinstance(next_attempt_at, str) else next_attempt_at
    written = (status, bool(gated), due)
    if written == (delivery.status, delivery.gated, delivery.next_attempt_at):
        return delivery
    return dataclasses.replace(
        delivery, status=cast(Status, status), gated=bool(gated), next_attempt_at=due
    )


def delivery_from_row(row: Mapping[str, Any]) -> Delivery:
    values = {f.name: row[f.name] for f in dataclasses.fields(Delivery)}
    values["body"] = bytes(values["body"])
    values["gated"] = bool(values["gated"])
    if values["ordering_key"] == NO_KEY:
        values["ordering_key"] = None
    return Delivery(**values)


def event_type_to_row(event_type: EventType) -> dict[str, Any]:
    return {name: getattr(event_type, name) for name in _EVENT_TYPE_COLUMNS}


def event_type_from_row(row: Mapping[str, Any]) -> EventType:
    values = {name: row[name] for name in _EVENT_TYPE_COLUMNS}
    values["deprecated"] = bool(values["deprecated"])
    return EventType(**values)


def scope_params(principal: Principal) -> dict[str, Any]:
    """The tenancy parameters every scoped query takes."""
    return {"tenant_id": principal.tenant_id, "app_id": principal.app_id}


def list_params(principal: Principal, query: WebhookQuery) -> dict[str, Any]:
    """Parameters of the ``list_webhooks`` query."""
    return {
        **scope_params(principal),
        "include_deleted": query.include_deleted,
        "before_id": query.before_id,
        "direction": query.direction,
        "enabled": query.enabled,
        "connector_id": query.connector_id,
        "tag": query.tag,
        "event_type": query.event_type,
        "limit": query.limit,
    }


def query_params(
    principal: Principal, query: EventQuery | DeliveryQuery | InboundQuery
) -> dict[str, Any]:
    """Parameters of ``list_events``, ``list_deliveries`` and ``list_inbound_messages``: the
    query's fields, scoped."""
    return {**scope_params(principal), **_shallow(query)}


def inbound_to_row(message: InboundMessage) -> dict[str, Any]:
    row = _shallow(message)
    row["headers"] = dict(message.headers)
    return row


def inbound_from_row(row: Mapping[str, Any]) -> InboundMessage:
    """A stored message; without ``body`` when the query left the column out (lists)."""
    values: dict[str, Any] = {f.name: row.get(f.name) for f in dataclasses.fields(InboundMessage)}
    if values["body"] is not None:
        values["body"] = bytes(values["body"])
    return InboundMessage(**values)


def queue_stats(row: Mapping[str, Any]) -> QueueStats:
    return QueueStats(**{f.name: row[f.name] for f in dataclasses.fields(QueueStats)})


def key_scope(tenant_id: str, app_id: str | None) -> dict[str, Any]:
    """The columns that scope an Idempotency-Key. A token without app_id is stored as
    ``TENANT_SCOPE``: the column is part of the primary key, which cannot hold NULL."""
    return {"tenant_id": tenant_id, "app_id": TENANT_SCOPE if app_id is None else app_id}


def idempotency_key_params(key: IdempotencyKey) -> dict[str, Any]:
    row = {**_shallow(key), **key_scope(key.tenant_id, key.app_id)}
    row["warnings"] = list(key.warnings)
    return row


def idempotency_key_from_row(row: Mapping[str, Any]) -> IdempotencyKey:
    values = {f.name: row[f.name] for f in dataclasses.fields(IdempotencyKey)}
    if values["app_id"] == TENANT_SCOPE:
        values["app_id"] = None
    values["warnings"] = tuple(values["warnings"])
    return IdempotencyKey(**values)


def attempt_to_row(attempt: Attempt) -> dict[str, Any]:
    row = _shallow(attempt)
    row["request_headers"] = dict(attempt.request_headers)
    row["response_headers"] = dict(attempt.response_headers)
    return row


def attempt_from_row(row: Mapping[str, Any]) -> Attempt:
    return Attempt(**{f.name: row[f.name] for f in dataclasses.fields(Attempt)})


def update_params(webhook: Webhook, expected_version: int, pause: str | None) -> dict[str, Any]:
    """Parameters of ``update_webhook``: every column but the fixed ones and the engine's
    (``domain.webhook``), the row's key, and the pause transition."""
    row = {name: value for name, value in webhook_to_row(webhook).items() if name in UPDATED}
    return {**row, "id": webhook.id, "tenant_id": webhook.tenant_id,
            "expected_version": expected_version, "pause": pause}  # fmt: skip


RECONCILE: Final[dict[Waiting, str]] = {
    "pending": "release_deliveries",
    "held": "hold_deliveries",
    "cancelled": "cancel_deliveries",
}


def reconcile(webhook: Webhook, before: Row | None = None) -> str | None:
    """The statement that brings the webhook's waiting deliveries in line with the state it is
    in now (``domain.delivery.waiting``), or None when ``before`` (``was_enabled``,
    ``was_paused_at``, ``was_deleted``: the row before the write) called for the same. Every
    write to a webhook runs it: one mechanism, so no transition can forget a case."""
    now = waiting(webhook)
    if before is not None:
        was = waiting_for(
            enabled=bool(before["was_enabled"]),
            paused=before["was_paused_at"] is not None,
            deleted=bool(before["was_deleted"]),
        )
        if was == now:
            return None
    return RECONCILE[now]


def release_params(job: Job, now: datetime, due_at: datetime) -> dict[str, Any]:
    """Parameters of ``release_lease``: only the lease's holder gives it back."""
    return {"id": job.delivery.id, "lease": job.delivery.lease_expires_at, "now": now,
            "due_at": due_at}  # fmt: skip


def by_webhook(settlements: Sequence[Settlement]) -> dict[str, list[Settlement]]:
    """Settlements grouped by webhook, the groups in webhook id order: settling updates each
    webhook's row, and two workers that lock the same webhooks in different orders deadlock
    (PostgreSQL aborts one of them after deadlock_timeout, and its attempts are sent again)."""
    groups: dict[str, list[Settlement]] = {}
    for settlement in settlements:
        groups.setdefault(settlement.job.webhook.id, []).append(settlement)
    return dict(sorted(groups.items()))


def tally_params(group: Sequence[Settlement]) -> tuple[Tally, dict[str, Any]]:
    """The tally of one webhook's settlements and the parameters of ``note_attempts``."""
    counted = tally([(s.attempt.started_at, s.outcome) for s in group])
    params = {
        "id": group[0].job.webhook.id,
        "at": counted.at,
        "status": counted.status,
        "reset": counted.reset,
        "failures": counted.failures,
    }
    return counted, params


def settle_params(
    group: Sequence[Settlement], webhook: Webhook, now: datetime
) -> list[dict[str, Any]]:
    """Parameters of ``settle_delivery`` for each settlement, given the webhook as it is now."""
    out = []
    for s in group:
        status, next_at = settled(s.job.delivery, webhook, s.outcome, s.retry_at)
        out.append({"id": s.job.delivery.id, "status": status, "next_attempt_at": next_at,
                    "now": now, "lease": s.job.delivery.lease_expires_at})  # fmt: skip
    return out


def promote_params(
    group: Sequence[Settlement], settled: Sequence[Mapping[str, Any]], webhook: Webhook
) -> list[dict[str, Any]]:
    """Parameters of ``promote_fifo``: the ordering key of each FIFO delivery that ended."""
    if webhook.ordering != "fifo":
        return []
    ended = {p["id"] for p in settled if p["status"] in ("succeeded", "failed")}
    keys = {s.job.delivery.ordering_key for s in group if s.job.delivery.id in ended}
    return [{"webhook_id": webhook.id, "ordering_key": NO_KEY if key is None else key,
             "now": settled[0]["now"]} for key in sorted(keys, key=str)]  # fmt: skip
