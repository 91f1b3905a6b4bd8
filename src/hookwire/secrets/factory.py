"""Choose the secret backend named by ``HOOKWIRE_SECRET_BACKEND``."""

from __future__ import annotations

from hookwire.errors import ConfigurationError
from hookwire.secrets.base import SecretStore
from hookwire.secrets.local import LocalSecretStore
from hookwire.secrets.vault import VaultSecretStore
from hookwire.settings import Settings
from hookwire.store.base import SecretBlobs


def open_secret_store(settings: Settings, blobs: SecretBlobs) -> SecretStore:
    """The local store (over ``blobs``) or the Vault store, as ``settings`` say."""
    if settings.secret_backend == "local":
        if not settings.master_key:
            raise ConfigurationError("HOOKWIRE_SECRET_BACKEND=local needs HOOKWIRE_MASTER_KEY")
        return LocalSecretStore(blobs, settings.master_key)
    if settings.secret_backend == "vault":
        if not (settings.vault_addr and settings.vault_token):
            raise ConfigurationError(
                "HOOKWIRE_SECRET_BACKEND=vault needs HOOKWIRE_VAULT_ADDR and HOOKWIRE_VAULT_TOKEN"
            )
        return VaultSecretStore(settings.vault_addr, settings.vault_token, settings.vault_mount)
    raise ConfigurationError(f"unknown secret backend {settings.secret_backend!r}")
