"""Running the delivery engine in burst mode over test services: everything due is sent."""

from __future__ import annotations

import asyncio

from hookwire.delivery.sender import Sender
from hookwire.delivery.worker import Worker, WorkerConfig
from hookwire.services.announcements import paused
from hookwire.services.container import Services


async def drain(services: Services, *, allow_private: bool = True) -> None:
    """Send every due delivery with a worker of its own (``allow_private``: may it reach
    loopback, where the tests' receivers listen), then stop."""
    sender = Sender(allow_private=allow_private)
    await sender.open()
    try:
        config = WorkerConfig(poll_interval_s=0.05)
        worker = Worker(services.store, services.secrets, sender, config, announcer=paused)
        await asyncio.wait_for(worker.run(burst=True), timeout=60)
    finally:
        await sender.close()
