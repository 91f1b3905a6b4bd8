"""The webhook registry over HTTP, on both stores: create, read, list, update, delete."""

from __future__ import annotations

import hashlib

import pytest

from hookwire.services.container import Services
from tests.conftest import PUBLIC_URL, WEBHOOKS, Api


async def test_create_answers_201_with_location_etag_and_the_secret_once(api: Api) -> None:
    response = await api.client.post(
        WEBHOOKS, json={"url": "https://receiver.example.com/hooks", "name": "Payroll"}
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"{WEBHOOKS}/{body['id']}"
    assert response.headers["etag"] == '"1"'
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert body["secret_fingerprint"] == "sha256:" + hashlib.sha256(secret.encode()).hexdigest()

    fetched = await api.client.get(f"{WEBHOOKS}/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.headers["etag"] == '"1"'
    assert "secret" not in fetched.json()
    assert secret not in fetched.text
    listed = await api.client.get(WEBHOOKS)
    assert secret not in listed.text


async def test_create_fills_server_stamps_and_defaults(api: Api) -> None:
    body = await api.create()
    assert body["id"].startswith("wh_")
    assert body["tenant_id"] == "acme"
    assert body["app_id"] is None
    assert body["created_by"] == body["updated_by"] == "user-1"
    assert body["created_at"] == body["updated_at"]
    assert body["version"] == 1
    assert body["schema_version"] == 1
    assert body["direction"] == "outbound"
    assert body["signature_scheme"] == "standard-webhooks"
    assert body["envelope"] == "event"
    assert body["event_types"] == [] and body["tags"] == [] and body["headers"] == {}
    assert body["enabled"] is True and body["is_active"] is True and body["is_deleted"] is False
    assert body["source"] == "edm" and body["source_type"] == "api"
    assert body["vault_path"] == f"hookwire/acme/webhooks/{body['id']}"
    assert body["consecutive_failures"] == 0
    assert body["last_delivery_at"] is None and body["paused_at"] is None
    assert body["retry_policy"] == {
        "maxAttempts": 8,
        "backoff": "exponential",
        "initialDelayMs": 5000,
        "maxDelayMs": 36000000,
        "timeoutMs": 15000,
        "pauseAfterFailures": 20,
    }


async def test_partial_retry_policy_gets_defaults_filled_in(api: Api) -> None:
    body = await api.create(retry_policy={"maxAttempts": 3, "backoff": "linear"})
    assert body["retry_policy"]["maxAttempts"] == 3
    assert body["retry_policy"]["backoff"] == "linear"
    assert body["retry_policy"]["timeoutMs"] == 15000


async def test_a_supplied_secret_is_kept_and_fingerprinted(api: Api, services: Services) -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes of base64
    body = await api.create(secret=secret)
    assert body["secret"] == secret
    assert body["secret_fingerprint"] == "sha256:" + hashlib.sha256(secret.encode()).hexdigest()
    stored = await services.secrets.get(body["vault_path"])
    assert stored == {"current": secret}


async def test_vendor_scheme_accepts_a_vendor_secret(api: Api) -> None:
    body = await api.create(signature_scheme="github", secret="my-github-secret-123")
    assert body["signature_scheme"] == "github"


async def test_inbound_webhook_gets_its_callback_url(api: Api) -> None:
    body = await api.create(direction="inbound", url=None, signature_scheme="slack")
    assert body["url"] == f"{PUBLIC_URL}/api/v1/inbound/{body['id']}"
    assert body["direction"] == "inbound"


async def test_ed25519_webhook_exposes_its_public_key(api: Api) -> None:
    body = await api.create(signature_scheme="standard-webhooks-ed25519")
    assert body["secret"].startswith("whsk_")
    assert body["public_key"].startswith("whpk_")
    again = await api.client.get(f"{WEBHOOKS}/{body['id']}")
    assert again.json()["public_key"] == body["public_key"]


async def test_patch_merges_top_level_fields_and_bumps_the_version(api: Api) -> None:
    created = await api.create(name="before", tags=["a"], event_types=["rfp.*"])
    other = api.as_tenant("acme", sub="user-2")
    response = await other.client.patch(
        f"{WEBHOOKS}/{created['id']}", json={"name": "after"}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["etag"] == '"2"'
    assert body["version"] == 2
    assert body["name"] == "after"
    assert body["tags"] == ["a"] and body["event_types"] == ["rfp.*"]
    assert body["updated_by"] == "user-2" and body["created_by"] == "user-1"
    assert body["updated_at"] > created["updated_at"]


async def test_patch_takes_the_version_from_the_body_too(api: Api) -> None:
    created = await api.create()
    response = await api.client.patch(
        f"{WEBHOOKS}/{created['id']}", json={"enabled": False, "version": 1}
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False


async def test_patch_without_a_version_is_428(api: Api) -> None:
    created = await api.create()
    response = await api.client.patch(f"{WEBHOOKS}/{created['id']}", json={"name": "x"})
    assert response.status_code == 428
    assert response.headers["content-type"] == "application/problem+json"


async def test_stale_version_is_409_with_the_current_version(api: Api) -> None:
    created = await api.create()
    url = f"{WEBHOOKS}/{created['id']}"
    first = await api.client.patch(url, json={"name": "one"}, headers={"If-Match": '"1"'})
    assert first.status_code == 200
    stale = await api.client.patch(url, json={"name": "two"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    assert (await api.client.get(url)).json()["name"] == "one"


async def test_weak_etag_form_is_accepted_in_if_match(api: Api) -> None:
    created = await api.create()
    response = await api.client.patch(
        f"{WEBHOOKS}/{created['id']}", json={"name": "w"}, headers={"If-Match": 'W/"1"'}
    )
    assert response.status_code == 200


async def test_patch_that_changes_nothing_keeps_the_version(api: Api) -> None:
    created = await api.create(name="same")
    response = await api.client.patch(
        f"{WEBHOOKS}/{created['id']}", json={"name": "same"}, headers={"If-Match": '"1"'}
    )
    assert response.status_code == 200
    assert response.json()["version"] == 1


async def test_delete_is_soft_and_hides_the_webhook(api: Api) -> None:
    created = await api.create()
    url = f"{WEBHOOKS}/{created['id']}"
    response = await api.client.delete(url)
    assert response.status_code == 204
    assert response.content == b""
    assert (await api.client.get(url)).status_code == 404
    kept = await api.client.get(url, params={"include_deleted": "true"})
    assert kept.status_code == 200
    body = kept.json()
    assert body["is_deleted"] is True and body["is_active"] is False
    assert body["deleted_by"] == "user-1" and body["deleted_at"] is not None
    assert body["version"] == 2
    listed = await api.client.get(WEBHOOKS)
    assert created["id"] not in listed.text
    with_deleted = await api.client.get(WEBHOOKS, params={"include_deleted": "true"})
    assert created["id"] in with_deleted.text
    assert (await api.client.delete(url)).status_code == 404
    patch = await api.client.patch(url, json={"name": "x"}, headers={"If-Match": '"2"'})
    assert patch.status_code == 404


@pytest.mark.parametrize("limit", [0, 201, -1])
async def test_list_limit_out_of_range_is_422(api: Api, limit: int) -> None:
    response = await api.client.get(WEBHOOKS, params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "/limit"


async def test_list_pages_with_an_opaque_cursor(api: Api) -> None:
    ids = [(await api.create())["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.client.get(WEBHOOKS, params=params)).json()
        pages += 1
        seen += [w["id"] for w in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    assert pages == 3


async def test_a_forged_cursor_is_422(api: Api) -> None:
    response = await api.client.get(WEBHOOKS, params={"cursor": "not-a-cursor"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "/cursor"


async def test_list_filters_over_http(api: Api) -> None:
    rfp = await api.create(event_types=["rfp.*"], tags=["billing"], connector_id="conn_9")
    off = await api.create(enabled=False)
    inbound = await api.create(direction="inbound", url=None)

    async def ids(**params: str) -> set[str]:
        response = await api.client.get(WEBHOOKS, params=params)
        assert response.status_code == 200, response.text
        return {w["id"] for w in response.json()["data"]}

    assert await ids(tag="billing") == {rfp["id"]}
    assert await ids(connector_id="conn_9") == {rfp["id"]}
    assert await ids(enabled="false") == {off["id"]}
    assert await ids(direction="inbound") == {inbound["id"]}
    assert await ids(event_type="rfp.created", direction="outbound") == {rfp["id"], off["id"]}
    assert await ids(event_type="integration_installed", direction="outbound") == {off["id"]}
