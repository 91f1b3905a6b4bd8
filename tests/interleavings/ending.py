"""The end of a generated run: stop, restore every paused and disabled webhook, lift every
rate limit (an hourly one would hold its backlog for an hour; caps and FIFO stay and are
checked during the drain too), drain, and read everything back from the API."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Final

import httpx

from tests.conftest import WEBHOOKS
from tests.interleavings.scene import DELIVERIES, EVENTS, FLOW, Json, Scene, apply

# --- the end: stop, restore, drain, read everything back ---------------------------------------


@dataclass
class Outcome:
    """What the store says at the end, and what was found before the final restore."""

    events: list[Json]
    deliveries: list[Json]
    webhooks: list[Json]
    held_when_stopped: list[str]
    undrained: list[str]
    waiting_when_stopped: int = 0  # deliveries pending when the generator stopped


async def pages(client: httpx.AsyncClient, path: str, **params: str) -> list[Json]:
    items: list[Json] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "200"} | ({"cursor": cursor} if cursor else {})
        answer = await client.get(path, params=query)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def webhooks(client: httpx.AsyncClient) -> list[Json]:
    return await pages(client, WEBHOOKS, include_deleted="true", direction="outbound")


def running(hooks: list[Json]) -> set[str]:
    return {h["id"] for h in hooks if h["enabled"] and not h["paused_at"] and not h["is_deleted"]}


async def held_on_running(scene: Scene) -> list[str]:
    """Held deliveries of webhooks that run. Read held first, webhooks second: once the
    generator has stopped nothing resumes a webhook in between, so a delivery held then is
    held on a webhook that was running already."""
    client = scene.clients[0]
    held = await pages(client, DELIVERIES, status="held")
    live = running(await webhooks(client))
    names = {h.id: h.key for h in scene.hooks}
    return [f"{d['id']} of {names.get(d['webhook_id'])} (event {d['event_id']})"
            for d in held if d["webhook_id"] in live]  # fmt: skip


async def finish(scene: Scene, drain_s: float) -> Outcome:
    """After the generator: every receiver answers 200, held deliveries on running webhooks are
    counted, every rate limit is lifted, every paused webhook is resumed and every disabled one
    enabled (through the API), the workers drain, and the store is read back."""
    scene.sink.calm = True
    held = await held_on_running(scene)
    waiting = len(await pages(scene.clients[0], DELIVERIES, status="pending"))
    await lift(scene)
    undrained = await restore_and_drain(scene, time.monotonic() + drain_s)
    await asyncio.sleep(0.5)  # the last answers reach the log
    client = scene.clients[0]
    events = await pages(client, EVENTS)
    deliveries = await pages(client, DELIVERIES)
    return Outcome(events, deliveries, await webhooks(client), held, undrained, waiting)


async def lift(scene: Scene) -> None:
    """PATCH ``rate_limit: null`` on every webhook that has one (logged as a FLOW transition):
    what waited for it goes now."""
    by_id = {h.id: h for h in scene.hooks}
    rng = scene.rng("lift")
    for current in await webhooks(scene.clients[0]):
        hook = by_id.get(current["id"])
        if hook is not None and not current["is_deleted"] and current["rate_limit"]:
            await apply(scene, hook, FLOW, rng, {"rate_limit": None})


async def restore_and_drain(scene: Scene, deadline: float) -> list[str]:
    """Resume and enable until nothing is paused or disabled (a failure answered before the
    receivers calmed down may pause a webhook again), draining after each round."""
    for round_ in range(3):
        if not await restore(scene) and round_:
            return []
        waiting = await drain(scene, deadline)
        if waiting:
            return waiting
    return []


async def restore(scene: Scene) -> bool:
    """Resume every paused webhook and enable every disabled one; whether there was any."""
    by_id = {h.id: h for h in scene.hooks}
    rng = scene.rng("restore")
    found = False
    for current in await webhooks(scene.clients[0]):
        hook = by_id.get(current["id"])
        if hook is None or current["is_deleted"]:
            continue
        if current["paused_at"]:
            await apply(scene, hook, "resume", rng)
        if not current["enabled"]:
            await apply(scene, hook, "enable", rng)
        found = found or bool(current["paused_at"]) or not current["enabled"]
    return found


async def drain(scene: Scene, deadline: float) -> list[str]:
    """Wait until nothing is in flight (a dead worker's leases expire: timeoutMs + 30 s) and
    no delivery of a running webhook is pending; pending ones of deleted webhooks (a retry of
    an attempt in flight at the delete) get DELETED_WAIT_S more to be claimed, then are
    checked, not waited for. What still waits at ``deadline``."""
    client = scene.clients[0]
    quiet_since = math.inf
    while True:
        deleted = {h["id"] for h in await webhooks(client) if h["is_deleted"]}
        pending = await pages(client, DELIVERIES, status="pending")
        live = [d for d in pending if d["webhook_id"] not in deleted]
        live += await pages(client, DELIVERIES, status="in_flight")
        if live and time.monotonic() > deadline:
            return [f"{d['id']} {d['status']} (attempts {d['attempt_count']})" for d in live]
        quiet_since = math.inf if live else min(quiet_since, time.monotonic())
        if not live and (not pending or time.monotonic() - quiet_since > DELETED_WAIT_S):
            return []
        await asyncio.sleep(0.25)


DELETED_WAIT_S: Final = 5.0
