"""The HTTP API as a FastAPI application: its routes, its problem+json errors and its limits
on request headers. Services, the dashboard and the engine are composed around it by
:mod:`hookwire.runtime`; the API reads its services from ``app.state.services``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import Depends, FastAPI

from hookwire.api import deps, problems
from hookwire.api.limits import HeaderLimits
from hookwire.api.routes import deliveries, event_types, events, health, inbound, webhooks
from hookwire.version import VERSION

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_api(lifespan: Lifespan | None = None) -> FastAPI:
    """The API's application; ``lifespan`` is the composition root's (it sets
    ``app.state.services``). No parameter may hold U+0000, on every route mounted later too."""
    app = FastAPI(
        title="hookwire",
        version=VERSION,
        description="Webhook infrastructure for integration platforms.",
        lifespan=lifespan,
        dependencies=[Depends(deps.reject_nul)],
    )
    problems.install(app)
    app.add_middleware(HeaderLimits)
    app.include_router(health.router)
    for routes in (webhooks, event_types, events, deliveries, inbound):
        app.include_router(routes.router)
    return app
