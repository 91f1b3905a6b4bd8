"""The ``hookwire`` command: the entry point that reads the settings once and passes them down.

Every flag names its environment variable in ``--help``; flags win over the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import uvicorn
from rich.console import Console

from hookwire import exporter, logs, tokens
from hookwire.api import create_app
from hookwire.delivery.runner import run_engine
from hookwire.devkeys import with_dev_keys
from hookwire.domain.principal import Principal
from hookwire.errors import BadRequest, ConfigurationError, HookwireError, ValidationFailed
from hookwire.services.container import open_services
from hookwire.services.retention import PurgeReport, purge
from hookwire.settings import Settings
from hookwire.store import open_store
from hookwire.timeutil import utcnow
from hookwire.version import VERSION

app = typer.Typer(
    name="hookwire",
    help="Webhook infrastructure: typed, signed, retried events out; verified webhooks in.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

DatabaseOpt = Annotated[
    str | None, typer.Option("--database-url", envvar="HOOKWIRE_DATABASE_URL", show_envvar=True)
]
HostOpt = Annotated[str | None, typer.Option(envvar="HOOKWIRE_HOST", show_envvar=True)]
PortOpt = Annotated[int | None, typer.Option(envvar="HOOKWIRE_PORT", show_envvar=True)]


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


async def _migrate(settings: Settings) -> list[str]:
    store = open_store(settings.database_url)
    await store.open()
    try:
        return await store.migrate()
    finally:
        await store.close()


async def _pending(settings: Settings) -> bool:
    from hookwire.store.migrations import pending

    store = open_store(settings.database_url)
    await store.open()
    try:
        return bool(pending(store.dialect, set(await store.applied_migrations())))
    finally:
        await store.close()


def _require_schema(settings: Settings) -> None:
    if asyncio.run(_pending(settings)):
        raise ConfigurationError("the database schema is behind: run `hookwire migrate` first")


def _run_server(settings: Settings, *, migrate: bool, worker: bool = False) -> None:
    config = uvicorn.Config(
        create_app(settings, migrate=migrate, worker=worker),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # logs.configure set up every logger, uvicorn's included
        proxy_headers=False,
        server_header=False,
    )
    uvicorn.Server(config).run()


@app.command()
def serve(database_url: DatabaseOpt = None, host: HostOpt = None, port: PortOpt = None) -> None:
    """Run everything in one process (SQLite by default): migrate, serve the API, deliver."""
    settings = load_settings(database_url=database_url, host=host, port=port)
    token = tokens.mint(settings, "dev", sub="dev-user", ttl=tokens.parse_ttl("24h"))
    base = f"http://{settings.host}:{settings.port}"
    out.print(f"[bold]hookwire {VERSION}[/] on {settings.database_display}")
    out.print(f"API docs:  {base}/docs")
    out.print(f"Webhooks:  {base}/api/v1/integration/webhooks")
    out.print("Token for tenant 'dev' (24 h):")
    print(token, flush=True)  # plain, so it copies cleanly
    _run_server(settings, migrate=True, worker=True)


@app.command()
def api(database_url: DatabaseOpt = None, host: HostOpt = None, port: PortOpt = None) -> None:
    """Run the API only (scale-out): the schema must be migrated first (`hookwire migrate`)."""
    settings = load_settings(database_url=database_url, host=host, port=port)
    _require_schema(settings)
    _run_server(settings, migrate=False)


async def _work(settings: Settings, burst: bool) -> None:
    services = await open_services(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with contextlib.AsyncExitStack() as stack:
            if settings.metrics_port and not burst:
                await stack.enter_async_context(
                    exporter.serving(
                        services.metrics, services.store, settings.host, settings.metrics_port
                    )
                )
            stats = await run_engine(services, stop, burst=burst)
    finally:
        await services.close()
    out.print(
        f"claimed {stats.claimed}, succeeded {stats.succeeded}, failed attempts {stats.failed}"
    )


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run the delivery engine on uvloop when it is installed (it comes with uvicorn[standard],
    which runs the API on it too): about 10 % more deliveries per CPU second (bench/)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        asyncio.run(main)
    else:
        uvloop.run(main)


@app.command()
def worker(
    database_url: DatabaseOpt = None,
    burst: Annotated[bool, typer.Option(help="send what is due, then exit")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            envvar="HOOKWIRE_METRICS_PORT",
            show_envvar=True,
            help="serve /metrics on this port (on HOOKWIRE_HOST)",
        ),
    ] = None,
) -> None:
    """Run the delivery engine (scale-out: any number, beside `hookwire api`)."""
    settings = load_settings(database_url=database_url, metrics_port=metrics_port)
    _require_schema(settings)
    _run_loop(_work(settings, burst))


@app.command("publish")
def publish_command(
    tenant: Annotated[str, typer.Option(help="the tenant that publishes")],
    source: Annotated[
        str, typer.Argument(help="a JSON file with the POST /events body, or -")
    ] = "-",
    idempotency_key: Annotated[str | None, typer.Option(help="Idempotency-Key")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Publish one event, validated against its type, straight into the store."""
    raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{source} is not JSON: {exc}") from exc
    settings = load_settings(database_url=database_url)
    _require_schema(settings)

    async def run() -> dict[str, object]:
        services = await open_services(settings)
        try:
            receipt = await services.events.publish(Principal(tenant), body, idempotency_key)
            return receipt.body
        finally:
            await services.close()

    print(orjson.dumps(asyncio.run(run())).decode())


@app.command("purge")
def purge_command(
    database_url: DatabaseOpt = None,
    older_than_days: Annotated[
        int | None, typer.Option(help="default: HOOKWIRE_RETENTION_DAYS", min=1)
    ] = None,
) -> None:
    """Drop finished events, their deliveries and attempts, and deleted webhooks, older than
    the retention period."""
    settings = load_settings(database_url=database_url)
    _require_schema(settings)

    async def run() -> PurgeReport:
        services = await open_services(settings)
        try:
            days = older_than_days or settings.retention_days
            return await purge(services.store, services.secrets, days, utcnow())
        finally:
            await services.close()

    report = asyncio.run(run())
    out.print(
        f"purged {report.events} events, {report.idempotency_keys} idempotency keys, "
        f"{report.inbound_messages} inbound messages, {report.webhooks} deleted webhooks"
    )


@app.command()
def migrate(database_url: DatabaseOpt = None) -> None:
    """Apply pending schema migrations (safe to run from several processes at once)."""
    settings = load_settings(database_url=database_url)
    applied = asyncio.run(_migrate(settings))
    out.print(
        f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else "")
    )


@app.command()
def token(
    tenant: Annotated[str, typer.Option(help="tenant_id claim")],
    sub: Annotated[str | None, typer.Option(help="sub claim: the person")] = None,
    app_id: Annotated[str | None, typer.Option("--app", help="app_id claim")] = None,
    ttl: Annotated[str, typer.Option(help="lifetime: 90s, 15m, 1h, 7d")] = "1h",
) -> None:
    """Mint a bearer token with the configured key (HOOKWIRE_JWT_SECRET or JWT_PRIVATE_KEY)."""
    try:
        lifetime = tokens.parse_ttl(ttl)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ttl") from exc
    settings = load_settings()
    print(tokens.mint(settings, tenant, sub=sub, app_id=app_id, ttl=lifetime))


def main() -> None:
    try:
        app()
    except HookwireError as exc:
        err.print(f"[red]error:[/] {exc.detail}", markup=True, highlight=False)
        if isinstance(exc, ValidationFailed):
            for problem in exc.errors:
                err.print(f"  {problem.path or '/'}: {problem.message}", markup=False)
        raise SystemExit(2) from exc
