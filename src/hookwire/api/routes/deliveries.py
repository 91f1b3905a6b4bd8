"""``/api/v1/deliveries``: the delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hookwire.api import openapi
from hookwire.api.deps import Moment, PrincipalDep, ServicesDep
from hookwire.api.responses import JSON
from hookwire.domain.delivery import STATUSES
from hookwire.domain.filters import DeliveryQuery
from hookwire.services.paging import MAX_LIMIT

router = APIRouter(prefix="/api/v1/deliveries", tags=["deliveries"])
StatusFilter = Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")]


@router.get("", responses=openapi.returns(200, openapi.page_of(openapi.DELIVERY), "newest first"))
async def list_deliveries(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
    webhook_id: str | None = None,
    event_id: str | None = None,
    status: StatusFilter = None,
    since: Moment = None,
    until: Moment = None,
) -> JSON:
    """Deliveries, newest first; filter by webhook, event, status and creation time."""
    query = DeliveryQuery(
        limit=limit, webhook_id=webhook_id, event_id=event_id, status=status, since=since,
        until=until,
    )  # fmt: skip
    page = await services.deliveries.list(principal, query, cursor)
    return JSON(page.to_public())


@router.get("/{delivery_id}", responses=openapi.returns(200, openapi.DELIVERY, "with attempts"))
async def get_delivery(services: ServicesDep, principal: PrincipalDep, delivery_id: str) -> JSON:
    """One delivery with every attempt made of it (status, duration, response excerpt)."""
    delivery, attempts = await services.deliveries.get(principal, delivery_id)
    return JSON(delivery.to_public([a.to_public() for a in attempts]))


@router.post("/{delivery_id}/retry", responses=openapi.returns(200, openapi.DELIVERY, "due now"))
async def retry_delivery(services: ServicesDep, principal: PrincipalDep, delivery_id: str) -> JSON:
    """A new attempt now (an exhausted delivery gets one more); 409 while an attempt is in
    flight. It is sent only if its webhook runs: held while paused or disabled."""
    return JSON((await services.deliveries.retry(principal, delivery_id)).to_public())
