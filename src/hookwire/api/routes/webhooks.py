"""``/api/v1/integration/webhooks``: the webhook registry (docs/api.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from hookwire.api import openapi
from hookwire.api.deps import IfMatchDep, JsonBody, PrincipalDep, ServicesDep, etag
from hookwire.api.responses import JSON
from hookwire.domain.filters import WebhookQuery
from hookwire.domain.webhook_requests import (
    RECOVER_SCHEMA,
    expected_version,
    read_draft,
    read_patch,
    read_rotation,
    read_window,
)
from hookwire.services.paging import MAX_LIMIT

PREFIX = "/api/v1/integration/webhooks"
router = APIRouter(prefix=PREFIX, tags=["webhooks"])


@router.post(
    "",
    status_code=201,
    openapi_extra=openapi.CREATE_BODY,
    responses=openapi.returns(201, openapi.WEBHOOK, "created; carries the secret once"),
)
async def create_webhook(services: ServicesDep, principal: PrincipalDep, body: JsonBody) -> JSON:
    """Create a webhook; the answer carries its signing `secret`, this once."""
    created = await services.webhooks.create(principal, read_draft(body))
    headers = {**etag(created.webhook.version), "Location": f"{PREFIX}/{created.webhook.id}"}
    return JSON(created.to_public(), status_code=201, headers=headers)


@router.get("", responses=openapi.returns(200, openapi.LIST, "a page, newest first"))
async def list_webhooks(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
    direction: Annotated[str | None, Query(pattern="^(outbound|inbound)$")] = None,
    enabled: bool | None = None,
    connector_id: str | None = None,
    tag: str | None = None,
    event_type: str | None = None,
    include_deleted: bool = False,
) -> JSON:
    """The tenant's webhooks, newest first, with filters."""
    query = WebhookQuery(
        limit=limit,
        direction=direction,
        enabled=enabled,
        connector_id=connector_id,
        tag=tag,
        event_type=event_type,
        include_deleted=include_deleted,
    )
    page = await services.webhooks.list(principal, query, cursor)
    return JSON(page.to_public())


@router.get("/{webhook_id}", responses=openapi.returns(200, openapi.WEBHOOK, "the webhook"))
async def get_webhook(
    services: ServicesDep, principal: PrincipalDep, webhook_id: str, include_deleted: bool = False
) -> JSON:
    """One webhook (soft-deleted ones with `include_deleted=true`)."""
    found = await services.webhooks.get(principal, webhook_id, include_deleted=include_deleted)
    return JSON(found.to_public(), headers=etag(found.version))


@router.patch(
    "/{webhook_id}",
    openapi_extra=openapi.PATCH_BODY,
    responses=openapi.returns(200, openapi.WEBHOOK, "the updated webhook"),
)
async def update_webhook(
    services: ServicesDep,
    principal: PrincipalDep,
    webhook_id: str,
    body: JsonBody,
    if_match: IfMatchDep,
) -> JSON:
    """Change fields (a merge); needs `If-Match: "<version>"`."""
    expected = expected_version(body, if_match)
    patch = read_patch(body)
    updated = await services.webhooks.update(principal, webhook_id, patch, expected)
    return JSON(updated.to_public(), headers=etag(updated.version))


@router.delete("/{webhook_id}", status_code=204, responses=openapi.returns(204, None, "deleted"))
async def delete_webhook(
    services: ServicesDep, principal: PrincipalDep, webhook_id: str
) -> Response:
    """Soft-delete; its pending deliveries are cancelled."""
    await services.webhooks.delete(principal, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    openapi_extra=openapi.ROTATE_BODY,
    responses=openapi.returns(200, openapi.WEBHOOK, "the webhook with its new secret, once"),
)
async def rotate_secret(
    services: ServicesDep, principal: PrincipalDep, webhook_id: str, body: JsonBody
) -> JSON:
    """A new secret, shown once; the old one keeps working for `grace_period_s`."""
    rotated = await services.webhooks.rotate_secret(principal, webhook_id, read_rotation(body))
    return JSON(rotated.to_public(), headers=etag(rotated.webhook.version))


@router.post("/{webhook_id}/pause", responses=openapi.returns(200, openapi.WEBHOOK, "paused"))
async def pause_webhook(services: ServicesDep, principal: PrincipalDep, webhook_id: str) -> JSON:
    """Pause by hand: new and pending deliveries are held, none dropped."""
    paused = await services.webhooks.pause(principal, webhook_id)
    return JSON(paused.to_public(), headers=etag(paused.version))


@router.post("/{webhook_id}/resume", responses=openapi.returns(200, openapi.WEBHOOK, "resumed"))
async def resume_webhook(services: ServicesDep, principal: PrincipalDep, webhook_id: str) -> JSON:
    """Resume: held deliveries are due at once; the failure count restarts."""
    resumed = await services.webhooks.resume(principal, webhook_id)
    return JSON(resumed.to_public(), headers=etag(resumed.version))


@router.post(
    "/{webhook_id}/test",
    responses=openapi.returns(200, openapi.TEST_RESULT, "the attempt: sent now, once"),
)
async def test_webhook(services: ServicesDep, principal: PrincipalDep, webhook_id: str) -> JSON:
    """Send a `webhook_test` event now, once, and answer the attempt."""
    return JSON(await services.webhooks.test(principal, webhook_id))


@router.post(
    "/{webhook_id}/recover",
    openapi_extra=openapi.body(RECOVER_SCHEMA),
    responses=openapi.returns(200, openapi.REQUEUED, "failed deliveries re-queued"),
)
async def recover_webhook(
    services: ServicesDep, principal: PrincipalDep, webhook_id: str, body: JsonBody
) -> JSON:
    """Re-queue the webhook's failed deliveries of a time window."""
    requeued = await services.webhooks.recover(principal, webhook_id, read_window(body))
    return JSON({"requeued": requeued})
