"""Inbound messages (docs/concepts.md "Inbound messages", docs/decisions.md): what a verified
third-party
request becomes.

Pure: the service reads the request, fetches the secrets and calls the store; this module
decides the dedupe key, the provider's event name, the payload published onward, which headers
are kept, whether the ``inbound.received`` event is published, and the JSON shapes.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qs

import orjson

from hookwire.domain import patterns
from hookwire.domain.event import Event
from hookwire.domain.webhook import Webhook
from hookwire.signing import hmac_sha256
from hookwire.signing.base import Message
from hookwire.timeutil import iso

RECEIVED_TYPE: Final = "inbound.received"
# Credentials a sender may put on the callback URL's request: never stored.
UNSTORED_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})
# Schemes whose provider names the event in a header (§7); hmac-sha256's is configured.
EVENT_HEADERS: Final = {"github": "x-github-event", "shopify": "x-shopify-topic"}
# Schemes whose provider names the event in the body's ``type`` (§7).
BODY_TYPE_SCHEMES: Final = frozenset(
    {"stripe", "kombo", "standard-webhooks", "standard-webhooks-ed25519"}
)
MAX_ID_LENGTH: Final = 200  # longer provider ids are stored as their hash
# Schemes whose message id the signature covers (Standard Webhooks signs "{id}.{ts}.{body}";
# Stripe's is the signed body's ``id``). Elsewhere the delivery id is a header anyone can
# change, so a replayed body would pass as new with a fresh one: the body itself is the key.
SIGNED_ID_SCHEMES: Final = frozenset({"standard-webhooks", "standard-webhooks-ed25519", "stripe"})


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One verified request. ``body`` is None when read in a list (lists leave bodies out)."""

    id: str
    tenant_id: str
    webhook_id: str
    scheme: str
    dedupe_key: str
    body_size: int
    received_at: datetime
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    app_id: str | None = None
    connector_id: str | None = None
    provider_event: str | None = None
    event_id: str | None = None  # the inbound.received event; None when event_types exclude it

    def to_public(self) -> dict[str, Any]:
        """The JSON resource: the body as UTF-8 text when it is, else as base64."""
        shown: dict[str, Any] = {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "app_id": self.app_id,
            "webhook_id": self.webhook_id,
            "connector_id": self.connector_id,
            "scheme": self.scheme,
            "provider_event": self.provider_event,
            "dedupe_key": self.dedupe_key,
            "event_id": self.event_id,
            "received_at": iso(self.received_at),
            "body_size": self.body_size,
            "headers": dict(self.headers),
        }
        if self.body is not None:
            shown.update(_shown_body(self.body))
        return shown


def _shown_body(body: bytes) -> dict[str, str]:
    try:
        return {"body": body.decode("utf-8"), "body_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode(), "body_encoding": "base64"}


def dedupe_key(scheme: str, message_id: str, body: bytes) -> str:
    """``id:<provider delivery id>`` when the scheme's signature covers one, else
    ``sha256:<hex of body>``."""
    if not message_id or scheme not in SIGNED_ID_SCHEMES:
        return "sha256:" + hashlib.sha256(body).hexdigest()
    if len(message_id) > MAX_ID_LENGTH:
        return "id-sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    return "id:" + message_id


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request headers to store: names lowercased, credentials left out."""
    kept = {name.lower(): value for name, value in headers.items()}
    return {name: value for name, value in kept.items() if name not in UNSTORED_HEADERS}


def parse_payload(body: bytes, content_type: str) -> Any:
    """The body as published in ``inbound.received``: parsed JSON; a form
    (``application/x-www-form-urlencoded``) as an object of its fields; otherwise the text
    (invalid UTF-8 replaced). NUL characters become U+FFFD, because PostgreSQL's jsonb cannot
    hold them; the stored raw body keeps the exact bytes."""
    payload = _parsed(body, content_type)
    if b"\\u0000" in body or b"\x00" in body or b"%00" in body:
        return _without_nul(payload)
    return payload


def _parsed(body: bytes, content_type: str) -> Any:
    try:
        value = orjson.loads(body)
        orjson.dumps([[value]])  # as deep as it will sit in a delivery: {"data": {"payload"…
        return value
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        pass  # not JSON, or nested deeper than orjson writes (254 levels): kept as text
    text = body.decode("utf-8", errors="replace")
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        fields = parse_qs(text, keep_blank_values=True)
        return {name: values[0] if len(values) == 1 else values for name, values in fields.items()}
    return text


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def provider_event(webhook: Webhook, headers: Mapping[str, str], payload: Any) -> str | None:
    """The provider's name for the event (§7; ``headers`` with lowercase names): a header
    for github and shopify (and hmac-sha256's ``event_header``), the body's ``type`` for
    stripe, kombo and standard-webhooks, slack's inner ``event.type`` (its top-level ``type``
    when there is no inner event)."""
    scheme = webhook.signature_scheme
    header = EVENT_HEADERS.get(scheme)
    if scheme == hmac_sha256.NAME:
        header = webhook.signature_options.get("event_header", "").lower() or None
    if header is not None:
        return _text(headers.get(header))
    if not isinstance(payload, dict):
        return None
    if scheme in BODY_TYPE_SCHEMES:
        return _text(payload.get("type"))
    if scheme == "slack":
        inner = payload.get("event")
        found = _text(inner.get("type")) if isinstance(inner, dict) else None
        return found or _text(payload.get("type"))
    return None


def slack_challenge(scheme: str, payload: Any) -> str | None:
    """The ``challenge`` of Slack's ``url_verification`` request, which is answered, not
    stored: it checks the Request URL when an app is configured."""
    if scheme != "slack" or not isinstance(payload, dict):
        return None
    if payload.get("type") != "url_verification":
        return None
    return _text(payload.get("challenge"))


def accepted(
    webhook: Webhook,
    verified: Message,
    headers: Mapping[str, str],
    payload: Any,
    received_at: datetime,
    new_id: Callable[[str], str],
) -> tuple[InboundMessage, Event | None]:
    """The message to store for a verified request (``payload``: its body as
    :func:`parse_payload` gives it) and the ``inbound.received`` event to publish with it, or
    None when the webhook's ``event_types`` exclude the provider event (a message without one
    is matched as "", so only ``*`` lets it through a non-empty filter)."""
    kept = kept_headers(headers)
    name = provider_event(webhook, kept, payload)
    publish = patterns.matches_any(webhook.event_types, name or "")
    message = InboundMessage(
        id=new_id("inm"),
        tenant_id=webhook.tenant_id,
        app_id=webhook.app_id,
        webhook_id=webhook.id,
        connector_id=webhook.connector_id,
        scheme=webhook.signature_scheme,
        dedupe_key=dedupe_key(webhook.signature_scheme, verified.id, verified.body),
        provider_event=name,
        headers=kept,
        body=verified.body,
        body_size=len(verified.body),
        event_id=new_id("evt") if publish else None,
        received_at=received_at,
    )
    if message.event_id is None:
        return message, None
    event = Event(
        id=message.event_id,
        tenant_id=webhook.tenant_id,
        app_id=webhook.app_id,
        type=RECEIVED_TYPE,
        type_version=1,
        data={
            "inbound_message_id": message.id,
            "webhook_id": webhook.id,
            "connector_id": webhook.connector_id,
            "provider_event": name,
            "payload": payload,
        },
        connector_id=webhook.connector_id,
        created_at=received_at,
    )
    return message, event
