"""The webhook resource of seed 004: its fields, the rules for writing them, its JSON shape.

Pure: no I/O. The service resolves hosts and talks to the secret store; this module decides
what a request may change and what the resulting resource is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from hookwire.domain import patterns
from hookwire.domain.principal import Principal
from hookwire.domain.retry import SCHEMA as RETRY_SCHEMA
from hookwire.domain.retry import RetryPolicy
from hookwire.domain.targets import target_problem
from hookwire.domain.validation import schema_errors
from hookwire.errors import FieldError, ValidationFailed
from hookwire.signing import hmac_sha256, keys
from hookwire.timeutil import iso

Direction = Literal["outbound", "inbound"]
Envelope = Literal["event", "workspace"]

READ_ONLY_FIELDS: Final = frozenset(
    {
        "id", "tenant_id", "app_id", "created_at", "updated_at", "created_by", "updated_by",
        "is_deleted", "deleted_at", "deleted_by", "schema_version", "version", "vault_path",
        "secret_fingerprint", "last_delivery_at", "last_delivery_status",
        "consecutive_failures", "paused_at", "is_active", "public_key", "rejected_requests",
        "last_rejected_at",
    }
)  # fmt: skip
RESERVED_HEADERS: Final = frozenset(
    {
        "content-type", "content-length", "host", "user-agent", "webhook-id",
        "webhook-timestamp", "webhook-signature", "x-kombo-signature", "x-hub-signature",
        "x-hub-signature-256", "stripe-signature", "connection", "transfer-encoding",
        "content-encoding", "te", "upgrade", "keep-alive", "expect",
    }
)  # fmt: skip
SCHEMA_VERSION: Final = 1
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


@dataclass(frozen=True, slots=True)
class Webhook:
    """One webhook endpoint, as stored. ``is_active`` is derived, never stored."""

    id: str
    tenant_id: str
    direction: Direction
    url: str
    vault_path: str
    secret_fingerprint: str
    created_at: datetime
    updated_at: datetime
    app_id: str | None = None
    created_by: str | None = None
    updated_by: str | None = None
    source: str = "edm"
    source_type: str = "api"
    is_deleted: bool = False
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    schema_version: int = SCHEMA_VERSION
    name: str | None = None
    event_types: tuple[str, ...] = ()
    signature_scheme: str = keys.STANDARD
    headers: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    last_delivery_at: datetime | None = None
    last_delivery_status: str | None = None
    consecutive_failures: int = 0
    paused_at: datetime | None = None
    connector_id: str | None = None
    tags: tuple[str, ...] = ()
    version: int = 1
    application_id: str | None = None
    envelope: Envelope = "event"
    public_key: str | None = None
    signature_options: Mapping[str, str] = field(default_factory=dict)
    rejected_requests: int = 0  # inbound requests refused (bad signature, too large)
    last_rejected_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.enabled and self.paused_at is None and not self.is_deleted

    @property
    def inbound(self) -> bool:
        return self.direction == "inbound"

    def to_public(self) -> dict[str, Any]:
        """The JSON resource (seed 004 fields, snake_case). Never contains the secret."""
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "app_id": self.app_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "created_by": self.created_by,
            "updated_by": self.updated_by,
            "source": self.source,
            "source_type": self.source_type,
            "is_deleted": self.is_deleted,
            "deleted_at": iso(self.deleted_at),
            "deleted_by": self.deleted_by,
            "schema_version": self.schema_version,
            "name": self.name,
            "direction": self.direction,
            "url": self.url,
            "event_types": list(self.event_types),
            "signature_scheme": self.signature_scheme,
            "signature_options": dict(self.signature_options),
            "vault_path": self.vault_path,
            "headers": dict(self.headers),
            "enabled": self.enabled,
            "retry_policy": self.retry_policy.to_json(),
            "last_delivery_at": iso(self.last_delivery_at),
            "last_delivery_status": self.last_delivery_status,
            "consecutive_failures": self.consecutive_failures,
            "paused_at": iso(self.paused_at),
            "connector_id": self.connector_id,
            "tags": list(self.tags),
            "version": self.version,
            "application_id": self.application_id,
            "secret_fingerprint": self.secret_fingerprint,
            "is_active": self.is_active,
            "envelope": self.envelope,
            "public_key": self.public_key,
            "rejected_requests": self.rejected_requests,
            "last_rejected_at": iso(self.last_rejected_at),
        }


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


def _rule_errors(fields: Mapping[str, Any], direction: str, default_pause: int) -> list[FieldError]:
    """Rules that depend on more than one field; ``fields`` is the merged, shape-checked state."""
    errors: list[FieldError] = []
    scheme = fields.get("signature_scheme", keys.STANDARD)
    if direction == "outbound":
        url = fields.get("url")
        if not url:
            errors.append(FieldError("/url", "is required for outbound webhooks"))
        else:
            problem = target_problem(url)
            if problem:
                errors.append(FieldError("/url", problem))
        if scheme not in keys.OUTBOUND_SCHEMES:
            errors.append(FieldError("/signature_scheme", "is only for inbound webhooks"))
    elif fields.get("headers"):
        errors.append(FieldError("/headers", "only outbound webhooks send headers"))
    if fields.get("signature_options") and scheme != hmac_sha256.NAME:
        errors.append(
            FieldError("/signature_options", "is only for hmac-sha256; send {} to clear it")
        )
    policy = fields.get("retry_policy")
    if isinstance(policy, dict):
        problem = RetryPolicy.from_json(policy, default_pause).problem()
        if problem:
            errors.append(FieldError("/retry_policy", problem))
    return errors


def check_create(body: Any, default_pause: int) -> dict[str, Any]:
    """Validate a create body; return its fields. Raises ValidationFailed with every error."""
    _check_shape(body, CREATE_SCHEMA, frozenset())
    fields: dict[str, Any] = dict(body)
    direction = fields.get("direction", "outbound")
    errors = _rule_errors(fields, direction, default_pause)
    if direction == "inbound" and fields.get("url"):
        errors.append(FieldError("/url", "is set by the server for inbound webhooks"))
    if direction == "inbound" and fields.get("signature_scheme") == keys.ED25519:
        if "secret" not in fields:
            errors.append(FieldError("/secret", "is required: the sender's whpk_ public key"))
    if "secret" in fields:
        problem = keys.secret_problem(
            fields.get("signature_scheme", keys.STANDARD),
            fields["secret"],
            inbound=direction == "inbound",
        )
        if problem:
            errors.append(FieldError("/secret", problem))
    if errors:
        raise ValidationFailed(errors)
    return fields


def check_patch(body: Any, current: Webhook, default_pause: int) -> dict[str, Any]:
    """Validate a PATCH body against the current webhook; return the fields that change."""
    _check_shape(body, PATCH_SCHEMA, frozenset({"version"}))
    changes = {k: v for k, v in body.items() if k != "version"}
    errors: list[FieldError] = []
    if changes.get("direction", current.direction) != current.direction:
        errors.append(FieldError("/direction", "cannot change; create another webhook"))
    if current.inbound and changes.get("url", current.url) != current.url:
        errors.append(FieldError("/url", "is set by the server for inbound webhooks"))
    merged = {**current.to_public(), **changes}
    errors += _rule_errors(merged, current.direction, default_pause)
    if errors:
        raise ValidationFailed(errors)
    return changes


def _typed(fields: Mapping[str, Any], default_pause: int) -> dict[str, Any]:
    """Turn checked JSON fields into Webhook constructor arguments."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "retry_policy":
            out[name] = RetryPolicy.from_json(value, default_pause)
        elif name in {"event_types", "tags"}:
            out[name] = tuple(value)
        elif name in {"headers", "signature_options"}:
            out[name] = dict(value)
        elif name != "secret":
            out[name] = value
    return out


def build(
    fields: Mapping[str, Any],
    *,
    webhook_id: str,
    principal: Principal,
    now: datetime,
    vault_path: str,
    secret_fingerprint: str,
    public_key: str | None,
    base_url: str,
    default_pause: int,
) -> Webhook:
    """The new webhook a checked create body describes."""
    args = _typed(fields, default_pause)
    args.setdefault("retry_policy", RetryPolicy(pause_after_failures=default_pause))
    args.setdefault("direction", "outbound")
    if args.get("direction") == "inbound":
        args["url"] = f"{base_url}/api/v1/inbound/{webhook_id}"
    return Webhook(
        id=webhook_id,
        tenant_id=principal.tenant_id,
        app_id=principal.app_id,
        created_by=principal.sub,
        updated_by=principal.sub,
        created_at=now,
        updated_at=now,
        vault_path=vault_path,
        secret_fingerprint=secret_fingerprint,
        public_key=public_key,
        **args,
    )


def _stamp(webhook: Webhook, principal: Principal, now: datetime, **changes: Any) -> Webhook:
    return dataclasses.replace(
        webhook, updated_at=now, updated_by=principal.sub, version=webhook.version + 1, **changes
    )


def patched(
    webhook: Webhook, changes: Mapping[str, Any], principal: Principal, now: datetime, pause: int
) -> Webhook:
    """The webhook after a checked PATCH."""
    return _stamp(webhook, principal, now, **_typed(changes, pause))


def deleted(webhook: Webhook, principal: Principal, now: datetime) -> Webhook:
    return _stamp(
        webhook, principal, now, is_deleted=True, deleted_at=now, deleted_by=principal.sub
    )


def paused(webhook: Webhook, principal: Principal, now: datetime) -> Webhook:
    return _stamp(webhook, principal, now, paused_at=webhook.paused_at or now)


def resumed(webhook: Webhook, principal: Principal, now: datetime) -> Webhook:
    return _stamp(webhook, principal, now, paused_at=None, consecutive_failures=0)


def rotated(
    webhook: Webhook, principal: Principal, now: datetime, fingerprint: str, public_key: str | None
) -> Webhook:
    return _stamp(webhook, principal, now, secret_fingerprint=fingerprint, public_key=public_key)
