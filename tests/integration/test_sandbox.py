"""The schema sandbox with real child processes: tenants' schemas are checked and run there,
a child over its time or memory is killed and replaced, and the event loop that asked keeps
answering meanwhile (measured here by a ticker task, on the real server by the hostile
suite)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hookwire.domain.event_type import EventType
from hookwire.sandbox import Sandbox
from hookwire.sandbox.pool import SandboxFailed
from hookwire.sandbox.protocol import CACHE_ENTRIES
from tests.procfs import children

# Exact division by a subnormal divisor: about 26 us a check in jsonschema-rs, so 40,000
# numbers take about a second (the schema checks weigh it, but not enough for 4 x 40,000).
SLOW = {"items": {"allOf": [{"multipleOf": 5e-324}] * 4}}


def typed(schema: Any, name: str = "t", tenant: str = "acme", version: int = 1) -> EventType:
    return EventType(name, "", schema, version=version, tenant_id=tenant)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    opened = Sandbox(workers=1, time_limit_s=0.3, memory_limit=256 * 1024 * 1024)
    yield opened
    await opened.close()


async def longest_pause(work: Any) -> tuple[Any, float]:
    """``work``'s result, and the longest the event loop went without running a 1 ms ticker."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        return await work, max(gaps, default=0.0)
    finally:
        done.set()
        await ticker


async def test_a_tenant_schema_is_checked_and_run_in_a_child(sandbox: Sandbox) -> None:
    refused = await sandbox.check("acme", {"properties": {"a": {"pattern": "(a)\\1"}}}, None, False)
    assert [e.path for e in refused] == ["/schema/properties/a/pattern"]
    example = await sandbox.check("acme", {"type": "string"}, 5, True)
    assert [e.path for e in example] == ["/example"]
    schema = {"type": "object", "required": ["id"]}
    found = await sandbox.errors(typed(schema, "t"), {}, "/data")
    assert [(e.path, e.message) for e in found] == [("/data/id", "is required")]
    assert await sandbox.errors(typed(schema, "t"), {"id": 1}, "/data") == []


async def test_a_child_over_its_time_is_replaced_and_the_loop_keeps_running(
    sandbox: Sandbox,
) -> None:
    started = time.monotonic()
    found, pause = await longest_pause(
        sandbox.errors(typed(SLOW, "slow"), [1e308] * 40_000, "/data")
    )
    assert [e.path for e in found] == ["/data"]
    assert "more than 0.3 s" in found[0].message
    assert time.monotonic() - started < 3
    assert pause < 0.1, f"the event loop paused {pause:.3f} s"
    assert await sandbox.errors(typed({"type": "object"}, "t"), {}, "/data") == []


async def test_a_child_over_its_memory_is_replaced() -> None:
    """128 MB of address space and a 100 MB document: the child runs out (a MemoryError it
    reports, or its death), the answer says the data could not be checked, and the next
    request gets a new child."""
    sandbox = Sandbox(workers=1, time_limit_s=5, memory_limit=128 * 1024 * 1024)
    try:
        schema = {"type": "string", "maxLength": 10}
        found = await sandbox.errors(typed(schema, "t"), "x" * 100_000_000, "/data")
        assert [e.path for e in found] == ["/data"]
        assert "could not be checked" in found[0].message
        assert await sandbox.errors(typed(schema, "t"), "short", "/data") == []
    finally:
        await sandbox.close()


async def test_a_child_that_dies_mid_request_is_replaced(sandbox: Sandbox) -> None:
    assert await sandbox.errors(typed({"type": "object"}, "t"), {}, "/data") == []
    [child] = sandbox._children
    child.process.kill()
    found = await sandbox.errors(typed({"type": "object"}, "t"), 5, "/data")
    assert "stopped" in found[0].message
    assert [e.path for e in await sandbox.errors(typed({"type": "object"}, "t"), 5, "/data")] == [
        "/data"
    ]


async def test_a_failure_in_the_child_is_reported_not_hidden() -> None:
    sandbox = Sandbox(workers=1)
    try:
        with pytest.raises(SandboxFailed, match="unknown request"):
            await sandbox._ask("acme", {"op": "nonsense"})
    finally:
        await sandbox.close()


async def test_a_schema_the_child_evicted_is_sent_again(sandbox: Sandbox) -> None:
    """The parent remembers which schemas a child compiled; when the child's cache has
    evicted one since, the child says so and the parent sends it again."""
    assert await sandbox.errors(typed({"type": "object"}, "t"), {}, "/data") == []
    [child] = sandbox._children
    evicted = typed({"type": "object", "required": ["id"]}, "gone")
    child.known.add("1/gone/acme")  # what the parent believes after the child evicted it
    found = await sandbox.errors(evicted, {}, "/data")
    assert [(e.path, e.message) for e in found] == [("/data/id", "is required")]
    assert sandbox._children == [child], "the child was healthy: it is kept"


async def test_one_tenants_slow_schemas_leave_a_child_for_the_others() -> None:
    """Two children; one tenant sends four validations that each run to the time limit. It
    holds one child at a time, so another tenant's validation is answered before the first
    of the slow ones ends (with both children taken, it would wait for that)."""
    sandbox = Sandbox(workers=2, time_limit_s=0.5)
    try:
        warm = [typed({"type": "object"}, tenant=t) for t in ("a", "b")]
        await asyncio.gather(*(sandbox.errors(w, {}, "/data") for w in warm))
        ended: list[tuple[str, float]] = []

        async def timed(label: str, event_type: EventType, document: Any) -> None:
            await sandbox.errors(event_type, document, "/data")
            ended.append((label, time.monotonic()))

        slow = typed(SLOW, "slow", tenant="hostile")
        hostile = [timed("hostile", slow, [1e308] * 40_000) for _ in range(4)]
        tasks = [asyncio.create_task(work) for work in hostile]
        await asyncio.sleep(0.05)
        await timed("calm", typed({"type": "object"}, tenant="calm"), {})
        await asyncio.gather(*tasks)
        assert ended[0][0] == "calm", f"the calm tenant waited: {ended}"
        assert ended[-1][1] - ended[1][1] > 1.0, "the slow ones ran one at a time"
    finally:
        await sandbox.close()


async def test_a_child_that_died_while_idle_is_replaced_before_it_is_asked(
    sandbox: Sandbox,
) -> None:
    """A child killed between requests (the kernel's OOM killer, say): the next request,
    whoever sends it, gets its verdict from a new child. Under uvloop the write to the dead
    child's pipe raised RuntimeError, a 500."""
    schema = {"type": "object", "required": ["id"]}
    assert await sandbox.errors(typed(schema), {"id": 1}, "/data") == []
    [child] = sandbox._children
    child.process.kill()
    await child.process.wait()
    found = await sandbox.errors(typed(schema, tenant="other"), {}, "/data")
    assert [(e.path, e.message) for e in found] == [("/data/id", "is required")]
    assert sandbox._children and sandbox._children[0] is not child


async def test_a_child_over_its_time_is_replaced_before_the_next_request() -> None:
    """The replacement starts when the child is killed, so the request after it does not
    wait for a start it did not cause."""
    sandbox = Sandbox(workers=1, time_limit_s=0.3)
    try:
        await sandbox.errors(typed(SLOW, "slow"), [1e308] * 40_000, "/data")
        for _ in range(100):  # a start takes 0.1-0.4 s here
            if sandbox._children:
                break
            await asyncio.sleep(0.05)
        assert sandbox._children, "no child was started to replace the one killed"
        assert await sandbox.errors(typed({"type": "object"}), 5, "/data") != []
    finally:
        await sandbox.close()


def sandbox_processes() -> list[int]:
    """This process's children running the sandbox."""
    return children(os.getpid(), b"hookwire.sandbox")


async def test_a_request_cancelled_while_its_child_starts_leaves_no_process() -> None:
    sandbox = Sandbox(workers=1)
    try:
        asking = asyncio.create_task(sandbox.errors(typed({}), {}, "/data"))
        for _ in range(200):  # until the child process exists, before it is ready
            if sandbox_processes():
                break
            await asyncio.sleep(0.005)
        asking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asking
        assert sandbox_processes() == []
        assert await sandbox.errors(typed({"type": "object"}), {}, "/data") == []
    finally:
        await sandbox.close()
    assert sandbox_processes() == []


async def test_what_the_parent_notes_of_a_child_stays_bounded(sandbox: Sandbox) -> None:
    """Every version a tenant publishes was a key noted for good: a tenant PATCHing and
    publishing in a loop grew the API process without end. Past what a child can keep, the
    notes start again (a schema is at worst sent once more)."""
    assert await sandbox.errors(typed({"type": "object"}), {}, "/data") == []
    [child] = sandbox._children
    child.known.update(f"{v}/t/acme" for v in range(2, CACHE_ENTRIES + 1))
    found = await sandbox.errors(typed({"required": ["id"]}, "u"), {}, "/data")
    assert [e.path for e in found] == ["/data/id"]
    assert len(child.known) == 1
    assert await sandbox.errors(typed({"type": "object"}), {}, "/data") == []
