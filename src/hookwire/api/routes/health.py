"""``/healthz`` (the process answers) and ``/readyz`` (the store answers)."""

from __future__ import annotations

from fastapi import APIRouter

from hookwire.api.deps import ServicesDep
from hookwire.api.responses import JSON

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> JSON:
    return JSON({"status": "ok"})


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSON:
    await services.store.ping()  # StoreUnavailable becomes a 503 problem
    return JSON({"status": "ready"})
