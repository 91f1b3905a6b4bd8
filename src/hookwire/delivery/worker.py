"""The worker: claim due deliveries, sign, send, settle — pipelined and at-least-once.

Each claimed delivery is sent by its own task, so a receiver that hangs holds one task (until
its ``timeoutMs``), never the loop or the other webhooks. Finished attempts are settled in
batches. A delivery is leased while in flight; a worker that dies loses its leases and the
deliveries are sent again when they expire (DESIGN §5, §7). ``burst`` drains what is due and
returns, for tests and one-off runs; ``stop`` ends the loop gracefully: no new claims, the
attempts in flight finish (or, past the grace period, give their leases back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from hookwire.delivery.sender import Response, Sender
from hookwire.domain import outcome as outcomes
from hookwire.domain.attempt import Attempt, excerpt, logged_headers, redact
from hookwire.domain.retry import JITTER, backoff_ms
from hookwire.errors import HookwireError
from hookwire.ids import new_id
from hookwire.metrics import Metrics
from hookwire.secrets import SecretStore
from hookwire.secrets.cache import SecretCache
from hookwire.services import announcements
from hookwire.signing.base import Message
from hookwire.signing.registry import get_scheme
from hookwire.store.base import Job, Settlement, Store
from hookwire.timeutil import utcnow
from hookwire.version import VERSION

log = logging.getLogger("hookwire.worker")
USER_AGENT: Final = f"hookwire/{VERSION}"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    batch_size: int = 100
    concurrency: int = 256
    poll_interval_s: float = 1.0
    shutdown_grace_s: float = 30.0


@dataclass(slots=True)
class WorkerStats:
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0  # attempts that did not succeed (they may be retried)


def signed_headers(job: Job, secrets: list[str], now: datetime) -> dict[str, str]:
    """Every header of an attempt: ours, the webhook's static ones, then its signature."""
    delivery, webhook = job.delivery, job.webhook
    message = Message(id=delivery.event_id, timestamp=int(now.timestamp()), body=delivery.body)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.event_id,
        **webhook.headers,
        **get_scheme(webhook.signature_scheme).sign(message, secrets),
    }


async def send_once(
    sender: Sender, secrets: SecretCache, job: Job, now: datetime
) -> tuple[Attempt, outcomes.Outcome]:
    """Sign and send one delivery now: the attempt as logged, and what its answer means."""
    webhook = job.webhook
    signing = await secrets.in_force(webhook.vault_path, webhook.secret_fingerprint, now)
    headers = signed_headers(job, signing, now)
    timeout_s = webhook.retry_policy.timeout_ms / 1000
    response = await sender.post(webhook.url, headers, job.delivery.body, timeout_s)
    outcome = _outcome_of(response, now)
    attempt = Attempt(
        id=new_id("att"),
        tenant_id=job.delivery.tenant_id,
        delivery_id=job.delivery.id,
        webhook_id=webhook.id,
        started_at=now,
        duration_ms=response.duration_ms,
        outcome=outcome.status,
        status_code=response.status_code,
        request_headers=redact(headers),
        response_headers=logged_headers(response.headers),
        response_body=excerpt(response.body) if response.status_code is not None else None,
        error=response.detail,
    )
    return attempt, outcome


class Worker:
    """Sends due deliveries until stopped (or, in burst mode, until nothing is due)."""

    def __init__(
        self,
        store: Store,
        secrets: SecretStore,
        sender: Sender,
        config: WorkerConfig | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.config = config or WorkerConfig()
        self.clock = clock
        self.rng = rng or random.Random()
        self.metrics = metrics or Metrics()
        self.secrets = SecretCache(secrets)
        self.stats = WorkerStats()
        self._ready: list[Settlement] = []
        self._inflight: dict[asyncio.Task[None], Job] = {}
        self._wake = asyncio.Event()

    # --- one attempt -----------------------------------------------------------------------

    async def attempt(self, job: Job) -> Settlement:
        """Sign and send one delivery; what to record about it."""
        now = self.clock()
        attempt, outcome = await send_once(self.sender, self.secrets, job, now)
        return Settlement(job, attempt, outcome, self._retry_at(job, outcome, now))

    def _retry_at(self, job: Job, outcome: outcomes.Outcome, now: datetime) -> datetime | None:
        if outcome.kind != "retry":
            return None
        policy = job.webhook.retry_policy
        jitter = self.rng.uniform(-JITTER, JITTER)
        wait_ms = backoff_ms(policy, job.delivery.attempt_count + 1, jitter)
        if outcome.retry_after_s is not None:  # the receiver's wish, within the policy's
            asked_ms = round(outcome.retry_after_s * 1000)
            wait_ms = max(wait_ms, min(asked_ms, policy.max_delay_ms))
        return now + timedelta(milliseconds=wait_ms)

    # --- the loop ---------------------------------------------------------------------------

    async def run(self, *, burst: bool = False, stop: asyncio.Event | None = None) -> WorkerStats:
        stop = stop or asyncio.Event()
        while True:
            await self._flush()
            if stop.is_set():
                break
            jobs = await self._claim()
            for job in jobs:
                self._start(job)
            if jobs:
                continue
            if burst and not self._inflight and not self._ready:
                break
            await self._idle(stop)
        await self._shut_down()
        return self.stats

    async def _claim(self) -> list[Job]:
        room = self.config.concurrency - len(self._inflight)
        if room <= 0:
            return []
        try:
            return await self.store.claim(self.clock(), min(self.config.batch_size, room))
        except HookwireError as exc:  # e.g. the database restarts: keep going, claim later
            log.error("could not claim deliveries: %s", exc.detail)
            return []

    def _start(self, job: Job) -> None:
        self.stats.claimed += 1
        task = asyncio.create_task(self._run_job(job))
        self._inflight[task] = job
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self._wake.set()

    async def _run_job(self, job: Job) -> None:
        try:
            settlement = await self.attempt(job)
        except HookwireError as exc:  # e.g. the secret store is down: the lease will expire
            log.warning("delivery not sent: %s", exc.detail, extra=ids(job))
            return
        except Exception:  # a defect must not kill the worker; the lease will expire
            log.exception("delivery not sent", extra=ids(job))
            return
        outcome = settlement.outcome
        self.metrics.attempt(outcome, settlement.attempt.duration_ms)
        if outcome.succeeded:
            self.stats.succeeded += 1
        else:
            self.stats.failed += 1
        level = logging.DEBUG if outcome.succeeded else logging.INFO
        attempt = job.delivery.attempt_count + 1
        log.log(level, "attempt %d: %s", attempt, outcome.status,
                extra={**ids(job), "status": outcome.status, "attempt": attempt})  # fmt: skip
        self._ready.append(settlement)

    async def _flush(self) -> None:
        if not self._ready:
            return
        batch, self._ready = self._ready, []
        try:
            await self.store.settle(batch, announcements.paused, self.clock())
        except HookwireError as exc:  # the leases expire and the deliveries are sent again
            log.error("could not record %d attempts: %s", len(batch), exc.detail)

    async def _idle(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waits = [
            asyncio.create_task(self._wake.wait()),
            asyncio.create_task(stop.wait()),
            asyncio.create_task(self.store.wait_for_work(self.config.poll_interval_s)),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _shut_down(self) -> None:
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=self.config.shutdown_grace_s)
        unfinished = list(self._inflight.items())
        for task, _ in unfinished:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*(task for task, _ in unfinished), return_exceptions=True)
        await self._flush()
        if unfinished:
            await self.store.release([job for _, job in unfinished], self.clock())


def ids(job: Job) -> dict[str, str]:
    """What a log line about a delivery carries (see hookwire.logs)."""
    delivery = job.delivery
    return {"tenant_id": delivery.tenant_id, "webhook_id": delivery.webhook_id,
            "event_id": delivery.event_id, "delivery_id": delivery.id}  # fmt: skip


def _outcome_of(response: Response, now: datetime) -> outcomes.Outcome:
    if response.status_code is not None:
        return outcomes.of_response(response.status_code, response.headers, now)
    if response.error == "blocked":
        return outcomes.of_error("blocked")
    if response.error == "timeout":
        return outcomes.of_error("timeout")
    return outcomes.of_error("connection_error")
