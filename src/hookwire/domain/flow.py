"""Flow control of an outbound webhook: a rate limit, a cap on requests in flight, and FIFO
order per ordering key (docs/flow-control.md). Pure: the settings, their JSON, and the
decisions a claim makes about one webhook's gate from what the store read.

A webhook with any of the three is *gated*: its deliveries are claimed through its gate row,
one claimer at a time, never by the unlimited claim. The gate remembers when the webhook has
work (``work_at``), when its limits let it send again (``open_at``, and which limit closed it),
and the rate limit's recent starts (:class:`Window`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from hookwire.errors import ValidationFailed

Per = Literal["second", "minute", "hour"]
Ordering = Literal["none", "fifo"]
ClosedBy = Literal["rate_limit", "max_in_flight"]

PERIOD_S: Final[dict[str, int]] = {"second": 1, "minute": 60, "hour": 3600}
SLOTS: Final = 60
"""A rate limit's period is counted in this many slots. A start is allowed when the starts of
the last ``SLOTS + 2`` slots (its own included) stay within ``max``, so any window of the
period's length holds at most ``max`` starts, even a start that leaves up to one slot after
its lease; and at most :attr:`RateLimit.burst` start in one slot, so that they do leave
within it. The price: a webhook kept busy gets at least SLOTS / (SLOTS + 2) (97 %) of its
limit."""
SPAN: Final = SLOTS + 2
BURST_SPACING_US: Final = 2000  # a slot lets one start per this long (RateLimit.burst)
NEVER: Final = datetime(9999, 1, 1, tzinfo=UTC)
"""A gate's time for "not until something changes": no work, or no way to open by itself."""
MAX_RATE: Final = 100_000
MAX_IN_FLIGHT: Final = 1000
MAX_KEY_LENGTH: Final = 255

SCHEMAS: Final[dict[str, Any]] = {
    "rate_limit": {
        "type": ["object", "null"],
        "additionalProperties": False,
        "required": ["max", "per"],
        "properties": {
            "max": {"type": "integer", "minimum": 1, "maximum": MAX_RATE},
            "per": {"enum": list(PERIOD_S)},
        },
    },
    "max_in_flight": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_IN_FLIGHT},
    "ordering": {"enum": ["none", "fifo"]},
}
"""The JSON Schemas of the three webhook fields."""
ORDERING_KEY_SCHEMA: Final[dict[str, Any]] = {
    "type": ["string", "null"],
    "minLength": 1,
    "maxLength": MAX_KEY_LENGTH,
}


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``max`` requests start in any window of one ``per``."""

    max: int
    per: Per

    @property
    def burst(self) -> int:
        """The most starts in one slot: twice an even share of the period, or one per 2 ms of
        the slot, whichever is more. A burst of ``max`` taken at once could leave a worker
        sending for longer than a slot (17 ms for ``per: second``), and its last requests would
        start in the next window; a worker starts one request in well under 2 ms."""
        return max(2 * -(-self.max // SLOTS), self.slot_us // BURST_SPACING_US)

    @property
    def slot_us(self) -> int:
        return PERIOD_S[self.per] * 1_000_000 // SLOTS

    def slot_of(self, moment: datetime) -> int:
        """The slot ``moment`` falls in (slots are numbered from the Unix epoch)."""
        return _micros(moment) // self.slot_us

    def slot_start(self, slot: int) -> datetime:
        return datetime.fromtimestamp(0, UTC) + timedelta(microseconds=slot * self.slot_us)

    def to_json(self) -> dict[str, Any]:
        return {"max": self.max, "per": self.per}

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> RateLimit | None:
        return None if value is None else cls(int(value["max"]), value["per"])


def read_rate(text: str) -> dict[str, Any]:
    """``N/per`` (the CLI's spelling, ``10/second``) as a ``rate_limit`` value; its schema
    checks the numbers."""
    count, _, per = text.partition("/")
    if not count.strip().isdigit() or per.strip() not in PERIOD_S:
        raise ValidationFailed.at("/rate_limit", "write it as N/second, N/minute or N/hour")
    return {"max": int(count), "per": per.strip()}


def describe(rate_limit: RateLimit | None, max_in_flight: int | None, ordering: str) -> str:
    """A webhook's flow control in a few words (the dashboard): ``10/minute · 3 at once ·
    FIFO``, or ``""`` without any."""
    parts = []
    if rate_limit is not None:
        parts.append(f"{rate_limit.max}/{rate_limit.per}")
    if max_in_flight is not None:
        parts.append(f"{max_in_flight} at once")
    if ordering == "fifo":
        parts.append("FIFO per ordering key")
    return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class Backlog:
    """What one webhook's unfinished deliveries wait for, now (the dashboard)."""

    due: int = 0  # pending and due: they go as soon as a worker and the limits let them
    ordering: int = 0  # pending behind an earlier delivery of their ordering key
    scheduled: int = 0  # pending, a retry later
    in_flight: int = 0
    closed_by: ClosedBy | None = None  # the limit that holds the due ones back, if any
    open_at: datetime | None = None  # until when


def _micros(moment: datetime) -> int:
    delta = moment - datetime.fromtimestamp(0, UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True, slots=True)
class Window:
    """A rate limit's recent starts: ``counts[i]`` started in slot ``first + i``. Only the
    last ``SPAN`` slots are kept. Stored on the gate as the JSON array
    ``[slot_us, first, *counts]``: counts of another slot length (the limit's ``per``
    changed) are not this limit's, and the window starts afresh."""

    first: int = 0
    counts: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, value: Sequence[int] | None, limit: RateLimit | None) -> Window:
        if not value or limit is None or int(value[0]) != limit.slot_us:
            return cls()
        return cls(int(value[1]), tuple(int(c) for c in value[2:]))

    def to_json(self, limit: RateLimit | None) -> list[int]:
        if limit is None or not self.counts:
            return []
        return [limit.slot_us, self.first, *self.counts]

    def used(self, slot: int) -> int:
        """Starts counted against a start in ``slot``: those of the last SPAN slots."""
        low = slot - SPAN + 1
        return sum(c for i, c in enumerate(self.counts) if low <= self.first + i <= slot)

    def slot(self, limit: RateLimit, now: datetime) -> int:
        """The slot a start at ``now`` counts in: never before the latest one counted, so a
        worker whose clock is behind another's cannot slip starts in below the window."""
        latest = self.first + len(self.counts) - 1 if self.counts else limit.slot_of(now)
        return max(limit.slot_of(now), latest)

    def count(self, slot: int) -> int:
        """Starts counted in ``slot``."""
        index = slot - self.first
        return self.counts[index] if 0 <= index < len(self.counts) else 0

    def room(self, limit: RateLimit, now: datetime) -> int:
        slot = self.slot(limit, now)
        return max(0, min(limit.max - self.used(slot), limit.burst - self.count(slot)))

    def record(self, slot: int, started: int) -> Window:
        """The window after ``started`` more starts in ``slot`` (older slots dropped)."""
        low = slot - SPAN + 1
        kept = {self.first + i: c for i, c in enumerate(self.counts) if self.first + i >= low}
        kept[slot] = kept.get(slot, 0) + started
        first = min(kept)
        return Window(first, tuple(kept.get(s, 0) for s in range(first, max(kept) + 1)))

    def opens_at(self, limit: RateLimit, now: datetime) -> datetime:
        """The first moment from ``now`` on when one more start is allowed."""
        slot = self.slot(limit, now)
        while self.used(slot) >= limit.max or self.count(slot) >= limit.burst:  # ≤ SPAN steps
            slot += 1
        return max(now, limit.slot_start(slot))


@dataclass(frozen=True, slots=True)
class Gate:
    """What a claim reads about one gated webhook, under the gate's lock."""

    webhook_id: str
    rate_limit: RateLimit | None
    max_in_flight: int | None
    window: Window
    work_at: datetime
    in_flight: int = 0  # leased, lease not over
    lease_ends_at: datetime | None = None  # the earliest end of those leases
    next_due_at: datetime | None = None  # the earliest due time after now of its deliveries

    def room(self, now: datetime, budget: int) -> int:
        """How many deliveries it may start now, at most ``budget``."""
        room = budget
        if self.rate_limit is not None:
            room = min(room, self.window.room(self.rate_limit, now))
        if self.max_in_flight is not None:
            room = min(room, self.max_in_flight - self.in_flight)
        return max(0, room)


@dataclass(frozen=True, slots=True)
class GateState:
    """What a claim writes back to a gate."""

    webhook_id: str
    work_at: datetime
    open_at: datetime
    closed_by: ClosedBy | None
    window: Window

    def to_row(self, limit: RateLimit | None) -> dict[str, Any]:
        return {"webhook_id": self.webhook_id, "work_at": self.work_at, "open_at": self.open_at,
                "closed_by": self.closed_by, "rate_slots": self.window.to_json(limit)}  # fmt: skip


def after_claim(gate: Gate, started: Sequence[datetime], now: datetime, *, more: bool) -> GateState:
    """The gate after a claim started deliveries whose leases end at ``started``; ``more``:
    whether it had more deliveries it could have sent now.

    Closed by the cap when it is full (until the earliest lease ends, or a settle opens it
    sooner), else by the rate limit when it has no room left (until its window moves on), else
    open from ``now``: a webhook just served queues behind those that waited longer."""
    window = gate.window
    if gate.rate_limit is not None and started:
        window = window.record(window.slot(gate.rate_limit, now), len(started))
    ends = [t for t in (gate.lease_ends_at, *started) if t is not None]
    work_at = gate.work_at if more else min([gate.next_due_at or NEVER, *ends])
    in_flight = gate.in_flight + len(started)
    if gate.max_in_flight is not None and in_flight >= gate.max_in_flight:
        return GateState(gate.webhook_id, work_at, min(ends, default=now), "max_in_flight", window)
    limit = gate.rate_limit
    if limit is not None and window.room(limit, now) == 0:
        opens = window.opens_at(limit, now)
        return GateState(gate.webhook_id, work_at, opens, "rate_limit", window)
    return GateState(gate.webhook_id, work_at, now, None, window)


def idle(gate: Gate, now: datetime) -> GateState:
    """A gate whose webhook does not run (paused, disabled, deleted): nothing until a
    transition wakes it."""
    return GateState(gate.webhook_id, NEVER, now, None, gate.window)
