"""The local secret backend: documents encrypted with ``MASTER_KEY`` and kept by the store.

Each document is orjson-encoded and sealed with AES-256-GCM under a fresh random 12-byte nonce,
with the path as associated data, so a ciphertext copied to another path does not decrypt. The
stored blob is ``b"v1" + nonce + ciphertext`` (the ciphertext ends with the 16-byte tag).
"""

from __future__ import annotations

import base64
import binascii
import os

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hookwire.errors import ConfigurationError, SecretBackendUnavailable
from hookwire.secrets.base import SecretDocument, check_document, validate_path
from hookwire.store.base import SecretBlobs

VERSION = b"v1"
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32


def parse_master_key(master_key: str) -> bytes:
    """Decode a standard-base64 key of exactly 32 bytes; the message never shows the key."""
    try:
        key = base64.b64decode(master_key.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError("HOOKWIRE_MASTER_KEY is not valid base64") from exc
    if len(key) != KEY_BYTES:
        raise ConfigurationError(
            f"HOOKWIRE_MASTER_KEY must be the base64 of exactly {KEY_BYTES} bytes"
        )
    return key


class LocalSecretStore:
    """A SecretStore over the database's opaque blobs, encrypted with the master key."""

    __slots__ = ("_aead", "_blobs")

    def __init__(self, blobs: SecretBlobs, master_key: str) -> None:
        self._blobs = blobs
        self._aead = AESGCM(parse_master_key(master_key))

    def __repr__(self) -> str:
        return "LocalSecretStore(cipher='AES-256-GCM')"

    async def put(self, path: str, document: SecretDocument) -> None:
        validate_path(path)
        await self._blobs.put_secret(path, self._seal(path, document))

    async def get(self, path: str) -> SecretDocument | None:
        validate_path(path)
        blob = await self._blobs.get_secret(path)
        return None if blob is None else self._open(path, blob)

    async def delete(self, path: str) -> None:
        validate_path(path)
        await self._blobs.delete_secret(path)

    async def close(self) -> None:
        """Nothing to release: the blobs belong to the store that was passed in."""

    def _seal(self, path: str, document: SecretDocument) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, orjson.dumps(document), path.encode())
        return VERSION + nonce + sealed

    def _open(self, path: str, blob: bytes) -> SecretDocument:
        if not blob.startswith(VERSION) or len(blob) < len(VERSION) + NONCE_BYTES + TAG_BYTES:
            raise SecretBackendUnavailable(f"secret at {path} is not in a known format")
        nonce = blob[len(VERSION) : len(VERSION) + NONCE_BYTES]
        try:
            plain = self._aead.decrypt(nonce, blob[len(VERSION) + NONCE_BYTES :], path.encode())
        except InvalidTag as exc:
            raise SecretBackendUnavailable(
                f"secret at {path} cannot be decrypted with the configured master key"
            ) from exc
        return _decode(path, plain)


def _decode(path: str, plain: bytes) -> SecretDocument:
    try:
        document = check_document(orjson.loads(plain))
    except orjson.JSONDecodeError as exc:
        raise SecretBackendUnavailable(f"secret at {path} is not a JSON document") from exc
    if document is None:
        raise SecretBackendUnavailable(f"secret at {path} is not a JSON object of strings")
    return document
