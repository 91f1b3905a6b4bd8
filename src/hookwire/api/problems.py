"""One JSON error shape for every failure: exception handlers installed on the app."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from hookwire.api.responses import from_error, problem
from hookwire.domain.validation import pointer
from hookwire.errors import FieldError, HookwireError, ValidationFailed

log = logging.getLogger("hookwire.api")
_TITLES = {404: "Not found", 405: "Method not allowed", 400: "Malformed request"}


def _field_error(error: dict[str, Any]) -> FieldError:
    # loc is ("query", "limit") or ("path", "id"): the pointer names the parameter.
    location = [str(part) for part in error.get("loc", ())][1:]
    return FieldError(pointer(location), str(error.get("msg", "is invalid")))


async def _on_hookwire_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HookwireError)
    if exc.status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.detail)
    return from_error(exc)


async def _on_request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return from_error(ValidationFailed([_field_error(e) for e in exc.errors()]))


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = _TITLES.get(exc.status_code, "Error")
    slug = title.lower().replace(" ", "-")
    return problem(exc.status_code, slug, title, str(exc.detail), **{})


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    return problem(500, "internal-error", "Internal error", "an unexpected error occurred")


def install(app: FastAPI) -> None:
    app.add_exception_handler(HookwireError, _on_hookwire_error)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
