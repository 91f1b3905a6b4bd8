"""Deliveries: one event for one outbound webhook, and how an event fans out to them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from hookwire.domain import envelope, patterns
from hookwire.domain.event import Event
from hookwire.domain.outcome import Outcome
from hookwire.domain.webhook import Envelope, Webhook, gated
from hookwire.timeutil import iso

Status = Literal["pending", "in_flight", "succeeded", "failed", "held", "cancelled"]
LEASE_MARGIN: Final = timedelta(seconds=30)  # a lease lasts timeoutMs + this
STATUSES: Final = ("pending", "in_flight", "succeeded", "failed", "held", "cancelled")


@dataclass(frozen=True, slots=True)
class Delivery:
    """As the API shows it (docs/api.md): ``id, event_id, webhook_id, status,
    attempt_count, next_attempt_at``.

    ``body`` is the exact bytes every attempt sends, rendered once at publish time."""

    id: str
    tenant_id: str
    event_id: str
    webhook_id: str
    status: Status
    body: bytes
    created_at: datetime
    updated_at: datetime
    app_id: str | None = None
    attempt_count: int = 0
    next_attempt_at: datetime | None = None  # None while pending: waits for an earlier one (FIFO)
    lease_expires_at: datetime | None = None
    gated: bool = False  # its webhook's flow control applies (domain.flow)
    ordering_key: str | None = None  # its event's

    def to_public(self, attempts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "event_id": self.event_id,
            "webhook_id": self.webhook_id,
            "status": self.status,
            "attempt_count": self.attempt_count,
            "next_attempt_at": iso(self.next_attempt_at),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if attempts is not None:
            body["attempts"] = attempts
        return body


@dataclass(frozen=True, slots=True)
class Candidate:
    """What fan-out reads of a webhook: the store selects these columns only, because decoding
    whole webhooks on every publish cost more than inserting the deliveries (bench/)."""

    id: str
    tenant_id: str
    direction: str
    enabled: bool
    is_deleted: bool
    event_types: tuple[str, ...]
    app_id: str | None = None
    connector_id: str | None = None
    envelope: Envelope = "event"
    paused_at: datetime | None = None
    rate_limit: object = None  # as stored; only whether it is set matters here
    max_in_flight: int | None = None
    ordering: str = "none"

    @property
    def gated(self) -> bool:
        return gated(self.rate_limit, self.max_in_flight, self.ordering)

    @classmethod
    def of(cls, webhook: Webhook) -> Candidate:
        return cls(**{name: getattr(webhook, name) for name in CANDIDATE_COLUMNS})


CANDIDATE_COLUMNS: Final = tuple(Candidate.__dataclass_fields__)


def receives(webhook: Webhook | Candidate, event: Event) -> bool:
    """Whether ``webhook`` gets ``event``: outbound, enabled, not deleted, type pattern and
    connector match (a connector-owned webhook only gets its connector's events)."""
    return (
        webhook.direction == "outbound"
        and webhook.enabled
        and not webhook.is_deleted
        and webhook.tenant_id == event.tenant_id
        and patterns.matches_any(webhook.event_types, event.type)
        and (webhook.connector_id is None or webhook.connector_id == event.connector_id)
    )


def fan_out(
    event: Event, webhooks: Iterable[Webhook | Candidate], new_id: Callable[[], str]
) -> list[Delivery]:
    """The deliveries of ``event``: ``held`` for a paused webhook, due now otherwise. Each
    envelope is rendered once and shared by every delivery that uses it."""
    rendered: dict[str, bytes] = {}
    deliveries = []
    for webhook in webhooks:
        if not receives(webhook, event):
            continue
        if webhook.envelope not in rendered:
            rendered[webhook.envelope] = envelope.render(event, webhook.envelope)
        held = webhook.paused_at is not None
        deliveries.append(
            Delivery(
                id=new_id(),
                tenant_id=event.tenant_id,
                app_id=webhook.app_id,
                event_id=event.id,
                webhook_id=webhook.id,
                status="held" if held else "pending",
                body=rendered[webhook.envelope],
                created_at=event.created_at,
                updated_at=event.created_at,
                next_attempt_at=None if held else event.created_at,
                gated=webhook.gated,
                ordering_key=event.ordering_key,
            )
        )
    return deliveries


Waiting = Literal["pending", "held", "cancelled"]


def waiting(webhook: Webhook | Candidate) -> Waiting:
    """What the webhook's waiting deliveries are while it is as it is now: sent (``pending``)
    when it runs, ``held`` while it is paused or disabled, ``cancelled`` once it is deleted.
    A write to a webhook that changes it applies it to them in the same transaction, and a
    claim applies it again before anything is sent."""
    paused = webhook.paused_at is not None
    return waiting_for(enabled=webhook.enabled, paused=paused, deleted=webhook.is_deleted)


def waiting_for(*, enabled: bool, paused: bool, deleted: bool) -> Waiting:
    """:func:`waiting` of a webhook in this state."""
    if deleted:
        return "cancelled"
    if enabled and not paused:
        return "pending"
    return "held"


def settled(
    delivery: Delivery, webhook: Webhook, outcome: Outcome, retry_at: datetime | None
) -> tuple[Status, datetime | None]:
    """The delivery's state after an attempt, given its webhook as it is now."""
    if outcome.succeeded:
        return "succeeded", None
    if outcome.kind == "gone" or delivery.attempt_count + 1 >= webhook.retry_policy.max_attempts:
        return "failed", None
    state = waiting(webhook)
    if state == "pending" and retry_at is not None:
        return "pending", retry_at
    return ("held" if state == "pending" else state), None  # no retry time: held


@dataclass(frozen=True, slots=True)
class Tally:
    """What a batch of attempts to one webhook does to its last-delivery columns: one update
    per webhook per batch, so workers do not queue on the webhook's row attempt by attempt."""

    at: datetime  # the latest attempt's start
    status: str  # its status label
    reset: bool  # a success among them: the failure count restarts after the last one
    failures: int  # failures to add (those after the last success, when ``reset``)
    gone: bool  # a 410 among them


def tally(attempts: Sequence[tuple[datetime, Outcome]]) -> Tally:
    """The tally of attempts to one webhook (in any order; they are sorted by start)."""
    ordered = sorted(attempts, key=lambda pair: pair[0])
    if not ordered:
        raise ValueError("nothing to tally")
    failures, reset = 0, False
    for _, outcome in ordered:
        if outcome.succeeded:
            failures, reset = 0, True
        else:
            failures += 1
    last_at, last = ordered[-1]
    gone = any(outcome.kind == "gone" for _, outcome in ordered)
    return Tally(last_at, last.status, reset, failures, gone)


def pause_reason(webhook: Webhook, counted: Tally) -> str | None:
    """Why these attempts pause their webhook (``gone`` or ``failures``), if they do;
    ``webhook`` is the row after the tally was applied."""
    if webhook.paused_at is not None or webhook.is_deleted:
        return None
    if counted.gone:
        return "gone"
    if (
        counted.failures
        and webhook.consecutive_failures >= webhook.retry_policy.pause_after_failures
    ):
        return "failures"
    return None


def event_with_deliveries(event: Event, deliveries: Sequence[Delivery]) -> dict[str, Any]:
    """One event's answer (``GET /events/{id}``, ``hookwire.Client.get_event``): the event,
    its ``delivery_ids`` and its ``deliveries``."""
    return {
        **event.to_public([d.id for d in deliveries]),
        "deliveries": [d.to_public() for d in deliveries],
    }
