"""Running the delivery engine in a process: the worker loop and hourly retention purges,
until told to stop (SIGTERM in ``hookwire worker``, shutdown in ``hookwire serve``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from hookwire.delivery.worker import Worker, WorkerConfig, WorkerStats
from hookwire.errors import HookwireError
from hookwire.services.container import Services
from hookwire.services.retention import purge
from hookwire.timeutil import utcnow

log = logging.getLogger("hookwire.runner")
PURGE_EVERY_S: Final = 3600.0


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
    services: Services,
    stop: asyncio.Event,
    *,
    burst: bool = False,
    config: WorkerConfig | None = None,
) -> WorkerStats:
    """The worker (and, unless ``burst``, the periodic purge) until ``stop`` is set."""
    worker = Worker(
        services.store, services.secrets, services.sender, config, metrics=services.metrics
    )
    if burst:
        return await worker.run(burst=True, stop=stop)
    housekeeping = asyncio.create_task(purge_periodically(services, stop))
    try:
        return await worker.run(stop=stop)
    finally:
        stop.set()
        await housekeeping
