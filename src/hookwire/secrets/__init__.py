"""Where webhook signing secrets live: encrypted in the database, or in Vault / OpenBao."""

from __future__ import annotations

from hookwire.secrets.base import SecretDocument, SecretStore
from hookwire.secrets.factory import open_secret_store

__all__ = ["SecretDocument", "SecretStore", "open_secret_store"]
