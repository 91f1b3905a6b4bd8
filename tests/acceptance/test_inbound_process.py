"""Inbound webhooks against real processes over real HTTP: `hookwire serve` on SQLite reads a
chunked body (no Content-Length) and refuses an endless one; two `hookwire api` processes on
one PostgreSQL store a burst of duplicates, split between them, exactly once."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

from tests import receivers
from tests.acceptance.processes import HOOKWIRE, async_server, free_port, run, service_env
from tests.conftest import WEBHOOKS
from tests.vendors import VENDORS

GITHUB = VENDORS["github"]


async def setup(base_url: str, token: str, subscriber_url: str) -> str:
    """An outbound subscriber to inbound.received and an inbound GitHub webhook; its id."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        sub = await client.post(
            WEBHOOKS, json={"url": subscriber_url, "event_types": ["inbound.*"]}
        )
        assert sub.status_code == 201, sub.text
        hook = await client.post(WEBHOOKS, json=GITHUB.create_body())
        assert hook.status_code == 201, hook.text
        hook_id: str = hook.json()["id"]
        return hook_id


async def chunks(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]
        await asyncio.sleep(0)


async def test_serve_reads_chunked_bodies_and_delivers_them_onward(tmp_path: Path) -> None:
    port = free_port()
    env = service_env(f"sqlite:///{tmp_path / 'hookwire.db'}", port)
    token = run(["token", "--tenant", "acme"], tmp_path, env).stdout.strip()
    payload: dict[str, Any] = {"action": "opened", "issue": {"body": "x" * 20_000}}
    body = orjson.dumps(payload)
    async with receivers.receiver() as target, async_server(["serve"], tmp_path, env, port) as hw:
        hook_id = await setup(hw.base_url, token, target.url)
        url = f"{hw.base_url}/api/v1/inbound/{hook_id}"
        headers = GITHUB.headers(body, ts=int(time.time()), delivery_id="chunked-1")
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=chunks(body), headers=headers) as response:
                assert response.status == 202, await response.text()
                assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
            endless = b"y" * 300_000  # over the 256 KiB default, and no Content-Length
            big = GITHUB.headers(endless, ts=int(time.time()), delivery_id="big")
            async with session.post(url, data=chunks(endless, 16_384), headers=big) as response:
                assert response.status == 413
        await receivers.until(lambda: len(target.received) >= 1)
    [request] = target.received
    delivered = orjson.loads(request.body)
    assert delivered["type"] == "inbound.received"
    assert delivered["data"]["payload"] == payload
    assert delivered["data"]["provider_event"] == "issues"


@pytest.mark.postgres
async def test_duplicates_split_across_two_api_processes_are_stored_once(
    tmp_path: Path, empty_pg_url: str
) -> None:
    ports = [free_port(), free_port()]
    env = service_env(empty_pg_url, ports[0])
    assert run(["migrate"], tmp_path, env).returncode == 0
    token = run(["token", "--tenant", "acme"], tmp_path, env).stdout.strip()
    second = {**env, "HOOKWIRE_PORT": str(ports[1])}
    body = orjson.dumps({"action": "closed"})
    async with (
        receivers.receiver() as target,
        async_server(["api"], tmp_path, env, ports[0]) as one,
        async_server(["api"], tmp_path, second, ports[1]) as two,
    ):
        hook_id = await setup(one.base_url, token, target.url)
        headers = GITHUB.headers(body, ts=int(time.time()), delivery_id="retried-by-github")
        async with httpx.AsyncClient() as client:
            sends = [
                client.post(
                    f"{api.base_url}/api/v1/inbound/{hook_id}", content=body, headers=headers
                )
                for api in (one, two) * 10
            ]
            statuses = sorted(r.status_code for r in await asyncio.gather(*sends))
        assert statuses == [200] * 19 + [202]
        worker = await asyncio.to_thread(
            subprocess.run, [HOOKWIRE, "worker", "--burst"], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert worker.returncode == 0, worker.stderr
    assert len(target.received) == 1
    assert orjson.loads(target.received[0].body)["data"]["payload"] == {"action": "closed"}
