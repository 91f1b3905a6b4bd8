"""Inbound webhooks (docs/concepts.md "Inbound messages"): receive → verify → dedupe → store →
publish.

A third party POSTs to ``/api/v1/inbound/{webhook_id}`` with no token: the signature, checked
with the webhook's secrets in force (the previous one during a rotation's grace period), is the
credential. A refused request stores nothing but a count on the webhook and a metric. A
verified one is stored with its headers and raw body and, in the same transaction, published
as ``inbound.received`` through the normal publishing path, unless the webhook already has a
message with the same dedupe key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from hookwire.domain import inbound
from hookwire.domain.delivery import fan_out
from hookwire.domain.filters import InboundQuery
from hookwire.domain.inbound import InboundMessage
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.errors import (
    HookwireError,
    NotFound,
    PayloadTooLarge,
    SignatureInvalid,
)
from hookwire.ids import is_id, new_id
from hookwire.metrics import Metrics
from hookwire.secrets.cache import SecretCache
from hookwire.services.paging import Page, check_window, paged
from hookwire.signing.base import Message
from hookwire.signing.registry import scheme_for
from hookwire.store.base import Store
from hookwire.timeutil import utcnow

log = logging.getLogger("hookwire.inbound")
TOLERANCE_S: Final = 300  # timestamped schemes: at most 5 minutes of skew (docs/signing.md)
BodyReader = Callable[[int], Awaitable[bytes]]  # reads at most n bytes, else PayloadTooLarge


@dataclass(frozen=True, slots=True)
class Reception:
    """The answer to the sender: 202 stored, 200 duplicate or Slack challenge."""

    status: int
    body: dict[str, Any]


class InboundService:
    """Receiving third-party webhooks, and reading the messages back."""

    def __init__(
        self,
        store: Store,
        secrets: SecretCache,
        metrics: Metrics,
        *,
        max_body_bytes: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.clock = clock

    async def receive(
        self, webhook_id: str, headers: Mapping[str, str], read_body: BodyReader
    ) -> Reception:
        """Verify, dedupe, store and publish one request. NotFound (404) unless the webhook
        is inbound, enabled and not deleted; SignatureInvalid (401) and PayloadTooLarge (413)
        are counted on the webhook and store nothing else."""
        webhook = await self._receiving(webhook_id)
        now = self.clock()
        try:
            body = await read_body(self.max_body_bytes)
            verified = await self._verify(webhook, headers, body, now)
        except (SignatureInvalid, PayloadTooLarge) as exc:
            await self._rejected(webhook, now, exc.detail)
            raise
        payload = inbound.parse_payload(body, headers.get("content-type", ""))
        challenge = inbound.slack_challenge(webhook.signature_scheme, payload)
        if challenge is not None:
            self.metrics.inbound(webhook.signature_scheme, "challenge")
            return Reception(200, {"challenge": challenge})
        message, event = inbound.accepted(webhook, verified, headers, payload, now, new_id)
        received = await self.store.receive(
            message,
            event,
            lambda candidates: fan_out(event, candidates, lambda: new_id("dlv")) if event else [],
        )
        if received.duplicate:
            self.metrics.inbound(webhook.signature_scheme, "duplicate")
            return Reception(200, {"duplicate": True, "id": received.message_id})
        self.metrics.inbound(webhook.signature_scheme, "accepted")
        if event is not None:
            self.metrics.published(event.type)
        log.debug("inbound message stored", extra={
            "tenant_id": webhook.tenant_id, "webhook_id": webhook.id, "message_id": message.id,
            "event_id": message.event_id, "deliveries": received.deliveries,
        })  # fmt: skip
        return Reception(202, {"id": message.id})

    async def _receiving(self, webhook_id: str) -> Webhook:
        found = await self.store.inbound_webhook(webhook_id) if is_id(webhook_id, "wh") else None
        if found is None:
            raise NotFound(f"no inbound webhook {webhook_id[:40]}")
        return found

    async def _verify(
        self, webhook: Webhook, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> Message:
        in_force = await self.secrets.in_force(webhook.vault_path, webhook.secret_fingerprint, now)
        scheme = scheme_for(webhook.signature_scheme, webhook.signature_options)
        return scheme.verify(headers, body, in_force, int(now.timestamp()), TOLERANCE_S)

    async def _rejected(self, webhook: Webhook, now: datetime, reason: str) -> None:
        self.metrics.inbound(webhook.signature_scheme, "rejected")
        log.info("inbound request refused: %s", reason,
                 extra={"tenant_id": webhook.tenant_id, "webhook_id": webhook.id,
                        "reason": reason})  # fmt: skip
        try:
            await self.store.note_rejected(webhook.id, now)
        except HookwireError as exc:  # the sender still gets its 401 or 413
            log.error("could not count a rejected request on %s: %s", webhook.id, exc.detail)

    # --- reads ----------------------------------------------------------------------------

    async def get(self, principal: Principal, message_id: str) -> InboundMessage:
        found = await self.store.get_inbound_message(principal, message_id)
        if found is None:
            raise NotFound(f"inbound message {message_id} not found")
        return found

    async def list(
        self, principal: Principal, query: InboundQuery, cursor: str | None
    ) -> Page[InboundMessage]:
        check_window(query.since, query.until)
        return await paged(
            query,
            cursor,
            lambda q: self.store.list_inbound_messages(principal, q),
            lambda m: m.id,
        )
