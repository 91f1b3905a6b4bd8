"""Inbound webhooks: ``POST /api/v1/inbound/{webhook_id}`` (no token: the signature is the
credential) and the stored messages at ``/api/v1/inbound-messages`` (docs/api.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from hookwire.api import openapi
from hookwire.api.deps import Moment, PrincipalDep, ServicesDep
from hookwire.api.responses import JSON
from hookwire.domain.filters import InboundQuery
from hookwire.http import read_body
from hookwire.services.paging import MAX_LIMIT

router = APIRouter(tags=["inbound"])
MESSAGES = "/api/v1/inbound-messages"


def request_headers(request: Request) -> dict[str, str]:
    """The request's headers, names lowercased, a repeated header's values joined by ", "
    (in one pass: api.limits bounds how many there are)."""
    found: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        found.setdefault(name, []).append(value)
    return {name: ", ".join(values) for name, values in found.items()}


@router.post(
    "/api/v1/inbound/{webhook_id}",
    openapi_extra=openapi.ANY_BODY,
    responses={
        **openapi.returns(202, openapi.RECEIVED, "verified and stored (and published)"),
        200: {"description": "a duplicate (`{duplicate: true, id}`) or Slack's challenge"},
    },
)
async def receive(services: ServicesDep, webhook_id: str, request: Request) -> JSON:
    """A third party's webhook: verified by the webhook's signature scheme (no token),
    deduplicated, stored, and published as `inbound.received`."""
    reception = await services.inbound.receive(
        webhook_id, request_headers(request), lambda limit: read_body(request, limit)
    )
    return JSON(reception.body, status_code=reception.status)


@router.get(MESSAGES, responses=openapi.returns(200, openapi.page_of(openapi.INBOUND), "newest"))
async def list_messages(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
    webhook_id: str | None = None,
    provider_event: str | None = None,
    since: Moment = None,
    until: Moment = None,
) -> JSON:
    """Inbound messages, newest first, without their bodies."""
    query = InboundQuery(
        limit=limit,
        webhook_id=webhook_id,
        provider_event=provider_event,
        since=since,
        until=until,
    )
    page = await services.inbound.list(principal, query, cursor)
    return JSON(page.to_public())


@router.get(
    MESSAGES + "/{message_id}",
    responses=openapi.returns(200, openapi.INBOUND, "with its headers and raw body"),
)
async def get_message(services: ServicesDep, principal: PrincipalDep, message_id: str) -> JSON:
    """One inbound message with its headers and raw body."""
    return JSON((await services.inbound.get(principal, message_id)).to_public())
