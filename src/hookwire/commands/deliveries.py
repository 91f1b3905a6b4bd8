"""``hookwire deliveries tail`` (the attempt log, live and coloured) and ``hookwire replay``
(deliveries sent again, one or in bulk, with a progress bar)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

import typer

from hookwire.commands.common import (
    DatabaseOpt,
    TenantOpt,
    load_settings,
    out,
    progress,
    with_services,
)
from hookwire.domain.attempt import Attempt
from hookwire.domain.delivery import STATUSES
from hookwire.domain.filters import DeliveryQuery
from hookwire.domain.principal import Principal
from hookwire.domain.webhook_requests import read_window
from hookwire.services.container import Services
from hookwire.timeutil import iso, parse_moment

app = typer.Typer(help="Follow the delivery log.", no_args_is_help=True)
PAGE = 200


def style(attempt: Attempt) -> str:
    """Green for 2xx, red for 410 and refusals, yellow for what will be retried."""
    if attempt.success:
        return "green"
    if attempt.status_code == 410 or attempt.outcome == "blocked":
        return "red"
    return "yellow"


def line(attempt: Attempt) -> str:
    what = attempt.outcome + (f" {attempt.error}" if attempt.error else "")
    return (
        f"{iso(attempt.started_at)}  {attempt.webhook_id}  {attempt.delivery_id}  "
        f"[{style(attempt)}]{what}[/]  {attempt.duration_ms} ms"
    )


@app.command()
def tail(
    tenant: TenantOpt,
    webhook: Annotated[str | None, typer.Option(help="only this webhook's attempts")] = None,
    lines: Annotated[int, typer.Option(min=0, max=200, help="earlier attempts first shown")] = 10,
    follow: Annotated[bool, typer.Option(help="keep printing new attempts")] = True,
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between polls")] = 1.0,
    count: Annotated[
        int | None, typer.Option(min=1, help="stop after printing this many attempts")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Print delivery attempts as they happen: time, webhook, delivery, outcome, duration."""
    settings = load_settings(database_url=database_url)
    principal = Principal(tenant)

    async def run(services: Services) -> None:
        latest = await services.deliveries.recent_attempts(principal, None, webhook, lines or 1)
        batch, last = latest[len(latest) - lines :], (latest[-1].id if latest else None)
        shown = 0
        while True:
            for attempt in batch:
                out.print(line(attempt), highlight=False, soft_wrap=True)
                shown += 1
                if count is not None and shown >= count:
                    return
            if not follow:
                return
            await asyncio.sleep(interval)
            # after the last one seen; with none seen yet, every attempt is new
            batch = await services.deliveries.recent_attempts(principal, last, webhook, PAGE)
            last = batch[-1].id if batch else last

    with_services(settings, run)


def _when(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value)
    except ValueError as exc:
        raise typer.BadParameter("expected an RFC 3339 time", param_hint=flag) from exc


def replay(
    tenant: TenantOpt,
    delivery_ids: Annotated[list[str] | None, typer.Argument(help="dlv_... to send again")] = None,
    webhook: Annotated[str | None, typer.Option(help="bulk: this webhook's deliveries")] = None,
    status: Annotated[str, typer.Option(help=f"bulk: one of {', '.join(STATUSES)}")] = "failed",
    since: Annotated[str | None, typer.Option(help="bulk: created at or after (RFC 3339)")] = None,
    until: Annotated[str | None, typer.Option(help="bulk: created before")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Send deliveries again now, whatever their state (as POST /deliveries/{id}/retry).

    The ones named, or in bulk every delivery with --status (default failed) created since
    --since, optionally only --webhook's and only before --until."""
    if not delivery_ids and since is None:
        raise typer.BadParameter("name deliveries, or give --since for a bulk replay")
    if status not in STATUSES:
        raise typer.BadParameter(f"one of {', '.join(STATUSES)}", param_hint="--status")
    query = DeliveryQuery(
        limit=PAGE, webhook_id=webhook, status=status, since=_when(since, "--since"),
        until=_when(until, "--until"),
    )  # fmt: skip
    settings = load_settings(database_url=database_url)
    principal = Principal(tenant)

    async def run(services: Services) -> int:
        ids = list(delivery_ids or []) or await _matching(services, principal, query)
        with progress() as bar:
            task = bar.add_task("replaying", total=len(ids))
            for delivery_id in ids:
                await services.deliveries.retry(principal, delivery_id)
                bar.advance(task)
        return len(ids)

    out.print(f"replayed {with_services(settings, run)} deliveries: due now")


async def _matching(services: Services, principal: Principal, query: DeliveryQuery) -> list[str]:
    """Every delivery the bulk filters select (their ids, read before any is changed)."""
    ids: list[str] = []
    cursor = None
    while True:
        page = await services.deliveries.list(principal, query, cursor)
        ids += [d.id for d in page.items]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def recover(
    tenant: TenantOpt,
    webhook_id: Annotated[str, typer.Argument(help="wh_... whose failed deliveries to re-queue")],
    since: Annotated[str, typer.Option(help="created at or after (RFC 3339)")],
    until: Annotated[str | None, typer.Option(help="created before")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Re-queue a webhook's failed deliveries of a time window with a fresh attempt budget
    (as POST /webhooks/{id}/recover)."""
    window = {"since": since, **({"until": until} if until else {})}
    settings = load_settings(database_url=database_url)

    async def run(services: Services) -> int:
        with progress() as bar:
            task = bar.add_task("recovering", total=None)
            count = await services.webhooks.recover(
                Principal(tenant), webhook_id, read_window(window)
            )
            bar.update(task, total=count, completed=count)
        return count

    out.print(f"recovered {with_services(settings, run)} failed deliveries: due now")
