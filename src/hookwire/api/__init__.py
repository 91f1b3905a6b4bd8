"""The HTTP API: FastAPI app factory, dependencies, one router per resource, problem+json."""

from __future__ import annotations

from hookwire.api.app import create_app

__all__ = ["create_app"]
