"""Inputs the API fuzzer (tests/acceptance/test_api_fuzz.py) turned into 500s or 503s, kept
here as plain tests on both stores (each is now a 422 at the field's pointer), and the limits
on header fields. tests/acceptance/test_hostile_requests.py measures what hostile input costs
a running server."""

from __future__ import annotations

import pytest

from hookwire.api.limits import MAX_HEADERS, MAX_LINE, MAX_TOTAL
from tests.conftest import WEBHOOKS, Api


async def problem_at(api: Api, method: str, path: str, pointer: str, **kwargs: object) -> None:
    response = await api.client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert pointer in [e["path"] for e in response.json()["errors"]]


async def test_an_event_type_version_beyond_an_integer_is_422(api: Api) -> None:
    """Was a 500: the number overflowed the database's integer."""
    await problem_at(api, "GET", f"/api/v1/event-types/x/versions/{2**63}", "/version")


@pytest.mark.parametrize(
    "path", ["/api/v1/events", "/api/v1/deliveries", "/api/v1/inbound-messages"]
)
@pytest.mark.parametrize("value", ["1", "1700000000", "yesterday", "0001-01-01T00:01:00+01:00"])
async def test_time_filters_take_rfc3339_only(api: Api, path: str, value: str) -> None:
    """A number was read as unix seconds (accepted against the documented format); a time
    before year 1 in UTC overflowed (500)."""
    await problem_at(api, "GET", path, "/since", params={"since": value})


@pytest.mark.parametrize(
    "value", ["2026-11-30T10:00:00Z", "2026-11-30T10:00:00", "2026-11-30 10:00"]
)
async def test_time_filters_accept_rfc3339_with_or_without_an_offset(api: Api, value: str) -> None:
    response = await api.client.get("/api/v1/events", params={"since": value})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "params", "pointer"),
    [
        ("/api/v1/deliveries", {"webhook_id": "wh_\x00"}, "/webhook_id"),
        ("/api/v1/events", {"type": "a\x00b"}, "/type"),
        ("/api/v1/integration/webhooks/wh_%00x", {}, "/webhook_id"),
        ("/api/v1/inbound-messages/inm_%00", {}, "/message_id"),
    ],
)
async def test_a_nul_in_a_parameter_is_422(
    api: Api, path: str, params: dict[str, str], pointer: str
) -> None:
    """Was a 503 on PostgreSQL (which cannot compare U+0000), telling clients to retry."""
    await problem_at(api, "GET", path, pointer, params=params)


async def test_a_recover_window_out_of_the_calendar_is_422(api: Api) -> None:
    """Was a 500: 0001-01-01T00:01+01:00 is before year 1 in UTC."""
    hook = await api.create()
    body = {"since": "0001-01-01T00:01:00.0+01:00"}
    await problem_at(api, "POST", f"{WEBHOOKS}/{hook['id']}/recover", "/since", json=body)


@pytest.mark.parametrize(
    "headers",
    [
        [("x-repeat", "a")] * (MAX_HEADERS + 1),
        [("x-long", "a" * MAX_LINE)],
        [(f"x-h{i}", "a" * 1000) for i in range(MAX_TOTAL // 1000 + 1)],
    ],
    ids=["too-many", "one-too-long", "too-long-in-all"],
)
@pytest.mark.parametrize("path", ["/healthz", "/api/v1/inbound/wh_01JPC7B4KD2M6N8P0Q3R5S7T9V"])
async def test_header_fields_past_the_limits_are_431(
    api: Api, headers: list[tuple[str, str]], path: str
) -> None:
    """Before any route reads them: an inbound webhook's requests are unauthenticated."""
    response = await api.anonymous().client.post(path, headers=headers, content=b"{}")
    assert response.status_code == 431, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("headers-too-large")


async def test_header_fields_within_the_limits_pass(api: Api) -> None:
    headers = [(f"x-h{i}", "a" * 200) for i in range(MAX_HEADERS - 10)]
    assert (await api.client.get("/api/v1/events", headers=headers)).status_code == 200
