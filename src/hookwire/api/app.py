"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import hookwire
from hookwire.api import problems
from hookwire.api.routes import deliveries, event_types, events, health, webhooks
from hookwire.services.container import Services, open_services
from hookwire.settings import Settings


def create_app(
    settings: Settings, services: Services | None = None, *, migrate: bool = False
) -> FastAPI:
    """An app over ``services`` when given (the caller owns them), else over services it opens
    from ``settings`` at startup and closes at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        opened = await open_services(settings, migrate=migrate)
        app.state.services = opened
        try:
            yield
        finally:
            await opened.close()

    app = FastAPI(
        title="hookwire",
        version=hookwire.__version__,
        description="Webhook infrastructure for integration platforms.",
        lifespan=lifespan,
    )
    if services is not None:
        app.state.services = services
    problems.install(app)
    app.include_router(health.router)
    for routes in (webhooks, event_types, events, deliveries):
        app.include_router(routes.router)
    return app
