"""Mapping between :class:`Webhook` and a flat row of plain values, shared by both adapters.

Adapters convert their own column types (JSON text or jsonb, integer or boolean, text or
timestamptz) to and from these plain Python values: lists, dicts, bools and aware datetimes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from hookwire.domain.principal import Principal
from hookwire.domain.retry import RetryPolicy
from hookwire.domain.webhook import Webhook

if TYPE_CHECKING:
    from hookwire.store.base import WebhookQuery

WEBHOOK_COLUMNS: Final = tuple(f.name for f in dataclasses.fields(Webhook))
JSON_COLUMNS: Final = frozenset({"event_types", "headers", "retry_policy", "tags"})
BOOL_COLUMNS: Final = frozenset({"is_deleted", "enabled"})
TIME_COLUMNS: Final = frozenset(
    {"created_at", "updated_at", "deleted_at", "last_delivery_at", "paused_at"}
)


def webhook_to_row(webhook: Webhook) -> dict[str, Any]:
    """Column name -> plain value (JSON columns as lists/dicts)."""
    row = {name: getattr(webhook, name) for name in WEBHOOK_COLUMNS}
    row["event_types"] = list(webhook.event_types)
    row["tags"] = list(webhook.tags)
    row["headers"] = dict(webhook.headers)
    row["retry_policy"] = webhook.retry_policy.to_json()
    return row


def webhook_from_row(row: Mapping[str, Any]) -> Webhook:
    """The inverse of :func:`webhook_to_row`."""
    values = {name: row[name] for name in WEBHOOK_COLUMNS}
    values["event_types"] = tuple(values["event_types"])
    values["tags"] = tuple(values["tags"])
    values["retry_policy"] = RetryPolicy.from_json(
        values["retry_policy"], values["retry_policy"].get("pauseAfterFailures", 20)
    )
    for name in BOOL_COLUMNS:
        values[name] = bool(values[name])
    return Webhook(**values)


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
