"""The Store port: every read and write hookwire makes, as use-case-sized async methods.

The port is seven roles (``Webhooks``, ``Catalog``, ``Events``, ``DeliveryLog``, ``Queue``,
``Operations``, ``SecretBlobs``); ``Store`` is all of them, implemented once by
:class:`~hookwire.store.sql_store.SQLStore` over an executor per dialect (docs/architecture.md).
Services and the delivery engine are the only callers. Each adapter (``sqlite``, ``postgres``)
passes the same contract suite in ``tests/integration/test_store_contract.py``. Rows are always
scoped: a method that takes a :class:`Principal` sees only that tenant's rows, and only the rows
of ``app_id`` when the principal has one. Adapters raise
:class:`~hookwire.errors.StoreUnavailable` (with ``from``) when the database fails, never a
driver exception.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal, Protocol

from hookwire.domain.activity import Bucket, Health
from hookwire.domain.attempt import Attempt
from hookwire.domain.delivery import Candidate, Delivery
from hookwire.domain.event import Event
from hookwire.domain.event_type import EventType
from hookwire.domain.filters import DeliveryQuery, EventQuery, InboundQuery, WebhookQuery
from hookwire.domain.flow import Backlog
from hookwire.domain.inbound import InboundMessage
from hookwire.domain.outcome import Outcome
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook

FanOut = Callable[[Sequence[Candidate]], list[Delivery]]


@dataclass(frozen=True, slots=True)
class Announcement:
    """A system event (``webhook.paused``, ``webhook.resumed``) published in the same
    transaction as the change it announces."""

    event: Event
    fan_out: FanOut


Announcer = Callable[[Webhook, str, datetime], Announcement]


@dataclass(frozen=True, slots=True)
class Transition:
    """What else a person's write to a webhook does, in the same transaction. Its waiting
    deliveries always follow the state it is left in (``domain.delivery.waiting``)."""

    pause: Literal["pause", "resume"] | None = None
    announce: Announcement | None = None


NO_TRANSITION: Final = Transition()


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed delivery and its webhook. ``delivery.lease_expires_at`` is the lease: only
    its holder may settle the delivery."""

    delivery: Delivery
    webhook: Webhook


@dataclass(frozen=True, slots=True)
class Settlement:
    """The result of one attempt, for ``settle``."""

    job: Job
    attempt: Attempt
    outcome: Outcome
    retry_at: datetime | None


@dataclass(frozen=True, slots=True)
class Received:
    """What ``receive`` did: stored the message (and published its event), or found that the
    webhook already has a message with its dedupe key (``message_id`` is then that one's)."""

    message_id: str | None
    duplicate: bool = False
    deliveries: int = 0


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """An Idempotency-Key taken by a published event. A key belongs to its scope, the tenant
    and the token's ``app_id`` (None: the tenant-level scope): another app of the tenant
    never sees or replays it."""

    tenant_id: str
    app_id: str | None
    key: str
    request_hash: str
    event_id: str
    created_at: datetime
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Published:
    """What ``publish`` did: wrote the event and its deliveries, or found the key taken."""

    deliveries: list[Delivery] | None = None
    taken: bool = False


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The delivery queue now, for /metrics (every tenant)."""

    pending: int  # waiting for their next attempt, due or not
    due: int  # pending and due now
    next_due_at: datetime | None  # the earliest pending attempt (in the past when late)
    in_flight: int
    held: int  # of paused webhooks
    paused_webhooks: int
    # Pending deliveries of flow-controlled webhooks held back (docs/flow-control.md): behind
    # an earlier delivery of their ordering key, or due but for a rate limit or a cap.
    waiting_ordering: int = 0
    waiting_rate_limit: int = 0
    waiting_max_in_flight: int = 0


@dataclass(frozen=True, slots=True)
class Purged:
    events: int
    idempotency_keys: int
    webhook_secret_paths: list[str]
    inbound_messages: int = 0


class SecretBlobs(Protocol):
    """Opaque ciphertexts by path, for the local secret backend."""

    async def put_secret(self, path: str, blob: bytes) -> None: ...

    async def get_secret(self, path: str) -> bytes | None: ...

    async def delete_secret(self, path: str) -> None: ...


class Webhooks(Protocol):
    """The webhook registry. ``inbound_webhook`` and ``note_rejected`` serve the inbound
    service, whose caller is a third party."""

    async def insert_webhook(self, webhook: Webhook) -> None: ...

    async def get_webhook(
        self, principal: Principal, webhook_id: str, *, include_deleted: bool = False
    ) -> Webhook | None: ...

    async def list_webhooks(self, principal: Principal, query: WebhookQuery) -> list[Webhook]:
        """At most ``query.limit`` rows with id < ``before_id``, newest (highest id) first."""

    async def update_webhook(
        self, webhook: Webhook, *, expected_version: int, transition: Transition = NO_TRANSITION
    ) -> Webhook | None:
        """Write a person's changes if the stored row (same id and tenant) still has
        ``expected_version``, with the ``transition``; the stored row, or None when the
        version moved on (or the row is gone). The delivery engine's columns are not written."""

    async def inbound_webhook(self, webhook_id: str) -> Webhook | None:
        """The inbound, enabled, not deleted webhook with this id, whatever its tenant: the
        caller is a third party, and the signature checked afterwards is its credential."""

    async def note_rejected(self, webhook_id: str, at: datetime) -> None:
        """Count one refused request on the webhook (``rejected_requests``, ``last_rejected_at``);
        a column of its own, never written by a person's update."""


class Catalog(Protocol):
    """Tenants' own event types (built-ins live in the package)."""

    async def insert_event_type(self, event_type: EventType) -> bool:
        """Add a version; False when (tenant, name, version) exists already."""

    async def get_event_type(
        self, tenant_id: str, name: str, version: int | None = None
    ) -> EventType | None:
        """That version, or the newest one when ``version`` is None."""

    async def list_event_types(
        self, tenant_id: str, after: str | None, limit: int
    ) -> list[EventType]:
        """The newest version of each type, by name, names after ``after``."""

    async def update_event_type(self, event_type: EventType) -> bool:
        """Rewrite description, example, deprecated and updated_at of one stored version."""


class Events(Protocol):
    """Publishing and receiving, each in one transaction with its fan-out, and reading back."""

    async def publish(self, event: Event, fan_out: FanOut, key: IdempotencyKey | None) -> Published:
        """In ONE transaction: take ``key`` (unless a fresh record holds it: then write
        nothing and answer ``taken``), pick the tenant's candidate webhooks for the event,
        let ``fan_out`` turn them into deliveries, and insert the event and its deliveries.
        A record older than ``IDEMPOTENCY_TTL`` is taken over."""

    async def get_idempotency_key(
        self, principal: Principal, key: str, fresh_after: datetime
    ) -> IdempotencyKey | None:
        """The record of ``key`` in the principal's scope (tenant and app) made after
        ``fresh_after``, if any."""

    async def get_event(self, principal: Principal, event_id: str) -> Event | None: ...

    async def list_events(self, principal: Principal, query: EventQuery) -> list[Event]: ...

    async def receive(
        self, message: InboundMessage, event: Event | None, fan_out: FanOut
    ) -> Received:
        """In ONE transaction: store ``message`` unless its webhook has one with the same
        dedupe key (then write nothing and answer ``duplicate``, also under concurrent
        duplicates), and publish ``event`` (when there is one) as ``publish`` does."""

    async def get_inbound_message(
        self, principal: Principal, message_id: str
    ) -> InboundMessage | None: ...

    async def list_inbound_messages(
        self, principal: Principal, query: InboundQuery
    ) -> list[InboundMessage]:
        """Without their bodies (``body`` is None), newest first."""


class DeliveryLog(Protocol):
    """Deliveries and their attempts as people read them, and the manual actions on them."""

    async def get_delivery(self, principal: Principal, delivery_id: str) -> Delivery | None: ...

    async def list_deliveries(
        self, principal: Principal, query: DeliveryQuery
    ) -> list[Delivery]: ...

    async def list_attempts(self, principal: Principal, delivery_id: str) -> list[Attempt]: ...

    async def attempt_health(
        self, principal: Principal, webhook_ids: Sequence[str], since: datetime
    ) -> dict[str, Health]:
        """Attempts and successes since ``since`` of each of these webhooks that had any."""

    async def attempt_activity(
        self, principal: Principal, webhook_id: str, since: datetime, width_s: int
    ) -> list[Bucket]:
        """The webhook's attempts since ``since`` in buckets of ``width_s`` seconds (only
        buckets with attempts, oldest first)."""

    async def backlog(self, principal: Principal, webhook_id: str, now: datetime) -> Backlog:
        """What the webhook's unfinished deliveries wait for now."""

    async def recent_attempts(
        self, principal: Principal, after_id: str | None, webhook_id: str | None, limit: int
    ) -> list[Attempt]:
        """Attempts of the tenant (of one webhook when given), oldest first: those after
        ``after_id``, or the newest ``limit`` when it is None (``deliveries tail``)."""

    async def requeue(
        self, principal: Principal, delivery_id: str, now: datetime
    ) -> Delivery | None:
        """Make a delivery due now, unless it is in flight (a manual retry); None when it is
        not the principal's or is in flight."""

    async def recover(
        self, principal: Principal, webhook_id: str, since: datetime, until: datetime | None,
        now: datetime,
    ) -> int:  # fmt: skip
        """Re-queue the webhook's failed deliveries created in [since, until), with a fresh
        attempt budget; how many."""


class Queue(Protocol):
    """The delivery engine's port: lease, settle, give back, and wait."""

    async def claim(self, now: datetime, limit: int) -> list[Job]:
        """Lease up to ``limit`` due deliveries (pending and due, or in flight with an expired
        lease) for ``timeoutMs`` + 30 s. Two callers never get the same delivery."""

    async def settle(
        self, settlements: Sequence[Settlement], announce: Announcer, now: datetime
    ) -> None:
        """Record attempts in one transaction: the attempt log, the webhook's last-delivery
        columns, an automatic pause (holding its deliveries and announcing it), and the next
        state of each delivery whose lease is still held."""

    async def release(
        self, jobs: Sequence[Job], now: datetime, due_at: datetime | None = None
    ) -> None:
        """Give unsent leases back, their attempts uncounted: those deliveries are due again
        at ``due_at`` (at once when None)."""

    async def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due (the worker sleeps until then)."""

    async def wait_for_work(self, timeout: float) -> None:
        """Return when deliveries may have become due (or after ``timeout`` seconds)."""


class Operations(Protocol):
    """Running the database: connect, migrate, retention, and what doctor and /metrics read."""

    dialect: str

    async def open(self) -> None:
        """Connect (and, for SQLite, start the writer thread). Does not migrate."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""

    async def migrate(self, applied: Callable[[str], None] | None = None) -> list[str]:
        """Apply pending migrations in order, in one transaction; return the names applied
        now (``applied`` is told each name as it is done, for a progress bar). Safe to race."""

    async def applied_migrations(self) -> list[str]: ...

    async def purge(self, before: datetime, keys_before: datetime) -> Purged:
        """Drop finished events (with deliveries and attempts), inbound messages and deleted
        webhooks older than ``before``, and idempotency keys older than ``keys_before``."""

    async def consistency(self, stale_before: datetime) -> dict[str, int]:
        """hookwire doctor's counts of rows the engine should never leave as they are (see
        services.doctor); ``stale_before``: leases that ended before it count as expired."""

    async def webhook_vault_paths(self) -> list[str]:
        """The secret path of every webhook that is not deleted (every tenant)."""

    async def queue_stats(self, now: datetime) -> QueueStats:
        """Counts of the delivery queue (from partial indexes only) and paused webhooks."""


class Store(Webhooks, Catalog, Events, DeliveryLog, Queue, Operations, SecretBlobs, Protocol):
    """What hookwire keeps, and how it is read and changed: every role above, which one
    adapter (``SQLStore`` over SQLite or PostgreSQL) implements. A consumer that needs one role
    takes that role."""
