"""One-off commands: ``migrate``, ``purge``, ``token`` and ``publish``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from hookwire import tokens
from hookwire.api import create_api
from hookwire.api.reference import markdown
from hookwire.commands.common import (
    DatabaseOpt,
    TenantOpt,
    load_settings,
    out,
    progress,
    with_services,
)
from hookwire.domain.event_requests import read_event, read_idempotency_key
from hookwire.domain.principal import Principal
from hookwire.errors import BadRequest
from hookwire.services.container import Services
from hookwire.services.doctor import Finding, examine
from hookwire.services.retention import PurgeReport, purge
from hookwire.settings import Settings
from hookwire.store import open_store
from hookwire.store.migrations import pending
from hookwire.timeutil import utcnow


async def _migrate(settings: Settings) -> list[str]:
    store = open_store(settings.database_url)
    await store.open()
    try:
        todo = pending(store.dialect, set(await store.applied_migrations()))
        with progress() as bar:
            task = bar.add_task("migrating", total=len(todo))
            return await store.migrate(lambda name: bar.update(task, advance=1, description=name))
    finally:
        await store.close()


def migrate(database_url: DatabaseOpt = None) -> None:
    """Apply pending schema migrations (safe to run from several processes at once)."""
    settings = load_settings(database_url=database_url)
    applied = asyncio.run(_migrate(settings))
    out.print(
        f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else "")
    )


def purge_command(
    database_url: DatabaseOpt = None,
    older_than_days: Annotated[
        int | None, typer.Option(help="default: HOOKWIRE_RETENTION_DAYS", min=1)
    ] = None,
) -> None:
    """Drop what is older than the retention period.

    Finished events with their deliveries and attempts, inbound messages, and deleted webhooks
    with their secrets."""
    settings = load_settings(database_url=database_url)
    days = older_than_days or settings.retention_days

    async def run(services: Services) -> PurgeReport:
        with progress() as bar:
            tasks = {"rows": bar.add_task("old rows", total=1)}
            tasks["secrets"] = bar.add_task("secrets of deleted webhooks", total=None)

            def step(what: str, done: int, total: int) -> None:
                bar.update(tasks[what], completed=done, total=total)

            report = await purge(services.store, services.secrets, days, utcnow(), step)
            bar.update(tasks["secrets"], total=report.webhooks, completed=report.webhooks)
            return report

    report = with_services(settings, run)
    out.print(
        f"purged {report.events} events, {report.idempotency_keys} idempotency keys, "
        f"{report.inbound_messages} inbound messages, {report.webhooks} deleted webhooks"
    )


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


def publish_command(
    tenant: TenantOpt,
    source: Annotated[
        str, typer.Argument(help="a JSON file with the POST /events body, or -")
    ] = "-",
    idempotency_key: Annotated[str | None, typer.Option(help="Idempotency-Key")] = None,
    ordering_key: Annotated[
        str | None, typer.Option(help="the event's ordering_key (FIFO webhooks), over the body's")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Publish one event, validated against its type, straight into the store."""
    raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{source} is not JSON: {exc}") from exc
    if ordering_key is not None and isinstance(body, dict):
        body["ordering_key"] = ordering_key
    settings = load_settings(database_url=database_url)

    async def run(services: Services) -> dict[str, object]:
        key = read_idempotency_key(idempotency_key)
        receipt = await services.events.publish(Principal(tenant), read_event(body), key)
        return receipt.body

    print(orjson.dumps(with_services(settings, run)).decode())


def openapi(
    as_markdown: Annotated[
        bool, typer.Option("--markdown", help="the reference of docs/api.md")
    ] = False,
) -> None:
    """Print the API's OpenAPI document (JSON), or the Markdown reference made from it."""
    spec = create_api().openapi()
    if as_markdown:
        print(markdown(spec), end="")
    else:
        print(orjson.dumps(spec, option=orjson.OPT_INDENT_2).decode())


def doctor(database_url: DatabaseOpt = None) -> None:
    """Check the store for what should never be (stuck leases, orphans, inconsistent rows);
    exit 1 when anything is found."""
    settings = load_settings(database_url=database_url)

    async def run(services: Services) -> list[Finding]:
        with progress(transient=True) as bar:
            task = bar.add_task("secrets", total=None)
            return await examine(
                services.store, services.secrets, utcnow(),
                lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip

    findings = with_services(settings, run)
    table = Table("check", "count", "what it means")
    for finding in findings:
        style = "red" if finding.count else "green"
        table.add_row(finding.check, f"[{style}]{finding.count}[/]", finding.meaning)
    out.print(table)
    problems = sum(f.count for f in findings)
    out.print("healthy" if not problems else f"{problems} problem(s) found")
    if problems:
        raise typer.Exit(1)
