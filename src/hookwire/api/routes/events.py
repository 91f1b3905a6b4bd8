"""``/api/v1/events``: publish an event, read the event log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query

from hookwire.api import openapi
from hookwire.api.deps import JsonBody, Moment, PrincipalDep, ServicesDep
from hookwire.api.responses import JSON
from hookwire.domain.delivery import event_with_deliveries
from hookwire.domain.event_requests import PUBLISH_SCHEMA, read_event, read_idempotency_key
from hookwire.domain.filters import EventQuery
from hookwire.services.paging import MAX_LIMIT

router = APIRouter(prefix="/api/v1/events", tags=["events"])


@router.post(
    "",
    status_code=202,
    openapi_extra=openapi.body(PUBLISH_SCHEMA),
    responses=openapi.returns(202, openapi.ACCEPTED, "accepted: the event and its deliveries"),
)
async def publish_event(
    services: ServicesDep,
    principal: PrincipalDep,
    body: JsonBody,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSON:
    """Publish an event: validated against its type, written with all its deliveries in one
    transaction. `Idempotency-Key` makes a retry safe."""
    key = read_idempotency_key(idempotency_key)
    receipt = await services.events.publish(principal, read_event(body), key)
    headers = {"Idempotent-Replayed": "true"} if receipt.replayed else None
    return JSON(receipt.body, status_code=receipt.status, headers=headers)


@router.get("", responses=openapi.returns(200, openapi.page_of(openapi.EVENT), "newest first"))
async def list_events(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
    type: str | None = None,
    since: Moment = None,
    until: Moment = None,
) -> JSON:
    """Published events, newest first; filter by type and time."""
    query = EventQuery(limit=limit, type=type, since=since, until=until)
    page = await services.events.list(principal, query, cursor)
    return JSON(page.to_public())


@router.get("/{event_id}", responses=openapi.returns(200, openapi.EVENT, "with its deliveries"))
async def get_event(services: ServicesDep, principal: PrincipalDep, event_id: str) -> JSON:
    """One event with its deliveries."""
    return JSON(event_with_deliveries(*await services.events.get(principal, event_id)))
