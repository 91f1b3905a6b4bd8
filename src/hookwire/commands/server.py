"""The long-running processes: ``serve`` (everything in one), ``api`` and ``worker``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Annotated, Any

import typer
import uvicorn

from hookwire import exporter, tokens
from hookwire.commands.common import (
    DatabaseOpt,
    HostOpt,
    PortOpt,
    load_settings,
    out,
    require_schema,
)
from hookwire.runtime import Runtime, create_app, run_engine
from hookwire.settings import Settings
from hookwire.version import VERSION


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


def serve(database_url: DatabaseOpt = None, host: HostOpt = None, port: PortOpt = None) -> None:
    """Run everything in one process (SQLite by default): migrate, serve the API, deliver."""
    settings = load_settings(database_url=database_url, host=host, port=port)
    minting = tokens.can_mint(settings)
    base = f"http://{settings.host}:{settings.port}"
    out.print(f"[bold]hookwire {VERSION}[/] on {settings.database_display}")
    signing_in = "the token below" if minting else "a token from your identity provider"
    out.print(f"Dashboard: {base}/dashboard  (sign in with {signing_in})")
    out.print(f"API docs:  {base}/docs")
    out.print(f"Webhooks:  {base}/api/v1/integration/webhooks")
    if minting:
        token = tokens.mint(settings, "dev", sub="dev-user", ttl=tokens.parse_ttl("24h"))
        out.print("Token for tenant 'dev' (24 h):")
        print(token, flush=True)  # plain, so it copies cleanly
    else:
        out.print("Tokens are verified with HOOKWIRE_JWT_PUBLIC_KEY; none is printed.")
    _run_server(settings, migrate=True, worker=True)


def api(database_url: DatabaseOpt = None, host: HostOpt = None, port: PortOpt = None) -> None:
    """Run the API only (scale-out): the schema must be migrated first (`hookwire migrate`)."""
    settings = load_settings(database_url=database_url, host=host, port=port)
    require_schema(settings)
    _run_server(settings, migrate=False)


async def _work(settings: Settings, burst: bool) -> None:
    runtime = await Runtime.open(settings)
    services = runtime.services
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
            stats = await run_engine(runtime, stop, burst=burst)
    finally:
        await runtime.close()
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
    require_schema(settings)
    _run_loop(_work(settings, burst))
