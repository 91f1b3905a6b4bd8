"""Generated interleavings of concurrent state changes against real hookwire processes, and the
the rules of docs/concepts.md checked on what happened (the harness of
tests/acceptance/test_interleavings.py).

A seeded generator runs, for a bounded time, publishers (spread over the API processes, each
event with an ordering key from a small set, or none), an inbound sender (GitHub-signed
messages fanned out as ``inbound.received``), three transition tasks (pause, resume, delete,
disable, enable, PATCH of ``event_types``, ``connector_id`` and ``url``, creates), a flow task
(PATCH of ``rate_limit``, ``max_in_flight`` and ``ordering``: a cap or FIFO turned on and off
while deliveries wait) and, when asked, a killer of worker processes. Every task draws from
its own ``random.Random(f"{seed}/{task}")`` and sleeps a random while between steps, so the
generator, not the test, chooses the interleavings. The seed replays the generator's choices;
the processes' timing is the machine's. Each webhook starts with flow control chosen by the
seed and its key (``random.Random(f"{seed}/flows/{key}")``, so the webhooks' other choices
are those the seed made before flow control existed).

Two loopback receivers answer every webhook on a path of its own (``/{key}``), so an arrival
names its webhook whichever receiver its URL points at, and record each request: the webhook,
the ``webhook-id`` header (the event id), the wall-clock times it arrived and was answered
(after the webhook's own delay, chosen by the seed, so requests overlap), and the status
answered. Each transition is logged with the wall-clock times its request was sent and its
answer arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Final, Literal

import httpx
import orjson
from aiohttp import web

from tests import receivers
from tests.conftest import WEBHOOKS
from tests.vendors import VENDORS

SEED_ENV: Final = "HOOKWIRE_INTERLEAVINGS_SEED"
SECONDS_ENV: Final = "HOOKWIRE_INTERLEAVINGS_SECONDS"
# An attempt counts as "already under way" when a stop answered at T if it started by T + GRACE:
# a worker claims a batch, then its event loop starts each request a little later (the attempt's
# `started_at` is taken then, not at the claim), and on 2 busy cores that can lag. An arrival
# after T whose attempt started after T + GRACE is a request the worker decided to send after
# the stop had answered: a violation.
GRACE_S: Final = 1.0
# An arrival is logged when the test's event loop reaches its handler; around a kill (a burst
# of sends, a worker spawned) that lags behind the request by up to this.
KILL_LAG_S: Final = 1.0
EPSILON_S: Final = 0.05  # an arrival is matched to an attempt that started at most this later
EVENTS: Final = "/api/v1/events"
DELIVERIES: Final = "/api/v1/deliveries"
TYPES: Final = (
    "integration-created", "integration-deleted", "data-changed", "sync-finished", "webhook_test",
)  # fmt: skip
SUBSCRIPTIONS: Final = (
    (), ("integration-*",), ("data-changed",), ("sync-finished", "webhook_test"),
    ("integration-created", "data-changed"), ("inbound.*",),
)  # fmt: skip
CONNECTORS: Final = (None, None, "c1", "c2")
TIMEOUT_MS: Final = 2000  # a killed worker's leases expire after this + 30 s
STEADY_POLICY: Final = {
    "maxAttempts": 100, "initialDelayMs": 50, "maxDelayMs": 500, "timeoutMs": TIMEOUT_MS,
    "pauseAfterFailures": 100,
}  # fmt: skip
CHURN_POLICY: Final = {
    "maxAttempts": 5, "initialDelayMs": 50, "maxDelayMs": 400, "timeoutMs": TIMEOUT_MS,
    "pauseAfterFailures": 3,
}  # fmt: skip
CHURN_OPS: Final = {
    "pause": 3, "resume": 3, "disable": 2, "enable": 2, "event_types": 2, "connector": 1,
    "url": 2, "delete": 1,
}  # fmt: skip
# Flow control (docs/flow-control.md). Publishes carry one of KEYS as their ordering key (None:
# no key, a key of its own). The limits bind while events are published (about 100 a second
# in all) and let a backlog drain within seconds once the rate limits are lifted at the end: a
# cap of 1 (a request, its settle and the next claim in turn: some 40 a second on 2 busy
# cores) only for a webhook subscribed to some types; an hourly limit lets a few requests
# through and holds the rest until the end.
KEYS: Final = ("k1", "k2", "k3", None)
FLOW: Final = "flow"  # the operation that PATCHes flow control (its detail: the changes)
FLOW_FIELDS: Final = ("rate_limit", "max_in_flight", "ordering")
RATES: Final = ({"max": 20, "per": "second"}, {"max": 60, "per": "second"})
HOURLY: Final = ({"max": 3, "per": "hour"}, {"max": 12, "per": "hour"})
CAPS: Final = (1, 2, 4)
DELAYS: Final = (0.0, 0.0, 0.002, 0.005)  # how long a webhook's receiver takes to answer
# What each operation does to the webhook's stop flags: pause/resume, disable/enable, delete.
FLAGS: Final = {
    "pause": ("paused", True), "resume": ("paused", False), "disable": ("disabled", True),
    "enable": ("disabled", False), "delete": ("deleted", True),
}  # fmt: skip
ANSWERS: Final = {"delete": 204, "create": 201}  # every other operation answers 200
GITHUB: Final = VENDORS["github"]

Role = Literal["control", "pause_only", "flow", "churn"]
Json = dict[str, Any]
Kill = Callable[[random.Random], Awaitable[float]]  # SIGKILL a worker, restart it: when it died


def seed_from_env() -> int:
    """``HOOKWIRE_INTERLEAVINGS_SEED``, or a fresh random seed (printed in every failure)."""
    given = os.environ.get(SEED_ENV, "").strip()
    return int(given) if given else random.SystemRandom().randrange(2**32)


def seconds_from_env(default: float) -> float:
    return float(os.environ.get(SECONDS_ENV, "").strip() or default)


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """docs/api.md: no pattern is every type; ``*`` matches any run of characters."""
    listed = list(patterns)
    return not listed or any(fnmatchcase(event_type, p) for p in listed)


def stamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


# --- what is recorded ------------------------------------------------------------------------


@dataclass
class Hook:
    """One outbound webhook: ``control`` ones are never touched, ``pause_only`` ones are only
    paused and resumed, ``flow`` ones are paused, resumed and get their flow control changed,
    ``churn`` ones get every operation. ``flow`` holds the flow control it was created with
    (changes are in the log), ``delay`` how long its receiver takes to answer."""

    key: str
    role: Role
    event_types: list[str]
    mode: str = "ok"  # how its receiver answers: ok, flaky (500s) or gone (410s and 500s)
    id: str = ""
    deleted: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    flow: Json = field(default_factory=dict)
    delay: float = 0.0

    def create_body(self, base: str) -> Json:
        policy = CHURN_POLICY if self.role == "churn" else STEADY_POLICY
        return {"name": self.key, "url": f"{base}/{self.key}", "event_types": self.event_types,
                "retry_policy": policy, **self.flow}  # fmt: skip


@dataclass(frozen=True)
class Arrival:
    """A request at a receiver: it arrived ``at`` and was answered ``ended`` (wall clock)."""

    key: str
    event_id: str
    at: float
    status: int
    ended: float = 0.0


@dataclass(frozen=True)
class Transition:
    key: str
    webhook_id: str
    op: str
    detail: str
    sent_at: float
    answered_at: float
    status: int

    @property
    def done(self) -> bool:
        return self.status == ANSWERS.get(self.op, 200)


@dataclass(frozen=True)
class Published:
    """An accepted publish (or inbound message, ``via`` inbound) and when it was sent and
    answered; inbound ones get their event's id once the events are read back."""

    event_id: str
    type: str
    connector_id: str | None
    sent_at: float
    answered_at: float
    via: str = "publish"
    ordering_key: str | None = None


@dataclass
class Log:
    published: list[Published] = field(default_factory=list)
    inbound: dict[str, Published] = field(default_factory=dict)  # by inbound message id
    transitions: list[Transition] = field(default_factory=list)
    kills: list[float] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


class Sink:
    """Both receivers' handler: records every arrival and answers, after the webhook's delay,
    as its mode says; ``calm`` makes every webhook answer 200 (for the drain at the end)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"{seed}/sink")
        self.arrivals: list[Arrival] = []
        self.modes: dict[str, str] = {}
        self.delays: dict[str, float] = {}
        self.calm = False

    def status_for(self, key: str) -> int:
        mode = self.modes.get(key, "ok")
        if self.calm or mode == "ok":
            return 200
        roll = self.rng.random()
        if mode == "gone" and roll < 0.05:
            return 410
        return 500 if roll < 0.3 else 200

    def behaviour(self) -> receivers.Behaviour:
        async def answer(request: web.Request) -> web.StreamResponse:
            at = time.time()
            key = request.path.strip("/")
            status = self.status_for(key)
            try:
                await request.read()
                if delay := self.delays.get(key, 0.0):
                    await asyncio.sleep(delay)
            finally:
                event_id = request.headers.get("webhook-id", "")
                self.arrivals.append(Arrival(key, event_id, at, status, time.time()))
            return web.Response(status=status)

        return answer


@dataclass
class Scene:
    clients: list[httpx.AsyncClient]
    bases: list[str]  # the receivers' base URLs
    sink: Sink
    seed: int
    examples: dict[str, Any] = field(default_factory=dict)  # a valid `data` for each type
    hooks: list[Hook] = field(default_factory=list)
    inbound_id: str = ""
    log: Log = field(default_factory=Log)
    t0: float = field(default_factory=time.time)
    serial: Iterator[int] = field(default_factory=itertools.count)  # new webhooks' keys

    def rng(self, task: str) -> random.Random:
        return random.Random(f"{self.seed}/{task}")

    def at(self, moment: float) -> str:
        return f"t={moment - self.t0:.3f}s"

    def unexpected(self, what: str, answer: httpx.Response | Exception) -> None:
        shown = (
            f"{answer.status_code} {answer.text[:200]}"
            if isinstance(answer, httpx.Response)
            else repr(answer)
        )
        self.log.unexpected.append(f"{self.at(time.time())} {what}: {shown}")


# --- setting the scene -----------------------------------------------------------------------

STEADY: Final[tuple[tuple[str, Role, tuple[str, ...]], ...]] = (
    ("ctl-all", "control", ()),
    ("ctl-int", "control", ("integration-*", "inbound.received")),
    ("po-a", "pause_only", ("integration-*", "sync-finished")),
    ("po-b", "pause_only", ("data-changed", "webhook_test", "inbound.*")),
    ("fl-a", "flow", ("integration-created", "data-changed", "inbound.*")),
    ("fl-b", "flow", ("integration-deleted", "sync-finished", "webhook_test")),
)


async def prepare(scene: Scene, churn: int) -> None:
    """The catalog's examples, the steady webhooks, ``churn`` churn ones, an inbound one."""
    client = scene.clients[0]
    for name in TYPES:
        found = await client.get(f"/api/v1/event-types/{name}")
        assert found.status_code == 200, found.text
        scene.examples[name] = found.json()["example"]
    rng = scene.rng("setup")
    for key, role, patterns in STEADY:
        await create(scene, Hook(key, role, list(patterns)), rng)
    for n in range(churn):
        await create(scene, churn_hook(f"ch{n}", rng), rng)
    made = await client.post(WEBHOOKS, json=GITHUB.create_body(name="inbound"))
    assert made.status_code == 201, made.text
    scene.inbound_id = made.json()["id"]
    assert len(scene.hooks) == len(STEADY) + churn, scene.log.unexpected


def churn_hook(key: str, rng: random.Random) -> Hook:
    mode = rng.choices(("ok", "flaky", "gone"), (6, 3, 1))[0]
    return Hook(key, "churn", list(rng.choice(SUBSCRIPTIONS)), mode)


def caps(hook: Hook) -> tuple[int, ...]:
    """The caps a webhook may get: 1 only when it is not subscribed to every type."""
    return CAPS if hook.event_types else CAPS[1:]


def initial_flow(hook: Hook, rng: random.Random) -> Json:
    """The flow control a webhook is created with: any of a rate limit (on a churn webhook
    sometimes an hourly one), a cap and FIFO, or none."""
    flow: Json = {}
    if rng.random() < 0.3:
        hourly = hook.role == "churn" and rng.random() < 0.4
        flow["rate_limit"] = rng.choice(HOURLY if hourly else RATES)
    if rng.random() < 0.35:
        flow["max_in_flight"] = rng.choice(caps(hook))
    if rng.random() < 0.4:
        flow["ordering"] = "fifo"
    return flow


def flow_changes(hook: Hook, rng: random.Random) -> Json:
    """A PATCH of one or two of the flow fields (a limit set, changed or lifted; FIFO turned on
    or off)."""
    changes: Json = {}
    for name in rng.sample(FLOW_FIELDS, rng.choice((1, 1, 2))):
        if name == "rate_limit":
            changes[name] = rng.choice((None, None, *RATES))
        elif name == "max_in_flight":
            changes[name] = rng.choice((None, None, *caps(hook)))
        else:
            changes[name] = rng.choice(("none", "fifo"))
    return changes


async def create(scene: Scene, hook: Hook, rng: random.Random) -> None:
    flows = scene.rng(f"flows/{hook.key}")
    hook.flow, hook.delay = initial_flow(hook, flows), flows.choice(DELAYS)
    scene.sink.modes[hook.key] = hook.mode
    scene.sink.delays[hook.key] = hook.delay
    body = hook.create_body(rng.choice(scene.bases))
    answer, sent, done = await timed(rng.choice(scene.clients), "POST", WEBHOOKS, json=body)
    if answer.status_code == 201:
        hook.id = answer.json()["id"]
        scene.hooks.append(hook)
    else:
        scene.unexpected(f"create {hook.key}", answer)
    scene.log.transitions.append(
        Transition(hook.key, hook.id, "create", ",".join(hook.event_types), sent, done,
                   answer.status_code)
    )  # fmt: skip


async def timed(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response, float, float]:
    """The answer, when the request was sent and when its answer arrived (wall clock)."""
    sent = time.time()
    answer = await client.request(method, url, **kwargs)
    return answer, sent, time.time()


# --- the generator -----------------------------------------------------------------------------

KILL_MARGIN_S: Final = 35.0  # kills stop this long before the end: a lease is timeoutMs + 30 s
Step = Callable[[Scene, random.Random], Awaitable[None]]


async def generate(scene: Scene, seconds: float, kill: Kill | None) -> None:
    """Run every task for ``seconds``. Kills stop ``KILL_MARGIN_S`` before the end (after the
    first third at the latest), so the leases they strand expire soon after it."""
    stop = asyncio.Event()
    scene.t0 = time.time()
    async with asyncio.TaskGroup() as tasks:
        for n in range(3):
            tasks.create_task(repeat(scene, stop, f"publisher{n}", (0.0, 0.06), publish))
        tasks.create_task(repeat(scene, stop, "inbound", (0.03, 0.2), send_inbound))
        for n in range(3):
            tasks.create_task(repeat(scene, stop, f"transitions{n}", (0.0, 0.15), transition))
        tasks.create_task(repeat(scene, stop, "flow", (0.0, 0.15), change_flow))
        if kill is not None:
            until = scene.t0 + max(seconds / 3, seconds - KILL_MARGIN_S)
            tasks.create_task(killer(scene, kill, stop, until))
        await wait_or_stop(stop, seconds)
        stop.set()


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def repeat(
    scene: Scene, stop: asyncio.Event, task: str, sleeps: tuple[float, float], step: Step
) -> None:
    """``step`` after a random sleep, again and again until ``stop``."""
    rng = scene.rng(task)
    while True:
        await wait_or_stop(stop, rng.uniform(*sleeps))
        if stop.is_set():
            return
        await step(scene, rng)


async def killer(scene: Scene, kill: Kill, stop: asyncio.Event, until: float) -> None:
    rng = scene.rng("killer")
    while True:
        await wait_or_stop(stop, rng.uniform(1.0, 3.0))
        if stop.is_set() or time.time() > until:
            return
        scene.log.kills.append(await kill(rng))


async def publish(scene: Scene, rng: random.Random) -> None:
    """One to four publishes at once, of random types and connectors, to random API
    processes (several at once widen the windows a publish has open)."""
    sends = []
    for _ in range(rng.choice((1, 1, 2, 4))):
        event_type, connector = rng.choice(TYPES), rng.choice(CONNECTORS)
        body: Json = {"type": event_type, "data": scene.examples[event_type]}
        if connector:
            body["connector_id"] = connector
        if key := rng.choice(KEYS):
            body["ordering_key"] = key
        sends.append(publish_one(scene, rng.choice(scene.clients), body))
    await asyncio.gather(*sends)


async def accepted(
    scene: Scene, what: str, client: httpx.AsyncClient, url: str, **kwargs: Any
) -> tuple[Json, float, float] | None:
    """POST and expect a 202: its body and when it was sent and answered, or None after
    noting anything else as unexpected."""
    try:
        answer, sent, done = await timed(client, "POST", url, **kwargs)
    except httpx.TransportError as exc:
        scene.unexpected(what, exc)
        return None
    if answer.status_code != 202:
        scene.unexpected(what, answer)
        return None
    body: Json = answer.json()
    return body, sent, done


async def publish_one(scene: Scene, client: httpx.AsyncClient, body: Json) -> None:
    answered = await accepted(scene, "publish", client, EVENTS, json=body)
    if answered is not None:
        event, sent, done = answered
        made = Published(event["id"], body["type"], body.get("connector_id"), sent, done,
                         ordering_key=body.get("ordering_key"))  # fmt: skip
        scene.log.published.append(made)


async def send_inbound(scene: Scene, rng: random.Random) -> None:
    """A GitHub-signed message with a body of its own (GitHub's are deduped by body hash)."""
    nonce = rng.getrandbits(64)
    body = orjson.dumps({"action": "opened", "nonce": nonce})
    headers = GITHUB.headers(body, ts=int(time.time()), delivery_id=f"ilv-{nonce}")
    url = f"/api/v1/inbound/{scene.inbound_id}"
    client = rng.choice(scene.clients)
    answered = await accepted(scene, "inbound", client, url, content=body, headers=headers)
    if answered is not None:
        stored, sent, done = answered
        message = stored["id"]
        scene.log.inbound[message] = Published("", "inbound.received", None, sent, done, message)


async def transition(scene: Scene, rng: random.Random) -> None:
    """One operation on a random webhook that no other transition holds, or a create."""
    live = [h for h in scene.hooks if h.role == "churn" and not h.deleted]
    if rng.random() < (0.4 if len(live) < 4 else 0.06):
        await create(scene, churn_hook(f"new{next(scene.serial)}", rng), rng)
        return
    free = [h for h in scene.hooks if h.role != "control" and not h.deleted and not h.lock.locked()]
    if not free:
        return
    hook = rng.choice(free)
    if hook.role in ("pause_only", "flow"):
        op = rng.choice(("pause", "resume"))
    else:
        op = rng.choices(list(CHURN_OPS), list(CHURN_OPS.values()))[0]
    async with hook.lock:
        await apply(scene, hook, op, rng)


async def change_flow(scene: Scene, rng: random.Random) -> None:
    """A PATCH of the flow control of a random flow or churn webhook no transition holds."""
    free = [h for h in scene.hooks
            if h.role in ("flow", "churn") and not h.deleted and not h.lock.locked()]  # fmt: skip
    if free:
        hook = rng.choice(free)
        async with hook.lock:
            await apply(scene, hook, FLOW, rng, flow_changes(hook, rng))


async def apply(
    scene: Scene, hook: Hook, op: str, rng: random.Random, changes: Json | None = None
) -> None:
    """``op`` on ``hook`` through a random API process, logged with its times; ``changes``:
    the body of a PATCH (``op`` FLOW)."""
    url = f"{WEBHOOKS}/{hook.id}"
    client = rng.choice(scene.clients)
    changes = changes if changes is not None else patch_for(scene, hook, op, rng)
    try:
        if changes is not None:
            answer, sent, done = await patched(client, url, changes)
        elif op == "delete":
            answer, sent, done = await timed(client, "DELETE", url)
        else:
            answer, sent, done = await timed(client, "POST", f"{url}/{op}")
    except httpx.TransportError as exc:
        scene.unexpected(f"{op} {hook.key}", exc)
        return
    detail = orjson.dumps(changes).decode() if changes else ""
    made = Transition(hook.key, hook.id, op, detail, sent, done, answer.status_code)
    scene.log.transitions.append(made)
    if not made.done:
        scene.unexpected(f"{op} {hook.key}", answer)
    elif op == "delete":
        hook.deleted = True


def patch_for(scene: Scene, hook: Hook, op: str, rng: random.Random) -> Json | None:
    if op in ("disable", "enable"):
        return {"enabled": op == "enable"}
    if op == "event_types":
        return {"event_types": list(rng.choice(SUBSCRIPTIONS))}
    if op == "connector":
        return {"connector_id": rng.choice(CONNECTORS)}
    if op == "url":
        return {"url": f"{rng.choice(scene.bases)}/{hook.key}"}
    return None


async def patched(
    client: httpx.AsyncClient, url: str, changes: Json
) -> tuple[httpx.Response, float, float]:
    """PATCH with ``If-Match`` of the current version (again on 409: the engine's auto-pause
    changes the version too); the times are the last PATCH's."""
    for _ in range(5):
        current = await client.get(url)
        if current.status_code != 200:
            return current, time.time(), time.time()
        match = {"If-Match": f'"{current.json()["version"]}"'}
        answer, sent, done = await timed(client, "PATCH", url, json=changes, headers=match)
        if answer.status_code != 409:
            break
    return answer, sent, done
