"""Bad input to the webhook registry: a problem+json with a JSON Pointer per error, nothing
written. Runs on both stores."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from hookwire.domain.principal import Principal
from hookwire.domain.webhook import READ_ONLY_FIELDS, WebhookDraft
from hookwire.services.container import Services
from hookwire.services.webhooks import WebhookService
from tests.conftest import WEBHOOKS, Api

GOOD_URL = "https://receiver.example.com/hooks"


async def refused(api: Api, body: Any, status: int = 422) -> list[dict[str, str]]:
    """POST ``body``; assert the refusal; assert nothing was created; return the errors."""
    response = await api.client.post(WEBHOOKS, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == status
    listed = await api.client.get(WEBHOOKS, params={"include_deleted": "true"})
    assert listed.json()["data"] == []
    errors: list[dict[str, str]] = problem.get("errors", [])
    return errors


def paths(errors: list[dict[str, str]]) -> set[str]:
    return {e["path"] for e in errors}


@pytest.mark.parametrize("field", sorted(READ_ONLY_FIELDS))
async def test_every_read_only_field_is_refused_on_create(api: Api, field: str) -> None:
    errors = await refused(api, {"url": GOOD_URL, field: None})
    assert paths(errors) == {f"/{field}"}
    assert "read-only" in errors[0]["message"]


async def test_every_error_is_reported_at_once(api: Api) -> None:
    body = {
        "url": GOOD_URL,
        "event_types": ["ok.*", "bad pattern"],
        "retry_policy": {"maxAttempts": 0, "backoff": "random", "extra": 1},
        "enabled": "yes",
        "colour": "blue",
        "tags": "not-a-list",
    }
    errors = await refused(api, body)
    assert paths(errors) == {
        "/event_types/1",
        "/retry_policy/maxAttempts",
        "/retry_policy/backoff",
        "/retry_policy/extra",
        "/enabled",
        "/colour",
        "/tags",
    }


@pytest.mark.parametrize(
    "url",
    [
        "ftp://receiver.example.com/x",
        "receiver.example.com/hooks",
        "https://",
        "https://user:pass@receiver.example.com/",
        "https://receiver.example.com:99999/",
        "https://receiver.example.com/a b",
        "https://receiver.example.com/#frag",
        "https://receiver.example.com/" + "a" * 2100,
    ],
)
async def test_bad_urls_are_refused(api: Api, url: str) -> None:
    assert paths(await refused(api, {"url": url})) == {"/url"}


async def test_a_pattern_with_a_trailing_newline_is_refused(api: Api) -> None:
    errors = await refused(api, {"url": GOOD_URL, "event_types": ["rfp.*\n"]})
    assert paths(errors) == {"/event_types/0"}


async def test_outbound_needs_a_url(api: Api) -> None:
    assert paths(await refused(api, {"name": "no url"})) == {"/url"}


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.10",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "[::ffff:127.0.0.1]",
        "[fd00::1]",
        "[fe80::1]",
        "[64:ff9b::a00:1]",
    ],
)
async def test_private_targets_are_refused(api: Api, host: str) -> None:
    errors = await refused(api, {"url": f"http://{host}:8080/hook"})
    assert paths(errors) == {"/url"}
    assert "non-public" in errors[0]["message"]


@pytest.mark.parametrize("host", ["2130706433", "0x7f.0.0.1", "0177.0.0.1", "134744072"])
async def test_addresses_in_legacy_numeric_forms_are_refused(api: Api, host: str) -> None:
    """Public or not: aiohttp would connect to them without its resolver (tests/spellings.py
    has the whole family)."""
    errors = await refused(api, {"url": f"http://{host}:8080/hook"})
    assert paths(errors) == {"/url"}
    assert "not a valid host" in errors[0]["message"]


async def test_private_targets_are_allowed_when_configured(services: Services) -> None:
    config = replace(services.webhooks.config, allow_private_targets=True)
    permissive = WebhookService(services.store, services.secrets, config)
    draft = WebhookDraft(url="http://127.0.0.1:9000/hook")
    created = await permissive.create(Principal("acme"), draft)
    assert created.webhook.url == "http://127.0.0.1:9000/hook"


async def test_patching_the_url_to_a_private_target_is_refused(api: Api) -> None:
    created = await api.create()
    response = await api.client.patch(
        f"{WEBHOOKS}/{created['id']}",
        json={"url": "http://[::1]/x"},
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "/url"
    assert (await api.client.get(f"{WEBHOOKS}/{created['id']}")).json()["url"] == created["url"]


@pytest.mark.parametrize(
    "name",
    ["Content-Type", "content-length", "Host", "User-Agent", "webhook-signature",
     "Webhook-Id", "X-Hub-Signature-256", "Stripe-Signature", "X-Kombo-Signature"],
)  # fmt: skip
async def test_reserved_headers_are_refused(api: Api, name: str) -> None:
    errors = await refused(api, {"url": GOOD_URL, "headers": {name: "x"}})
    assert paths(errors) == {f"/headers/{name}"}


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nX-Injected: 1"},
        {"X-Evil": "a\nb"},
        {"X-Evil": "trailing\n"},
        {"X-Evil\n": "name with a trailing newline"},
        {"Bad Name": "x"},
        {"X-N": 5},
    ],
)
async def test_header_injection_and_bad_header_shapes_are_refused(
    api: Api, headers: dict[str, Any]
) -> None:
    errors = await refused(api, {"url": GOOD_URL, "headers": headers})
    assert all(e["path"].startswith("/headers") for e in errors)


@pytest.mark.parametrize(
    "secret",
    [
        "not-prefixed",
        "whsec_",
        "whsec_!!!notbase64!!!",
        "whsec_" + "QUFBQUFBQUFBQUFB",  # 12 bytes: too short
        "whsec_" + "QUFB" * 30,  # 90 bytes: too long
    ],
)
async def test_standard_webhooks_secret_must_be_whsec_and_24_to_64_bytes(
    api: Api, secret: str
) -> None:
    errors = await refused(api, {"url": GOOD_URL, "secret": secret})
    assert paths(errors) == {"/secret"}
    if secret != "whsec_":  # the bare prefix is named by the message itself
        assert secret not in str(errors)


async def test_vendor_secret_must_be_16_to_256_printable_characters(api: Api) -> None:
    body = {"url": GOOD_URL, "signature_scheme": "stripe", "secret": "short"}
    assert paths(await refused(api, body)) == {"/secret"}


async def test_inbound_only_schemes_are_refused_for_outbound(api: Api) -> None:
    body = {"url": GOOD_URL, "signature_scheme": "shopify"}
    assert paths(await refused(api, body)) == {"/signature_scheme"}


async def test_inbound_url_is_server_set(api: Api) -> None:
    body = {"direction": "inbound", "url": GOOD_URL}
    assert paths(await refused(api, body)) == {"/url"}


async def test_inbound_webhooks_send_no_headers(api: Api) -> None:
    body = {"direction": "inbound", "headers": {"X-A": "b"}}
    assert paths(await refused(api, body)) == {"/headers"}


async def test_retry_policy_max_delay_below_initial_delay(api: Api) -> None:
    body = {"url": GOOD_URL, "retry_policy": {"initialDelayMs": 9000, "maxDelayMs": 10}}
    assert paths(await refused(api, body)) == {"/retry_policy"}


async def test_application_id_must_be_a_uuid(api: Api) -> None:
    assert paths(await refused(api, {"url": GOOD_URL, "application_id": "app"})) == {
        "/application_id"
    }


@pytest.mark.parametrize("body", [[], "text", 3, None])
async def test_a_body_that_is_not_an_object_is_422(api: Api, body: Any) -> None:
    errors = await refused(api, body)
    assert paths(errors) == {""}


async def test_unparseable_json_is_400(api: Api) -> None:
    response = await api.client.post(
        WEBHOOKS, content=b'{"url": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


async def test_deeply_nested_json_is_refused_not_crashed(api: Api) -> None:
    body = b'{"url": "https://a.example.com", "name": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = await api.client.post(WEBHOOKS, content=body)
    assert response.status_code in {400, 422}


async def test_an_oversized_body_is_413(api: Api) -> None:
    big = {"url": GOOD_URL, "name": "x" * (api.settings.max_payload_bytes + 1)}
    await refused(api, big, status=413)


async def test_patch_refuses_read_only_direction_change_and_secret(api: Api) -> None:
    created = await api.create()
    url = f"{WEBHOOKS}/{created['id']}"
    cases = [
        ({"id": "wh_x"}, "/id"),
        ({"is_active": True}, "/is_active"),
        ({"direction": "inbound"}, "/direction"),
        ({"secret": "whsec_x"}, "/secret"),
        ({"headers": {"Host": "evil"}}, "/headers/Host"),
    ]
    for body, path in cases:
        response = await api.client.patch(url, json=body, headers={"If-Match": '"1"'})
        assert response.status_code == 422, (body, response.text)
        assert path in {e["path"] for e in response.json()["errors"]}, body
    assert (await api.client.get(url)).json()["version"] == 1


async def test_patch_scheme_needing_a_different_secret_is_refused(api: Api) -> None:
    created = await api.create(signature_scheme="github", secret="vendor-secret-1234567")
    url = f"{WEBHOOKS}/{created['id']}"
    headers = {"If-Match": '"1"'}
    response = await api.client.patch(
        url, json={"signature_scheme": "standard-webhooks"}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "/signature_scheme"
    ok = await api.client.patch(url, json={"signature_scheme": "stripe"}, headers=headers)
    assert ok.status_code == 200
    to_ed = await api.client.patch(
        url, json={"signature_scheme": "standard-webhooks-ed25519"}, headers={"If-Match": '"2"'}
    )
    assert to_ed.status_code == 422
