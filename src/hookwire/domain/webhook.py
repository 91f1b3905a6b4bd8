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

from hookwire.domain.flow import Ordering, RateLimit, describe
from hookwire.domain.principal import Principal
from hookwire.domain.retry import RetryPolicy
from hookwire.domain.targets import target_problem
from hookwire.errors import FieldError, ValidationFailed
from hookwire.signing import hmac_sha256, keys
from hookwire.timeutil import iso

Direction = Literal["outbound", "inbound"]
Envelope = Literal["event", "workspace"]

# A webhook's fields fall in three groups, and every list of them derives from these.
FIXED_FIELDS: Final = frozenset({
    "id", "tenant_id", "app_id", "direction", "vault_path", "created_at", "created_by",
    "schema_version",
})  # fmt: skip
"""Set at create and never written again."""
ENGINE_FIELDS: Final = frozenset({
    "last_delivery_at", "last_delivery_status", "consecutive_failures", "paused_at",
    "rejected_requests", "last_rejected_at",
})  # fmt: skip
"""The delivery engine's state: written by its own statements (a settled attempt, an automatic
pause, a refused inbound request, and a pause or resume as a transition), never from the copy
a person's update carries, which may be stale."""
STAMPED_FIELDS: Final = frozenset({
    "updated_at", "updated_by", "is_deleted", "deleted_at", "deleted_by", "version",
    "secret_fingerprint", "public_key", "is_active",
})  # fmt: skip
"""Written with a person's update, but by hookwire (who, when, the secret's derived values),
never taken from a request body (``is_active`` is derived and never stored)."""
READ_ONLY_FIELDS: Final = (FIXED_FIELDS | ENGINE_FIELDS | STAMPED_FIELDS) - {"direction"}
"""What a request body may not carry (``direction`` is fixed too, but chosen at create)."""
RESERVED_HEADERS: Final = frozenset(
    {
        "content-type", "content-length", "host", "user-agent", "webhook-id",
        "webhook-timestamp", "webhook-signature", "x-kombo-signature", "x-hub-signature",
        "x-hub-signature-256", "stripe-signature", "connection", "transfer-encoding",
        "content-encoding", "te", "upgrade", "keep-alive", "expect",
    }
)  # fmt: skip
FLOW_FIELDS: Final = ("rate_limit", "max_in_flight", "ordering")
SCHEMA_VERSION: Final = 1
DEFAULT_GRACE_S: Final = 86400  # how long a rotated secret still signs, unless asked


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
    rate_limit: RateLimit | None = None
    max_in_flight: int | None = None
    ordering: Ordering = "none"

    @property
    def is_active(self) -> bool:
        return self.enabled and self.paused_at is None and not self.is_deleted

    @property
    def limits(self) -> str:
        """Its flow control in a few words (``domain.flow.describe``)."""
        return describe(self.rate_limit, self.max_in_flight, self.ordering)

    @property
    def gated(self) -> bool:
        """Whether flow control applies: its deliveries go through its gate."""
        return gated(self.rate_limit, self.max_in_flight, self.ordering)

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
            "rate_limit": self.rate_limit.to_json() if self.rate_limit else None,
            "max_in_flight": self.max_in_flight,
            "ordering": self.ordering,
        }


def gated(rate_limit: object, max_in_flight: int | None, ordering: str) -> bool:
    """Whether a webhook with these settings is flow-controlled."""
    return rate_limit is not None or max_in_flight is not None or ordering == "fifo"


@dataclass(frozen=True, slots=True)
class WebhookDraft:
    """A new webhook as a person asks for it (shape-checked; :func:`check_draft` holds the
    rules). Every field defaults to what the resource has when the request leaves it out."""

    direction: Direction = "outbound"
    url: str | None = None  # required outbound; the server's own for inbound
    name: str | None = None
    event_types: tuple[str, ...] = ()
    signature_scheme: str = keys.STANDARD
    signature_options: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    retry_policy: Mapping[str, Any] | None = None  # as written; what it leaves out: defaults
    connector_id: str | None = None
    tags: tuple[str, ...] = ()
    application_id: str | None = None
    source: str = "edm"
    source_type: str = "api"
    envelope: Envelope = "event"
    rate_limit: Mapping[str, Any] | None = None
    max_in_flight: int | None = None
    ordering: Ordering = "none"
    secret: str | None = None  # None: generated

    def to_json(self) -> dict[str, Any]:
        """The create body that reads back to this draft (``webhook_requests.read_draft``):
        every field that is set, as JSON values."""
        body: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            body[name] = value
        return body

    def rule_fields(self) -> dict[str, Any]:
        """What the rules shared with a patch (:func:`_rule_errors`) read."""
        return {
            "signature_scheme": self.signature_scheme, "url": self.url, "headers": self.headers,
            "signature_options": self.signature_options, "retry_policy": self.retry_policy,
            "rate_limit": self.rate_limit, "max_in_flight": self.max_in_flight,
            "ordering": self.ordering,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class WebhookPatch:
    """A change to a webhook, as a JSON merge patch: the fields given, with their JSON values
    (``null`` clears; a field left out stays). A mapping rather than a field per attribute:
    "left out" and "null" must stay apart. Shape-checked; :func:`check_patch` holds the rules."""

    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SecretRotation:
    """A new secret: the one given (else generated), the old one signing ``grace_period_s``
    longer (0: not at all)."""

    grace_period_s: int = DEFAULT_GRACE_S
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class RecoverWindow:
    """The failed deliveries to re-queue: created at or after ``since``, before ``until``."""

    since: datetime
    until: datetime | None = None


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
    else:
        if fields.get("headers"):
            errors.append(FieldError("/headers", "only outbound webhooks send headers"))
        errors += [
            FieldError(f"/{name}", "flow control is only for outbound webhooks")
            for name in FLOW_FIELDS
            if fields.get(name) not in (None, "none")
        ]
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


def check_draft(draft: WebhookDraft, default_pause: int) -> None:
    """The rules of a new webhook beyond its shape; ValidationFailed with every error."""
    errors = _rule_errors(draft.rule_fields(), draft.direction, default_pause)
    if draft.direction == "inbound" and draft.url:
        errors.append(FieldError("/url", "is set by the server for inbound webhooks"))
    if draft.direction == "inbound" and draft.signature_scheme == keys.ED25519:
        if draft.secret is None:
            errors.append(FieldError("/secret", "is required: the sender's whpk_ public key"))
    if draft.secret is not None:
        inbound = draft.direction == "inbound"
        problem = keys.secret_problem(draft.signature_scheme, draft.secret, inbound=inbound)
        if problem:
            errors.append(FieldError("/secret", problem))
    if errors:
        raise ValidationFailed(errors)


def check_patch(patch: WebhookPatch, current: Webhook, default_pause: int) -> None:
    """The rules of a change to ``current`` beyond its shape; ValidationFailed otherwise."""
    changes = patch.fields
    errors: list[FieldError] = []
    if changes.get("direction", current.direction) != current.direction:
        errors.append(FieldError("/direction", "cannot change; create another webhook"))
    if current.inbound and changes.get("url", current.url) != current.url:
        errors.append(FieldError("/url", "is set by the server for inbound webhooks"))
    merged = {**current.to_public(), **changes}
    errors += _rule_errors(merged, current.direction, default_pause)
    if errors:
        raise ValidationFailed(errors)


def _typed(fields: Mapping[str, Any], default_pause: int) -> dict[str, Any]:
    """Turn a patch's JSON fields into Webhook constructor arguments."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "retry_policy":
            out[name] = RetryPolicy.from_json(value, default_pause)
        elif name == "rate_limit":
            out[name] = RateLimit.from_json(value)
        elif name == "max_in_flight":  # JSON Schema's integer includes 2.0
            out[name] = None if value is None else int(value)
        elif name in {"event_types", "tags"}:
            out[name] = tuple(value)
        elif name in {"headers", "signature_options"}:
            out[name] = dict(value)
        else:
            out[name] = value
    return out


def build(
    draft: WebhookDraft,
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
    """The new webhook a checked draft describes."""
    written = draft.retry_policy
    policy = RetryPolicy.from_json(written, default_pause) if written is not None else None
    inbound = draft.direction == "inbound"
    return Webhook(
        id=webhook_id, tenant_id=principal.tenant_id, app_id=principal.app_id,
        created_by=principal.sub, updated_by=principal.sub, created_at=now, updated_at=now,
        vault_path=vault_path, secret_fingerprint=secret_fingerprint, public_key=public_key,
        direction=draft.direction,
        url=f"{base_url}/api/v1/inbound/{webhook_id}" if inbound else draft.url or "",
        name=draft.name, event_types=draft.event_types, signature_scheme=draft.signature_scheme,
        signature_options=dict(draft.signature_options), headers=dict(draft.headers),
        enabled=draft.enabled,
        retry_policy=policy or RetryPolicy(pause_after_failures=default_pause),
        connector_id=draft.connector_id, tags=draft.tags, application_id=draft.application_id,
        source=draft.source, source_type=draft.source_type, envelope=draft.envelope,
        rate_limit=RateLimit.from_json(draft.rate_limit),
        max_in_flight=None if draft.max_in_flight is None else int(draft.max_in_flight),
        ordering=draft.ordering,
    )  # fmt: skip


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
