"""Request dependencies: the services, the caller, the JSON body, the If-Match version.

Every dependency is ``async def`` although none awaits much: FastAPI runs a plain ``def``
dependency in a worker thread, two thread hops per request for nothing (measured in bench/).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from pydantic import BeforeValidator

from hookwire.domain.principal import Principal
from hookwire.domain.validation import nul_path
from hookwire.errors import AuthenticationFailed, BadRequest, ValidationFailed
from hookwire.http import read_body
from hookwire.services.container import Services
from hookwire.timeutil import parse_moment

MAX_DEPTH = 254  # orjson writes no deeper; it reads up to 1024
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_principal(request: Request, services: ServicesDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("send Authorization: Bearer <token>")
    return services.tokens.verify(token.strip())


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_json_body(request: Request, services: ServicesDep) -> Any:
    raw = await read_body(request, services.settings.max_payload_bytes)
    if not raw.strip():
        return None
    try:
        body = orjson.loads(raw)
        orjson.dumps(body)  # what hookwire accepts it must be able to store and send
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc
    except orjson.JSONEncodeError as exc:
        raise BadRequest(f"the body is nested deeper than {MAX_DEPTH} levels") from exc
    if b"\\u0000" in raw:  # the only way JSON spells U+0000
        where = nul_path(body)
        if where is not None:
            raise ValidationFailed.at(where, "contains U+0000, which cannot be stored")
    return body


JsonBody = Annotated[Any, Depends(get_json_body)]


def _moment(value: object) -> object:
    """A timestamp parameter as :func:`hookwire.timeutil.parse_moment` reads it (pydantic would
    otherwise take a number for unix seconds)."""
    return parse_moment(value) if isinstance(value, str) else value


# A ``since``/``until`` query parameter: RFC 3339 only, a time without an offset taken as UTC.
Moment = Annotated[datetime | None, BeforeValidator(_moment)]


async def reject_nul(request: Request) -> None:
    """No parameter may hold U+0000 (PostgreSQL cannot store or compare it): 422 at it."""
    params = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in params:
        if "\x00" in name or "\x00" in str(value):
            raise ValidationFailed.at(f"/{name}", "contains U+0000")


async def get_if_match(if_match: Annotated[str | None, Header()] = None) -> int | None:
    if if_match is None:
        return None
    match = _IF_MATCH.match(if_match)
    if not match:
        raise BadRequest('If-Match must be one version, like "3"')
    return int(match.group(1))


IfMatchDep = Annotated[int | None, Depends(get_if_match)]


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}
