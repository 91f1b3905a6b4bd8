"""Webhook use cases: create, read, list, update, delete, rotate the secret, pause, resume.

Shared by the API, the CLI, the dashboard and the Python client. Writes are compare-and-set on
``version``; the secret goes to the secret store first and is removed again if the row cannot
be written, so a failed request leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from hookwire.domain import envelope
from hookwire.domain import webhook as rules
from hookwire.domain import webhook_requests as requests
from hookwire.domain.delivery import Delivery
from hookwire.domain.event import Event
from hookwire.domain.filters import WebhookQuery
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import (
    RecoverWindow,
    SecretRotation,
    Webhook,
    WebhookDraft,
    WebhookPatch,
)
from hookwire.errors import (
    BackendUnavailable,
    Conflict,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from hookwire.ids import new_id
from hookwire.secrets import SecretStore
from hookwire.secrets.cache import SecretCache
from hookwire.services.announcements import announce
from hookwire.services.paging import Page, check_window, paged
from hookwire.services.ports import Courier, NotSent
from hookwire.services.targets import Resolver, check_target, resolve
from hookwire.signing import keys
from hookwire.store.base import NO_TRANSITION, Job, Store, Transition
from hookwire.timeutil import iso, utcnow

CAS_ATTEMPTS: Final = 5
TEST_SLOT_WAIT_S: Final = 1.0  # a test send waits this long at most for a connection slot


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """What the webhook rules need from the settings."""

    base_url: str
    allow_private_targets: bool = False
    pause_after_failures: int = 20


@dataclass(frozen=True, slots=True)
class WithSecret:
    """A webhook and its new secret, shown once (create and rotate-secret)."""

    webhook: Webhook
    secret: str
    previous_expires_at: str | None = None

    def to_public(self) -> dict[str, Any]:
        """The answer's shape, for the API and ``hookwire.Client`` alike: the webhook, its
        ``secret`` and, while a rotated one still signs, ``previous_secret_expires_at``."""
        body = {**self.webhook.to_public(), "secret": self.secret}
        if self.previous_expires_at:
            body["previous_secret_expires_at"] = self.previous_expires_at
        return body


def secret_path(tenant_id: str, webhook_id: str) -> str:
    return f"hookwire/{tenant_id}/webhooks/{webhook_id}"


class WebhookService:
    """The webhook registry."""

    def __init__(
        self,
        store: Store,
        secrets: SecretStore,
        config: WebhookConfig,
        resolver: Resolver = resolve,
        courier: Courier | None = None,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.config = config
        self.resolver = resolver
        self.courier = courier  # the engine's, in processes that send (serve, api)

    async def _check_url(self, url: str) -> None:
        await check_target(
            url, allow_private=self.config.allow_private_targets, resolver=self.resolver
        )

    # --- reads -----------------------------------------------------------------------

    async def get(
        self, principal: Principal, webhook_id: str, *, include_deleted: bool = False
    ) -> Webhook:
        found = await self.store.get_webhook(principal, webhook_id, include_deleted=include_deleted)
        if found is None:
            raise NotFound(f"webhook {webhook_id} not found")
        return found

    async def list(
        self, principal: Principal, query: WebhookQuery, cursor: str | None
    ) -> Page[Webhook]:
        return await paged(query, cursor, lambda q: self.store.list_webhooks(principal, q), _id)

    # --- writes ------------------------------------------------------------------------

    async def create(self, principal: Principal, draft: WebhookDraft) -> WithSecret:
        requests.verify_draft(draft)
        rules.check_draft(draft, self.config.pause_after_failures)
        scheme, inbound = draft.signature_scheme, draft.direction == "inbound"
        if not inbound:
            await self._check_url(draft.url or "")
        webhook_id = new_id("wh")
        path = secret_path(principal.tenant_id, webhook_id)
        secret = draft.secret or keys.generate_secret(scheme)
        webhook = rules.build(
            draft,
            webhook_id=webhook_id,
            principal=principal,
            now=utcnow(),
            vault_path=path,
            secret_fingerprint=keys.fingerprint(secret),
            public_key=keys.public_key(scheme, secret, inbound=inbound),
            base_url=self.config.base_url,
            default_pause=self.config.pause_after_failures,
        )
        await self.secrets.put(path, {"current": secret})
        try:
            await self.store.insert_webhook(webhook)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.secrets.delete(path)
            raise
        return WithSecret(webhook, secret)

    async def update(
        self, principal: Principal, webhook_id: str, patch: WebhookPatch, expected_version: int
    ) -> Webhook:
        """Apply ``patch`` if the webhook is still at ``expected_version`` (else 409)."""
        requests.verify_patch(patch)
        current = await self.get(principal, webhook_id)
        if current.version != expected_version:
            raise _stale(current)
        rules.check_patch(patch, current, self.config.pause_after_failures)
        shown = current.to_public()
        changes = {k: v for k, v in patch.fields.items() if shown.get(k) != v}
        if not changes:
            return current
        if "url" in changes and not current.inbound:
            await self._check_url(changes["url"])
        if "signature_scheme" in changes:
            await self._check_scheme_change(current, changes["signature_scheme"])
        updated = rules.patched(
            current, changes, principal, utcnow(), self.config.pause_after_failures
        )
        stored = await self.store.update_webhook(updated, expected_version=current.version)
        if stored is None:
            raise _stale(await self.get(principal, webhook_id))
        return stored

    async def _check_scheme_change(self, current: Webhook, scheme: str) -> None:
        if (scheme == keys.ED25519) != (current.signature_scheme == keys.ED25519):
            raise ValidationFailed.at(
                "/signature_scheme",
                "cannot switch between Ed25519 and HMAC schemes; create another webhook",
            )
        secret = await self._current_secret(current)
        if keys.secret_problem(scheme, secret, inbound=current.inbound):
            raise ValidationFailed.at(
                "/signature_scheme",
                f"the current secret does not suit {scheme}; rotate the secret first",
            )

    async def delete(self, principal: Principal, webhook_id: str) -> None:
        """Soft-delete; its pending and held deliveries are cancelled in the same write."""
        await self._change(principal, webhook_id, rules.deleted)

    async def pause(self, principal: Principal, webhook_id: str) -> Webhook:
        """Pause by hand: new and pending deliveries are held, none dropped; announced."""
        return await self._change(
            principal, webhook_id, rules.paused, skip=_is_paused, then=_pausing
        )

    async def resume(self, principal: Principal, webhook_id: str) -> Webhook:
        """Clear the pause and the failure count, release held deliveries; announced."""
        return await self._change(
            principal, webhook_id, rules.resumed, skip=_is_running, then=_resuming
        )

    async def rotate_secret(
        self, principal: Principal, webhook_id: str, rotation: SecretRotation
    ) -> WithSecret:
        current = await self.get(principal, webhook_id)
        inbound = current.inbound
        secret = rotation.secret or keys.generate_secret(current.signature_scheme)
        problem = keys.secret_problem(current.signature_scheme, secret, inbound=inbound)
        if problem:
            raise ValidationFailed.at("/secret", problem)
        old_document = await self.secrets.get(current.vault_path) or {}
        grace = rotation.grace_period_s
        expires = iso(utcnow() + timedelta(seconds=grace)) if grace else None
        document = {"current": secret}
        if expires and "current" in old_document:
            document.update(previous=old_document["current"], previous_expires_at=expires)
        await self.secrets.put(current.vault_path, document)
        fingerprint = keys.fingerprint(secret)
        public = keys.public_key(current.signature_scheme, secret, inbound=inbound)
        try:
            rotated = await self._change(
                principal,
                webhook_id,
                lambda w, p, now: rules.rotated(w, p, now, fingerprint, public),
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await self.secrets.put(current.vault_path, old_document)
            raise
        return WithSecret(rotated, secret, expires)

    async def test(self, principal: Principal, webhook_id: str) -> dict[str, Any]:
        """Send a ``webhook_test`` event (``{"test": true}``) now, once, not retried and not
        stored; the attempt's result."""
        webhook = await self.get(principal, webhook_id)
        if webhook.inbound:
            raise Conflict("only outbound webhooks send requests; this one is inbound")
        if self.courier is None:
            raise BackendUnavailable("this process has no sender")
        now = utcnow()
        event = Event(new_id("evt"), webhook.tenant_id, "webhook_test", 1, {"test": True}, now)
        body = envelope.render(event, webhook.envelope)
        delivery = Delivery(
            id=new_id("dlv"), tenant_id=webhook.tenant_id, event_id=event.id,
            webhook_id=webhook.id, status="in_flight", body=body, created_at=now, updated_at=now,
        )  # fmt: skip
        job = Job(delivery, webhook)
        try:
            start_by = time.monotonic() + TEST_SLOT_WAIT_S
            attempt, outcome = await self.courier.send_now(
                job, SecretCache(self.secrets), now, start_by
            )
        except NotSent as exc:
            raise BackendUnavailable(f"the test was not sent: {exc}") from exc
        return {
            "success": outcome.succeeded,
            "status_code": attempt.status_code,
            "duration_ms": attempt.duration_ms,
            "response_body": attempt.response_body,
            "error": attempt.error,
        }

    async def recover(self, principal: Principal, webhook_id: str, window: RecoverWindow) -> int:
        """Re-queue the webhook's failed deliveries created in the window; how many."""
        check_window(window.since, window.until)
        await self.get(principal, webhook_id)
        return await self.store.recover(principal, webhook_id, window.since, window.until, utcnow())

    async def _current_secret(self, webhook: Webhook) -> str:
        document = await self.secrets.get(webhook.vault_path)
        if not document or "current" not in document:
            raise NotFound(f"the secret of webhook {webhook.id} is missing from the secret store")
        return document["current"]

    async def _change(
        self,
        principal: Principal,
        webhook_id: str,
        change: Callable[[Webhook, Principal, Any], Webhook],
        skip: Callable[[Webhook], bool] = lambda _: False,
        then: Callable[[Webhook, datetime], Transition] = lambda w, now: NO_TRANSITION,
    ) -> Webhook:
        """Apply an action that needs no If-Match: re-read and retry when a write races."""
        for _ in range(CAS_ATTEMPTS):
            current = await self.get(principal, webhook_id)
            if skip(current):
                return current
            now = utcnow()
            stored = await self.store.update_webhook(
                change(current, principal, now),
                expected_version=current.version,
                transition=then(current, now),
            )
            if stored is not None:
                return stored
        raise _stale(await self.get(principal, webhook_id))


def _id(webhook: Webhook) -> str:
    return webhook.id


def _pausing(webhook: Webhook, now: datetime) -> Transition:
    return Transition(pause="pause", announce=announce(webhook, "webhook.paused", "manual", now))


def _resuming(webhook: Webhook, now: datetime) -> Transition:
    announcement = announce(webhook, "webhook.resumed", "manual", now)
    return Transition(pause="resume", announce=announcement)


def _is_paused(webhook: Webhook) -> bool:
    return webhook.paused_at is not None


def _is_running(webhook: Webhook) -> bool:
    return webhook.paused_at is None and webhook.consecutive_failures == 0


def _stale(current: Webhook) -> VersionConflict:
    return VersionConflict(
        f"webhook {current.id} is at version {current.version}; re-read it and retry",
        current.version,
    )
