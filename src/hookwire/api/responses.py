"""Response classes: JSON rendered by orjson, and RFC 9457 problem documents."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from hookwire.errors import HookwireError


class JSON(JSONResponse):
    """``application/json`` rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class Problem(JSON):
    """``application/problem+json``."""

    media_type = "application/problem+json"


PROBLEM_TYPE_PREFIX = "urn:hookwire:problem:"


def problem(status: int, slug: str, title: str, detail: str, **extensions: Any) -> Problem:
    """A problem response: ``type, title, status, detail`` and any extension members."""
    body = {
        "type": PROBLEM_TYPE_PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extensions,
    }
    # Bearer tokens are the API's credential; an inbound webhook's is its signature.
    headers = {"WWW-Authenticate": "Bearer"} if slug == "unauthenticated" else None
    return Problem(body, status_code=status, headers=headers)


def from_error(error: HookwireError) -> Problem:
    return problem(error.status, error.slug, error.title, error.detail, **error.extensions())
