"""Flow control (docs/flow-control.md) checked on what a generated run did: FIFO, the cap and
the rate limit at the receivers, and nothing dropped.

A webhook's flow settings are known from its creation and the FLOW transitions of the log. A
*stretch* is a time over which one setting kept one value: from the answer of what set it
(the create, or a PATCH) to the sending of the PATCH that changed it. A stretch that began
with a PATCH is checked from GRACE_S + KILL_LAG_S after its answer: a request claimed before
the PATCH committed may start up to GRACE_S later and be logged up to KILL_LAG_S after that,
and such a request was sent under the old value. A PATCH whose answer is not a 200 ends what
is known of the fields it named.

A receiver logs when a request arrived and when it was answered; both happen while the
request is in flight for hookwire (leased: it takes the delivery before it sends and records
the result after the answer), so two logged requests that overlap were two leases at once.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from hookwire.domain.flow import PERIOD_S, SLOTS
from tests.interleavings.scene import (
    FLOW,
    GRACE_S,
    KILL_LAG_S,
    Arrival,
    Hook,
    Json,
    Published,
    Transition,
    matches,
    stamp,
)

if TYPE_CHECKING:
    from tests.interleavings.rules import Facts

SETTLE_S: Final = GRACE_S + KILL_LAG_S
RATE_PERIODS: Final = 6  # a rate limit is checked over windows of this many periods
DEFAULTS: Final[dict[str, Any]] = {"rate_limit": None, "max_in_flight": None, "ordering": "none"}
SUBSCRIBING: Final = frozenset({"disable", "enable", "delete", "event_types", "connector"})


@dataclass(frozen=True)
class Stretch:
    start: float
    end: float
    value: Any
    created: bool  # the value the webhook was created with

    @property
    def checked_from(self) -> float:
        return self.start if self.created else self.start + SETTLE_S

    def holds(self, moment: float) -> bool:
        return self.checked_from < moment < self.end


def by_key(transitions: list[Transition]) -> dict[str, list[Transition]]:
    logs: dict[str, list[Transition]] = defaultdict(list)
    for made in sorted(transitions, key=lambda t: t.sent_at):
        logs[made.key].append(made)
    return logs


def stretches(hook: Hook, log: list[Transition], name: str) -> list[Stretch]:
    """The stretches of the flow setting ``name`` of ``hook``, in time order."""
    created = next((t for t in log if t.op == "create" and t.done), None)
    if created is None:
        return []
    value, start, initial = hook.flow.get(name, DEFAULTS[name]), created.answered_at, True
    found = []
    for made in log:
        changes = orjson.loads(made.detail) if made.op == FLOW else {}
        if name not in changes or (made.done and changes[name] == value):
            continue
        found.append(Stretch(start, made.sent_at, value, initial))
        if not made.done:
            return found
        value, start, initial = changes[name], made.answered_at, False
    found.append(Stretch(start, math.inf, value, initial))
    return found


@dataclass
class Flows:
    """The run's facts as the flow checks read them."""

    facts: Facts
    logs: dict[str, list[Transition]]
    arrivals: dict[str, list[Arrival]]  # by webhook key, in order of arrival
    events: dict[str, Json]  # by id
    published: dict[str, Published]  # by event id: what this run published itself

    @classmethod
    def of(cls, facts: Facts) -> Flows:
        arrivals: dict[str, list[Arrival]] = defaultdict(list)
        for arrival in sorted(facts.scene.sink.arrivals, key=lambda a: a.at):
            arrivals[arrival.key].append(arrival)
        events = {e["id"]: e for e in facts.outcome.events}
        published = {p.event_id: p for p in facts.published if p.event_id}
        return cls(facts, by_key(facts.scene.log.transitions), arrivals, events, published)

    def at(self, moment: float) -> str:
        return self.facts.scene.at(moment)

    def order(self, event_id: str) -> tuple[float, str]:
        """Publish order: the event's ``created_at``, then its id."""
        return stamp(self.events[event_id]["created_at"]), event_id

    def lanes(self, hook: Hook, stretch: Stretch) -> dict[str | None, list[Arrival]]:
        """The hook's requests that arrived before the stretch ended, by ordering key."""
        lanes: dict[str | None, list[Arrival]] = defaultdict(list)
        for arrival in self.arrivals.get(hook.key, []):
            event = self.events.get(arrival.event_id)
            if event is not None and arrival.at < stretch.end:
                lanes[event["ordering_key"]].append(arrival)
        return lanes


# --- FIFO ----------------------------------------------------------------------------------------


def fifo(flows: Flows) -> tuple[list[str], list[str], int]:
    """While a webhook is FIFO: no request of a key arrives while another of that key is in
    flight, and no event arrives after a later one of its key arrived (both in the stretch),
    unless their publishes overlapped (docs/flow-control.md: only a publish sent after the
    other was answered is surely later). Events hookwire published itself (announcements) are
    left out of the order. The overlaps, the disorders, and how many requests were checked."""
    overlaps: list[str] = []
    disorders: list[str] = []
    checked = 0
    for hook in flows.facts.scene.hooks:
        for stretch in stretches(hook, flows.logs.get(hook.key, []), "ordering"):
            if stretch.value != "fifo":
                continue
            for key, lane in flows.lanes(hook, stretch).items():
                inside = [a for a in lane if stretch.holds(a.at)]
                checked += len(inside)
                overlaps += lane_overlaps(flows, hook, key, lane, stretch)
                disorders += lane_disorders(flows, hook, key, inside)
    return overlaps, disorders, checked


def lane_overlaps(
    flows: Flows, hook: Hook, key: str | None, lane: list[Arrival], stretch: Stretch
) -> list[str]:
    found = []
    longest: Arrival | None = None  # of the requests so far, the one answered last
    for arrival in lane:
        if longest is not None and longest.ended > arrival.at and stretch.holds(arrival.at):
            found.append(f"{hook.key} key {key}: event {arrival.event_id} arrived "
                         f"{flows.at(arrival.at)} while event {longest.event_id} was in flight "
                         f"({flows.at(longest.at)} to {flows.at(longest.ended)})")  # fmt: skip
        if longest is None or arrival.ended > longest.ended:
            longest = arrival
    return found


def lane_disorders(flows: Flows, hook: Hook, key: str | None, inside: list[Arrival]) -> list[str]:
    found = []
    seen: dict[str, tuple[float, str]] = {}  # the run's own events that arrived so far
    for arrival in inside:
        mine = flows.published.get(arrival.event_id)
        if mine is None:
            continue
        order = flows.order(arrival.event_id)
        later = [e for e, o in seen.items()
                 if o > order and mine.answered_at < flows.published[e].sent_at]  # fmt: skip
        if later:
            first = min(later, key=seen.__getitem__)
            found.append(f"{hook.key} key {key}: event {arrival.event_id} (published "
                         f"{flows.at(mine.sent_at)}-{flows.at(mine.answered_at)}) arrived "
                         f"{flows.at(arrival.at)}, after the later event {first} (published "
                         f"{flows.at(flows.published[first].sent_at)}) had arrived")  # fmt: skip
        seen[arrival.event_id] = order
    return found


# --- the cap and the rate limit --------------------------------------------------------------


def capped(flows: Flows) -> tuple[list[str], dict[str, str]]:
    """While a webhook's cap is ``m``: at no arrival were more than ``m`` of its requests in
    flight. The violations, and the most in flight per capped webhook ("2/2")."""
    found: list[str] = []
    most: dict[str, str] = {}
    for hook in flows.facts.scene.hooks:
        for stretch in stretches(hook, flows.logs.get(hook.key, []), "max_in_flight"):
            if stretch.value is None:
                continue
            peak = 0
            ends: list[float] = []  # the answers of the requests in flight
            for arrival in flows.arrivals.get(hook.key, []):
                if arrival.at >= stretch.end:
                    break
                while ends and ends[0] <= arrival.at:
                    heapq.heappop(ends)
                heapq.heappush(ends, arrival.ended)
                if stretch.holds(arrival.at):
                    peak = max(peak, len(ends))
                    if len(ends) > stretch.value:
                        found.append(f"{hook.key}: {len(ends)} requests in flight at "
                                     f"{flows.at(arrival.at)} (event {arrival.event_id}), "
                                     f"cap {stretch.value} since "
                                     f"{flows.at(stretch.start)}")  # fmt: skip
            label = f"{hook.key}@{flows.at(stretch.start)}"
            most[label] = f"{peak}/{stretch.value}"
    return found, most


def allowed(limit: int, period: float, width: float) -> int:
    """The most arrivals a rate limit of ``limit`` per ``period`` lets into ``width`` seconds.
    No window of a period and a slot holds more than ``limit`` leases (docs/flow-control.md);
    a request starts up to GRACE_S after its lease and is logged up to KILL_LAG_S after that,
    so arrivals within ``width`` were leased within ``width + SETTLE_S``."""
    return limit * math.ceil((width + SETTLE_S) / (period * (1 + 1 / SLOTS)))


def rated(flows: Flows) -> tuple[list[str], dict[str, str]]:
    """While a webhook's rate limit is ``max`` per period, no window of RATE_PERIODS periods
    (or the whole stretch, when shorter) holds more arrivals than :func:`allowed` (retries
    count). An hourly limit is so checked exactly (``max`` in all: the run is shorter than
    an hour); a limit per second within about a third, which catches a limit not kept, not
    one exceeded by a little (on 2 busy cores requests lag their leases by more than the slot
    the guarantee on starts assumes). The violations, and the most arrivals found in a window
    per rate-limited webhook and stretch, against what was allowed ("96/160 in 6.0 s")."""
    found: list[str] = []
    most: dict[str, str] = {}
    for hook in flows.facts.scene.hooks:
        for stretch in stretches(hook, flows.logs.get(hook.key, []), "rate_limit"):
            if stretch.value is None:
                continue
            limit, per = stretch.value["max"], stretch.value["per"]
            starts = [a.at for a in flows.arrivals.get(hook.key, []) if stretch.holds(a.at)]
            span = starts[-1] - starts[0] if starts else 0.0
            width = min(RATE_PERIODS * PERIOD_S[per], span)
            peak, first = 0, 0
            for last, moment in enumerate(starts):
                while moment - starts[first] > width:
                    first += 1
                peak = max(peak, last - first + 1)
            bound = allowed(limit, PERIOD_S[per], width)
            if peak > bound:
                found.append(f"{hook.key}: {peak} arrivals within {width:.2f} s, rate limit "
                             f"{limit}/{per} since {flows.at(stretch.start)} (at most "
                             f"{bound})")  # fmt: skip
            most[f"{hook.key}@{flows.at(stretch.start)}"] = f"{peak}/{bound} in {width:.1f} s"
    return found, most


# --- nothing dropped ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscribed:
    """What decides whether a publish makes a delivery for a webhook, known from ``start`` (an
    answer) to ``end`` (the sending of the next change)."""

    start: float
    end: float
    enabled: bool
    deleted: bool
    event_types: tuple[str, ...]
    connector_id: str | None

    def receives(self, event: Json) -> bool:
        return (self.enabled and not self.deleted and matches(self.event_types, event["type"])
                and self.connector_id in (None, event["connector_id"]))  # fmt: skip


def subscriptions(hook: Hook, log: list[Transition]) -> list[Subscribed]:
    created = next((t for t in log if t.op == "create" and t.done), None)
    if created is None:
        return []
    state: Json = {"enabled": True, "deleted": False, "event_types": tuple(hook.event_types),
                   "connector_id": None}  # fmt: skip
    start, found = created.answered_at, []
    for made in log:
        if made.op not in SUBSCRIBING:
            continue
        found.append(Subscribed(start, made.sent_at, **state))
        if not made.done:
            return found
        if made.op == "delete":
            state["deleted"] = True
        else:
            changes = orjson.loads(made.detail)
            state |= {k: tuple(v) if k == "event_types" else v for k, v in changes.items()}
        start = made.answered_at
    found.append(Subscribed(start, math.inf, **state))
    return found


def dropped(flows: Flows) -> list[str]:
    """Every event this run published while a webhook surely took it (created, enabled, not
    deleted, subscribed to its type and connector, nothing changing those while the publish
    was under way) has a delivery for that webhook."""
    found = []
    for hook in flows.facts.scene.hooks:
        spans = subscriptions(hook, flows.logs.get(hook.key, []))
        for made in flows.published.values():
            event = flows.events.get(made.event_id)
            span = next((s for s in spans if s.start < made.sent_at and made.answered_at < s.end),
                        None)  # fmt: skip
            surely = event is not None and span is not None and span.receives(event)
            if surely and not flows.facts.delivery(hook.key, made.event_id):
                found.append(f"{hook.key}: {made.via} of {made.type} {made.event_id} sent "
                             f"{flows.at(made.sent_at)}, answered {flows.at(made.answered_at)}, "
                             f"made no delivery")  # fmt: skip
    return found
