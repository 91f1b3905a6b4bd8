"""Everything a running hookwire needs, opened once from the settings and closed once."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from hookwire.delivery.sender import Sender
from hookwire.metrics import Metrics
from hookwire.sandbox import Sandbox
from hookwire.secrets import SecretStore, open_secret_store
from hookwire.secrets.cache import SecretCache
from hookwire.services.deliveries import DeliveryService
from hookwire.services.event_types import EventTypeService
from hookwire.services.events import EventService
from hookwire.services.inbound import InboundService
from hookwire.services.webhooks import WebhookConfig, WebhookService
from hookwire.settings import Settings
from hookwire.store import Store, open_store
from hookwire.tokens import TokenVerifier


@dataclass(slots=True)
class Services:
    settings: Settings
    store: Store
    secrets: SecretStore
    tokens: TokenVerifier
    webhooks: WebhookService
    event_types: EventTypeService
    events: EventService
    deliveries: DeliveryService
    inbound: InboundService
    sender: Sender
    metrics: Metrics
    sandbox: Sandbox

    async def close(self) -> None:
        await self.sender.close()
        await self.sandbox.close()
        with contextlib.suppress(Exception):
            await self.secrets.close()
        await self.store.close()


def webhook_config(settings: Settings) -> WebhookConfig:
    return WebhookConfig(
        base_url=settings.base_url,
        allow_private_targets=settings.allow_private_targets,
        pause_after_failures=settings.pause_after_failures,
    )


def assemble(
    settings: Settings, store: Store, secrets: SecretStore, sandbox: Sandbox | None = None
) -> Services:
    """Services over an open store and secret store (the sender is opened by ``open``); the
    schema sandbox starts its children when first asked."""
    sandbox = sandbox or Sandbox()
    event_types = EventTypeService(store, sandbox)
    sender = Sender(allow_private=settings.allow_private_targets)
    metrics = Metrics()
    inbound = InboundService(
        store, SecretCache(secrets), metrics, max_body_bytes=settings.max_payload_bytes
    )
    return Services(
        settings=settings,
        store=store,
        secrets=secrets,
        tokens=TokenVerifier(settings),
        webhooks=WebhookService(store, secrets, webhook_config(settings), sender=sender),
        event_types=event_types,
        events=EventService(store, event_types, metrics),
        deliveries=DeliveryService(store),
        inbound=inbound,
        sender=sender,
        metrics=metrics,
        sandbox=sandbox,
    )


async def open_services(settings: Settings, *, migrate: bool = False) -> Services:
    """Open the store (migrating it when asked) and the secret store."""
    store = open_store(settings.database_url)
    await store.open()
    try:
        if migrate:
            await store.migrate()
        services = assemble(settings, store, open_secret_store(settings, store))
        await services.sender.open()
        return services
    except BaseException:
        await store.close()
        raise
