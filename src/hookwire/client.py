"""``hookwire.Client``: hookwire inside a Python platform, without HTTP.

The client calls the same services as the HTTP API, as one tenant (and optionally one
application), and answers the same JSON shapes. Errors are the same exception tree
(:mod:`hookwire.errors`)::

    async with await hookwire.Client.open(tenant_id="acme") as client:
        hook = await client.create_webhook(url="https://example.com/hooks")
        await client.publish("integration-state-changed", data)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from hookwire.devkeys import with_dev_keys
from hookwire.domain.delivery import event_with_deliveries
from hookwire.domain.event_requests import (
    read_event,
    read_event_type,
    read_event_type_patch,
    read_idempotency_key,
)
from hookwire.domain.event_type import check_catalog_writer
from hookwire.domain.filters import DeliveryQuery, EventQuery, InboundQuery, WebhookQuery
from hookwire.domain.principal import Principal
from hookwire.domain.webhook_requests import (
    expected_version,
    read_draft,
    read_patch,
    read_rotation,
)
from hookwire.errors import PayloadTooLarge
from hookwire.services.container import Services, open_services
from hookwire.settings import Settings


class Client:
    """One tenant's view of a hookwire store."""

    def __init__(self, services: Services, principal: Principal, *, owns: bool = False) -> None:
        self.services = services
        self.principal = principal
        self._owns = owns

    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        tenant_id: str,
        sub: str | None = None,
        app_id: str | None = None,
        migrate: bool = True,
    ) -> Client:
        """Open the store and secret store named by ``settings`` (default: the environment)."""
        resolved = with_dev_keys(settings if settings is not None else Settings.from_env())
        services = await open_services(resolved, migrate=migrate)
        return cls(services, Principal(tenant_id, sub, app_id), owns=True)

    def as_tenant(
        self, tenant_id: str, *, sub: str | None = None, app_id: str | None = None
    ) -> Client:
        """Another tenant's client over the same open services."""
        return Client(self.services, Principal(tenant_id, sub, app_id))

    async def close(self) -> None:
        if self._owns:
            await self.services.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    # --- events ----------------------------------------------------------------------------

    async def publish(
        self,
        type: str,
        data: Any,
        *,
        connector_id: str | None = None,
        customer_id: str | None = None,
        state: str | None = None,
        tags: list[str] | None = None,
        idempotency_key: str | None = None,
        ordering_key: str | None = None,
    ) -> dict[str, Any]:
        """Publish an event: ``{id, type, created_at, deliveries}`` (as ``POST /events``).
        ``ordering_key``: FIFO webhooks send one key's events one at a time, in order."""
        optional = {"connector_id": connector_id, "customer_id": customer_id, "state": state,
                    "ordering_key": ordering_key}  # fmt: skip
        body = {"type": type, "data": data, **{k: v for k, v in optional.items() if v}}
        if tags is not None:
            body["tags"] = tags
        key = read_idempotency_key(idempotency_key)
        receipt = await self.services.events.publish(self.principal, read_event(body), key)
        return receipt.body

    async def get_event(self, event_id: str) -> dict[str, Any]:
        return event_with_deliveries(*await self.services.events.get(self.principal, event_id))

    async def list_events(self, cursor: str | None = None, **filters: Any) -> dict[str, Any]:
        page = await self.services.events.list(self.principal, EventQuery(**filters), cursor)
        return page.to_public()

    async def list_deliveries(self, cursor: str | None = None, **filters: Any) -> dict[str, Any]:
        query = DeliveryQuery(**filters)
        page = await self.services.deliveries.list(self.principal, query, cursor)
        return page.to_public()

    # --- webhooks ----------------------------------------------------------------------------

    async def create_webhook(self, **fields: Any) -> dict[str, Any]:
        """Create a webhook; the answer carries its ``secret`` this once."""
        created = await self.services.webhooks.create(self.principal, read_draft(fields))
        return created.to_public()

    async def get_webhook(self, webhook_id: str) -> dict[str, Any]:
        return (await self.services.webhooks.get(self.principal, webhook_id)).to_public()

    async def list_webhooks(self, cursor: str | None = None, **filters: Any) -> dict[str, Any]:
        query = WebhookQuery(**filters)
        page = await self.services.webhooks.list(self.principal, query, cursor)
        return page.to_public()

    async def update_webhook(self, webhook_id: str, version: int, **changes: Any) -> dict[str, Any]:
        """Change fields of a webhook at ``version`` (a stale version raises VersionConflict)."""
        expected, patch = expected_version(changes, version), read_patch(changes)
        updated = await self.services.webhooks.update(self.principal, webhook_id, patch, expected)
        return updated.to_public()

    async def delete_webhook(self, webhook_id: str) -> None:
        await self.services.webhooks.delete(self.principal, webhook_id)

    async def pause_webhook(self, webhook_id: str) -> dict[str, Any]:
        return (await self.services.webhooks.pause(self.principal, webhook_id)).to_public()

    async def resume_webhook(self, webhook_id: str) -> dict[str, Any]:
        return (await self.services.webhooks.resume(self.principal, webhook_id)).to_public()

    async def rotate_secret(self, webhook_id: str, **options: Any) -> dict[str, Any]:
        rotation = read_rotation(options)
        rotated = await self.services.webhooks.rotate_secret(self.principal, webhook_id, rotation)
        return rotated.to_public()

    # --- inbound ------------------------------------------------------------------------------

    async def receive(
        self, webhook_id: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Hand hookwire a third party's request that your own web server received: the status
        and body to answer it with, as ``POST /api/v1/inbound/{id}`` would (errors raise, as
        SignatureInvalid, PayloadTooLarge, NotFound). Any tenant's webhook: the signature is
        the credential."""

        async def read(limit: int) -> bytes:
            if len(body) > limit:
                raise PayloadTooLarge(f"the body is larger than {limit} bytes")
            return body

        lowered = {name.lower(): value for name, value in headers.items()}
        reception = await self.services.inbound.receive(webhook_id, lowered, read)
        return reception.status, reception.body

    async def get_inbound_message(self, message_id: str) -> dict[str, Any]:
        return (await self.services.inbound.get(self.principal, message_id)).to_public()

    async def list_inbound_messages(
        self, cursor: str | None = None, **filters: Any
    ) -> dict[str, Any]:
        query = InboundQuery(**filters)
        page = await self.services.inbound.list(self.principal, query, cursor)
        return page.to_public()

    # --- event types -------------------------------------------------------------------------

    async def create_event_type(
        self, name: str, schema: Any, *, description: str = "", example: Any = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "schema": schema, "description": description}
        if example is not None:
            body["example"] = example
        check_catalog_writer(self.principal)  # as the API: 403 before anything about the body
        created = await self.services.event_types.create(self.principal, read_event_type(body))
        return created.to_public()

    async def update_event_type(self, name: str, **changes: Any) -> dict[str, Any]:
        check_catalog_writer(self.principal)
        patch = read_event_type_patch(changes)
        return (await self.services.event_types.update(self.principal, name, patch)).to_public()

    async def get_event_type(self, name: str, version: int | None = None) -> dict[str, Any]:
        return (await self.services.event_types.get(self.principal, name, version)).to_public()

    async def list_event_types(self, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
        page = await self.services.event_types.list(self.principal, cursor, limit)
        return page.to_public()


__all__ = ["Client"]
