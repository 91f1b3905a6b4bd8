"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright with
``executable_path``; no browser is downloaded) against a real `hookwire serve`.

An operator signs in, watches a webhook turn paused after its receiver failed, presses Resume
once the receiver is back, and sees the held deliveries succeed. Every page is visited, and
with ``HOOKWIRE_SCREENSHOTS=<dir>`` a screenshot of each is written there (docs/screenshots/
holds the ones the README links).
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests import debian, receivers
from tests.acceptance.processes import async_server, clean_env, free_port, run
from tests.conftest import WEBHOOKS
from tests.vendors import VENDORS

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    path = debian.tool("chromium", "chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


class Shots:
    """Screenshots, when HOOKWIRE_SCREENSHOTS names a folder."""

    def __init__(self) -> None:
        folder = os.environ.get("HOOKWIRE_SCREENSHOTS")
        self.folder = Path(folder) if folder else None

    async def take(self, page: Page, name: str) -> None:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(self.folder / f"{name}.png"), full_page=True)


async def until(check: Callable[[], Awaitable[bool]], page: Page, seconds: float = 60) -> None:
    """Reload ``page`` until ``check`` holds (bounded)."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"not seen within {seconds} s on {page.url}"
        await asyncio.sleep(0.5)
        await page.reload()


async def test_an_operator_resumes_a_paused_webhook_and_sees_its_deliveries_succeed(
    tmp_path: Path, browser: Browser
) -> None:
    port = free_port()
    env = clean_env(
        HOOKWIRE_PORT=str(port), HOOKWIRE_DATABASE_URL=f"sqlite:///{tmp_path / 'hw.db'}",
        HOOKWIRE_JWT_SECRET=secrets.token_urlsafe(32),
        HOOKWIRE_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(),
        HOOKWIRE_ALLOW_PRIVATE_TARGETS="true", HOOKWIRE_LOG_LEVEL="warning",
    )  # fmt: skip
    token = run(["token", "--tenant", "acme", "--sub", "ops"], tmp_path, env).stdout.strip()
    stranger = run(["token", "--tenant", "globex"], tmp_path, env).stdout.strip()
    shots = Shots()
    async with (
        receivers.receiver(receivers.respond(500)) as target,
        async_server(["serve"], tmp_path, env, port) as hw,
    ):
        api = httpx.AsyncClient(base_url=hw.base_url, headers={"Authorization": f"Bearer {token}"})
        policy = {"initialDelayMs": 200, "maxDelayMs": 1000, "maxAttempts": 20,
                  "pauseAfterFailures": 3}  # fmt: skip
        hook = (await api.post(WEBHOOKS, json={"url": target.url, "name": "Payroll sync",
                                               "retry_policy": policy})).json()  # fmt: skip
        await api.post(WEBHOOKS, json={"url": "https://crm.example.com/hooks", "name": "CRM",
                                       "event_types": ["integration-*"]})  # fmt: skip
        github = VENDORS["github"]
        inbound = (await api.post(WEBHOOKS, json=github.create_body(name="GitHub"))).json()
        body = b'{"action": "opened", "issue": {"number": 7}}'
        signed = github.headers(body, ts=int(time.time()), delivery_id="gh-1")
        assert (await api.post(f"/api/v1/inbound/{inbound['id']}", content=body,
                               headers=signed)).status_code == 202  # fmt: skip
        for _ in range(3):
            sent = await api.post("/api/v1/events", json={"type": "webhook_test",
                                                          "data": {"test": True}})  # fmt: skip
            assert sent.status_code == 202

        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{hw.base_url}/dashboard")
        assert page.url.startswith(f"{hw.base_url}/dashboard/login")
        await page.fill("textarea[name=token]", token)
        await shots.take(page, "login")
        await page.click("button[type=submit]")
        await page.wait_for_url("**/dashboard/webhooks")

        row = page.locator(f"tr[data-webhook='{hook['id']}']")

        async def paused() -> bool:
            return await row.locator(".badge").inner_text() == "paused"

        await until(paused, page)
        await shots.take(page, "webhooks")

        await page.click(f"a[href='/dashboard/webhooks/{hook['id']}']")
        assert await page.locator("#state").inner_text() == "paused"
        # held: the 3 events and the inbound.received of the GitHub request (every type)
        assert await page.locator("tr.delivery.held").count() == 4
        await shots.take(page, "webhook-paused")

        target.behaviour = receivers.respond(200)  # the receiver is fixed
        await page.click("button[value=resume]")
        await page.wait_for_selector("p.notice")
        assert "resumed" in await page.locator("p.notice").inner_text()

        async def delivered() -> bool:
            return await page.locator("tr.delivery.succeeded").count() == 4

        await until(delivered, page)
        assert await page.locator("#state").inner_text() == "active"
        await page.locator("tr.attempts details").first.click()  # open one attempt log
        await shots.take(page, "webhook")

        for path, name in (("/dashboard/events", "events"),
                           ("/dashboard/event-types", "event-types"),
                           ("/dashboard/event-types/integration-state-changed", "event-type"),
                           ("/dashboard/inbound", "inbound")):  # fmt: skip
            await page.goto(hw.base_url + path)
            assert await page.locator("h1").count() == 1
            await shots.take(page, name)
        await page.click("td a[href^='/dashboard/inbound/inm_']")
        assert "gh-1" in await page.locator("table.facts").inner_text()
        await shots.take(page, "inbound-message")
        await page.goto(f"{hw.base_url}/dashboard/events")
        await page.click("td a[href^='/dashboard/events/evt_']")
        await shots.take(page, "event")

        other = await browser.new_page()
        await other.goto(f"{hw.base_url}/dashboard/login")
        await other.fill("textarea[name=token]", stranger)
        await other.click("button[type=submit]")
        await other.wait_for_url("**/dashboard/webhooks")
        assert hook["id"] not in await other.content()
        shown = await other.goto(f"{hw.base_url}/dashboard/webhooks/{hook['id']}")
        assert shown is not None and shown.status == 404
        await api.aclose()
    assert len(target.received) >= 3 + 4  # the failures, then the four held deliveries
