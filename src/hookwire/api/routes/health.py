"""Operations: ``/healthz`` (the process answers), ``/readyz`` (the store answers) and
``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from hookwire.api.deps import ServicesDep
from hookwire.api.responses import JSON
from hookwire.metrics import CONTENT_TYPE

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> JSON:
    """The process answers."""
    return JSON({"status": "ok"})


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSON:
    """The store answers (503 when it does not)."""
    await services.store.ping()  # StoreUnavailable becomes a 503 problem
    return JSON({"status": "ready"})


@router.get("/metrics", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics (text format): publishes, attempts, inbound requests, the queue."""
    return Response(await services.metrics.scrape(services.store), media_type=CONTENT_TYPE)
