"""Scale-out on PostgreSQL as real processes: `hookwire api` and several `hookwire worker`.

At-least-once: a worker SIGKILLed while 500 events are in flight loses none of them; the
deliveries it held are sent again once their leases expire (timeoutMs + 30 s). No delivery is
ever in flight twice at the same moment (no double claim). Duplicates are counted and printed.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests import receivers
from tests.acceptance.processes import (
    async_server,
    free_port,
    run,
    service_env,
    start_worker,
    stopped,
)
from tests.conftest import WEBHOOKS

EVENTS = 500


@pytest.mark.postgres
async def test_a_killed_worker_loses_no_event(tmp_path: Path, empty_pg_url: str) -> None:
    port = free_port()
    env = service_env(empty_pg_url, port)
    assert run(["migrate"], tmp_path, env).returncode == 0
    token = run(["token", "--tenant", "acme"], tmp_path, env).stdout.strip()
    overlaps = receivers.Overlaps()
    workers: list[subprocess.Popen[bytes]] = []
    async with receivers.receiver(overlaps.behaviour()) as target:
        async with async_server(["api"], tmp_path, env, port) as api:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(
                base_url=api.base_url, headers=headers, timeout=30
            ) as client:
                policy = {"timeoutMs": 2000, "initialDelayMs": 100}
                created = await client.post(
                    WEBHOOKS, json={"url": target.url, "retry_policy": policy}
                )
                assert created.status_code == 201, created.text
                body = {"type": "webhook_test", "data": {"test": True}}
                for _ in range(EVENTS // 50):
                    batch = [client.post("/api/v1/events", json=body) for _ in range(50)]
                    assert {r.status_code for r in await asyncio.gather(*batch)} == {202}
                workers += [start_worker(tmp_path, env, "w1"), start_worker(tmp_path, env, "w2")]
                with stopped(workers):
                    await receivers.until(lambda: len(overlaps.arrivals) >= EVENTS // 5)
                    workers[0].send_signal(signal.SIGKILL)  # mid-flight, no chance to clean up
                    workers[0].wait()
                    killed_at = time.monotonic()
                    workers.append(start_worker(tmp_path, env, "w3"))
                    deadline = killed_at + 120
                    while len(overlaps.arrivals) < EVENTS and time.monotonic() < deadline:
                        await asyncio.sleep(0.2)
    duplicates = sum(count - 1 for count in overlaps.arrivals.values())
    arrived = len(overlaps.arrivals)
    print(
        f"\nat-least-once: {arrived}/{EVENTS} events arrived, {duplicates} duplicates after "
        f"SIGKILL, {overlaps.overlaps} overlapping sends, all in "
        f"{time.monotonic() - killed_at:.1f} s after the kill"
    )
    assert len(overlaps.arrivals) == EVENTS
    assert overlaps.overlaps == 0
    assert duplicates <= 256  # bounded by what the dead worker can hold in flight
