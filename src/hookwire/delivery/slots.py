"""hookwire's own queue for connections: at most so many requests at once in all and to one
host. A send waits here before its request starts, so the wait is never part of the
request's timeout (docs/concepts.md "Retries"), and a send that cannot start in time gives up
unsent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass


class NotStarted(Exception):
    """No slot came free within the time the send could wait: nothing was sent."""


@dataclass(slots=True)
class _Host:
    slots: asyncio.Semaphore
    users: int = 0  # holders and waiters: the entry goes when the last one leaves
    waiting: int = 0


class Slots:
    """Slots per host (``per_host``) within slots for everything (``total``). At most
    ``per_host`` sends wait for one host: more would only hold the worker's concurrency (and
    every other webhook's turn) for a host that is slow; they give up at once instead. Hosts
    are forgotten when nobody holds or waits for them, so a fleet of endpoints costs nothing
    idle."""

    def __init__(self, total: int, per_host: int) -> None:
        self.per_host = per_host
        self._total = asyncio.Semaphore(total)
        self._hosts: dict[Hashable, _Host] = {}

    @property
    def hosts(self) -> int:
        """Hosts with a request under way or waiting."""
        return len(self._hosts)

    @asynccontextmanager
    async def held(self, host: Hashable, wait_s: float | None) -> AsyncIterator[None]:
        """Hold a slot for ``host`` (waiting at most ``wait_s`` seconds; None: as long as it
        takes) or raise :class:`NotStarted`."""
        entry = self._hosts.get(host)
        if entry is None:
            entry = self._hosts[host] = _Host(asyncio.Semaphore(self.per_host))
        entry.users += 1
        try:
            await self._acquire(entry, wait_s)
            try:
                yield
            finally:
                self._total.release()
                entry.slots.release()
        finally:
            entry.users -= 1
            if not entry.users:
                del self._hosts[host]

    async def _acquire(self, host: _Host, wait_s: float | None) -> None:
        if wait_s is not None and wait_s <= 0:
            raise NotStarted("too late to start: the request could outlast its lease")
        if host.slots.locked() and host.waiting >= self.per_host:
            raise NotStarted("the host's connections are busy and its queue is full")
        host.waiting += 1
        try:
            async with asyncio.timeout(wait_s):
                await host.slots.acquire()
                try:
                    await self._total.acquire()
                except BaseException:
                    host.slots.release()
                    raise
        except TimeoutError as exc:
            raise NotStarted(f"no connection slot came free within {wait_s:g} s") from exc
        finally:
            host.waiting -= 1
