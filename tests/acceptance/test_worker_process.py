"""`hookwire worker` as a process: burst drains and exits; SIGTERM lets attempts finish."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import subprocess
from pathlib import Path

import httpx

import hookwire
from hookwire.settings import Settings
from tests import receivers
from tests.acceptance.processes import (
    HOOKWIRE,
    assert_healthy,
    async_server,
    clean_env,
    free_port,
    run,
)
from tests.receivers import Overlaps


def environment(tmp: Path) -> tuple[dict[str, str], Settings]:
    values = {
        "HOOKWIRE_DATABASE_URL": f"sqlite:///{tmp / 'hookwire.db'}",
        "HOOKWIRE_JWT_SECRET": secrets.token_urlsafe(32),
        "HOOKWIRE_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "HOOKWIRE_ALLOW_PRIVATE_TARGETS": "true",
    }
    return clean_env(**values), Settings.from_env(values)


async def test_burst_drains_and_exits(tmp_path: Path) -> None:
    env, settings = environment(tmp_path)
    async with receivers.receiver() as target:
        async with await hookwire.Client.open(settings, tenant_id="acme") as client:
            await client.create_webhook(url=target.url)
            for _ in range(20):
                await client.publish("webhook_test", {"test": True})
        done = await asyncio.to_thread(run, ["worker", "--burst"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "succeeded 20" in done.stdout
    assert len(target.received) == 20
    kept = await asyncio.to_thread(run, ["purge", "--older-than-days", "1"], tmp_path, env)
    assert kept.returncode == 0, kept.stderr
    assert "purged 0 events" in kept.stdout  # all are recent (what is dropped: integration)


async def test_sigterm_lets_the_attempts_in_flight_finish(tmp_path: Path) -> None:
    env, settings = environment(tmp_path)
    async with receivers.receiver(receivers.hang(1.5)) as target:
        async with await hookwire.Client.open(settings, tenant_id="acme") as client:
            await client.create_webhook(url=target.url)
            for _ in range(5):
                await client.publish("webhook_test", {"test": True})
            with (tmp_path / "worker.log").open("wb") as log:
                worker = subprocess.Popen(
                    [HOOKWIRE, "worker"], cwd=tmp_path, env=env, stdout=log, stderr=log
                )
            try:
                await receivers.until(lambda: len(target.received) >= 5)  # all in flight
                worker.send_signal(signal.SIGTERM)
                code = await asyncio.to_thread(worker.wait, 30)
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
            assert code == 0, (tmp_path / "worker.log").read_text()
            deliveries = (await client.list_deliveries())["data"]
    assert [d["status"] for d in deliveries] == ["succeeded"] * 5
    assert len(target.received) == 5


async def test_a_killed_serve_process_loses_no_event_on_sqlite(tmp_path: Path) -> None:
    """SQLite is one process: kill `hookwire serve` mid-flight, start it again, nothing lost."""
    env, settings = environment(tmp_path)
    port = free_port()
    env["HOOKWIRE_PORT"] = str(port)
    counter = Overlaps()
    async with receivers.receiver(counter.behaviour(delay=0.2)) as target:
        async with await hookwire.Client.open(settings, tenant_id="acme") as client:
            await client.create_webhook(url=target.url, retry_policy={"timeoutMs": 1000})
            for _ in range(200):
                await client.publish("webhook_test", {"test": True})
        async with async_server(["serve"], tmp_path, env, port) as first:
            await receivers.until(lambda: len(counter.arrivals) >= 50)
            first.process.send_signal(signal.SIGKILL)
            first.process.wait()
        async with async_server(["serve"], tmp_path, env, port):
            deadline = asyncio.get_running_loop().time() + 90
            while len(counter.arrivals) < 200 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.2)
    duplicates = sum(n - 1 for n in counter.arrivals.values())
    print(f"\nsqlite kill: {len(counter.arrivals)}/200 arrived, {duplicates} duplicates")
    assert len(counter.arrivals) == 200
    assert counter.overlaps == 0
    await asyncio.to_thread(assert_healthy, tmp_path, env)


async def test_publish_command_validates_and_writes_the_event(tmp_path: Path) -> None:
    env, settings = environment(tmp_path)
    async with await hookwire.Client.open(settings, tenant_id="acme") as client:
        await client.create_webhook(url="http://127.0.0.1:9/never")
    event = tmp_path / "event.json"
    event.write_text('{"type": "webhook_test", "data": {"test": true}}')
    done = await asyncio.to_thread(run, ["publish", "--tenant", "acme", str(event)], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert '"deliveries":1' in done.stdout and '"type":"webhook_test"' in done.stdout
    event.write_text('{"type": "webhook_test", "data": {"test": "yes"}}')
    bad = await asyncio.to_thread(run, ["publish", "--tenant", "acme", str(event)], tmp_path, env)
    assert bad.returncode == 2
    assert "/data/test" in bad.stderr
    async with await hookwire.Client.open(settings, tenant_id="acme") as client:
        assert len((await client.list_events())["data"]) == 1


async def test_a_worker_serves_its_own_metrics(tmp_path: Path) -> None:
    env, settings = environment(tmp_path)
    port = free_port()
    env["HOOKWIRE_METRICS_PORT"] = str(port)
    async with receivers.receiver() as target:
        async with await hookwire.Client.open(settings, tenant_id="acme") as client:
            await client.create_webhook(url=target.url)
            for _ in range(3):
                await client.publish("webhook_test", {"test": True})
        with (tmp_path / "worker.log").open("wb") as log:
            worker = subprocess.Popen([HOOKWIRE, "worker"], cwd=tmp_path, env=env, stdout=log,
                                      stderr=log)  # fmt: skip
        try:
            await receivers.until(lambda: len(target.received) >= 3)
            async with httpx.AsyncClient() as http:
                for _ in range(50):  # the attempts are counted once the worker has them back
                    text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                    if 'status="2xx"} 3.0' in text:
                        break
                    await asyncio.sleep(0.1)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
    assert 'hookwire_delivery_attempts_total{outcome="succeeded",status="2xx"} 3.0' in text
    assert 'hookwire_deliveries{status="pending"} 0.0' in text
