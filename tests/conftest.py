"""Fixtures shared by every suite: real stores on real files and a real PostgreSQL."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookwire.delivery.courier import Courier
from hookwire.delivery.sender import Sender
from hookwire.runtime import Runtime, create_app
from hookwire.secrets.local import LocalSecretStore
from hookwire.services.container import Services, assemble
from hookwire.settings import Settings
from hookwire.store.base import Store
from hookwire.store.postgres import PostgresStore
from hookwire.store.sqlite import SQLiteStore
from hookwire.tokens import mint
from tests import pg


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    with pg.template_database() as name:
        yield name


@pytest.fixture(scope="session")
def pg_session_url(pg_template: str) -> Iterator[str]:
    with pg.session_database(pg_template) as url:
        yield url


@pytest.fixture
async def pg_url(pg_session_url: str) -> str:
    """The session's migrated PostgreSQL database, every table emptied for this test."""
    await pg.empty_tables(pg_session_url)
    return pg_session_url


@pytest.fixture
async def empty_pg_url() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (not migrated) for this test."""
    name = pg.unique_name("e")
    url = await pg.create_database(name)
    yield url
    await pg.drop_database(name)


@pytest.fixture
def sqlite_path(tmp_path: Path) -> str:
    return str(tmp_path / "hookwire.db")


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    if kind == "postgres":
        request.applymarker(pytest.mark.postgres)
    return kind


@pytest.fixture
def database_url(store_kind: str, request: pytest.FixtureRequest) -> str:
    """A ``HOOKWIRE_DATABASE_URL`` for an empty-but-migrated database of each kind."""
    if store_kind == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return "sqlite:///" + str(request.getfixturevalue("sqlite_path"))


@pytest.fixture
async def store(store_kind: str, database_url: str) -> AsyncIterator[Store]:
    """An open, migrated store of each kind."""
    opened: Store
    if store_kind == "postgres":
        opened = PostgresStore(database_url)
    else:
        opened = SQLiteStore.from_url(database_url)
    await opened.open()
    await opened.migrate()
    yield opened
    await opened.close()


# --- the application over a real store ---------------------------------------------------

PUBLIC_URL = "https://hooks.example.test"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        jwt_secret=secrets.token_urlsafe(32),
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        public_url=PUBLIC_URL,
    )


@pytest.fixture
async def runtime(settings: Settings, store: Store) -> AsyncIterator[Runtime]:
    """Services over the migrated ``store`` with the local (encrypted) secret backend, and the
    engine's sender behind their courier, as a process that sends has them (hookwire.runtime):
    ``run_engine(runtime, ...)`` runs the engine over them."""
    sender = Sender(allow_private=settings.allow_private_targets)
    await sender.open()
    secrets = LocalSecretStore(store, settings.master_key or "")
    assembled = assemble(settings, store, secrets, courier=Courier(sender))
    yield Runtime(assembled, sender)
    await sender.close()
    await assembled.sandbox.close()


@pytest.fixture
def services(runtime: Runtime) -> Services:
    return runtime.services


@pytest.fixture
async def sender() -> AsyncIterator[Sender]:
    """A sender that may reach loopback, where the tests' receivers listen."""
    opened = Sender(allow_private=True)
    await opened.open()
    yield opened
    await opened.close()


class Api:
    """An HTTP client for one tenant, speaking to the app in-process over ASGI."""

    def __init__(
        self, transport: httpx.AsyncBaseTransport, settings: Settings, headers: dict[str, str]
    ) -> None:
        self.transport = transport
        self.settings = settings
        self.client = httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers)
        _open_clients.append(self.client)

    def as_tenant(self, tenant: str, *, sub: str | None = "user-1", app: str | None = None) -> Api:
        token = mint(self.settings, tenant, sub=sub, app_id=app)
        return Api(self.transport, self.settings, {"Authorization": f"Bearer {token}"})

    def anonymous(self, **headers: str) -> Api:
        return Api(self.transport, self.settings, headers)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, **kwargs)

    async def create(self, **body: Any) -> dict[str, Any]:
        body.setdefault("url", "https://receiver.example.com/hooks")
        response = await self.client.post(WEBHOOKS, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


BASE = "http://hookwire.test"
WEBHOOKS = "/api/v1/integration/webhooks"
_open_clients: list[httpx.AsyncClient] = []


@pytest.fixture
async def api(services: Services, settings: Settings) -> AsyncIterator[Api]:
    """The app over real stores, as tenant ``acme``; ``api.as_tenant(...)`` for others."""
    transport = httpx.ASGITransport(app=create_app(settings, services))
    yield Api(transport, settings, {}).as_tenant("acme")
    while _open_clients:
        await _open_clients.pop().aclose()
