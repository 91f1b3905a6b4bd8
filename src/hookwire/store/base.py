"""The Store port: every read and write hookwire makes, as use-case-sized async methods.

Services are the only callers. Each adapter (``sqlite``, ``postgres``) passes the same contract
suite in ``tests/integration/test_store_contract.py``. Rows are always scoped: a method that
takes a :class:`Principal` sees only that tenant's rows, and only the rows of ``app_id`` when the
principal has one. Adapters raise :class:`~hookwire.errors.StoreUnavailable` (with ``from``) when
the database fails, never a driver exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook


@dataclass(frozen=True, slots=True)
class WebhookQuery:
    """Filters of ``GET /integration/webhooks``; newest first, keyset-paginated by id."""

    limit: int = 50
    before_id: str | None = None
    direction: str | None = None
    enabled: bool | None = None
    connector_id: str | None = None
    tag: str | None = None
    event_type: str | None = None
    include_deleted: bool = False


class SecretBlobs(Protocol):
    """Opaque ciphertexts by path, for the local secret backend."""

    async def put_secret(self, path: str, blob: bytes) -> None: ...

    async def get_secret(self, path: str) -> bytes | None: ...

    async def delete_secret(self, path: str) -> None: ...


class Store(SecretBlobs, Protocol):
    """What hookwire keeps, and how it is read and changed."""

    dialect: str

    async def open(self) -> None:
        """Connect (and, for SQLite, start the writer thread). Does not migrate."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""

    async def migrate(self) -> list[str]:
        """Apply pending migrations in order; return the names applied now. Safe to race."""

    async def applied_migrations(self) -> list[str]: ...

    async def insert_webhook(self, webhook: Webhook) -> None: ...

    async def get_webhook(
        self, principal: Principal, webhook_id: str, *, include_deleted: bool = False
    ) -> Webhook | None: ...

    async def list_webhooks(self, principal: Principal, query: WebhookQuery) -> list[Webhook]:
        """At most ``query.limit`` rows with id < ``before_id``, newest (highest id) first."""

    async def update_webhook(self, webhook: Webhook, *, expected_version: int) -> bool:
        """Write every column of ``webhook`` if the stored row (same id and tenant) still has
        ``expected_version``; False when it does not (or is gone)."""
