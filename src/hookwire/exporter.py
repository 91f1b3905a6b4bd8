"""``/metrics`` for processes without the API: ``hookwire worker --metrics-port``.

A small aiohttp server in the worker's own event loop, so a scrape reads the queue from the
store like the API's ``/metrics`` does (prometheus-client's own server runs in a thread and
could not await the store).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from hookwire.errors import HookwireError
from hookwire.metrics import CONTENT_TYPE, Metrics
from hookwire.store.base import Store


def application(metrics: Metrics, store: Store) -> web.Application:
    async def scrape(request: web.Request) -> web.Response:
        try:
            body = await metrics.scrape(store)
        except HookwireError as exc:  # the store is down: say so, as /readyz would
            return web.Response(status=503, text=exc.detail)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    return app


@asynccontextmanager
async def serving(metrics: Metrics, store: Store, host: str, port: int) -> AsyncIterator[None]:
    """Serve ``/metrics`` on ``host:port`` while the block runs."""
    runner = web.AppRunner(application(metrics, store), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield
    finally:
        await runner.cleanup()
