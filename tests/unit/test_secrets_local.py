"""LocalSecretStore: AES-256-GCM documents over opaque blobs.

This is a pure-crypto unit test (plus the factory's choice of backend): the blobs live in a
dict-backed ``SecretBlobs`` defined here. The database-backed blobs (SQLite, PostgreSQL) are
covered elsewhere, by the store contract tests.
"""

from __future__ import annotations

import base64
import os

import pytest

from hookwire.errors import ConfigurationError, SecretBackendUnavailable
from hookwire.secrets import SecretDocument, SecretStore, open_secret_store
from hookwire.secrets.local import LocalSecretStore
from hookwire.secrets.vault import VaultSecretStore
from hookwire.settings import Settings

PATH = "hookwire/ten_1/webhooks/wh_1"
SECRET = "whsec_c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1uZXZlci1sZWFr"
DOCUMENT: SecretDocument = {
    "current": SECRET,
    "previous": "whsec_b2xkLXNlY3JldA",
    "previous_expires_at": "2026-01-01T00:00:00Z",
}


class MemoryBlobs:
    """A dict-backed SecretBlobs."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def put_secret(self, path: str, blob: bytes) -> None:
        self.blobs[path] = blob

    async def get_secret(self, path: str) -> bytes | None:
        return self.blobs.get(path)

    async def delete_secret(self, path: str) -> None:
        self.blobs.pop(path, None)


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def blobs() -> MemoryBlobs:
    return MemoryBlobs()


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def store(blobs: MemoryBlobs, key: str) -> LocalSecretStore:
    return LocalSecretStore(blobs, key)


async def test_round_trip(store: LocalSecretStore) -> None:
    await store.put(PATH, DOCUMENT)
    assert await store.get(PATH) == DOCUMENT


async def test_put_replaces(store: LocalSecretStore) -> None:
    await store.put(PATH, DOCUMENT)
    await store.put(PATH, {"current": "whsec_new"})
    assert await store.get(PATH) == {"current": "whsec_new"}


async def test_satisfies_the_port(store: LocalSecretStore) -> None:
    port: SecretStore = store
    await port.put(PATH, DOCUMENT)
    assert await port.get(PATH) == DOCUMENT
    await port.close()


async def test_get_absent_is_none(store: LocalSecretStore) -> None:
    assert await store.get(PATH) is None


async def test_delete(store: LocalSecretStore, blobs: MemoryBlobs) -> None:
    await store.put(PATH, DOCUMENT)
    await store.delete(PATH)
    assert await store.get(PATH) is None
    assert blobs.blobs == {}
    await store.delete(PATH)  # absent is fine


async def test_blob_format_hides_the_plaintext(store: LocalSecretStore, blobs: MemoryBlobs) -> None:
    await store.put(PATH, DOCUMENT)
    blob = blobs.blobs[PATH]
    assert blob.startswith(b"v1")
    for value in DOCUMENT.values():
        assert value.encode() not in blob
    assert b"current" not in blob


async def test_each_put_uses_a_fresh_nonce(store: LocalSecretStore, blobs: MemoryBlobs) -> None:
    await store.put(PATH, DOCUMENT)
    first = blobs.blobs[PATH]
    await store.put(PATH, DOCUMENT)
    assert blobs.blobs[PATH][2:14] != first[2:14]


async def test_blob_moved_to_another_path_fails(
    store: LocalSecretStore, blobs: MemoryBlobs
) -> None:
    other = "hookwire/ten_2/webhooks/wh_9"
    await store.put(PATH, DOCUMENT)
    blobs.blobs[other] = blobs.blobs[PATH]
    with pytest.raises(SecretBackendUnavailable) as info:
        await store.get(other)
    assert str(info.value) == (
        f"secret at {other} cannot be decrypted with the configured master key"
    )
    assert SECRET not in str(info.value)


async def test_wrong_master_key_fails(store: LocalSecretStore, blobs: MemoryBlobs) -> None:
    await store.put(PATH, DOCUMENT)
    other_key = new_key()
    with pytest.raises(SecretBackendUnavailable) as info:
        await LocalSecretStore(blobs, other_key).get(PATH)
    assert "cannot be decrypted with the configured master key" in str(info.value)
    assert other_key not in str(info.value)
    assert SECRET not in str(info.value)


async def test_tampered_blob_fails(store: LocalSecretStore, blobs: MemoryBlobs) -> None:
    await store.put(PATH, DOCUMENT)
    blob = bytearray(blobs.blobs[PATH])
    blob[-1] ^= 1
    blobs.blobs[PATH] = bytes(blob)
    with pytest.raises(SecretBackendUnavailable):
        await store.get(PATH)


@pytest.mark.parametrize("blob", [b"", b"v1", b"v2" + bytes(40), b"v1" + bytes(20)])
async def test_unknown_blob_format_fails(
    store: LocalSecretStore, blobs: MemoryBlobs, blob: bytes
) -> None:
    blobs.blobs[PATH] = blob
    with pytest.raises(SecretBackendUnavailable):
        await store.get(PATH)


@pytest.mark.parametrize(
    "bad_key",
    [
        "",
        "not base64 at all!",
        base64.b64encode(b"k" * 16).decode(),
        base64.b64encode(b"k" * 33).decode(),
        base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(),
    ],
)
def test_bad_master_key_is_a_configuration_error(blobs: MemoryBlobs, bad_key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        LocalSecretStore(blobs, bad_key)
    message = str(info.value)
    assert "HOOKWIRE_MASTER_KEY" in message
    if bad_key:
        assert bad_key not in message


def test_repr_hides_the_key(store: LocalSecretStore, key: str) -> None:
    assert key not in repr(store)
    assert key not in str(store)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/hookwire/ten_1",
        "hookwire/../etc",
        "..",
        "hookwire/ten_1/..",
        "hookwire//wh_1",
        "hookwire/./wh_1",
        "hookwire/ten 1",
        "hookwire/ten_1\n",
        "hookwire/ü",
        "-hookwire",
        "a" * 513,
    ],
)
async def test_invalid_paths_raise_value_error(store: LocalSecretStore, path: str) -> None:
    with pytest.raises(ValueError):
        await store.put(path, DOCUMENT)
    with pytest.raises(ValueError):
        await store.get(path)
    with pytest.raises(ValueError):
        await store.delete(path)


@pytest.mark.parametrize(
    "path", ["hookwire/ten_1/webhooks/wh_1", "a", "x.y/z:w@v-1", "a..b/c", "a" * 512]
)
async def test_valid_paths(store: LocalSecretStore, path: str) -> None:
    await store.put(path, DOCUMENT)
    assert await store.get(path) == DOCUMENT


async def test_factory_opens_the_local_store(blobs: MemoryBlobs, key: str) -> None:
    store = open_secret_store(Settings(master_key=key), blobs)
    assert isinstance(store, LocalSecretStore)
    await store.put(PATH, DOCUMENT)
    assert blobs.blobs[PATH].startswith(b"v1")


def test_factory_needs_a_master_key(blobs: MemoryBlobs) -> None:
    with pytest.raises(ConfigurationError, match="HOOKWIRE_MASTER_KEY"):
        open_secret_store(Settings(), blobs)


async def test_factory_opens_the_vault_store(blobs: MemoryBlobs) -> None:
    settings = Settings(
        secret_backend="vault", vault_addr="http://127.0.0.1:1", vault_token="t0ken-x"
    )
    store = open_secret_store(settings, blobs)
    assert isinstance(store, VaultSecretStore)
    assert "t0ken-x" not in repr(store)
    await store.close()


def test_factory_vault_needs_address_and_token(blobs: MemoryBlobs) -> None:
    with pytest.raises(ConfigurationError, match="HOOKWIRE_VAULT_ADDR"):
        open_secret_store(Settings(secret_backend="vault"), blobs)
