"""Requests about webhooks in their JSON form: the JSON Schemas of their bodies (which the
OpenAPI document publishes) and the readers that turn a body into the typed input the
services take (:class:`~hookwire.domain.webhook.WebhookDraft` and the others), or raise
ValidationFailed with a JSON Pointer at every error.

Only the edges read JSON: the API's routes, ``hookwire.Client`` and the CLI. The services
never see a body; the dashboard builds the typed values itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from hookwire.domain import flow, patterns
from hookwire.domain.retry import SCHEMA as RETRY_SCHEMA
from hookwire.domain.validation import checked, schema_errors
from hookwire.domain.webhook import (
    DEFAULT_GRACE_S,
    READ_ONLY_FIELDS,
    RESERVED_HEADERS,
    RecoverWindow,
    SecretRotation,
    WebhookDraft,
    WebhookPatch,
)
from hookwire.errors import FieldError, PreconditionRequired, ValidationFailed
from hookwire.signing import hmac_sha256, keys
from hookwire.timeutil import parse_iso

_HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$"
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_OPTIONAL_TEXT: dict[str, Any] = {"type": ["string", "null"], "maxLength": 200}

WRITABLE_PROPERTIES: Final[dict[str, Any]] = {
    "name": _OPTIONAL_TEXT,
    "direction": {"enum": ["outbound", "inbound"]},
    "url": {"type": ["string", "null"]},
    "event_types": {
        "type": "array",
        "maxItems": 100,
        "uniqueItems": True,
        "items": {"type": "string", "pattern": patterns.PATTERN_RE.pattern},
    },
    "signature_scheme": {"enum": list(keys.ALL_SCHEMES)},
    "signature_options": hmac_sha256.OPTIONS_SCHEMA,
    "headers": {
        "type": "object",
        "maxProperties": 50,
        "propertyNames": {"pattern": _HEADER_NAME},
        "additionalProperties": {"type": "string", "maxLength": 4096, "pattern": "^[^\r\n\0]*$"},
    },
    "enabled": {"type": "boolean"},
    "retry_policy": RETRY_SCHEMA,
    "connector_id": _OPTIONAL_TEXT,
    "tags": {
        "type": "array",
        "maxItems": 50,
        "uniqueItems": True,
        "items": {"type": "string", "minLength": 1, "maxLength": 100},
    },
    "application_id": {"type": ["string", "null"], "pattern": _UUID},
    "source": {"type": "string", "minLength": 1, "maxLength": 100},
    "source_type": {"enum": ["frontend", "backend", "server", "system", "api"]},
    "envelope": {"enum": ["event", "workspace"]},
    **flow.SCHEMAS,
}
CREATE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {**WRITABLE_PROPERTIES, "secret": {"type": "string", "maxLength": 512}},
}
PATCH_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {**WRITABLE_PROPERTIES, "version": {"type": "integer", "minimum": 1}},
}
ROTATE_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "grace_period_s": {"type": "integer", "minimum": 0, "maximum": 30 * 86400},
        "secret": {"type": "string", "maxLength": 512},
    },
}
RECOVER_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["since"],
    "properties": {
        "since": {"type": "string", "format": "date-time"},
        "until": {"type": "string", "format": "date-time"},
    },
}


def read_draft(body: Any) -> WebhookDraft:
    """A create body (CREATE_SCHEMA, no read-only field, no reserved header) as a draft."""
    _check_shape(body, CREATE_SCHEMA, frozenset())
    typed: dict[str, Any] = {
        name: tuple(value) if name in {"event_types", "tags"} else value
        for name, value in body.items()
    }
    return WebhookDraft(**typed)


def read_patch(body: Any) -> WebhookPatch:
    """A PATCH body (PATCH_SCHEMA) as a patch: its fields but ``version``."""
    _check_shape(body, PATCH_SCHEMA, frozenset({"version"}))
    return WebhookPatch({k: v for k, v in body.items() if k != "version"})


def verify_draft(draft: WebhookDraft) -> None:
    """What :func:`read_draft` checks, of a draft the caller built itself: the services' own
    guard, so typed input made anywhere (the dashboard, a library user) meets the same rules
    and gets the same 422 as a JSON body."""
    _check_shape(draft.to_json(), CREATE_SCHEMA, frozenset())


def verify_patch(patch: WebhookPatch) -> None:
    """What :func:`read_patch` checks, of a patch the caller built itself (``version`` is
    not a field of a patch: the expected version is an argument of its own)."""
    _check_shape(dict(patch.fields), PATCH_SCHEMA, frozenset())


def expected_version(body: Any, if_match: int | None) -> int:
    """The version a PATCH expects: ``If-Match``, else the body's ``version``; 428 with
    neither, 422 when they disagree. Read before anything else about the request."""
    in_body = body.get("version") if isinstance(body, dict) else None
    if if_match is not None and isinstance(in_body, int) and in_body != if_match:
        raise ValidationFailed.at("/version", "disagrees with the If-Match header")
    expected = if_match if if_match is not None else in_body
    if expected is None:
        raise PreconditionRequired(
            'PATCH needs an If-Match: "<version>" header or a version field in the body'
        )
    if not isinstance(expected, int) or isinstance(expected, bool):
        raise ValidationFailed.at("/version", "must be an integer")
    return expected


def read_rotation(body: Any) -> SecretRotation:
    """A rotate-secret body (ROTATE_SCHEMA; none at all is ``{}``)."""
    options = checked(ROTATE_SCHEMA, body or {})
    return SecretRotation(options.get("grace_period_s", DEFAULT_GRACE_S), options.get("secret"))


def read_window(body: Any) -> RecoverWindow:
    """A recover body (RECOVER_SCHEMA: JSON Schema's date-time, read in UTC)."""
    window = checked(RECOVER_SCHEMA, body)
    since = _moment(window, "since")
    if since is None:  # RECOVER_SCHEMA requires it
        raise ValidationFailed.at("/since", "is required")
    return RecoverWindow(since, _moment(window, "until"))


def _moment(fields: Mapping[str, Any], name: str) -> datetime | None:
    if name not in fields:
        return None
    try:
        return parse_iso(fields[name].upper())  # RFC 3339 allows "t" and "z"
    except ValueError as exc:
        raise ValidationFailed.at(f"/{name}", str(exc)) from exc


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed.at("", "the body must be a JSON object")
    return body


def _read_only_errors(body: Mapping[str, Any], allowed: frozenset[str]) -> list[FieldError]:
    return [
        FieldError(f"/{name}", "is read-only: the server sets it")
        for name in body
        if name in READ_ONLY_FIELDS and name not in allowed
    ]


def _header_errors(headers: Mapping[str, str]) -> list[FieldError]:
    return [
        FieldError(f"/headers/{name}", "is set by hookwire and may not be overridden")
        for name in headers
        if name.lower() in RESERVED_HEADERS
    ]


def _check_shape(body: Any, schema: dict[str, Any], allowed_read_only: frozenset[str]) -> None:
    document = _require_object(body)
    errors = _read_only_errors(document, allowed_read_only)
    rest = {
        k: v for k, v in document.items() if k not in READ_ONLY_FIELDS or k in allowed_read_only
    }
    errors += schema_errors(schema, rest)
    if isinstance(rest.get("headers"), dict):
        errors += _header_errors(rest["headers"])
    if errors:
        raise ValidationFailed(errors)
