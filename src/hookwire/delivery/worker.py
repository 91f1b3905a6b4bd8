"""The worker: claim due deliveries, sign, send, settle — pipelined and at-least-once.

Each claimed delivery is sent by its own task, so a receiver that hangs holds one task (until
its ``timeoutMs``), never the loop or the other webhooks. Finished attempts are settled in
batches. A delivery is leased while in flight; a worker that dies loses its leases and the
deliveries are sent again when they expire (docs/concepts.md). ``burst`` drains what is due and
returns, for tests and one-off runs; ``stop`` ends the loop gracefully: no new claims, the
attempts in flight finish (or, past the grace period, give their leases back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from hookwire.delivery.sender import Response, Sender
from hookwire.delivery.slots import NotStarted
from hookwire.domain import outcome as outcomes
from hookwire.domain.attempt import Attempt, excerpt, logged_headers, redact, storable
from hookwire.domain.retry import JITTER, backoff_ms
from hookwire.errors import BackendUnavailable, HookwireError
from hookwire.ids import new_id
from hookwire.metrics import Metrics
from hookwire.secrets import SecretStore
from hookwire.secrets.cache import SecretCache
from hookwire.signing.base import Message
from hookwire.signing.registry import get_scheme
from hookwire.store.base import Announcer, Job, Queue, Settlement
from hookwire.timeutil import utcnow
from hookwire.version import VERSION

log = logging.getLogger("hookwire.worker")
USER_AGENT: Final = f"hookwire/{VERSION}"


# A send that did not start goes back to the queue, due again after this long: a slot that
# stayed busy for the whole wait, or a secret store that is down, will not be free at once.
DEFERRED_FOR: Final = {"slot": timedelta(seconds=1), "secrets": timedelta(seconds=5)}
# A send starts no later than this before its lease ends minus its timeout, so that its
# request is over before another worker may take the delivery over.
START_MARGIN: Final = timedelta(seconds=5)
SHORTEST_WAIT_S: Final = 0.01  # the idle loop's floor: no busy polling on a due-now retry


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    batch_size: int = 100
    concurrency: int = 256
    poll_interval_s: float = 1.0  # the backstop; the worker also wakes when a retry is due
    shutdown_grace_s: float = 30.0
    # The longest a claimed send waits for a connection slot (never past what its lease
    # allows). Short: a send waiting holds the worker's concurrency, and it may go out after
    # its webhook was paused meanwhile (it was claimed, so it counts as under way).
    slot_wait_s: float = 1.0


@dataclass(slots=True)
class WorkerStats:
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0  # attempts that did not succeed (they may be retried)
    deferred: int = 0  # sends given back unstarted (no slot in time, secret store down)


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
    sender: Sender, secrets: SecretCache, job: Job, now: datetime, start_by: float | None = None
) -> tuple[Attempt, outcomes.Outcome]:
    """Sign and send one delivery now: the attempt as logged, and what its answer means.

    Whatever raises inside the attempt ends as a failed attempt with outcome ``error`` and the
    exception in its log (docs/concepts.md), except two cases where nothing was sent, which the
    caller gives back uncounted: :class:`NotStarted` (no connection slot by ``start_by``, a
    ``time.monotonic()`` deadline) and :class:`BackendUnavailable` (the secret store is down:
    hookwire's outage, which must not use up a delivery's attempts or pause its webhook)."""
    try:
        return await _send(sender, secrets, job, now, start_by)
    except (NotStarted, BackendUnavailable):
        raise
    except Exception as exc:
        log.exception("the attempt failed inside hookwire", extra=ids(job))
        detail = f"hookwire failed during the attempt: {type(exc).__name__}: {exc}"
        outcome = outcomes.of_error("error")
        return _attempt(job, now, {}, Response(0, error="error", detail=detail[:500]), outcome)


async def _send(
    sender: Sender, secrets: SecretCache, job: Job, now: datetime, start_by: float | None
) -> tuple[Attempt, outcomes.Outcome]:
    webhook = job.webhook
    signing = await secrets.in_force(webhook.vault_path, webhook.secret_fingerprint, now)
    headers = signed_headers(job, signing, now)
    timeout_s = webhook.retry_policy.timeout_ms / 1000
    wait_s = None if start_by is None else start_by - time.monotonic()  # after the secret
    response = await sender.post(webhook.url, headers, job.delivery.body, timeout_s, wait_s)
    return _attempt(job, now, headers, response, _outcome_of(response, now))


def _attempt(
    job: Job, now: datetime, headers: dict[str, str], response: Response, outcome: outcomes.Outcome
) -> tuple[Attempt, outcomes.Outcome]:
    """The attempt's log entry (it started when its request did, after any wait for a slot)
    and its outcome."""
    attempt = Attempt(
        id=new_id("att"),
        tenant_id=job.delivery.tenant_id,
        delivery_id=job.delivery.id,
        webhook_id=job.webhook.id,
        started_at=now + timedelta(milliseconds=response.queued_ms),
        duration_ms=response.duration_ms,
        outcome=outcome.status,
        status_code=response.status_code,
        request_headers=redact(headers),
        response_headers=logged_headers(response.headers),
        response_body=excerpt(response.body) if response.status_code is not None else None,
        error=storable(response.detail) if response.detail is not None else None,
    )
    return attempt, outcome


class Worker:
    """Sends due deliveries until stopped (or, in burst mode, until nothing is due)."""

    def __init__(
        self,
        store: Queue,
        secrets: SecretStore,
        sender: Sender,
        config: WorkerConfig | None = None,
        *,
        announcer: Announcer,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.announcer = announcer  # the event a pause it causes publishes (services')
        self.config = config or WorkerConfig()
        self.clock = clock
        self.rng = rng or random.Random()
        self.metrics = metrics or Metrics()
        self.secrets = SecretCache(secrets)
        self.stats = WorkerStats()
        self._ready: list[Settlement] = []
        self._deferred: dict[str, list[Job]] = {reason: [] for reason in DEFERRED_FOR}
        self._inflight: dict[asyncio.Task[None], Job] = {}
        self._wake = asyncio.Event()
        self._owed_until: datetime | None = None  # when the last send it gave back is due
        self._empty_claims = 0  # claims in a row that found nothing although work was due

    # --- one attempt -----------------------------------------------------------------------

    async def attempt(self, job: Job) -> Settlement:
        """Sign and send one delivery; what to record about it. Raises NotStarted or
        BackendUnavailable when nothing was sent (see :func:`send_once`)."""
        now = self.clock()
        start_by = time.monotonic() + self._slot_wait_s(job, now)
        attempt, outcome = await send_once(self.sender, self.secrets, job, now, start_by)
        return Settlement(job, attempt, outcome, self._retry_at(job, outcome, now))

    def _slot_wait_s(self, job: Job, now: datetime) -> float:
        """How long the send may wait for a slot: its request must be over within its lease."""
        lease = job.delivery.lease_expires_at or now
        timeout = timedelta(milliseconds=job.webhook.retry_policy.timeout_ms)
        return min((lease - timeout - START_MARGIN - now).total_seconds(), self.config.slot_wait_s)

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
            self._wake.clear()  # before looking for work: a send that ends later wakes _idle
            await self._flush()
            if stop.is_set():
                break
            jobs = await self._claim()
            for job in jobs:
                self._start(job)
            if jobs:
                self._empty_claims = 0
                continue
            if burst and not self._inflight and not self._ready and not self._owes():
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
        except NotStarted as exc:  # hookwire's own queue was full: not an attempt
            self._defer(job, "slot", str(exc))
            return
        except BackendUnavailable as exc:  # the secret store is down: not the receiver's fault
            self._defer(job, "secrets", exc.detail)
            return
        except Exception:  # a defect outside the attempt (send_once records those inside it)
            log.exception("delivery not sent; it goes again when its lease ends", extra=ids(job))
            return
        self._ready.append(settlement)
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

    def _defer(self, job: Job, reason: str, detail: str) -> None:
        self.stats.deferred += 1
        self.metrics.deferred(reason)
        log.warning("delivery not sent, due again later: %s", detail, extra=ids(job))
        self._deferred[reason].append(job)

    async def _flush(self) -> None:
        now = self.clock()
        for reason, jobs in self._deferred.items():
            if jobs:
                self._deferred[reason] = []
                due_at = now + DEFERRED_FOR[reason]
                self._owed_until = max(self._owed_until or due_at, due_at)
                await self._give_back(jobs, now, due_at)
        if self._ready:
            batch, self._ready = self._ready, []
            await self._settle(batch, now)

    async def _settle(self, batch: list[Settlement], now: datetime) -> None:
        """Record a batch of attempts; when that fails, each one alone, so that one row the
        store refuses cannot lose the others (their leases would expire and they would be
        sent again, unrecorded)."""
        try:
            await self.store.settle(batch, self.announcer, now)
            return
        except Exception as exc:
            if len(batch) == 1:
                log.error("could not record an attempt: %s", exc, extra=ids(batch[0].job))
                return
        for settlement in batch:
            await self._settle([settlement], now)

    async def _give_back(self, jobs: list[Job], now: datetime, due_at: datetime | None) -> None:
        """Unsent leases back to the queue, due at ``due_at`` (None: now, other workers woken)."""
        try:
            await self.store.release(jobs, now, due_at)
        except Exception as exc:  # their leases expire and they are claimed again
            log.error("could not give back %d deliveries: %s", len(jobs), exc)

    async def _idle(self, stop: asyncio.Event) -> None:
        waits = [
            asyncio.create_task(self._wake.wait()),
            asyncio.create_task(stop.wait()),
            asyncio.create_task(self.store.wait_for_work(await self._until_due())),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _until_due(self) -> float:
        """Seconds to sleep: until the next retry is due (docs/concepts.md "Retries": a retry
        goes at its due time, not at the next poll), at most the poll interval, which stays as a
        backstop for
        what other processes make due. With no room to claim, a finished send wakes us."""
        if len(self._inflight) >= self.config.concurrency:
            return self.config.poll_interval_s
        try:
            due = await self.store.next_due()
        except HookwireError:
            due = None
        if due is None:
            return self.config.poll_interval_s
        wait_s = (due - self.clock()).total_seconds()
        if wait_s <= 0:  # due, yet not claimed (locked by a claim or a transition): back off
            self._empty_claims += 1
            wait_s = SHORTEST_WAIT_S * 2 ** min(self._empty_claims, 10)
        else:
            self._empty_claims = 0
        return min(max(wait_s, SHORTEST_WAIT_S), self.config.poll_interval_s)

    def _owes(self) -> bool:
        """Whether a send this worker gave back is not due yet (burst mode waits for it)."""
        return self._owed_until is not None and self.clock() < self._owed_until

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
            now = self.clock()
            await self._give_back([job for _, job in unfinished], now, None)


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
