"""The HTTP API: the FastAPI application, dependencies, one router per resource, problem+json.
The running application (API, dashboard, engine) is composed in :mod:`hookwire.runtime`."""

from __future__ import annotations

from hookwire.api.app import create_api

__all__ = ["create_api"]
