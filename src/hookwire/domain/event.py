"""Events: what a publisher sends (``POST /events``), its checks, and its JSON shape."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import orjson

from hookwire.domain.validation import checked
from hookwire.timeutil import iso

_TEXT: dict[str, Any] = {"type": ["string", "null"], "minLength": 1, "maxLength": 200}
IDEMPOTENCY_TTL: Final = timedelta(hours=24)  # how long an Idempotency-Key holds
PUBLISH_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "data"],
    "properties": {
        "type": {"type": "string", "minLength": 1, "maxLength": 128},
        "data": {"not": {"type": "null"}},
        "connector_id": _TEXT,
        "customer_id": _TEXT,
        "state": _TEXT,
        "tags": {
            "type": "array",
            "maxItems": 50,
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
        },
    },
}


@dataclass(frozen=True, slots=True)
class Event:
    """One published occurrence. ``data`` has been validated against ``type``@``type_version``."""

    id: str
    tenant_id: str
    type: str
    type_version: int
    data: Any
    created_at: datetime
    app_id: str | None = None
    connector_id: str | None = None
    customer_id: str | None = None
    state: str | None = None
    tags: tuple[str, ...] = ()

    def to_public(self, delivery_ids: Sequence[str] | None = None) -> dict[str, Any]:
        body = {
            "id": self.id,
            "type": self.type,
            "type_version": self.type_version,
            "data": self.data,
            "tenant_id": self.tenant_id,
            "app_id": self.app_id,
            "connector_id": self.connector_id,
            "customer_id": self.customer_id,
            "state": self.state,
            "tags": list(self.tags),
            "created_at": iso(self.created_at),
        }
        if delivery_ids is not None:
            body["delivery_ids"] = list(delivery_ids)
        return body


def check_publish(body: Any) -> dict[str, Any]:
    """The fields of a ``POST /events`` body, or ValidationFailed with every pointer."""
    return checked(PUBLISH_SCHEMA, body)


def request_hash(body: Mapping[str, Any]) -> str:
    """A digest of the request body, key order ignored, to tell a replay from a new request."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def accepted(event: Event, deliveries: int, warnings: Sequence[str]) -> dict[str, Any]:
    """The 202 answer of ``POST /events`` (replayed as-is for a repeated Idempotency-Key)."""
    body: dict[str, Any] = {
        "id": event.id,
        "type": event.type,
        "created_at": iso(event.created_at),
        "deliveries": deliveries,
    }
    if warnings:
        body["warnings"] = list(warnings)
    return body
