"""What the SQLite writer thread runs: each function works on the writer's connection inside
one (group-committed) transaction, or manages its own (migrations)."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from hookwire.domain.delivery import Delivery, pause_reason, waiting
from hookwire.domain.event import Event
from hookwire.domain.inbound import InboundMessage
from hookwire.domain.webhook import Webhook
from hookwire.store import migrations as schema
from hookwire.store import rows
from hookwire.store.base import (
    CLAIM_TTL,
    LEASE_MARGIN,
    Announcer,
    Claim,
    FanOut,
    Job,
    Published,
    Received,
    Settlement,
    Transition,
)
from hookwire.store.sqlite_codec import Q, candidate_of, delivery_of, encode, webhook_of
from hookwire.timeutil import iso, utcnow


def execute(conn: sqlite3.Connection, name: str, params: Mapping[str, Any]) -> None:
    conn.execute(Q[name].text, params)


def statements(sql: str) -> list[str]:
    """Split a migration file into complete statements."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]


def migrate(conn: sqlite3.Connection, applied: Callable[[str], None] | None = None) -> list[str]:
    conn.execute("BEGIN IMMEDIATE")  # serialises racing processes on the same file
    try:
        conn.execute(schema.TABLE_SQL)
        before = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
        done = []
        for migration in schema.pending("sqlite", before):
            for statement in statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, iso(utcnow())),
            )
            done.append(migration.name)
            if applied is not None:
                applied(migration.name)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return done


def publish_in(conn: sqlite3.Connection, event: Event, fan_out: FanOut) -> list[Delivery]:
    """Insert ``event`` and the deliveries ``fan_out`` makes of its candidate webhooks."""
    scope = {"tenant_id": event.tenant_id, "app_id": event.app_id}
    params = {**scope, "connector_id": event.connector_id, "type": event.type}
    candidates = conn.execute(Q["fanout_webhooks"].text, params).fetchall()
    deliveries = fan_out([candidate_of(row) for row in candidates])
    execute(conn, "insert_event", encode(rows.EVENTS, rows.event_to_row(event)))
    conn.executemany(
        Q["insert_delivery"].text,
        [encode(rows.DELIVERIES, rows.delivery_to_row(d)) for d in deliveries],
    )
    return deliveries


def publish(event: Event, fan_out: FanOut, claim: Claim | None) -> Callable[..., Published]:
    def run(conn: sqlite3.Connection) -> Published:
        if claim is not None:
            params = {**rows.claim_params(claim), "expired_before": claim.created_at - CLAIM_TTL}
            if not conn.execute(Q["claim_key"].text, encode(rows.CLAIMS, params)).fetchall():
                return Published(taken=True)
        return Published(deliveries=publish_in(conn, event, fan_out))

    return run


def receive(
    message: InboundMessage, event: Event | None, fan_out: FanOut
) -> Callable[[sqlite3.Connection], Received]:
    def run(conn: sqlite3.Connection) -> Received:
        row = encode(rows.INBOUND_MESSAGES, rows.inbound_to_row(message))
        if not conn.execute(Q["insert_inbound_message"].text, row).fetchall():
            key = {"webhook_id": message.webhook_id, "dedupe_key": message.dedupe_key}
            earlier = conn.execute(Q["inbound_duplicate"].text, key).fetchone()
            return Received(earlier[0] if earlier else None, duplicate=True)
        deliveries = publish_in(conn, event, fan_out) if event is not None else []
        return Received(message.id, deliveries=len(deliveries))

    return run


def update_webhook(
    webhook: Webhook, expected_version: int, transition: Transition
) -> Callable[[sqlite3.Connection], Webhook | None]:
    def run(conn: sqlite3.Connection) -> Webhook | None:
        params = rows.update_params(webhook, expected_version, transition.pause)
        before = conn.execute(Q["webhook_state"].text, {"id": webhook.id}).fetchone()
        found = conn.execute(Q["update_webhook"].text, encode(rows.WEBHOOKS, params)).fetchall()
        if not found:
            return None
        stored = webhook_of(found[0])
        reconcile(conn, stored, webhook.updated_at, before)
        if transition.announce is not None:
            publish_in(conn, transition.announce.event, transition.announce.fan_out)
        return stored

    return run


def reconcile(
    conn: sqlite3.Connection,
    webhook: Webhook,
    now: datetime,
    before: Mapping[str, Any] | None = None,
) -> None:
    """Bring the webhook's waiting deliveries in line with its state, in this transaction,
    unless its state ``before`` this write called for the same."""
    statement = rows.reconcile(webhook, before)
    if statement is not None:
        execute(conn, statement, {"webhook_id": webhook.id, "now": iso(now)})


def lease_due(now: datetime, limit: int) -> Callable[[sqlite3.Connection], list[Job]]:
    """Lease what is due, each delivery's webhook read as it is now: a stopped webhook's
    delivery is held or cancelled instead (``domain.delivery.waiting``), never sent."""

    def run(conn: sqlite3.Connection) -> list[Job]:
        due = conn.execute(Q["due_deliveries"].text, {"now": iso(now), "limit": limit}).fetchall()
        deliveries = [delivery_of(row) for row in due][:limit]
        if not deliveries:
            return []
        ids = orjson.dumps(sorted({d.webhook_id for d in deliveries})).decode()
        hooks = {
            w.id: w for w in map(webhook_of, conn.execute(Q["webhooks_by_id"].text, {"ids": ids}))
        }
        jobs, stopped = [], []
        for delivery in deliveries:
            webhook = hooks[delivery.webhook_id]
            state = waiting(webhook)
            if state != "pending":
                stopped.append({"id": delivery.id, "status": state, "now": iso(now)})
                continue
            lease = now + timedelta(milliseconds=webhook.retry_policy.timeout_ms) + LEASE_MARGIN
            leased = dataclasses.replace(delivery, status="in_flight", lease_expires_at=lease)
            jobs.append(Job(leased, webhook))
        conn.executemany(
            Q["lease_delivery"].text,
            [{"id": j.delivery.id, "lease": iso(j.delivery.lease_expires_at), "now": iso(now)}
             for j in jobs],
        )  # fmt: skip
        conn.executemany(Q["stop_delivery"].text, stopped)
        return jobs

    return run


def settle(
    conn: sqlite3.Connection, settlements: Sequence[Settlement], announce: Announcer, now: datetime
) -> None:
    attempts = [encode(rows.ATTEMPTS, rows.attempt_to_row(s.attempt)) for s in settlements]
    conn.executemany(Q["insert_attempt"].text, attempts)
    for group in rows.by_webhook(settlements).values():
        counted, note = rows.tally_params(group)
        noted = conn.execute(Q["note_attempts"].text, encode(rows.Table(), note)).fetchall()
        if not noted:
            continue
        webhook = webhook_of(noted[0])
        reason = pause_reason(webhook, counted)
        if reason is not None:
            pause = {"id": webhook.id, "at": iso(now)}
            paused = conn.execute(Q["auto_pause"].text, pause).fetchall()
            if paused:
                webhook = webhook_of(paused[0])
                reconcile(conn, webhook, now)
                announcement = announce(webhook, reason, now)
                publish_in(conn, announcement.event, announcement.fan_out)
        params = [encode(rows.Table(), p) for p in rows.settle_params(group, webhook, now)]
        conn.executemany(Q["settle_delivery"].text, params)
