"""Every multi-statement transaction of the store, written once for both dialects.

Each flow is a generator of :mod:`~hookwire.store.steps`: it says which named statements to
run and decides on their rows, with no I/O of its own. The adapter that drives it supplies the
connection and the transaction (see ``SQLStore``). The claim is the one flow written per
dialect: PostgreSQL leases in one ``SKIP LOCKED`` statement, SQLite reads and then leases on
its single writer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from hookwire.domain.delivery import LEASE_MARGIN, Delivery, pause_reason, waiting
from hookwire.domain.event import IDEMPOTENCY_TTL, Event
from hookwire.domain.inbound import InboundMessage
from hookwire.domain.webhook import Webhook
from hookwire.store import gates, rows
from hookwire.store.base import (
    Announcer,
    FanOut,
    IdempotencyKey,
    Job,
    Published,
    Purged,
    Received,
    Settlement,
    Transition,
)
from hookwire.store.steps import Flow, Row, execute, execute_many, fetch, insert_event, one

LEASE_MARGIN_MS: Final = round(LEASE_MARGIN.total_seconds() * 1000)


def publish_in(event: Event, fan_out: FanOut) -> Flow[list[Delivery]]:
    """Insert ``event`` and the deliveries ``fan_out`` makes of its candidate webhooks; the
    deliveries as written."""
    scope = {"tenant_id": event.tenant_id, "app_id": event.app_id}
    params = {**scope, "connector_id": event.connector_id, "type": event.type}
    candidates = yield from fetch("fanout_webhooks", params)
    deliveries = fan_out([rows.candidate_from_row(row) for row in candidates])
    made = yield from insert_event(event, deliveries)
    yield from gates.wake(made)
    return made


def publish(event: Event, fan_out: FanOut, key: IdempotencyKey | None) -> Flow[Published]:
    """Take ``key`` (unless a fresh record holds it), then publish."""
    if key is not None:
        params = {
            **rows.idempotency_key_params(key),
            "expired_before": key.created_at - IDEMPOTENCY_TTL,
        }
        if (yield from one("take_idempotency_key", params)) is None:
            return Published(taken=True)
    return Published(deliveries=(yield from publish_in(event, fan_out)))


def receive(
    message: InboundMessage, event: Event | None, fan_out: FanOut
) -> Flow[tuple[Received, bool]]:
    """Store ``message`` unless its webhook has one with the same dedupe key, and publish;
    whether deliveries are due now."""
    row = rows.inbound_to_row(message)
    if (yield from one("insert_inbound_message", row)) is None:
        earlier = yield from one("inbound_duplicate", row)
        return Received(earlier["id"] if earlier else None, duplicate=True), False
    deliveries = (yield from publish_in(event, fan_out)) if event is not None else []
    due = any(d.status == "pending" for d in deliveries)
    return Received(message.id, deliveries=len(deliveries)), due


def update_webhook(
    webhook: Webhook, expected_version: int, transition: Transition
) -> Flow[Webhook | None]:
    """A person's write with its transition. ``webhook_state`` reads (on PostgreSQL: locks
    ``FOR UPDATE``) the row first, so its deliveries are reconciled only when the state they
    follow changed."""
    before = yield from one("webhook_state", {"id": webhook.id, "tenant_id": webhook.tenant_id})
    params = rows.update_params(webhook, expected_version, transition.pause)
    found = yield from one("update_webhook", params)
    if found is None:
        return None
    stored = rows.webhook_from_row(found)
    yield from reconcile(stored, webhook.updated_at, before)
    yield from gates.follow(stored, before, webhook.updated_at)
    if transition.announce is not None:
        yield from publish_in(transition.announce.event, transition.announce.fan_out)
    return stored


def reconcile(webhook: Webhook, now: datetime, before: Row | None = None) -> Flow[None]:
    """Bring the webhook's waiting deliveries in line with its state (``rows.reconcile``)."""
    statement = rows.reconcile(webhook, before)
    if statement is not None:
        yield from execute(statement, {"webhook_id": webhook.id, "now": now})
        if statement == "release_deliveries" and webhook.gated:
            yield from gates.refresh([webhook.id], now, reorder=True)


def settle(settlements: Sequence[Settlement], announce: Announcer, now: datetime) -> Flow[bool]:
    """Record attempts: the log, each webhook's last-delivery columns, an automatic pause
    (holding its deliveries and announcing it), and each leased delivery's next state.
    Whether an announcement made deliveries due now."""
    yield from execute_many("insert_attempt", [rows.attempt_to_row(s.attempt) for s in settlements])
    announced = False
    for group in rows.by_webhook(settlements).values():
        counted, note = rows.tally_params(group)
        noted = yield from one("note_attempts", note)
        if noted is None:
            continue
        webhook = rows.webhook_from_row(noted)
        reason = pause_reason(webhook, counted)
        if reason is not None:
            webhook, made_due = yield from auto_pause(webhook, reason, announce, now)
            announced = announced or made_due
        settled = rows.settle_params(group, webhook, now)
        yield from execute_many("settle_delivery", settled)
        if webhook.gated:
            yield from execute_many("promote_fifo", rows.promote_params(group, settled, webhook))
            yield from gates.refresh([webhook.id], now)
    return announced


def auto_pause(
    webhook: Webhook, reason: str, announce: Announcer, now: datetime
) -> Flow[tuple[Webhook, bool]]:
    """Pause the webhook for ``reason`` unless it is paused or deleted already: hold its
    deliveries and announce it. The webhook as it is now, and whether the announcement made
    deliveries due now."""
    paused = yield from one("auto_pause", {"id": webhook.id, "at": now})
    if paused is None:
        return webhook, False
    webhook = rows.webhook_from_row(paused)
    yield from reconcile(webhook, now)
    announcement = announce(webhook, reason, now)
    made = yield from publish_in(announcement.event, announcement.fan_out)
    return webhook, any(d.status == "pending" for d in made)


def claim_due(now: datetime, limit: int) -> Flow[list[Job]]:
    """PostgreSQL's claim: one statement leases what is due (``SKIP LOCKED``) and holds or
    cancels instead what a stopped webhook would send."""
    params = {"now": now, "limit": limit, "lease_margin_ms": LEASE_MARGIN_MS}
    claimed = yield from fetch("claim_due", params)
    leased = [rows.delivery_from_row(r) for r in claimed if r["status"] == "in_flight"]
    hooks = yield from webhooks_by_id(leased)
    return [Job(d, hooks[d.webhook_id]) for d in leased]


def lease_due(now: datetime, limit: int) -> Flow[list[Job]]:
    """SQLite's claim, on the single writer: lease what is due, each delivery's webhook read
    as it is now; a stopped webhook's delivery is held or cancelled instead, never sent."""
    due = yield from fetch("due_deliveries", {"now": now, "limit": limit})
    deliveries = [rows.delivery_from_row(row) for row in due][:limit]
    hooks = yield from webhooks_by_id(deliveries)
    jobs, stopped = [], []
    for delivery in deliveries:
        webhook = hooks[delivery.webhook_id]
        state = waiting(webhook)
        if state != "pending":
            stopped.append({"id": delivery.id, "status": state, "now": now})
            continue
        lease = now + timedelta(milliseconds=webhook.retry_policy.timeout_ms) + LEASE_MARGIN
        leased = dataclasses.replace(delivery, status="in_flight", lease_expires_at=lease)
        jobs.append(Job(leased, webhook))
    leases = [{"id": j.delivery.id, "lease": j.delivery.lease_expires_at, "now": now} for j in jobs]
    yield from execute_many("lease_delivery", leases)
    yield from execute_many("stop_delivery", stopped)
    return jobs


def insert_webhook(webhook: Webhook) -> Flow[None]:
    """A new webhook, with its gate when it has flow control."""
    yield from execute("insert_webhook", rows.webhook_to_row(webhook))
    if webhook.gated:
        yield from execute("insert_gate", {"webhook_id": webhook.id, "now": webhook.created_at})


def give_back(jobs: Sequence[Job], now: datetime, due_at: datetime) -> Flow[None]:
    """Leases given back unsent: due again at ``due_at``, their gates woken."""
    yield from execute_many("release_lease", [rows.release_params(j, now, due_at) for j in jobs])
    yield from gates.refresh([j.webhook.id for j in jobs], due_at)  # no gate: no-op


def requeue(params: Row, now: datetime) -> Flow[Delivery | None]:
    """A finished (or waiting) delivery due again now, by hand."""
    found = yield from one("requeue_delivery", params)
    if found is None:
        return None
    delivery = rows.delivery_from_row(found)
    if delivery.gated:
        yield from gates.refresh([delivery.webhook_id], now)
    return delivery


def recover(params: Row, now: datetime) -> Flow[int]:
    """A webhook's failed deliveries in a window due again now; FIFO order set again."""
    count = yield from execute("recover_deliveries", params)
    if count:
        yield from gates.refresh([params["webhook_id"]], now, reorder=True)
    return count


def webhooks_by_id(deliveries: Sequence[Delivery]) -> Flow[dict[str, Webhook]]:
    """The webhooks of these deliveries, by id."""
    if not deliveries:
        return {}
    ids = sorted({d.webhook_id for d in deliveries})
    found = yield from fetch("webhooks_by_id", {"ids": ids})
    return {w.id: w for w in map(rows.webhook_from_row, found)}


def purge(before: datetime, keys_before: datetime) -> Flow[Purged]:
    """Drop what retention no longer keeps, in one transaction."""
    events = yield from execute("purge_events", {"before": before})
    keys = yield from execute("purge_idempotency_keys", {"before": keys_before})
    inbound = yield from execute("purge_inbound_messages", {"before": before})
    gone = yield from fetch("purge_webhooks", {"before": before})
    return Purged(events, keys, [row["vault_path"] for row in gone], inbound)
