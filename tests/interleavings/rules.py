"""The rules of docs/concepts.md ("A webhook's state decides") and of docs/flow-control.md
(``flow``) checked on what a generated run did, and the report of what broke them (with the
seed, counts and examples)."""

from __future__ import annotations

import asyncio
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

import orjson

from tests.interleavings.ending import Outcome, running
from tests.interleavings.flow import Flows, capped, dropped, fifo, rated
from tests.interleavings.scene import (
    DELIVERIES,
    EPSILON_S,
    FLAGS,
    GRACE_S,
    KILL_LAG_S,
    TIMEOUT_MS,
    Arrival,
    Json,
    Published,
    Scene,
    Transition,
    matches,
    stamp,
)

# --- the rules ---------------------------------------------------------------------------------

STOPPED: Final = frozenset({"paused", "disabled", "deleted"})  # nothing new is sent
EXCLUDED: Final = frozenset({"disabled", "deleted"})  # a publish creates no delivery
UNFINISHED: Final = ("pending", "held", "in_flight")


@dataclass(frozen=True)
class Window:
    """A webhook stopped: from the stop's answer to the sending of the request that lifted it
    (``inf``: never lifted, as a delete), with every change of its flags meanwhile."""

    start: float
    end: float
    changes: tuple[tuple[float, str], ...]

    def holds(self, moment: float) -> bool:
        return self.start < moment < self.end

    def story(self, scene: Scene, until: float) -> str:
        """The changes up to ``until``: "pause answered t=3.460s, disable answered ..."."""
        return ", ".join(
            f"{op} {scene.at(moment)}" for moment, op in self.changes if moment < until
        )


def windows(transitions: list[Transition], flags: frozenset[str]) -> dict[str, list[Window]]:
    """Per webhook key, the windows in which any of ``flags`` was set by an answered
    operation (one webhook's operations are serialised, so the log's order is theirs)."""
    logs: dict[str, list[Transition]] = defaultdict(list)
    for made in sorted(transitions, key=lambda t: t.sent_at):
        logs[made.key].append(made)
    return {key: windows_of(log, flags) for key, log in logs.items()}


def windows_of(log: list[Transition], flags: frozenset[str]) -> list[Window]:
    found: list[Window] = []
    on: set[str] = set()
    changes: list[tuple[float, str]] = []
    for made in log:
        flag, value = FLAGS.get(made.op, ("", False))
        if flag not in flags or not made.done:
            continue
        was = bool(on)
        if value:
            on.add(flag)
        else:
            on.discard(flag)
        if on and not was:
            changes = []
        if on or was:
            changes.append((made.answered_at, f"{made.op} answered"))
        if was and not on:
            found.append(Window(changes[0][0], made.sent_at, tuple(changes)))
    if on:
        found.append(Window(changes[0][0], math.inf, tuple(changes)))
    return found


@dataclass
class Facts:
    """The log and the store's answers, indexed for the checks."""

    scene: Scene
    outcome: Outcome
    published: list[Published]  # every accepted publish and inbound message, with event ids
    deliveries: dict[tuple[str, str], Json]  # by (webhook id, event id)
    ids: dict[str, str]  # webhook id by key

    @classmethod
    def of(cls, scene: Scene, outcome: Outcome) -> Facts:
        inbound = {e["data"]["inbound_message_id"]: e["id"] for e in outcome.events
                   if e["type"] == "inbound.received"}  # fmt: skip
        published = list(scene.log.published)
        for message, sent in scene.log.inbound.items():
            published.append(Published(inbound.get(message, ""), sent.type, None, sent.sent_at,
                                       sent.answered_at, message))  # fmt: skip
        by_pair = {(d["webhook_id"], d["event_id"]): d for d in outcome.deliveries}
        return cls(scene, outcome, published, by_pair, {h.key: h.id for h in scene.hooks})

    def delivery(self, key: str, event_id: str) -> Json | None:
        return self.deliveries.get((self.ids.get(key, ""), event_id))

    def excused(self, arrival: Arrival) -> bool:
        """An arrival whose attempt a SIGKILL may have cut short before it was recorded: it
        started at most timeoutMs before the victim died (``k``, once it was reaped) and was
        logged at most KILL_LAG_S after."""
        limit = TIMEOUT_MS / 1000 + 1
        return any(-KILL_LAG_S <= k - arrival.at <= limit for k in self.scene.log.kills)


async def check(scene: Scene, outcome: Outcome) -> tuple[dict[str, list[str]], dict[str, object]]:
    """Every rule's violations, by rule; and how close in-flight attempts came to GRACE_S."""
    facts = Facts.of(scene, outcome)
    late, lags = await sent_after_stop(facts)
    violations = {
        "unexpected API answers": scene.log.unexpected,
        "held on a running webhook when the generator stopped": outcome.held_when_stopped,
        "still pending or in flight after the drain": outcome.undrained,
        "held on a running webhook after the drain": held_at_end(facts),
        "sent after a pause, disable or delete had answered": late,
        "delivery made by a publish while disabled or deleted": made_while_excluded(facts),
        "arrival without an attempt recorded": unrecorded(facts),
        "accepted event missing at a control or pause-only webhook": missing(facts),
        "accepted event not readable through the API": unreadable(facts),
        "unfinished delivery of a deleted webhook": left_on_deleted(facts),
    }
    flows = Flows.of(facts)
    overlaps, disorders, in_order = fifo(flows)
    over_cap, caps = capped(flows)
    over_rate, rates = rated(flows)
    violations |= {
        "two requests of one ordering key in flight at once at a FIFO webhook": overlaps,
        "an event arrived after a later one of its key at a FIFO webhook": disorders,
        "more requests in flight than the webhook's cap": over_cap,
        "more arrivals than the webhook's rate limit allows": over_rate,
        "accepted event without a delivery at a webhook that surely took it": dropped(flows),
    }
    within = [lag for lag in lags if lag[0] <= GRACE_S]
    latest = max(within, default=(0.0, "none"))
    notes: dict[str, object] = {
        "latest start of an attempt let through by GRACE_S": f"{latest[0]:+.3f}s ({latest[1]})",
        "arrivals checked at FIFO webhooks": in_order,
        "most in flight / cap": caps,
        "most arrivals in a window / rate limit": rates,
    }
    return violations, notes


def held_at_end(facts: Facts) -> list[str]:
    live = running(facts.outcome.webhooks)
    return [f"{d['id']} (webhook {d['webhook_id']}, event {d['event_id']})"
            for d in facts.outcome.deliveries
            if d["status"] == "held" and d["webhook_id"] in live]  # fmt: skip


async def sent_after_stop(facts: Facts) -> tuple[list[str], list[tuple[float, str]]]:
    """Each arrival inside a stop window must come from an attempt that started by the stop's
    answer + GRACE_S (an arrival no attempt row accounts for counts from its own time); and
    every such attempt's start after the stop, with what it was."""
    stops = windows(facts.scene.log.transitions, STOPPED)
    suspects = [(a, w) for a in facts.scene.sink.arrivals
                for w in stops.get(a.key, []) if w.holds(a.at)]  # fmt: skip
    starts = await attempt_starts(facts, {a for a, _ in suspects})
    found, lags = [], []
    for arrival, window in suspects:
        start = start_of(facts, arrival, starts)
        if start is None:
            continue
        at = facts.scene.at
        story = (
            f"{arrival.key}: {window.story(facts.scene, arrival.at)}; event "
            f"{arrival.event_id} arrived {at(arrival.at)} from an attempt started "
            f"{at(start)} ({start - window.start:+.3f}s after the stop)"
        )
        lags.append((start - window.start, story))
        if start > window.start + GRACE_S:
            found.append(story)
    return found, lags


async def attempt_starts(facts: Facts, arrivals: set[Arrival]) -> dict[str, list[float]]:
    """``started_at`` of every attempt of the deliveries of ``arrivals``, by delivery id."""
    ids = {d["id"] for a in arrivals if (d := facts.delivery(a.key, a.event_id))}
    limit = asyncio.Semaphore(8)

    async def one(delivery_id: str) -> tuple[str, list[float]]:
        async with limit:
            answer = await facts.scene.clients[0].get(f"{DELIVERIES}/{delivery_id}")
        assert answer.status_code == 200, answer.text
        return delivery_id, [stamp(a["started_at"]) for a in answer.json()["attempts"]]

    return dict(await asyncio.gather(*(one(i) for i in sorted(ids))))


def start_of(facts: Facts, arrival: Arrival, starts: dict[str, list[float]]) -> float | None:
    """When the attempt that made ``arrival`` started: the latest attempt of its delivery
    that started before it; with none, the arrival's own time, or None when a kill explains
    the missing row."""
    delivery = facts.delivery(arrival.key, arrival.event_id) or {"id": ""}
    before = [s for s in starts.get(delivery["id"], []) if s <= arrival.at + EPSILON_S]
    if before:
        return max(before)
    return None if facts.excused(arrival) else arrival.at


def made_while_excluded(facts: Facts) -> list[str]:
    """A publish sent after a disable or delete answered, and answered before the enable was
    sent, made no delivery for that webhook."""
    found = []
    for key, spans in windows(facts.scene.log.transitions, EXCLUDED).items():
        for made in facts.published:
            window = next((w for w in spans if w.holds(made.sent_at) and w.holds(made.answered_at)),
                          None)  # fmt: skip
            delivery = facts.delivery(key, made.event_id) if window else None
            if window and delivery:
                at = facts.scene.at
                found.append(f"{key}: {window.story(facts.scene, made.sent_at)}; "
                             f"{made.via} sent {at(made.sent_at)} made {delivery['id']} "
                             f"({delivery['status']})")  # fmt: skip
    return found


def unrecorded(facts: Facts) -> list[str]:
    """No more arrivals of a delivery than its attempts (bar those a kill cut short)."""
    arrived = Counter(
        (a.key, a.event_id) for a in facts.scene.sink.arrivals if not facts.excused(a)
    )
    found = []
    for (key, event_id), count in arrived.items():
        delivery = facts.delivery(key, event_id)
        recorded = delivery["attempt_count"] if delivery else 0
        if count > recorded:
            found.append(f"{key}: event {event_id} arrived {count} times, "
                         f"{recorded} attempts recorded")  # fmt: skip
    return found


def missing(facts: Facts) -> list[str]:
    """Every accepted event of a matching type reached every control, pause-only and flow
    webhook with a 2xx answer (their subscriptions never change; a pause, a limit and FIFO only
    hold)."""
    got = {(a.key, a.event_id) for a in facts.scene.sink.arrivals if 200 <= a.status < 300}
    found = []
    for hook in facts.scene.hooks:
        if hook.role == "churn":
            continue
        for made in facts.published:
            if made.event_id and matches(hook.event_types, made.type):
                if (hook.key, made.event_id) not in got:
                    delivery = facts.delivery(hook.key, made.event_id) or {"status": "none"}
                    found.append(f"{hook.key}: {made.type} {made.event_id} ({made.via} at "
                                 f"{facts.scene.at(made.sent_at)}), delivery "
                                 f"{delivery['status']}")  # fmt: skip
    return found


def unreadable(facts: Facts) -> list[str]:
    listed = {e["id"] for e in facts.outcome.events}
    return [f"{made.via} {made.event_id or '(no inbound.received event)'} sent "
            f"{facts.scene.at(made.sent_at)}" for made in facts.published
            if made.event_id not in listed]  # fmt: skip


def left_on_deleted(facts: Facts) -> list[str]:
    deleted = {h["id"] for h in facts.outcome.webhooks if h["is_deleted"]}
    return [f"{d['id']} {d['status']} (webhook {d['webhook_id']}, event {d['event_id']})"
            for d in facts.outcome.deliveries
            if d["status"] in UNFINISHED and d["webhook_id"] in deleted]  # fmt: skip


# --- the report ----------------------------------------------------------------------------------


@dataclass
class Report:
    """Counts and violations, with what it takes to replay the run."""

    title: str
    counts: dict[str, object]
    violations: dict[str, list[str]]

    def summary(self) -> str:
        lines = [self.title, "  " + ", ".join(f"{k}: {v}" for k, v in self.counts.items())]
        lines += [f"  {rule}: {len(found)}" for rule, found in self.violations.items()]
        return "\n".join(lines)

    def message(self, examples: int = 5) -> str:
        lines = [self.title, "  " + ", ".join(f"{k}: {v}" for k, v in self.counts.items())]
        for rule, found in self.violations.items():
            if found:
                lines.append(f"  VIOLATED {rule}: {len(found)}, e.g.")
                lines += [f"      {example}" for example in found[:examples]]
        return "\n".join(lines)

    @property
    def violated(self) -> bool:
        return any(self.violations.values())


def counts(scene: Scene, outcome: Outcome) -> dict[str, object]:
    made = Counter(t.op for t in scene.log.transitions if t.done)
    refused = sum(1 for a in scene.sink.arrivals if not 200 <= a.status < 300)
    statuses = Counter(d["status"] for d in outcome.deliveries)
    stops = windows(scene.log.transitions, STOPPED)
    stopped = sum(any(w.holds(a.at) for w in stops.get(a.key, [])) for a in scene.sink.arrivals)
    return {
        "publishes accepted": len(scene.log.published),
        "inbound accepted": len(scene.log.inbound),
        "transitions": dict(sorted(made.items())),
        "kills": len(scene.log.kills),
        "waiting when the generator stopped": outcome.waiting_when_stopped,
        "arrivals": len(scene.sink.arrivals),
        "of them refused on purpose": refused,
        "of them at a stopped webhook (checked)": stopped,
        "events": len(outcome.events),
        "deliveries": dict(sorted(statuses.items())),
    }


def save(
    path: Path, scene: Scene, violations: dict[str, list[str]], notes: dict[str, object]
) -> None:
    """The whole log, for the failure's post-mortem."""
    record = {
        "seed": scene.seed, "t0": scene.t0, "hooks": [
            {"key": h.key, "id": h.id, "role": h.role, "mode": h.mode, "flow": h.flow,
             "delay": h.delay} for h in scene.hooks
        ],
        "published": [asdict(p) for p in scene.log.published],
        "inbound": [asdict(p) for p in scene.log.inbound.values()],
        "transitions": [asdict(t) for t in scene.log.transitions],
        "kills": scene.log.kills, "arrivals": [asdict(a) for a in scene.sink.arrivals],
        "violations": violations, "notes": notes,
    }  # fmt: skip
    path.write_bytes(orjson.dumps(record, option=orjson.OPT_INDENT_2))
