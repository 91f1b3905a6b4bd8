"""The built-in event catalog: the names, the schemas, the examples, and the seeds kept exactly."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookwire.catalog import builtin
from hookwire.catalog.builtin import CatalogError, load_builtin
from hookwire.domain.event_type import NAME_RE
from hookwire.domain.validation import schema_errors, tenant_schema
from hookwire.errors import ValidationFailed

SEEDS = Path(__file__).resolve().parents[1] / "data" / "seeds"
DATA = Path(builtin.__file__).resolve().parent / "data"

SEED_TYPES = ("integration-state-changed", "connection-flow-failed")
# payload_schema.properties.data.required of each type in Kombo's webhooks OpenAPI 0.0.3.
REFERENCE_REQUIRED: dict[str, list[str]] = {
    "data-changed": [
        "integration_id",
        "integration_tool",
        "integration_category",
        "changed_models",
    ],
    "integration-created": ["id", "tool", "category", "end_user"],
    "integration-deleted": ["id", "tool", "category", "end_user", "deleted_at"],
    "assessment:order-received": [
        "id",
        "package_id",
        "status",
        "integration_id",
        "candidate",
        "application",
        "job",
    ],
    "inline-assessment:order-received": [
        "id",
        "package_id",
        "status",
        "integration_id",
        "candidate",
        "application",
        "job",
    ],
    "ai-apply-application-status-updated": [
        "id",
        "job_posting_id",
        "status",
        "created_at",
        "updated_at",
    ],
    "ai-apply-job-posting-status-updated": [
        "id",
        "career_site",
        "url",
        "job_code",
        "created_at",
        "updated_at",
        "archived_at",
        "archived_reason",
        "availability",
    ],
    "sync-finished": [
        "sync_id",
        "sync_state",
        "sync_started_at",
        "sync_ended_at",
        "sync_duration_seconds",
        "integration_id",
        "integration_tool",
        "integration_category",
        "end_user",
        "log_url",
    ],
    "remote-event-received": [
        "integration_id",
        "integration_tool",
        "integration_category",
        "end_user",
    ],
}
# The reference types whose category enum gained "LMS", and where.
LMS_ADDED = {
    "data-changed": "integration_category",
    "integration-created": "category",
    "integration-deleted": "category",
    "sync-finished": "integration_category",
    "remote-event-received": "integration_category",
}
SEED_003_TYPES = (
    "webhook_test",
    "integration_new_data_model",
    "integration_updated_data_model",
    "integration_deleted_data_model",
    "integration_installed",
    "integration_import_done",
    "integration_cannot_refresh_oauth_token",
    "integration_oauth_token_fixed",
)
HOOKWIRE_TYPES = ("webhook.paused", "webhook.resumed", "inbound.received")
ORIGINS = {
    "integration-state-changed": "seed 000",
    "connection-flow-failed": "seed 002",
    **dict.fromkeys(REFERENCE_REQUIRED, "kombo reference 0.0.3"),
    **dict.fromkeys(SEED_003_TYPES, "seed 003"),
    **dict.fromkeys(HOOKWIRE_TYPES, "hookwire"),
}
NAMES = sorted(ORIGINS)


def seed_schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SEEDS / f"{name}.schema.json").read_text())
    return loaded


def data_file(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / builtin.file_name(name)).read_text())
    return loaded


def enums(node: Any) -> Iterator[list[Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            yield node["enum"]
        for value in node.values():
            yield from enums(value)
    elif isinstance(node, list):
        for item in node:
            yield from enums(item)


def example(name: str) -> Any:
    return copy.deepcopy(load_builtin()[name].example)


def paths(name: str, document: Any) -> list[str]:
    return [error.path for error in schema_errors(load_builtin()[name].schema, document)]


# --- the catalog as a whole ---------------------------------------------------------------


def test_exactly_the_expected_types_load() -> None:
    assert len(NAMES) == 22
    assert sorted(load_builtin()) == NAMES


def test_load_builtin_is_cached() -> None:
    assert load_builtin() is load_builtin()


@pytest.mark.parametrize("name", NAMES)
def test_each_type_is_a_builtin_version_1(name: str) -> None:
    event_type = load_builtin()[name]
    assert event_type.name == name
    assert NAME_RE.fullmatch(name)
    assert (event_type.version, event_type.deprecated, event_type.builtin) == (1, False, True)
    assert event_type.description.endswith(".")
    assert event_type.tenant_id is None


@pytest.mark.parametrize("name", NAMES)
def test_each_data_file_has_its_keys_in_order_and_its_origin(name: str) -> None:
    document = data_file(name)
    assert list(document) == ["name", "description", "origin", "schema", "example"]
    assert document["origin"] == ORIGINS[name]


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_a_valid_schema(name: str) -> None:
    """Held to the rules of a tenant's schema, too (linear-time patterns, bounded cost)."""
    tenant_schema(load_builtin()[name].schema)


@pytest.mark.parametrize("name", NAMES)
def test_each_example_validates(name: str) -> None:
    event_type = load_builtin()[name]
    assert event_type.example is not None
    assert schema_errors(event_type.schema, event_type.example) == []


# --- the seeds, kept exactly ----------------------------------------------------------------


@pytest.mark.parametrize("name", SEED_TYPES)
def test_seed_schema_is_the_seed_data_part_exactly(name: str) -> None:
    expected = seed_schema(name)["properties"]["data"]
    actual = load_builtin()[name].schema
    assert actual == expected
    assert json.dumps(actual) == json.dumps(expected)  # same key order too


@pytest.mark.parametrize("name", SEED_TYPES)
def test_a_delivered_envelope_validates_against_the_full_seed_schema(name: str) -> None:
    schema = seed_schema(name)
    del schema["$id"]  # a fragment: see the next test
    envelope = {"id": "evt_01JPC7B4KD2M6N8P0Q3R5S7T9V", "type": name, "data": example(name)}
    assert schema_errors(schema, envelope) == []
    envelope["type"] = "something-else"
    assert [e.path for e in schema_errors(schema, envelope)] == ["/type"]


def test_the_seed_envelope_schemas_carry_a_fragment_id() -> None:
    # "$id": "#/components/schemas/..." breaks the 2020-12 metaschema (no fragments in $id), so
    # the full envelope is not itself a valid schema; without it, it is.
    schema = seed_schema("integration-state-changed")
    with pytest.raises(ValidationFailed) as refused:
        tenant_schema(schema)
    assert [e.path for e in refused.value.errors] == ["/$id"]
    del schema["$id"]
    tenant_schema(schema)


# --- the Kombo reference types ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REFERENCE_REQUIRED))
def test_reference_types_keep_the_published_required_fields(name: str) -> None:
    schema = load_builtin()[name].schema
    assert schema["required"] == REFERENCE_REQUIRED[name]
    assert schema["additionalProperties"] is False


def test_every_category_enum_offers_lms() -> None:
    categories = [
        values
        for event_type in load_builtin().values()
        for values in enums(event_type.schema)
        if "HRIS" in values
    ]
    assert len(categories) == len(LMS_ADDED) + len(SEED_TYPES)
    assert all(values == ["HRIS", "ATS", "ASSESSMENT", "LMS"] for values in categories)


@pytest.mark.parametrize(("name", "field"), sorted(LMS_ADDED.items()))
def test_lms_is_accepted_where_it_was_added(name: str, field: str) -> None:
    document = example(name)
    document[field] = "LMS"
    assert paths(name, document) == []
    document[field] = "CRM"
    assert paths(name, document) == [f"/{field}"]


def test_data_changed_refuses_an_unknown_model() -> None:
    document = example("data-changed")
    document["changed_models"].append({"name": "crm_contacts"})
    assert paths("data-changed", document) == ["/changed_models/2/name"]


# --- nulls, formats and enums --------------------------------------------------------------


def test_nullable_creator_email_accepts_null_and_refuses_a_bad_email() -> None:
    document = example("integration-state-changed")
    document["end_user"]["creator_email"] = None
    assert paths("integration-state-changed", document) == []
    document["end_user"]["creator_email"] = "nope"
    assert paths("integration-state-changed", document) == ["/end_user/creator_email"]


def test_a_missing_nullable_field_is_still_required() -> None:
    document = example("integration-state-changed")
    del document["end_user"]["origin_id"]
    assert paths("integration-state-changed", document) == ["/end_user/origin_id"]


def test_a_wrong_category_is_refused() -> None:
    document = example("integration-state-changed")
    document["integration_category"] = "CRM"
    assert paths("integration-state-changed", document) == ["/integration_category"]


def test_webhook_paused_refuses_an_unknown_reason() -> None:
    document = example("webhook.paused")
    document["reason"] = "bored"
    assert paths("webhook.paused", document) == ["/reason"]


@pytest.mark.parametrize("name", ["webhook.paused", "webhook.resumed"])
def test_operational_events_check_counts_and_times(name: str) -> None:
    document = example(name)
    document["name"] = None
    assert paths(name, document) == []
    document["consecutive_failures"] = -1
    document["at"] = "yesterday"
    assert paths(name, document) == ["/at", "/consecutive_failures"]


def test_webhook_test_refuses_a_non_boolean() -> None:
    assert paths("webhook_test", {"test": True}) == []
    assert "/test" in paths("webhook_test", {"test": "yes"})
    assert paths("webhook_test", {"test": True, "extra": 1}) == ["/extra"]


@pytest.mark.parametrize("payload", [None, "raw text", [1, 2], {"any": {"shape": True}}, 3.5])
def test_inbound_received_carries_any_json_payload(payload: Any) -> None:
    document = example("inbound.received")
    document["payload"] = payload
    assert paths("inbound.received", document) == []


def test_inbound_received_requires_every_field() -> None:
    assert paths("inbound.received", {}) == [
        "/connector_id",
        "/inbound_message_id",
        "/payload",
        "/provider_event",
        "/webhook_id",
    ]


@pytest.mark.parametrize("name", SEED_003_TYPES)
def test_seed_003_schemas_describe_every_field_and_refuse_extras(name: str) -> None:
    schema = load_builtin()[name].schema
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"]
    assert all(prop.get("description") for prop in schema["properties"].values())
    document = example(name)
    document["unexpected"] = 1
    assert paths(name, document) == ["/unexpected"]


def test_integration_installed_state_is_a_nullable_string() -> None:
    document = example("integration_installed")
    document["state"] = None
    assert paths("integration_installed", document) == []
    document["state"] = 7
    assert paths("integration_installed", document) == ["/state"]
    document["state"] = "s"
    document["metadata"] = "not an object"
    assert paths("integration_installed", document) == ["/metadata"]


# --- broken data files are loud --------------------------------------------------------------


class _Files:
    def __init__(self, root: Path) -> None:
        self.root = root

    def joinpath(self, child: str) -> Path:
        return self.root / child


@pytest.fixture
def fake_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(builtin, "files", lambda _package: _Files(tmp_path))
    load_builtin.cache_clear()
    yield tmp_path / "data"
    monkeypatch.undo()
    load_builtin.cache_clear()


def _write(folder: Path, file: str, name: str) -> None:
    document = {"name": name, "description": "d.", "origin": "o", "schema": {}, "example": {}}
    (folder / file).write_text(json.dumps(document))


def test_a_file_named_after_another_type_is_refused(fake_data: Path) -> None:
    _write(fake_data, "a.b.json", "a.c")
    with pytest.raises(CatalogError, match=r"a\.b\.json"):
        load_builtin()


def test_colons_are_written_as_double_underscores(fake_data: Path) -> None:
    _write(fake_data, "x__y.json", "x:y")
    (fake_data / "README.txt").write_text("not a type")
    assert list(load_builtin()) == ["x:y"]
