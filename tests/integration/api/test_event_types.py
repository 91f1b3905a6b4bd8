"""The event catalog over HTTP on both stores: built-in and tenant types, versions."""

from __future__ import annotations

from typing import Any

import pytest

from hookwire.catalog.builtin import load_builtin
from hookwire.domain.event_type import EventType
from hookwire.store.base import Store
from hookwire.timeutil import utcnow
from tests.conftest import Api

TYPES = "/api/v1/event-types"
EVENTS = "/api/v1/events"
RFP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["rfp_id"],
    "additionalProperties": False,
    "properties": {
        "rfp_id": {"type": "string", "format": "uuid"},
        "url": {"type": "string", "format": "uri"},
        "due": {"type": "string", "format": "date-time"},
        "owner": {"type": "string", "format": "email", "nullable": True},
    },
}
RFP_EXAMPLE = {"rfp_id": "6f1c5c0e-8d4e-4b8e-9a39-0e7d3c2b1a00", "owner": None}


async def create_rfp(api: Api) -> dict[str, Any]:
    response = await api.client.post(
        TYPES,
        json={"name": "rfp.created", "description": "An RFP was created.", "schema": RFP_SCHEMA,
              "example": RFP_EXAMPLE},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"{TYPES}/rfp.created"
    created: dict[str, Any] = response.json()
    return created


async def test_the_catalog_lists_builtins_and_own_types_in_pages(api: Api) -> None:
    await create_rfp(api)
    names: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = (await api.client.get(TYPES, params=params)).json()
        names += [t["name"] for t in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == sorted({*load_builtin(), "rfp.created"})
    assert (
        "rfp.created"
        not in (await api.as_tenant("globex").client.get(TYPES, params={"limit": 200})).text
    )


async def test_a_builtin_type_has_the_documented_shape(api: Api) -> None:
    body = (await api.client.get(f"{TYPES}/integration-state-changed")).json()
    assert body["builtin"] is True and body["version"] == 1 and body["deprecated"] is False
    assert {
        "name",
        "description",
        "schema",
        "version",
        "deprecated",
        "builtin",
        "example",
    } <= body.keys()
    assert (
        await api.client.get(f"{TYPES}/integration-state-changed/versions/1")
    ).status_code == 200
    assert (
        await api.client.get(f"{TYPES}/integration-state-changed/versions/2")
    ).status_code == 404


async def test_create_then_publish_with_formats_enforced(api: Api) -> None:
    created = await create_rfp(api)
    assert created["version"] == 1 and created["builtin"] is False
    good = {
        "type": "rfp.created",
        "data": {"rfp_id": RFP_EXAMPLE["rfp_id"], "owner": "a@b.example"},
    }
    assert (await api.client.post("/api/v1/events", json=good)).status_code == 202
    bad_data = {"rfp_id": "123", "url": "not a uri", "due": "yesterday", "owner": "nope"}
    response = await api.client.post(
        "/api/v1/events", json={"type": "rfp.created", "data": bad_data}
    )
    assert response.status_code == 422
    assert {e["path"] for e in response.json()["errors"]} == {
        "/data/rfp_id", "/data/url", "/data/due", "/data/owner",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "Upper.Case", "schema": {}}, "/name"),
        ({"name": "-leading", "schema": {}}, "/name"),
        ({"name": "a" * 200, "schema": {}}, "/name"),
        ({"name": "ok.name"}, "/schema"),
        ({"name": "ok.name", "schema": {"type": "nonsense"}}, "/schema/type"),
        ({"name": "ok.name", "schema": {"properties": {"a": {"$ref": "https://evil.example/s"}}}},
         "/schema/properties/a/$ref"),
        ({"name": "ok.name", "schema": {"pattern": "("}}, "/schema/pattern"),
        ({"name": "ok.name", "schema": RFP_SCHEMA, "example": {"rfp_id": 5}}, "/example/rfp_id"),
        ({"name": "ok.name", "schema": {}, "extra": 1}, "/extra"),
    ],
)  # fmt: skip
async def test_bad_event_types_are_422(api: Api, body: dict[str, Any], path: str) -> None:
    response = await api.client.post(TYPES, json=body)
    assert response.status_code == 422, response.text
    assert path in {e["path"] for e in response.json()["errors"]}
    assert (await api.client.get(f"{TYPES}/ok.name")).status_code == 404


async def test_names_are_unique_and_builtins_are_reserved(api: Api) -> None:
    await create_rfp(api)
    again = await api.client.post(TYPES, json={"name": "rfp.created", "schema": {}})
    assert again.status_code == 409
    builtin = await api.client.post(TYPES, json={"name": "webhook_test", "schema": {}})
    assert builtin.status_code == 409
    assert (
        await api.client.patch(f"{TYPES}/webhook_test", json={"description": "x"})
    ).status_code == 409
    assert (await api.client.delete(f"{TYPES}/webhook_test")).status_code == 409
    other = await api.as_tenant("globex").client.post(
        TYPES, json={"name": "rfp.created", "schema": {}}
    )
    assert other.status_code == 201


async def test_a_schema_change_is_a_new_version_and_old_versions_stay(api: Api) -> None:
    await create_rfp(api)
    stricter = {**RFP_SCHEMA, "required": ["rfp_id", "due"]}
    response = await api.client.patch(
        f"{TYPES}/rfp.created",
        json={"schema": stricter, "example": {**RFP_EXAMPLE, "due": "2026-12-01T00:00:00Z"}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    v1 = (await api.client.get(f"{TYPES}/rfp.created/versions/1")).json()
    assert v1["schema"] == RFP_SCHEMA and v1["version"] == 1
    assert (await api.client.get(f"{TYPES}/rfp.created")).json()["version"] == 2
    old_shape = {"type": "rfp.created", "data": {"rfp_id": RFP_EXAMPLE["rfp_id"]}}
    refused = await api.client.post("/api/v1/events", json=old_shape)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == "/data/due"
    new_shape = {
        "type": "rfp.created",
        "data": {"rfp_id": RFP_EXAMPLE["rfp_id"], "due": "2026-12-01T00:00:00Z"},
    }
    accepted = (await api.client.post("/api/v1/events", json=new_shape)).json()
    event = (await api.client.get(f"/api/v1/events/{accepted['id']}")).json()
    assert event["type_version"] == 2


@pytest.mark.parametrize(
    ("before", "after"),
    [(True, 1), (1, 1.5), ({"a": [False]}, {"a": [0]}), (0, False)],
)
async def test_a_change_python_calls_equal_is_a_new_version(
    api: Api, before: Any, after: Any
) -> None:
    """``const: true`` changed to ``const: 1``: Python's ``True == 1`` kept version 1 and its
    schema, while the answer showed the new one; publishing then judged by the old."""
    schema = {"type": "object", "properties": {"f": {"const": before}}}
    created = await api.client.post(TYPES, json={"name": "flag.set", "schema": schema})
    assert created.status_code == 201, created.text
    changed = {"type": "object", "properties": {"f": {"const": after}}}
    patched = await api.client.patch(f"{TYPES}/flag.set", json={"schema": changed})
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2
    stored = (await api.client.get(f"{TYPES}/flag.set")).json()
    assert (stored["version"], stored["schema"]) == (2, changed)
    old = await api.client.post(EVENTS, json={"type": "flag.set", "data": {"f": before}})
    new = await api.client.post(EVENTS, json={"type": "flag.set", "data": {"f": after}})
    assert (old.status_code, new.status_code) == (422, 202)


async def test_the_same_schema_with_its_keys_reordered_keeps_the_version(api: Api) -> None:
    await create_rfp(api)
    reordered = dict(reversed(list(RFP_SCHEMA.items())))
    patched = await api.client.patch(f"{TYPES}/rfp.created", json={"schema": reordered})
    assert patched.json()["version"] == 1


async def test_description_changes_keep_the_version(api: Api) -> None:
    await create_rfp(api)
    response = await api.client.patch(f"{TYPES}/rfp.created", json={"description": "New words."})
    assert response.json()["version"] == 1
    assert response.json()["description"] == "New words."
    bad = await api.client.patch(f"{TYPES}/rfp.created", json={"schema": {"type": 5}})
    assert bad.status_code == 422
    assert (await api.client.patch(f"{TYPES}/nope", json={"description": "x"})).status_code == 404


async def test_delete_deprecates_and_publishing_warns(api: Api) -> None:
    await create_rfp(api)
    assert (await api.client.delete(f"{TYPES}/rfp.created")).status_code == 204
    assert (await api.client.get(f"{TYPES}/rfp.created")).json()["deprecated"] is True
    response = await api.client.post(
        "/api/v1/events", json={"type": "rfp.created", "data": {"rfp_id": RFP_EXAMPLE["rfp_id"]}}
    )
    assert response.status_code == 202
    assert response.json()["warnings"] == ["event type rfp.created is deprecated"]


INTO_A = {"properties": {"a": {"$ref": "#/$defs/n"}}}
BRANCHES_RECURSE = {"$defs": {"n": {"anyOf": [INTO_A, {**INTO_A, "type": "object"}]}},
                    "$ref": "#/$defs/n"}  # fmt: skip


@pytest.mark.parametrize(
    ("schema", "pointer"),
    [
        ({"properties": {"v": {"pattern": "^(a+)+\\1$"}}}, "/schema/properties/v/pattern"),
        (BRANCHES_RECURSE, "/schema/$defs/n"),
    ],
)
async def test_schemas_too_costly_to_validate_with_are_422(
    api: Api, schema: dict[str, Any], pointer: str
) -> None:
    """A backtracking pattern, and branches that both recurse into one child (error reporting
    walks every branch: work doubles at every level of the data)."""
    response = await api.client.post(TYPES, json={"name": "costly", "schema": schema})
    assert response.status_code == 422, response.text
    assert [e["path"] for e in response.json()["errors"]] == [pointer]
    patched = await api.client.patch(f"{TYPES}/rfp.created", json={"schema": schema})
    assert patched.status_code in (404, 422)


async def test_a_type_stored_before_the_checks_is_refused_at_publish_not_run(
    api: Api, store: Store
) -> None:
    """A schema written by an earlier version (no linear-time rule then): publishing answers
    422 at /type saying to update it, instead of running a backtracking pattern."""
    now = utcnow()
    old = EventType(
        name="legacy.type", description="", version=1, tenant_id="acme", created_at=now,
        updated_at=now, schema={"properties": {"v": {"type": "string", "pattern": "(a)\\1"}}},
    )  # fmt: skip
    assert await store.insert_event_type(old)
    response = await api.client.post(EVENTS, json={"type": "legacy.type", "data": {"v": "aa"}})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["path"] == "/type"
    assert "update it" in error["message"]
    fixed = await api.client.patch(f"{TYPES}/legacy.type", json={"schema": {"type": "object"}})
    assert fixed.status_code == 200, fixed.text
    again = await api.client.post(EVENTS, json={"type": "legacy.type", "data": {"v": "aa"}})
    assert again.status_code == 202, again.text


async def test_an_application_reads_the_catalog_but_cannot_change_it(api: Api) -> None:
    """The catalog is the tenant's: an app token that could PATCH a type to {"not": {}} or
    deprecate it broke every other application's publishing of it."""
    await create_rfp(api)
    app_one = api.as_tenant("acme", app="app-1")
    refused = [
        await app_one.client.post(TYPES, json={"name": "orders.created", "schema": {}}),
        await app_one.client.patch(f"{TYPES}/rfp.created", json={"schema": {"not": {}}}),
        await app_one.client.delete(f"{TYPES}/rfp.created"),
    ]
    for answer in refused:
        assert answer.status_code == 403, answer.text
        assert answer.json()["type"].endswith(":forbidden")
    assert (await app_one.client.get(f"{TYPES}/rfp.created")).json()["version"] == 1
    published = await app_one.client.post(EVENTS, json={"type": "rfp.created", "data": RFP_EXAMPLE})
    assert published.status_code == 202, published.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", TYPES, {"colour": 1}),
        ("POST", TYPES, None),
        ("PATCH", f"{TYPES}/rfp.created", {"schema": 5}),
        ("PATCH", f"{TYPES}/no.such.type", {"deprecated": "yes"}),
        ("PATCH", f"{TYPES}/webhook_test", []),
    ],
)
async def test_an_applications_token_hears_403_before_anything_about_the_body(
    api: Api, method: str, path: str, body: Any
) -> None:
    await create_rfp(api)
    app_one = api.as_tenant("acme", app="app-1")
    answer = await app_one.client.request(method, path, json=body)
    assert answer.status_code == 403, answer.text


async def test_an_example_given_as_null_is_checked_and_a_patched_null_clears_it(api: Api) -> None:
    """``"example": null`` is an example (checked against the schema), not a missing one; in a
    PATCH it clears the example (a new version), where leaving it out keeps it."""
    refused = await api.client.post(
        TYPES, json={"name": "null.example", "schema": RFP_SCHEMA, "example": None}
    )
    assert refused.status_code == 422, refused.text
    assert [e["path"] for e in refused.json()["errors"]] == ["/example"]
    await create_rfp(api)
    kept = await api.client.patch(f"{TYPES}/rfp.created", json={"description": "d"})
    assert (kept.json()["version"], kept.json()["example"]) == (1, RFP_EXAMPLE)
    cleared = await api.client.patch(f"{TYPES}/rfp.created", json={"example": None})
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["version"], cleared.json()["example"]) == (2, None)
    assert cleared.json()["description"] == "d"
