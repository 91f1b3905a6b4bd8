"""Events: what a publisher sends (``POST /events``) as the service takes it, the event it
becomes, and its JSON shape. The body's JSON Schema and its reader are in
:mod:`hookwire.domain.event_requests`, at the edges."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import orjson

from hookwire.domain.event_type import EventType
from hookwire.domain.principal import Principal
from hookwire.timeutil import iso

IDEMPOTENCY_TTL: Final = timedelta(hours=24)  # how long an Idempotency-Key holds
OPTIONAL_FIELDS: Final = ("connector_id", "customer_id", "state", "tags", "ordering_key")


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
    ordering_key: str | None = None  # FIFO webhooks send one key's events one at a time

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
            "ordering_key": self.ordering_key,
            "created_at": iso(self.created_at),
        }
        if delivery_ids is not None:
            body["delivery_ids"] = list(delivery_ids)
        return body


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event as a publisher sends it: its shape checked at the edge, its ``data`` not yet
    checked against its type's schema (the service does that, with the catalog).

    ``given`` names the optional fields the request carried, ``null`` and ``[]`` included:
    they mean what leaving them out means, but the request is another one for its
    Idempotency-Key (:meth:`request_hash`). ``None``: the fields that are set (a draft built
    in code rather than read from JSON)."""

    type: str
    data: Any
    connector_id: str | None = None
    customer_id: str | None = None
    state: str | None = None
    tags: tuple[str, ...] = ()
    ordering_key: str | None = None
    given: frozenset[str] | None = None

    def request_hash(self) -> str:
        """The digest of the request as it was sent: ``type``, ``data`` and the optional
        fields given, as :func:`request_hash` makes it of the JSON body."""
        sent: dict[str, Any] = {"type": self.type, "data": self.data}
        given = self.given
        if given is None:
            given = frozenset(name for name in OPTIONAL_FIELDS if getattr(self, name))
        for name in given:
            sent[name] = getattr(self, name)  # tags: a tuple is written as the JSON array
        return request_hash(sent)


def build(
    draft: EventDraft, *, event_id: str, principal: Principal, event_type: EventType, now: datetime
) -> Event:
    """The event a draft becomes, its ``data`` valid for ``event_type`` (its newest version)."""
    return Event(
        id=event_id, tenant_id=principal.tenant_id, app_id=principal.app_id,
        type=event_type.name, type_version=event_type.version, data=draft.data,
        connector_id=draft.connector_id, customer_id=draft.customer_id, state=draft.state,
        tags=draft.tags, ordering_key=draft.ordering_key, created_at=now,
    )  # fmt: skip


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
