"""``/api/v1/event-types``: the built-in catalog and the tenant's own, versioned types."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from hookwire.api import openapi
from hookwire.api.deps import JsonBody, PrincipalDep, ServicesDep
from hookwire.api.responses import JSON
from hookwire.domain.event_requests import (
    TYPE_CREATE_SCHEMA,
    TYPE_PATCH_SCHEMA,
    read_event_type,
    read_event_type_patch,
)
from hookwire.domain.event_type import MAX_VERSION, check_catalog_writer
from hookwire.services.paging import MAX_LIMIT

PREFIX = "/api/v1/event-types"
router = APIRouter(prefix=PREFIX, tags=["event types"])
Name = Annotated[str, Path(max_length=128)]


@router.get("", responses=openapi.returns(200, openapi.page_of(openapi.EVENT_TYPE), "the catalog"))
async def list_event_types(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> JSON:
    """The catalog: the built-in types and the tenant's own, by name."""
    page = await services.event_types.list(principal, cursor, limit)
    return JSON(page.to_public())


@router.post(
    "",
    status_code=201,
    openapi_extra=openapi.body(TYPE_CREATE_SCHEMA),
    responses=openapi.returns(201, openapi.EVENT_TYPE, "created (version 1)"),
)
async def create_event_type(services: ServicesDep, principal: PrincipalDep, body: JsonBody) -> JSON:
    """Add a type of your own: a name and a JSON Schema (draft 2020-12) for `data`."""
    check_catalog_writer(principal)  # an application's token: 403 before anything about its body
    created = await services.event_types.create(principal, read_event_type(body))
    location = {"Location": f"{PREFIX}/{created.name}"}
    return JSON(created.to_public(), status_code=201, headers=location)


@router.get("/{name}", responses=openapi.returns(200, openapi.EVENT_TYPE, "the newest version"))
async def get_event_type(services: ServicesDep, principal: PrincipalDep, name: Name) -> JSON:
    """The newest version of a type, with its schema and example."""
    return JSON((await services.event_types.get(principal, name)).to_public())


@router.get(
    "/{name}/versions/{version}",
    responses=openapi.returns(200, openapi.EVENT_TYPE, "that version"),
)
async def get_event_type_version(
    services: ServicesDep,
    principal: PrincipalDep,
    name: Name,
    version: Annotated[int, Path(ge=1, le=MAX_VERSION)],
) -> JSON:
    """An older version of a tenant's type."""
    return JSON((await services.event_types.get(principal, name, version)).to_public())


@router.patch(
    "/{name}",
    openapi_extra=openapi.body(TYPE_PATCH_SCHEMA),
    responses=openapi.returns(200, openapi.EVENT_TYPE, "updated; a schema change is a new version"),
)
async def update_event_type(
    services: ServicesDep, principal: PrincipalDep, name: Name, body: JsonBody
) -> JSON:
    """Change a type: a new schema or example makes a new version."""
    check_catalog_writer(principal)  # an application's token: 403 before anything about its body
    patch = read_event_type_patch(body)
    return JSON((await services.event_types.update(principal, name, patch)).to_public())


@router.delete("/{name}", status_code=204, responses=openapi.returns(204, None, "deprecated"))
async def deprecate_event_type(
    services: ServicesDep, principal: PrincipalDep, name: Name
) -> Response:
    """Deprecate a type: publishing still works, and warns."""
    await services.event_types.deprecate(principal, name)
    return Response(status_code=204)
