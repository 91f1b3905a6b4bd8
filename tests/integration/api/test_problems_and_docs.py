"""Every error has the one problem+json shape; the OpenAPI document describes the API."""

from __future__ import annotations

from hookwire.store.base import Store
from tests.conftest import WEBHOOKS, Api


async def test_unknown_route_and_wrong_method_are_problems(api: Api) -> None:
    missing = await api.client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404
    wrong = await api.client.put(WEBHOOKS)
    assert wrong.status_code == 405
    assert wrong.json()["title"] == "Method not allowed"


async def test_bad_if_match_is_400(api: Api) -> None:
    created = await api.create()
    response = await api.client.patch(
        f"{WEBHOOKS}/{created['id']}", json={"name": "x"}, headers={"If-Match": "*"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


async def test_if_match_and_body_version_must_agree(api: Api) -> None:
    created = await api.create()
    response = await api.client.patch(
        f"{WEBHOOKS}/{created['id']}", json={"version": 2}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"path": "/version", "message": "disagrees with the If-Match header"}
    ]


async def test_openapi_documents_the_request_bodies_the_api_checks(api: Api) -> None:
    spec = (await api.anonymous().client.get("/openapi.json")).json()
    create = spec["paths"][WEBHOOKS]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert schema["additionalProperties"] is False
    assert "url" in schema["properties"] and "id" not in schema["properties"]
    assert "/api/v1/integration/webhooks/{webhook_id}/rotate-secret" in spec["paths"]
    docs = await api.anonymous().client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_readyz_is_503_when_the_store_is_gone(api: Api, store: Store) -> None:
    await store.close()
    response = await api.anonymous().client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert (await api.anonymous().client.get("/healthz")).status_code == 200
