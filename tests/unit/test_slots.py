"""hookwire's own connection slots (delivery/slots.py): the wait for one is bounded and comes
before a request starts; hosts cost nothing once nobody uses them."""

from __future__ import annotations

import asyncio

import pytest

from hookwire.delivery.slots import NotStarted, Slots


async def test_a_host_gets_at_most_its_slots_and_a_waiter_gives_up_in_time() -> None:
    slots = Slots(total=10, per_host=1)
    async with slots.held("a", None):
        async with slots.held("b", 0.05):  # another host is not queued behind "a"
            pass
        started = asyncio.get_running_loop().time()
        with pytest.raises(NotStarted):
            async with slots.held("a", 0.1):
                raise AssertionError("a second request to a busy host started")
        waited = asyncio.get_running_loop().time() - started
        assert 0.09 <= waited < 0.5
    async with slots.held("a", 0.01):
        pass
    assert slots.hosts == 0


async def test_the_total_bounds_every_host_together() -> None:
    slots = Slots(total=1, per_host=5)
    async with slots.held("a", None):
        with pytest.raises(NotStarted):
            async with slots.held("b", 0.05):
                pass
    assert slots.hosts == 0


async def test_a_waiter_gets_the_slot_given_back_and_a_full_queue_refuses_at_once() -> None:
    """At most ``per_host`` sends wait for a host: one more would hold a worker's task for a
    host that is busy, so it is refused without waiting."""
    slots = Slots(total=10, per_host=1)
    order: list[str] = []

    async def use(name: str, hold_s: float) -> None:
        async with slots.held("a", 5):
            order.append(name)
            await asyncio.sleep(hold_s)

    first = asyncio.create_task(use("first", 0.05))
    await asyncio.sleep(0)
    second = asyncio.create_task(use("second", 0))
    await asyncio.sleep(0)
    started = asyncio.get_running_loop().time()
    with pytest.raises(NotStarted, match="queue is full"):
        await use("third", 0)
    assert asyncio.get_running_loop().time() - started < 0.01
    await asyncio.gather(first, second)
    assert order == ["first", "second"]
    assert slots.hosts == 0


async def test_no_wait_left_means_no_start_even_with_free_slots() -> None:
    """Past its start deadline a request could outlast its lease: it is not started."""
    slots = Slots(total=10, per_host=10)
    with pytest.raises(NotStarted):
        async with slots.held("a", 0):
            pass
    assert slots.hosts == 0


async def test_a_cancelled_waiter_leaves_the_slots_as_they_were() -> None:
    slots = Slots(total=2, per_host=1)
    async with slots.held("a", None):
        waiting = asyncio.create_task(slots.held("a", None).__aenter__())
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    async with slots.held("a", 0.01), slots.held("b", 0.01):
        pass  # both slots of the total are free again
    assert slots.hosts == 0
