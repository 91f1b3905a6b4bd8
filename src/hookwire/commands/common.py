"""What every command shares: the consoles, the options that stand for settings, settings
read once, and the services opened for one command and closed after it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from hookwire import logs
from hookwire.devkeys import with_dev_keys
from hookwire.errors import ConfigurationError
from hookwire.services.container import Services, open_services
from hookwire.settings import Settings
from hookwire.store import open_store
from hookwire.store.migrations import pending

T = TypeVar("T")
out = Console()
err = Console(stderr=True)

DatabaseOpt = Annotated[
    str | None, typer.Option("--database-url", envvar="HOOKWIRE_DATABASE_URL", show_envvar=True)
]
HostOpt = Annotated[str | None, typer.Option(envvar="HOOKWIRE_HOST", show_envvar=True)]
PortOpt = Annotated[int | None, typer.Option(envvar="HOOKWIRE_PORT", show_envvar=True)]
TenantOpt = Annotated[
    str,
    typer.Option(envvar="HOOKWIRE_TENANT", show_envvar=True, help="the tenant whose data this is"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, flags applied, logging set up (before anything logs:
    the development keys warn), development keys filled in."""
    settings = Settings.from_env()
    changes = {k: v for k, v in overrides.items() if v is not None}
    if changes:
        settings = settings.replace(**changes)
        settings.check()
    logs.configure(settings.log_level, settings.log_format)
    return with_dev_keys(settings)


async def _pending(settings: Settings) -> bool:
    store = open_store(settings.database_url)
    await store.open()
    try:
        return bool(pending(store.dialect, set(await store.applied_migrations())))
    finally:
        await store.close()


def require_schema(settings: Settings) -> None:
    if asyncio.run(_pending(settings)):
        raise ConfigurationError("the database schema is behind: run `hookwire migrate` first")


def with_services(settings: Settings, use: Callable[[Services], Awaitable[T]]) -> T:
    """Open the services (on a migrated schema), run ``use`` with them, close them."""
    require_schema(settings)

    async def run() -> T:
        services = await open_services(settings)
        try:
            return await use(services)
        finally:
            await services.close()

    return asyncio.run(run())


@contextmanager
def progress(transient: bool = False) -> Iterator[Progress]:
    """A progress bar on stderr (stdout stays for results): spinner, bar, n/total, text."""
    columns = (
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
    )  # fmt: skip
    with Progress(*columns, console=err, transient=transient) as bar:
        yield bar
