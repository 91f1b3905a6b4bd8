"""Requests about events and event types in their JSON form: the JSON Schemas of their bodies
(which the OpenAPI document publishes), the Idempotency-Key header, and the readers that turn
a body into the typed input the services take (:class:`~hookwire.domain.event.EventDraft`,
:class:`~hookwire.domain.event_type.EventTypeDraft` and its patch), or raise ValidationFailed
with a JSON Pointer at every error.

Only the edges read JSON: the API's routes, ``hookwire.Client`` and the CLI. Each reads a
request in the order its errors are answered: the Idempotency-Key before a publish's body, and
who may change the catalog (:func:`~hookwire.domain.event_type.check_catalog_writer`) before
an event type's body. What needs the catalog (``data`` against its type's schema, a tenant's
schema in the sandbox) stays in the services.
"""

from __future__ import annotations

from typing import Any, Final

from hookwire.domain.event import EventDraft
from hookwire.domain.event_type import ABSENT, NAME_RE, EventTypeDraft, EventTypePatch
from hookwire.domain.flow import ORDERING_KEY_SCHEMA
from hookwire.domain.validation import checked
from hookwire.errors import BadRequest, ValidationFailed

MAX_KEY_LENGTH: Final = 255
_TEXT: dict[str, Any] = {"type": ["string", "null"], "minLength": 1, "maxLength": 200}
PUBLISH_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "data"],
    "properties": {
        "type": {"type": "string", "minLength": 1, "maxLength": 128},
        "data": {"not": {"type": "null"}},
        "connector_id": _TEXT,
        "customer_id": _TEXT,
        "state": _TEXT,
        "ordering_key": ORDERING_KEY_SCHEMA,
        "tags": {
            "type": "array",
            "maxItems": 50,
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
        },
    },
}
_REQUIRED: Final = frozenset(PUBLISH_SCHEMA["required"])
_DESCRIPTION: dict[str, Any] = {"type": "string", "maxLength": 2000}
TYPE_CREATE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "schema"],
    "properties": {
        "name": {"type": "string", "pattern": f"^{NAME_RE.pattern}$"},
        "description": _DESCRIPTION,
        "schema": {"type": ["object", "boolean"]},
        "example": {},
    },
}
TYPE_PATCH_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "description": _DESCRIPTION,
        "schema": {"type": ["object", "boolean"]},
        "example": {},
        "deprecated": {"type": "boolean"},
    },
}


def read_idempotency_key(header: str | None) -> str | None:
    """The ``Idempotency-Key`` of a publish (400 unless 1 to 255 printable ASCII characters),
    or None. Read before the body."""
    if header is None:
        return None
    if not 1 <= len(header) <= MAX_KEY_LENGTH or not header.isprintable() or not header.isascii():
        raise BadRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        )
    return header


def read_event(body: Any) -> EventDraft:
    """A ``POST /events`` body (PUBLISH_SCHEMA) as a draft; ``data`` is the body's own."""
    fields = checked(PUBLISH_SCHEMA, body)
    return EventDraft(
        type=fields["type"],
        data=fields["data"],
        connector_id=fields.get("connector_id"),
        customer_id=fields.get("customer_id"),
        state=fields.get("state"),
        tags=tuple(fields.get("tags", ())),
        ordering_key=fields.get("ordering_key"),
        given=frozenset(fields).difference(_REQUIRED),
    )


def read_event_type(body: Any) -> EventTypeDraft:
    """A ``POST /event-types`` body (TYPE_CREATE_SCHEMA) as a draft."""
    fields = checked(TYPE_CREATE_SCHEMA, body)
    return EventTypeDraft(
        name=fields["name"],
        schema=fields["schema"],
        description=fields.get("description", ""),
        example=fields.get("example", ABSENT),
    )


def read_event_type_patch(body: Any) -> EventTypePatch:
    """A ``PATCH /event-types/{name}`` body (TYPE_PATCH_SCHEMA) as a patch."""
    fields = checked(TYPE_PATCH_SCHEMA, body)
    return EventTypePatch(
        description=fields.get("description"),
        schema=fields.get("schema"),
        deprecated=fields.get("deprecated"),
        example=fields.get("example", ABSENT),
    )


# --- the services' own guard: typed input built elsewhere than the readers above ---------------

_ENVELOPE_SCHEMA: Final[dict[str, Any]] = {
    **PUBLISH_SCHEMA,
    "required": ["type"],
    "properties": {k: v for k, v in PUBLISH_SCHEMA["properties"].items() if k != "data"},
}


def verify_event(draft: EventDraft) -> None:
    """What :func:`read_event` checks, of a draft the caller built itself, but ``data``'s walk:
    its type's schema reads ``data`` next, so a publish pays for one walk of it, not two."""
    envelope: dict[str, Any] = {"type": draft.type, "tags": list(draft.tags)}
    for name in ("connector_id", "customer_id", "state", "ordering_key"):
        if getattr(draft, name) is not None:
            envelope[name] = getattr(draft, name)
    checked(_ENVELOPE_SCHEMA, envelope)
    if draft.data is None:
        raise ValidationFailed.at("/data", "must not be null")


def verify_event_type(draft: EventTypeDraft) -> None:
    """What :func:`read_event_type` checks, of a draft the caller built itself."""
    body = {"name": draft.name, "schema": draft.schema, "description": draft.description}
    if draft.example is not ABSENT:
        body["example"] = draft.example
    checked(TYPE_CREATE_SCHEMA, body)


def verify_event_type_patch(patch: EventTypePatch) -> None:
    """What :func:`read_event_type_patch` checks, of a patch the caller built itself."""
    body = {
        name: getattr(patch, name)
        for name in ("description", "schema", "deprecated")
        if getattr(patch, name) is not None
    }
    if patch.example is not ABSENT:
        body["example"] = patch.example
    checked(TYPE_PATCH_SCHEMA, body)
