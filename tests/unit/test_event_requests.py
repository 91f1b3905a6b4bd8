"""Reading the bodies of publishing and of event types at the edges: their shapes, what was
left out (told apart from null), and the Idempotency-Key header."""

from __future__ import annotations

from typing import Any

import pytest

from hookwire.domain import event_requests as requests
from hookwire.domain.event_type import ABSENT, EventType, EventTypePatch
from hookwire.errors import BadRequest, ValidationFailed

CURRENT = EventType("t", "old", {"type": "object"}, example={"a": 1})


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "é", "line\n"])
def test_bad_idempotency_keys_are_400(key: str) -> None:
    with pytest.raises(BadRequest):
        requests.read_idempotency_key(key)


@pytest.mark.parametrize("key", [None, "k", "x" * 255, "order-7 / retry #2"])
def test_good_idempotency_keys_are_read_as_they_are(key: str | None) -> None:
    assert requests.read_idempotency_key(key) == key


def test_an_event_draft_keeps_data_itself_and_which_fields_were_given() -> None:
    data: dict[str, Any] = {"a": [1]}
    draft = requests.read_event({"type": "t", "data": data, "state": None, "tags": ["x"]})
    assert draft.data is data
    assert (draft.state, draft.tags, draft.given) == (None, ("x",), frozenset({"state", "tags"}))


def test_an_event_type_draft_tells_a_null_example_from_none() -> None:
    body: dict[str, Any] = {"name": "a.b", "schema": True}
    assert requests.read_event_type(body).example is ABSENT
    assert requests.read_event_type({**body, "example": None}).example is None
    assert requests.read_event_type(body).description == ""


def test_a_patch_keeps_what_it_leaves_out_and_clears_a_null_example() -> None:
    kept = requests.read_event_type_patch({"description": "new"})
    assert kept == EventTypePatch(description="new")
    assert (kept.schema_for(CURRENT), kept.example_for(CURRENT)) == ({"type": "object"}, {"a": 1})
    cleared = requests.read_event_type_patch({"example": None, "schema": False})
    assert (cleared.schema_for(CURRENT), cleared.example_for(CURRENT)) == (False, None)


@pytest.mark.parametrize(
    ("read", "body", "paths"),
    [
        (requests.read_event_type, {"schema": 1, "x": 0}, {"/name", "/schema", "/x"}),
        (requests.read_event_type, {"name": "Bad Name", "schema": {}}, {"/name"}),
        (
            requests.read_event_type_patch,
            {"deprecated": "yes", "name": "n"},
            {"/deprecated", "/name"},
        ),
        (requests.read_event_type_patch, [], {""}),
    ],
)
def test_event_type_bodies_are_pointed_at(read: Any, body: Any, paths: set[str]) -> None:
    with pytest.raises(ValidationFailed) as info:
        read(body)
    assert {e.path for e in info.value.errors} == paths
