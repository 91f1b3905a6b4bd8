"""The composition root: the one place that wires a running hookwire together.

It opens the services with the delivery engine's sender behind their courier port, builds
the ASGI application (the API, with the dashboard mounted beside it) and runs the engine (the
worker and the hourly retention purge). Every entry point that runs hookwire comes here:
``hookwire serve``, ``api`` and ``worker`` (:mod:`hookwire.commands.server`) and the tests.
The layers below never import it (tests/unit/test_layers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

from fastapi import FastAPI

from hookwire import dashboard
from hookwire.api import create_api
from hookwire.delivery.courier import Courier
from hookwire.delivery.sender import Sender
from hookwire.delivery.worker import Worker, WorkerConfig, WorkerStats
from hookwire.errors import HookwireError
from hookwire.services import announcements
from hookwire.services.container import Services, open_services
from hookwire.services.retention import purge
from hookwire.settings import Settings
from hookwire.timeutil import utcnow

log = logging.getLogger("hookwire.runner")
PURGE_EVERY_S: Final = 3600.0


@dataclass(slots=True)
class Runtime:
    """The services of a process that sends, and the one sender its engine and its webhook
    tests share (so both wait in the same connection slots)."""

    services: Services
    sender: Sender

    @classmethod
    async def open(cls, settings: Settings, *, migrate: bool = False) -> Runtime:
        sender = Sender(allow_private=settings.allow_private_targets)
        await sender.open()
        try:
            services = await open_services(settings, migrate=migrate, courier=Courier(sender))
        except BaseException:
            await sender.close()
            raise
        return cls(services, sender)

    async def close(self) -> None:
        await self.sender.close()
        await self.services.close()


def create_app(
    settings: Settings,
    services: Services | None = None,
    *,
    migrate: bool = False,
    worker: bool = False,
) -> FastAPI:
    """The API and the dashboard over ``services`` when given (the caller owns them), else
    over a :class:`Runtime` opened from ``settings`` at startup and closed at shutdown.
    ``worker`` also runs the delivery engine in this process (``hookwire serve``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        runtime = await Runtime.open(settings, migrate=migrate)
        app.state.services = runtime.services
        # What startup built lives as long as the process: keep the collector from walking it
        # again whenever a request allocates many containers (a body of 85,000 empty arrays
        # parsed in 34 ms instead of 2.5 ms, the event loop held all that time).
        gc.freeze()
        stop = asyncio.Event()
        engine = asyncio.create_task(run_engine(runtime, stop)) if worker else None
        try:
            yield
        finally:
            stop.set()
            if engine is not None:
                await engine
            await runtime.close()

    app = create_api(lifespan)
    if services is not None:
        app.state.services = services
    app.include_router(dashboard.router)
    return app


async def purge_periodically(services: Services, stop: asyncio.Event) -> None:
    days = services.settings.retention_days
    while not stop.is_set():
        try:
            report = await purge(services.store, services.secrets, days, utcnow())
            log.info("retention purge: %s", report)
        except HookwireError as exc:
            log.error("retention purge failed: %s", exc.detail)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PURGE_EVERY_S)


async def run_engine(
    runtime: Runtime,
    stop: asyncio.Event,
    *,
    burst: bool = False,
    config: WorkerConfig | None = None,
) -> WorkerStats:
    """The worker (and, unless ``burst``, the periodic purge) until ``stop`` is set."""
    services = runtime.services
    worker = Worker(
        services.store, services.secrets, runtime.sender, config,
        announcer=announcements.paused, metrics=services.metrics,
    )  # fmt: skip
    if burst:
        return await worker.run(burst=True, stop=stop)
    housekeeping = asyncio.create_task(purge_periodically(services, stop))
    try:
        return await worker.run(stop=stop)
    finally:
        stop.set()
        await housekeeping
