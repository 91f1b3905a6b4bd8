"""The secrets in force for a webhook, cached: what the worker signs with and what inbound
verification accepts.

Entries are keyed by (vault path, fingerprint): a rotation changes the fingerprint, so a cached
entry never outlives its secret. The previous secret stays in force until its grace period
ends (``previous_expires_at``), which is checked on every call, not when the entry was cached.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from hookwire.errors import HookwireError
from hookwire.secrets.base import SecretDocument, SecretStore
from hookwire.timeutil import parse_iso

CACHE_SIZE: Final = 10_000


class SecretCache:
    """Secret documents by (vault path, fingerprint), read through from a SecretStore."""

    def __init__(self, secrets: SecretStore, size: int = CACHE_SIZE) -> None:
        self.secrets = secrets
        self._size = size
        self._documents: dict[tuple[str, str], SecretDocument] = {}

    async def in_force(self, vault_path: str, fingerprint: str, now: datetime) -> list[str]:
        """``[current]``, plus the previous secret while its grace period lasts."""
        key = (vault_path, fingerprint)
        document = self._documents.get(key)
        if document is None:
            document = await self.secrets.get(vault_path) or {}
            if "current" not in document:  # not cached: it may be put back
                raise HookwireError(f"no secret at {vault_path}")
            if len(self._documents) >= self._size:
                self._documents.clear()
            self._documents[key] = document
        found = [document["current"]]
        expires = document.get("previous_expires_at")
        if "previous" in document and expires and parse_iso(expires) > now:
            found.append(document["previous"])
        return found
