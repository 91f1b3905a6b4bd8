"""Flow control in the store: the claim through gates, and the gates' upkeep (docs/flow-control.md).

A gated webhook's deliveries are left out of the unlimited claim; they are claimed here, one
claimer per gate at a time: the claim locks the gates that may send (``SKIP LOCKED``), reads
their leases with a snapshot taken after the lock, leases what their limits allow
(:mod:`hookwire.domain.flow` decides), and writes each gate back: when it has work, when its
limits open, and the rate limit's recent starts. Whatever changes a gated webhook's deliveries
otherwise (a publish, a settle, a lease given back, a resume) wakes its gate in the same
transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from hookwire.domain.delivery import LEASE_MARGIN, Delivery, waiting
from hookwire.domain.flow import NEVER, Gate, GateState, Window, after_claim, idle
from hookwire.domain.webhook import Webhook
from hookwire.store import rows
from hookwire.store.base import Job
from hookwire.store.steps import Flow, Row, execute, execute_many, fetch, fetch_many

SWEEP_EVERY: Final = 30.0
"""Seconds between a process's sweeps of the gates (``sweep_gates``): the backstop that wakes
a gate asleep with a delivery due, had a wake been lost to a crash."""


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a claim through the gates leased, and the gates it left asleep with nothing in
    flight, which only a publish wakes (one that ran meanwhile may have found them busy: see
    :func:`recheck`). A gate with requests in flight is woken by their settle."""

    jobs: list[Job] = field(default_factory=list)
    drained: list[Webhook] = field(default_factory=list)


def claim(now: datetime, budget: int) -> Flow[Claimed]:
    """Lease up to ``budget`` deliveries of gated webhooks, each gate's limits kept."""
    locked = yield from fetch("lock_due_gates", {"now": now, "limit": budget})
    if not locked:
        return Claimed()
    hooks = {row["id"]: rows.webhook_from_row(row) for row in locked}
    per_gate = [{"webhook_id": webhook_id, "now": now} for webhook_id in hooks]
    yield from execute_many("expire_gated_leases", per_gate)
    stats = {row["webhook_id"]: row for row in (yield from fetch_many("gate_stats", per_gate))}
    gates = [_gate(row, stats[row["id"]], hooks[row["id"]]) for row in locked]
    rooms: dict[str, int] = {}
    found: dict[str, list[Delivery]] = {w: [] for w in hooks}
    left = budget
    while left > 0:  # in rounds: a gate's room is what its limits allow, not what it has
        ask = _rooms([g for g in gates if g.webhook_id not in rooms], hooks, now, left)
        if not ask:
            break
        rooms |= ask
        asks = [_ask(hooks[w], room + 1, now) for w, room in ask.items() if room > 0]
        for row in (yield from fetch_many("gate_candidates", asks)):
            found[row["webhook_id"]].append(rows.delivery_from_row(row))
        left = budget - sum(
            min(len(found[w]), room) for w, room in rooms.items() if _runs(hooks[w])
        )
    jobs, stopped, states, drained = [], [], [], []
    for gate in (g for g in gates if g.webhook_id in rooms):
        webhook, room = hooks[gate.webhook_id], rooms[gate.webhook_id]
        due, more = found[gate.webhook_id][:room], len(found[gate.webhook_id]) > room
        if not _runs(webhook):
            stopped += [{"id": d.id, "status": waiting(webhook), "now": now} for d in due]
            states.append(_stopped(gate, now, more=more))
            continue
        leased = [_lease(d, webhook, now) for d in due]
        jobs += [Job(d, webhook) for d in leased]
        ends = [d.lease_expires_at for d in leased if d.lease_expires_at is not None]
        states.append(after_claim(gate, ends, now, more=more or room == 0))
        if states[-1].work_at > now and gate.in_flight + len(leased) == 0:
            drained.append(webhook)  # asleep, and no settle of its own will wake it
    yield from execute_many("lease_delivery", [_lease_params(j.delivery, now) for j in jobs])
    yield from execute_many("stop_delivery", stopped)
    written = [state.to_row(hooks[state.webhook_id].rate_limit) for state in states]
    yield from execute_many("update_gate", written)
    return Claimed(jobs, drained)


def recheck(drained: Sequence[Webhook], now: datetime) -> Flow[bool]:
    """Wake the gates a claim left without work that have some after all; whether any had.

    A publish wakes a gate only when the gate had no work that early, as read when the publish
    ran; a claim that drained the gate at the same moment did not see that publish's
    deliveries. So, after such a claim commits: wait for the publishes under way to these
    webhooks (they hold their rows ``FOR KEY SHARE`` until they commit) and look again. A
    publish that starts later reads the drained gate and wakes it itself."""
    yield from fetch("lock_webhooks", {"ids": sorted(w.id for w in drained)})
    # Due at any time: the publish stamped its delivery by its own clock, maybe after ``now``.
    found = yield from fetch_many("gate_candidates", [_ask(w, 1, NEVER) for w in drained])
    earliest: dict[str, datetime] = {}
    for row in found:
        due = max(row["next_attempt_at"], now)
        earliest[row["webhook_id"]] = min(due, earliest.get(row["webhook_id"], due))
    pokes = [{"webhook_id": w, "at": at} for w, at in sorted(earliest.items())]
    yield from execute_many("poke_gate", pokes)
    return bool(pokes)


def wake(deliveries: Iterable[Delivery]) -> Flow[None]:
    """After a publish: wake the gates of the gated deliveries it made due."""
    due = [d for d in deliveries if d.gated and d.next_attempt_at is not None]
    if due:
        at = min(d.next_attempt_at for d in due if d.next_attempt_at is not None)
        yield from execute("wake_gates", {"ids": sorted({d.webhook_id for d in due}), "at": at})


def refresh(webhook_ids: Iterable[str], now: datetime, *, reorder: bool = False) -> Flow[None]:
    """The webhooks' deliveries changed outside a claim (settled, given back, released,
    re-queued): their gates have work from ``now`` and a full cap may have room. ``reorder``:
    many deliveries became pending at once, so FIFO order is set again from scratch."""
    ids = sorted(set(webhook_ids))
    if reorder:
        yield from execute_many("order_fifo", [{"webhook_id": w, "now": now} for w in ids])
    yield from execute_many("poke_gate", [{"webhook_id": w, "at": now} for w in ids])


def follow(webhook: Webhook, was: Row | None, now: datetime) -> Flow[None]:
    """After a person's write: when its flow control turned on or off, or its ordering changed,
    its gate and its unfinished deliveries follow."""
    was_gated = bool(was["was_gated"]) if was is not None else False
    was_fifo = was is not None and was["was_ordering"] == "fifo"
    if webhook.gated != was_gated:
        params = {"webhook_id": webhook.id, "gated": webhook.gated, "now": now}
        yield from execute("regate_deliveries", params)
        yield from execute("insert_gate" if webhook.gated else "delete_gate", params)
    if webhook.gated:  # its limits may have changed: the next claim decides them afresh
        yield from execute("open_gate", {"webhook_id": webhook.id, "now": now})
    fifo = webhook.ordering == "fifo"
    if fifo and (not was_fifo or not was_gated):
        yield from execute("order_fifo", {"webhook_id": webhook.id, "now": now})
    elif was_fifo and not fifo:
        yield from execute("unorder_fifo", {"webhook_id": webhook.id, "now": now})


def _rooms(
    gates: Sequence[Gate], hooks: Mapping[str, Webhook], now: datetime, budget: int
) -> dict[str, int]:
    """How many deliveries each gate may start now: what its limits allow, the budget taken in
    the gates' order (longest waiting first; a gate just served goes to the back of the line,
    so webhooks take turns). A gate the budget does not reach is left out, unchanged, so it
    keeps its place; a stopped webhook's gate takes none of it (its due deliveries are held,
    not sent). Taking each gate's whole room, rather than sharing the batch out, costs one
    gate's bookkeeping for several deliveries: a fleet of limited webhooks drains faster."""
    rooms, left = {}, budget
    for gate in gates:
        if not _runs(hooks[gate.webhook_id]):
            rooms[gate.webhook_id] = budget
        elif left > 0:
            rooms[gate.webhook_id] = gate.room(now, left)
            left -= rooms[gate.webhook_id]
    return rooms


def _runs(webhook: Webhook) -> bool:
    return waiting(webhook) == "pending"


def _gate(locked: Row, stats: Row, webhook: Webhook) -> Gate:
    return Gate(
        webhook_id=webhook.id,
        rate_limit=webhook.rate_limit,
        max_in_flight=webhook.max_in_flight,
        window=Window.from_json(locked["rate_slots"], webhook.rate_limit),
        work_at=locked["work_at"],
        in_flight=int(stats["in_flight"]),
        lease_ends_at=stats["lease_ends_at"],
        next_due_at=stats["next_due_at"],
    )


def _ask(webhook: Webhook, room: int, now: datetime) -> dict[str, Any]:
    return {"webhook_id": webhook.id, "room": room, "fifo": webhook.ordering == "fifo",
            "now": now}  # fmt: skip


def _stopped(gate: Gate, now: datetime, *, more: bool) -> GateState:
    """A gate whose webhook does not run: its due deliveries were held or cancelled (the
    transition that stopped it did so already, but for a race); asleep until it runs again,
    or until a lease of a worker that died ends (that delivery is then held or cancelled)."""
    state = idle(gate, now)
    if more:
        return dataclasses.replace(state, work_at=gate.work_at)
    if gate.lease_ends_at is not None:
        return dataclasses.replace(state, work_at=gate.lease_ends_at)
    return state


def _lease(delivery: Delivery, webhook: Webhook, now: datetime) -> Delivery:
    lease = now + timedelta(milliseconds=webhook.retry_policy.timeout_ms) + LEASE_MARGIN
    return dataclasses.replace(delivery, status="in_flight", lease_expires_at=lease)


def _lease_params(delivery: Delivery, now: datetime) -> Mapping[str, Any]:
    return {"id": delivery.id, "lease": delivery.lease_expires_at, "now": now}
