"""``hookwire webhooks list|create|show``: the webhook registry from a terminal."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich import box
from rich.table import Column, Table

from hookwire.commands.common import (
    DatabaseOpt,
    JsonOpt,
    TenantOpt,
    load_settings,
    out,
    with_services,
)
from hookwire.domain.filters import DeliveryQuery, WebhookQuery
from hookwire.domain.flow import read_rate
from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.domain.webhook_requests import read_draft
from hookwire.services.container import Services

app = typer.Typer(help="List, create and inspect webhooks.", no_args_is_help=True)
STATE_STYLE = {"active": "green", "paused": "bold red", "disabled": "dim", "deleted": "dim"}
STATUS_STYLE = {"succeeded": "green", "failed": "red", "held": "yellow", "pending": "cyan",
                "in_flight": "blue", "cancelled": "dim"}  # fmt: skip


def state(webhook: Webhook) -> str:
    if webhook.is_deleted:
        return "deleted"
    if not webhook.enabled:
        return "disabled"
    return "paused" if webhook.paused_at else "active"


def _print_json(value: Any) -> None:
    print(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


@app.command("list")
def list_webhooks(
    tenant: TenantOpt,
    direction: Annotated[str | None, typer.Option(help="outbound or inbound")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: JsonOpt = False,
    database_url: DatabaseOpt = None,
) -> None:
    """The tenant's webhooks, newest first, with their health at a glance."""
    settings = load_settings(database_url=database_url)
    query = WebhookQuery(limit=limit, direction=direction)

    async def run(services: Services) -> list[Webhook]:
        return (await services.webhooks.list(Principal(tenant), query, None)).items

    found = with_services(settings, run)
    if as_json:
        _print_json([w.to_public() for w in found])
        return
    table = Table(  # ids and states are never cut; names and targets fold onto more lines
        Column("id", no_wrap=True), Column("state", no_wrap=True), Column("last", no_wrap=True),
        Column("fail", no_wrap=True, justify="right"), Column("name", overflow="fold"),
        Column("target", overflow="fold"), box=box.SIMPLE_HEAD,
    )  # fmt: skip
    for w in found:
        inbound = w.direction == "inbound"
        table.add_row(
            w.id, f"[{STATE_STYLE[state(w)]}]{state(w)}[/]", w.last_delivery_status or "-",
            str(w.rejected_requests if inbound else w.consecutive_failures), w.name or "",
            f"inbound, {w.signature_scheme}" if inbound else w.url,
        )  # fmt: skip
    out.print(table)
    out.print(f"{len(found)} webhook(s); fail: consecutive failures, or refused requests (inbound)")


@app.command()
def create(
    tenant: TenantOpt,
    url: Annotated[str | None, typer.Option(help="where to POST (outbound)")] = None,
    direction: Annotated[str, typer.Option(help="outbound or inbound")] = "outbound",
    event_type: Annotated[
        list[str] | None, typer.Option("--event-type", help="a pattern; repeat for more")
    ] = None,
    name: Annotated[str | None, typer.Option()] = None,
    scheme: Annotated[str | None, typer.Option(help="signature_scheme")] = None,
    secret: Annotated[str | None, typer.Option(help="default: generated")] = None,
    connector_id: Annotated[str | None, typer.Option()] = None,
    rate_limit: Annotated[
        str | None, typer.Option(help="at most N requests per second|minute|hour: N/minute")
    ] = None,
    max_in_flight: Annotated[int | None, typer.Option(help="at most N requests at once")] = None,
    ordering: Annotated[str | None, typer.Option(help="none or fifo (per ordering key)")] = None,
    as_json: JsonOpt = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Create a webhook; its secret is shown this once."""
    fields = {
        "url": url, "direction": direction, "event_types": event_type, "name": name,
        "signature_scheme": scheme, "secret": secret, "connector_id": connector_id,
        "rate_limit": None if rate_limit is None else read_rate(rate_limit),
        "max_in_flight": max_in_flight, "ordering": ordering,
    }  # fmt: skip
    body = {key: value for key, value in fields.items() if value is not None}
    settings = load_settings(database_url=database_url)

    async def run(services: Services) -> dict[str, Any]:
        created = await services.webhooks.create(Principal(tenant), read_draft(body))
        return created.to_public()

    shown = with_services(settings, run)
    if as_json:
        _print_json(shown)
        return
    out.print(f"created [bold]{shown['id']}[/] ({shown['direction']}) {shown['url']}")
    out.print("secret (shown once):")
    print(shown["secret"], flush=True)  # plain, so it copies cleanly


@app.command()
def show(
    tenant: TenantOpt,
    webhook_id: Annotated[str, typer.Argument(help="wh_...")],
    as_json: JsonOpt = False,
    database_url: DatabaseOpt = None,
) -> None:
    """One webhook: its settings, its health and its latest deliveries."""
    settings = load_settings(database_url=database_url)

    async def run(services: Services) -> tuple[Webhook, list[dict[str, Any]]]:
        principal = Principal(tenant)
        webhook = await services.webhooks.get(principal, webhook_id)
        page = await services.deliveries.list(
            principal, DeliveryQuery(limit=10, webhook_id=webhook_id), None
        )
        return webhook, [d.to_public() for d in page.items]

    webhook, deliveries = with_services(settings, run)
    if as_json:
        _print_json({**webhook.to_public(), "deliveries": deliveries})
        return
    facts = Table.grid(Column(no_wrap=True, style="bold"), Column(overflow="fold"), padding=(0, 2))
    for key, value in webhook.to_public().items():
        facts.add_row(key, orjson.dumps(value).decode().strip('"'))
    out.print(facts)
    recent = Table(
        Column("delivery", no_wrap=True), Column("event", no_wrap=True), "status", "attempts",
        "next attempt", title="latest",
    )  # fmt: skip
    for d in deliveries:
        style = STATUS_STYLE.get(d["status"], "")
        recent.add_row(d["id"], d["event_id"], f"[{style}]{d['status']}[/]",
                       str(d["attempt_count"]), d["next_attempt_at"] or "")  # fmt: skip
    out.print(recent)
