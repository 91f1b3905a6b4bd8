"""Everything a running hookwire needs, opened once from the settings and closed once."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from hookwire.metrics import Metrics
from hookwire.sandbox import Sandbox
from hookwire.secrets import SecretStore, open_secret_store
from hookwire.secrets.cache import SecretCache
from hookwire.services.deliveries import DeliveryService
from hookwire.services.event_types import EventTypeService
from hookwire.services.events import EventService
from hookwire.services.inbound import InboundService
from hookwire.services.ports import Courier
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
    metrics: Metrics
    sandbox: Sandbox

    async def close(self) -> None:
        """Close what :func:`open_services` opened (a courier's sender is its opener's)."""
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
    settings: Settings,
    store: Store,
    secrets: SecretStore,
    sandbox: Sandbox | None = None,
    courier: Courier | None = None,
) -> Services:
    """Services over an open store and secret store; the schema sandbox starts its children
    when first asked. ``courier``: the engine's one-off send (webhook tests), when this
    process sends (see :mod:`hookwire.runtime`)."""
    sandbox = sandbox or Sandbox()
    event_types = EventTypeService(store, sandbox)
    metrics = Metrics()
    inbound = InboundService(
        store, SecretCache(secrets), metrics, max_body_bytes=settings.max_payload_bytes
    )
    return Services(
        settings=settings,
        store=store,
        secrets=secrets,
        tokens=TokenVerifier(settings),
        webhooks=WebhookService(store, secrets, webhook_config(settings), courier=courier),
        event_types=event_types,
        events=EventService(store, event_types, metrics),
        deliveries=DeliveryService(store),
        inbound=inbound,
        metrics=metrics,
        sandbox=sandbox,
    )


async def open_services(
    settings: Settings, *, migrate: bool = False, courier: Courier | None = None
) -> Services:
    """Open the store (migrating it when asked) and the secret store."""
    store = open_store(settings.database_url)
    await store.open()
    try:
        if migrate:
            await store.migrate()
        return assemble(settings, store, open_secret_store(settings, store), courier=courier)
    except BaseException:
        await store.close()
        raise
