"""JSON Schemas for the OpenAPI document: request bodies come from the domain's own schemas,
so what /docs shows is exactly what the API checks."""

from __future__ import annotations

from typing import Any

from hookwire.domain.webhook_requests import (
    CREATE_SCHEMA,
    PATCH_SCHEMA,
    ROTATE_SCHEMA,
    WRITABLE_PROPERTIES,
)

_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
_TEXT: dict[str, Any] = {"type": ["string", "null"]}

WEBHOOK: dict[str, Any] = {
    "type": "object",
    "properties": {
        **WRITABLE_PROPERTIES,
        "id": {"type": "string"},
        "tenant_id": {"type": "string"},
        "app_id": _TEXT,
        "created_at": _TIME,
        "updated_at": _TIME,
        "created_by": _TEXT,
        "updated_by": _TEXT,
        "is_deleted": {"type": "boolean"},
        "deleted_at": _TIME,
        "deleted_by": _TEXT,
        "schema_version": {"type": "integer"},
        "vault_path": {"type": "string"},
        "last_delivery_at": _TIME,
        "last_delivery_status": _TEXT,
        "consecutive_failures": {"type": "integer"},
        "paused_at": _TIME,
        "version": {"type": "integer"},
        "secret_fingerprint": {"type": "string"},
        "is_active": {"type": "boolean"},
        "public_key": _TEXT,
        "rejected_requests": {"type": "integer", "description": "inbound requests refused"},
        "last_rejected_at": _TIME,
        "secret": {"type": "string", "description": "only in the create and rotate responses"},
    },
}
PROBLEM: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "current_version": {"type": "integer"},
    },
}


def body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}
    }


def returns(status: int, schema: dict[str, Any] | None, description: str) -> dict[int | str, Any]:
    problem = {"content": {"application/problem+json": {"schema": PROBLEM}}}
    answers: dict[int | str, Any] = {
        status: {"description": description}
        | ({"content": {"application/json": {"schema": schema}}} if schema else {}),
        "4XX": {"description": "problem", **problem},
    }
    return answers


EVENT_TYPE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "description": {"type": "string"},
        "schema": {"type": ["object", "boolean"]},
        "version": {"type": "integer"},
        "deprecated": {"type": "boolean"},
        "builtin": {"type": "boolean"},
        "example": {},
    },
}
EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "data": {},
        "created_at": _TIME,
        "delivery_ids": {"type": "array", "items": {"type": "string"}},
    },
}
ACCEPTED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "created_at": _TIME,
        "deliveries": {"type": "integer"},
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}
DELIVERY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "event_id": {"type": "string"},
        "webhook_id": {"type": "string"},
        "status": {"type": "string"},
        "attempt_count": {"type": "integer"},
        "next_attempt_at": _TIME,
        "attempts": {"type": "array", "items": {"type": "object"}},
    },
}


TEST_RESULT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "status_code": {"type": ["integer", "null"]},
        "duration_ms": {"type": "integer"},
        "response_body": _TEXT,
        "error": _TEXT,
    },
}
REQUEUED: dict[str, Any] = {"type": "object", "properties": {"requeued": {"type": "integer"}}}


INBOUND: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "webhook_id": {"type": "string"},
        "connector_id": _TEXT,
        "scheme": {"type": "string"},
        "provider_event": _TEXT,
        "dedupe_key": {"type": "string"},
        "event_id": {**_TEXT, "description": "the inbound.received event; null when filtered"},
        "received_at": _TIME,
        "body_size": {"type": "integer"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {"type": "string", "description": "only on GET /{id}"},
        "body_encoding": {"enum": ["utf-8", "base64"]},
    },
}
RECEIVED: dict[str, Any] = {"type": "object", "properties": {"id": {"type": "string"}}}
ANY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "the provider's request, byte for byte (the signature covers it)",
        "content": {"*/*": {"schema": {}}},
    }
}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"data": {"type": "array", "items": item}, "next_cursor": _TEXT},
    }


LIST = page_of(WEBHOOK)
CREATE_BODY = body(CREATE_SCHEMA)
PATCH_BODY = body(PATCH_SCHEMA)
ROTATE_BODY = body(ROTATE_SCHEMA, required=False)
