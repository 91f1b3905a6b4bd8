"""The Vault (or OpenBao) secret backend: one KV v2 secret per path.

``vault_path`` excludes the mount: the document at ``path`` lives at
``{mount}/data/{path}``. hvac is synchronous, so every call runs in a worker thread. Deleting
removes the metadata and every version, so no copy of a rotated-away secret lingers. Failures
become :class:`~hookwire.errors.SecretBackendUnavailable` naming the path and the Vault address,
never the token or a secret value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import hvac
from hvac.exceptions import InvalidPath, VaultError
from requests.exceptions import RequestException

from hookwire.errors import ConfigurationError, SecretBackendUnavailable
from hookwire.secrets.base import SecretDocument, check_document, validate_path

REQUEST_TIMEOUT_SECONDS = 10
T = TypeVar("T")


class VaultSecretStore:
    """A SecretStore over a KV v2 mount of Vault or OpenBao."""

    __slots__ = ("_addr", "_client", "_mount")

    def __init__(self, addr: str, token: str, mount: str = "secret") -> None:
        if not addr or not token:
            raise ConfigurationError("the Vault secret backend needs an address and a token")
        self._addr = addr.rstrip("/")
        self._mount = mount.strip("/")
        if not self._mount:
            raise ConfigurationError("HOOKWIRE_VAULT_MOUNT must not be empty")
        self._client = hvac.Client(url=self._addr, token=token, timeout=REQUEST_TIMEOUT_SECONDS)

    def __repr__(self) -> str:
        return f"VaultSecretStore(addr={self._addr!r}, mount={self._mount!r})"

    async def put(self, path: str, document: SecretDocument) -> None:
        validate_path(path)
        kv = self._client.secrets.kv.v2
        await self._call(
            "write",
            path,
            lambda: kv.create_or_update_secret(
                path=path, secret=dict(document), mount_point=self._mount
            ),
        )

    async def get(self, path: str) -> SecretDocument | None:
        validate_path(path)
        return await self._call("read", path, lambda: self._read(path))

    async def delete(self, path: str) -> None:
        validate_path(path)
        kv = self._client.secrets.kv.v2
        await self._call(
            "delete",
            path,
            lambda: kv.delete_metadata_and_all_versions(path=path, mount_point=self._mount),
        )

    async def close(self) -> None:
        self._client.adapter.close()

    def _read(self, path: str) -> SecretDocument | None:
        """Blocking read; None when the secret (or its latest version) does not exist."""
        try:
            response = self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self._mount, raise_on_deleted_version=True
            )
        except InvalidPath as exc:
            if exc.errors:  # e.g. "no handler for route": the mount is wrong, not the secret
                raise
            return None
        document = check_document(_inner_data(response))
        if document is None:
            raise SecretBackendUnavailable(
                f"secret at {path} in Vault at {self._addr} is not a JSON object of strings"
            )
        return document

    async def _call(self, action: str, path: str, blocking: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(blocking)
        except (VaultError, RequestException) as exc:
            raise SecretBackendUnavailable(
                f"Vault at {self._addr} failed to {action} the secret at {path} "
                f"(mount {self._mount!r}): {type(exc).__name__}"
            ) from exc


def _inner_data(response: Any) -> object:
    """``response["data"]["data"]`` of a KV v2 read, or None when the shape is unexpected."""
    if isinstance(response, dict) and isinstance(response.get("data"), dict):
        inner: object = response["data"].get("data")
        return inner
    return None
