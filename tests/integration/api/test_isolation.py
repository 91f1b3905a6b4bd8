"""Tenant isolation, route by route from the OpenAPI document, on both stores: every
operation that names a resource, called by another tenant (and by another application of the
same tenant) with the owner's real ids, answers 404 with nothing of the owner's in it, and
changes nothing. A new route with a path parameter this test does not know fails it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hookwire.api import create_api
from tests.conftest import WEBHOOKS, Api
from tests.vendors import VENDORS

UNAUTHENTICATED = {("post", "/api/v1/inbound/{webhook_id}")}  # the signature is the credential
TENANT_WIDE = "/api/v1/event-types"  # types belong to the tenant, not to an application


def operations() -> list[tuple[str, str]]:
    spec = create_api().openapi()
    return [
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if "{" in path and (method, path) not in UNAUTHENTICATED
    ]


async def owned(api: Api, tenant: Api) -> dict[str, Any]:
    """Resources of tenant acme, application app-1: one of each kind (the event type the
    tenant's, written with ``tenant``'s token: an application cannot change the catalog)."""
    hook = await api.create(url="https://owner.example.com/secret-path", name="owner-hook")
    github = VENDORS["github"]
    inbound = (
        await api.client.post(WEBHOOKS, json=github.create_body(name="owner-inbound"))
    ).json()
    published = {"type": "webhook_test", "data": {"test": True}}
    event = (await api.client.post("/api/v1/events", json=published)).json()
    detail = (await api.client.get(f"/api/v1/events/{event['id']}")).json()
    body = b'{"owner": "acme"}'
    signed = github.headers(body, ts=int(time.time()), delivery_id="owner-1")
    message = await api.anonymous().client.post(
        f"/api/v1/inbound/{inbound['id']}", content=body, headers=signed
    )
    schema = {"type": "object"}
    kind = await tenant.client.post(
        "/api/v1/event-types", json={"name": "owner.thing", "schema": schema}
    )
    assert kind.status_code == 201 and message.status_code == 202
    return {
        "webhook_id": hook["id"], "event_id": event["id"], "delivery_id": detail["delivery_ids"][0],
        "message_id": message.json()["id"], "name": "owner.thing", "version": "1",
        "url": hook["url"],
    }  # fmt: skip


def body_for(method: str, template: str) -> Any:
    """A body the route accepts, so that only the lookup can answer 404."""
    if method == "patch":
        return {"description": "mine"} if template.startswith(TENANT_WIDE) else {"name": "mine"}
    if template.endswith("/recover"):
        return {"since": "2020-01-01T00:00:00Z"}
    return {} if method == "post" else None


@pytest.mark.parametrize("stranger", ["globex", "acme/app-2"])
async def test_every_route_hides_another_owners_resources(api: Api, stranger: str) -> None:
    owner = api.as_tenant("acme", app="app-1")
    ids = await owned(owner, api.as_tenant("acme"))
    tenant, _, app = stranger.partition("/")
    other = api.as_tenant(tenant, app=app or None)
    tried = 0
    routes = [(m, t) for m, t in operations() if not (app and t.startswith(TENANT_WIDE))]
    for method, template in routes:
        names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
        unknown = set(names) - set(ids)
        assert not unknown, f"{method.upper()} {template}: teach this test {unknown}"
        path = template.format(**{name: ids[name] for name in names})
        body = body_for(method, template)
        response = await other.request(
            method.upper(),
            path,
            json=body,
            headers={"If-Match": '"1"'} if method == "patch" else {},
        )
        tried += 1
        assert response.status_code == 404, (method, path, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        for secretive in ("acme", ids["url"], "owner-hook", "owner-inbound"):
            assert secretive not in response.text, (method, path)
    assert tried == len(routes) >= 12
    hook = (await owner.client.get(f"{WEBHOOKS}/{ids['webhook_id']}")).json()
    assert (hook["version"], hook["paused_at"], hook["name"]) == (1, None, "owner-hook")
    kind = (await owner.client.get("/api/v1/event-types/owner.thing")).json()
    assert kind["deprecated"] is False and kind["version"] == 1
    delivery = (await owner.client.get(f"/api/v1/deliveries/{ids['delivery_id']}")).json()
    assert delivery["status"] == "pending" and delivery["attempt_count"] == 0
