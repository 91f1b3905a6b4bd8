"""Real HTTP receivers on loopback for delivery tests: they record what arrives and answer as
told (status codes in turn, delays, resets, huge or trickled bodies, redirects)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

Behaviour = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn; then 200
    behaviour: Behaviour | None = None

    def bodies(self) -> list[bytes]:
        return [r.body for r in self.received]


@asynccontextmanager
async def receiver(
    behaviour: Behaviour | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[Receiver]:
    """A receiver on ``host`` and ``port`` (a free one by default); ``behaviour`` overrides
    the answer."""
    state = Receiver(url="", behaviour=behaviour)

    async def handle(request: web.Request) -> web.StreamResponse:
        state.received.append(
            Received(request.path, dict(request.headers), await request.read(), time.monotonic())
        )
        if state.behaviour is not None:
            return await state.behaviour(request)
        status = state.statuses.pop(0) if state.statuses else 200
        return web.Response(status=status, text=f"answer {status}")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://{host}:{port}/hooks"
    try:
        yield state
    finally:
        await runner.cleanup()


class Overlaps:
    """Counts arrivals per webhook-id and any arrival while the same id is still in flight."""

    def __init__(self) -> None:
        self.inflight: set[str] = set()
        self.arrivals: Counter[str] = Counter()
        self.overlaps = 0

    def behaviour(self, delay: float = 0.02) -> Behaviour:
        async def answer(request: web.Request) -> web.StreamResponse:
            event_id = request.headers["webhook-id"]
            if event_id in self.inflight:
                self.overlaps += 1
            self.inflight.add(event_id)
            self.arrivals[event_id] += 1
            try:
                await asyncio.sleep(delay)
                return web.Response(status=204)
            finally:
                self.inflight.discard(event_id)

        return answer


async def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait until ``condition()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout:g} s")
        await asyncio.sleep(0.01)


def hang(seconds: float) -> Behaviour:
    async def answer(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.Response(status=200)

    return answer


def huge(size: int) -> Behaviour:
    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        await response.prepare(request)
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < size:
                await response.write(chunk)
                sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client stopped reading: that is the point
        return response

    return answer


def trickle(interval: float) -> Behaviour:
    async def answer(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        await response.prepare(request)
        try:
            for _ in range(1000):
                await response.write(b".")
                await asyncio.sleep(interval)
        except (ConnectionError, RuntimeError):
            pass
        return response

    return answer


def reset() -> Behaviour:
    async def answer(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        return web.Response(status=200)

    return answer


def respond(status: int, **headers: str) -> Behaviour:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers=headers, text=str(status))

    return answer
