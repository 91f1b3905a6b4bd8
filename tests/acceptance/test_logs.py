"""`HOOKWIRE_LOG_FORMAT=json` on a real `hookwire serve`: one JSON object a line, with the ids
that let an operator follow a delivery, and no secret anywhere in them."""

from __future__ import annotations

import base64
import os
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests import receivers
from tests.acceptance.processes import async_server, clean_env, free_port, run
from tests.conftest import WEBHOOKS
from tests.vendors import VENDORS


async def test_json_logs_carry_ids_and_never_secrets(tmp_path: Path) -> None:
    port = free_port()
    keys = {
        "HOOKWIRE_JWT_SECRET": secrets.token_urlsafe(32),
        "HOOKWIRE_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    env = clean_env(
        HOOKWIRE_PORT=str(port), HOOKWIRE_DATABASE_URL=f"sqlite:///{tmp_path / 'hw.db'}",
        HOOKWIRE_ALLOW_PRIVATE_TARGETS="true", HOOKWIRE_LOG_FORMAT="json",
        HOOKWIRE_LOG_LEVEL="debug", **keys,
    )  # fmt: skip
    token = run(["token", "--tenant", "acme"], tmp_path, env).stdout.strip()
    github = VENDORS["github"]
    shown: list[str] = [token, github.secret, *keys.values()]
    async with receivers.receiver() as target, async_server(["serve"], tmp_path, env, port) as hw:
        target.statuses = [500]
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=hw.base_url, headers=auth) as client:
            policy = {"initialDelayMs": 0}
            hook = await client.post(WEBHOOKS, json={"url": target.url, "retry_policy": policy})
            rotated = await client.post(f"{WEBHOOKS}/{hook.json()['id']}/rotate-secret")
            shown += [hook.json()["secret"], rotated.json()["secret"]]
            event = await client.post("/api/v1/events", json={"type": "webhook_test",
                                                              "data": {"test": True}})  # fmt: skip
            inbound = await client.post(WEBHOOKS, json=github.create_body())
            url = f"/api/v1/inbound/{inbound.json()['id']}"
            body = b'{"zen": "ok"}'
            good = github.headers(body, ts=int(time.time()), delivery_id="d-1")
            forged = github.headers(body, ts=0, delivery_id="d-2", key=github.other_key)
            assert (await client.post(url, content=body, headers=forged)).status_code == 401
            assert (await client.post(url, content=body, headers=good)).status_code == 202
            await receivers.until(lambda: len(target.received) >= 3)  # 500, then 2 deliveries
        output = hw.output()
    lines = [orjson.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines and all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    event_id = event.json()["id"]
    failed = find(lines, event_id=event_id, status="500")
    assert failed["delivery_id"].startswith("dlv_") and failed["webhook_id"] == hook.json()["id"]
    assert failed["tenant_id"] == "acme" and failed["attempt"] == 1
    assert find(lines, event_id=event_id, status="200")["attempt"] == 2
    refused = find(lines, msg="inbound request refused: X-Hub-Signature-256 does not match")
    assert refused["webhook_id"] == inbound.json()["id"]
    assert find(lines, logger="uvicorn.access")  # the server's own lines are JSON too
    json_text = "\n".join(line for line in output.splitlines() if line.startswith("{"))
    for secret in shown:
        assert secret not in json_text


def find(lines: list[dict[str, Any]], **wanted: Any) -> dict[str, Any]:
    found = [line for line in lines if all(line.get(k) == v for k, v in wanted.items())]
    assert found, f"no log line with {wanted}"
    return found[0]
