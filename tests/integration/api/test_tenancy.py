"""Tenancy and authentication over HTTP: another tenant's ids are 404, tokens are checked."""

from __future__ import annotations

import base64
import time

import jwt
import orjson
import pytest

from tests.conftest import WEBHOOKS, Api


async def test_another_tenant_gets_404_on_every_route(api: Api) -> None:
    created = await api.create()
    url = f"{WEBHOOKS}/{created['id']}"
    stranger = api.as_tenant("globex")
    attempts = [
        ("GET", url, None, {}),
        ("GET", url + "?include_deleted=true", None, {}),
        ("PATCH", url, {"name": "mine"}, {"If-Match": '"1"'}),
        ("DELETE", url, None, {}),
        ("POST", url + "/pause", None, {}),
        ("POST", url + "/resume", None, {}),
        ("POST", url + "/rotate-secret", {}, {}),
    ]
    for method, path, body, headers in attempts:
        response = await stranger.request(method, path, json=body, headers=headers)
        assert response.status_code == 404, (method, path, response.text)
        assert created["id"] in response.json()["detail"]
        assert "acme" not in response.text
    assert (await stranger.client.get(WEBHOOKS)).json()["data"] == []
    unchanged = (await api.client.get(url)).json()
    assert unchanged["version"] == 1 and unchanged["paused_at"] is None


async def test_app_tokens_stamp_app_id_and_see_only_their_rows(api: Api) -> None:
    app_one = api.as_tenant("acme", sub=None, app="app-1")
    app_two = api.as_tenant("acme", sub=None, app="app-2")
    mine = await app_one.create()
    assert mine["app_id"] == "app-1"
    assert mine["created_by"] is None
    people = await api.create()
    assert people["app_id"] is None

    assert (await app_two.client.get(f"{WEBHOOKS}/{mine['id']}")).status_code == 404
    assert (await app_one.client.get(f"{WEBHOOKS}/{people['id']}")).status_code == 404
    listed = {w["id"] for w in (await app_one.client.get(WEBHOOKS)).json()["data"]}
    assert listed == {mine["id"]}
    everyone = {w["id"] for w in (await api.client.get(WEBHOOKS)).json()["data"]}
    assert everyone == {mine["id"], people["id"]}


def _alg_none_token(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not.a.jwt",
        "Bearer " + _alg_none_token({"tenant_id": "acme", "exp": int(time.time()) + 600}),
        "Bearer " + jwt.encode({"tenant_id": "acme", "exp": int(time.time()) + 600}, "x" * 32),
        "Bearer " + jwt.encode({"tenant_id": "acme", "exp": int(time.time()) - 3600}, "k" * 32),
    ],
)
async def test_bad_credentials_are_401_problem(api: Api, authorization: str | None) -> None:
    client = api.anonymous(
        **({"Authorization": authorization} if authorization is not None else {})
    )
    response = await client.client.get(WEBHOOKS)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_and_tenantless_tokens_signed_with_the_right_key_are_401(api: Api) -> None:
    key = api.settings.jwt_secret
    assert key
    expired = jwt.encode({"tenant_id": "acme", "exp": int(time.time()) - 3600}, key)
    tenantless = jwt.encode({"sub": "x", "exp": int(time.time()) + 600}, key)
    no_exp = jwt.encode({"tenant_id": "acme"}, key)
    for token in (expired, tenantless, no_exp):
        client = api.anonymous(Authorization=f"Bearer {token}")
        response = await client.client.post(WEBHOOKS, json={"url": "https://a.example.com"})
        assert response.status_code == 401
    assert (await api.client.get(WEBHOOKS)).json()["data"] == []


async def test_health_needs_no_token_but_the_api_does(api: Api) -> None:
    anonymous = api.anonymous()
    assert (await anonymous.client.get("/healthz")).json() == {"status": "ok"}
    assert (await anonymous.client.get("/readyz")).json() == {"status": "ready"}
    assert (await anonymous.client.get(WEBHOOKS)).status_code == 401
