"""The dashboard's pages (GET): webhooks with their health, one webhook with its charts and
delivery log, events, the event catalog, inbound messages. Tenant-scoped like the API: every
read goes through the same services with the signed-in token's principal."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from hookwire.dashboard.session import Session
from hookwire.dashboard.views import guard, number, page, redirect, services_of
from hookwire.domain.event_type import MAX_VERSION
from hookwire.domain.filters import DeliveryQuery, EventQuery, InboundQuery, WebhookQuery
from hookwire.errors import ValidationFailed
from hookwire.ids import is_id
from hookwire.timeutil import parse_moment, utcnow

PAGE_SIZE: Final = 25
HOUR: Final = (60, 60)  # buckets of 60 s, 60 of them
DAY: Final = (900, 96)  # buckets of 15 min, 96 of them
Page = Callable[[Request, Session], Awaitable[Response]]


def signed_in(view: Page) -> Callable[[Request], Awaitable[Response]]:
    """A page for signed-in visitors (see views.guard)."""

    async def shown(request: Request, session: Session, form: dict[str, str]) -> Response:
        return await view(request, session)

    shown.__name__ = view.__name__
    return guard(shown, posted=False)


def _when(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name) or None
    if raw is None:
        return None
    try:
        return parse_moment(raw)
    except ValueError as exc:
        raise ValidationFailed.at(f"/{name}", "is not a date and time") from exc


def _filters(request: Request, *names: str) -> dict[str, str]:
    return {n: v for n in names if (v := request.query_params.get(n))}


@signed_in
async def webhooks(request: Request, session: Session) -> Response:
    services, principal = services_of(request), session.principal
    shown = _filters(request, "direction", "enabled")
    query = WebhookQuery(
        limit=PAGE_SIZE, direction=shown.get("direction"),
        enabled={"true": True, "false": False}.get(shown.get("enabled", "")),
    )  # fmt: skip
    found = await services.webhooks.list(principal, query, request.query_params.get("cursor"))
    since = utcnow() - timedelta(hours=24)
    health = await services.deliveries.health(principal, [w.id for w in found.items], since)
    return page(request, session, "webhooks.html", page=found, health=health, filters=shown)


@signed_in
async def webhook(request: Request, session: Session) -> Response:
    services, principal = services_of(request), session.principal
    webhook_id = request.path_params["webhook_id"]
    found = await services.webhooks.get(principal, webhook_id)
    context: dict[str, Any] = {"webhook": found}
    if found.inbound:
        query = InboundQuery(limit=PAGE_SIZE, webhook_id=webhook_id)
        cursor = request.query_params.get("cursor")
        context["messages"] = await services.inbound.list(principal, query, cursor)
        return page(request, session, "webhook.html", **context)
    now = utcnow()
    hour, day, health, backlog, log = await asyncio.gather(
        services.deliveries.activity(principal, webhook_id, now, *HOUR),
        services.deliveries.activity(principal, webhook_id, now, *DAY),
        services.deliveries.health(principal, [webhook_id], now - timedelta(hours=24)),
        services.deliveries.backlog(principal, found, now),
        _delivery_log(request, session, webhook_id),
    )
    context.update(hour=hour, day=day, health=health[webhook_id], backlog=backlog, **log)
    return page(request, session, "webhook.html", **context)


async def _delivery_log(request: Request, session: Session, webhook_id: str) -> dict[str, Any]:
    services, principal = services_of(request), session.principal
    status = request.query_params.get("status") or None
    query = DeliveryQuery(limit=PAGE_SIZE, webhook_id=webhook_id, status=status)
    deliveries = await services.deliveries.list(
        principal, query, request.query_params.get("cursor")
    )
    detail = await asyncio.gather(
        *(services.deliveries.get(principal, d.id) for d in deliveries.items)
    )
    return {"deliveries": deliveries, "attempts": {d.id: a for d, a in detail}, "status": status}


@signed_in
async def events(request: Request, session: Session) -> Response:
    services, principal = services_of(request), session.principal
    wanted = request.query_params.get("id", "").strip()
    if wanted:
        if is_id(wanted, "evt"):
            return redirect(f"/dashboard/events/{wanted}")
        raise ValidationFailed.at("/id", "is not an event id (evt_...)")
    shown = _filters(request, "type", "since", "until")
    query = EventQuery(
        limit=PAGE_SIZE, type=shown.get("type"), since=_when(request, "since"),
        until=_when(request, "until"),
    )  # fmt: skip
    found = await services.events.list(principal, query, request.query_params.get("cursor"))
    return page(request, session, "events.html", page=found, filters=shown)


@signed_in
async def event(request: Request, session: Session) -> Response:
    services = services_of(request)
    found, deliveries = await services.events.get(
        session.principal, request.path_params["event_id"]
    )
    return page(request, session, "event.html", event=found, deliveries=deliveries)


@signed_in
async def event_types(request: Request, session: Session) -> Response:
    services = services_of(request)
    cursor = request.query_params.get("cursor")
    found = await services.event_types.list(session.principal, cursor, 200)
    return page(request, session, "event_types.html", page=found)


@signed_in
async def event_type(request: Request, session: Session) -> Response:
    services = services_of(request)
    version = request.query_params.get("version")  # none or empty: the newest
    wanted = number(version, "version", minimum=1, maximum=MAX_VERSION) if version else None
    name = request.path_params["name"]
    found = await services.event_types.get(session.principal, name, wanted)
    return page(request, session, "event_type.html", event_type=found)


@signed_in
async def inbound_messages(request: Request, session: Session) -> Response:
    services = services_of(request)
    shown = _filters(request, "webhook_id", "provider_event")
    query = InboundQuery(
        limit=PAGE_SIZE, webhook_id=shown.get("webhook_id"),
        provider_event=shown.get("provider_event"),
    )  # fmt: skip
    found = await services.inbound.list(
        session.principal, query, request.query_params.get("cursor")
    )
    return page(request, session, "inbound.html", page=found, filters=shown)


@signed_in
async def inbound_message(request: Request, session: Session) -> Response:
    services = services_of(request)
    found = await services.inbound.get(session.principal, request.path_params["message_id"])
    return page(request, session, "inbound_message.html", message=found)
