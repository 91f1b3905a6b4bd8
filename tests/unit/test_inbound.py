"""Inbound messages, pure (docs/concepts.md "Inbound messages", docs/decisions.md): dedupe keys,
provider
event names, payloads, kept headers, Slack's handshake, and the event a message publishes."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from typing import Any

import orjson
import pytest

from hookwire.domain import inbound
from hookwire.domain.webhook import Webhook
from hookwire.signing.base import Message
from tests import factories

OWNER = factories.principal(app="app-1")
JSON_BODY = orjson.dumps({"id": "evt_1", "type": "candidate.created", "data": {}})
_ids = itertools.count()


def ids(prefix: str) -> str:
    return f"{prefix}_{next(_ids)}"


def hook(scheme: str = "github", **changes: Any) -> Webhook:
    return factories.webhook(OWNER, direction="inbound", signature_scheme=scheme, **changes)


# --- dedupe keys -------------------------------------------------------------------------------


SW = "standard-webhooks"


@pytest.mark.parametrize("scheme", sorted(inbound.SIGNED_ID_SCHEMES))
def test_a_signed_message_id_is_the_dedupe_key(scheme: str) -> None:
    assert inbound.dedupe_key(scheme, "72d3162e-cc78-11e3", b"{}") == "id:72d3162e-cc78-11e3"


@pytest.mark.parametrize("scheme", ["github", "shopify", "kombo", "slack", "hmac-sha256"])
def test_an_unsigned_delivery_id_is_not_the_dedupe_key(scheme: str) -> None:
    """A replayed body with a fresh X-GitHub-Delivery must still be a duplicate."""
    body_key = "sha256:" + hashlib.sha256(b"{}").hexdigest()
    assert inbound.dedupe_key(scheme, "72d3162e-cc78-11e3", b"{}") == body_key


def test_without_an_id_the_body_hash_is_the_dedupe_key() -> None:
    assert inbound.dedupe_key(SW, "", b"abc") == "sha256:" + hashlib.sha256(b"abc").hexdigest()
    assert inbound.dedupe_key(SW, "", b"abc") != inbound.dedupe_key(SW, "", b"abd")


def test_a_huge_provider_id_is_hashed_not_stored() -> None:
    key = inbound.dedupe_key(SW, "x" * 5000, b"{}")
    assert key == "id-sha256:" + hashlib.sha256(b"x" * 5000).hexdigest()
    assert inbound.dedupe_key(SW, "x" * 200, b"{}") == "id:" + "x" * 200


# --- provider events (§7) ------------------------------------------------------------------------

BODY_TYPE = {"type": "customer.subscription.updated", "event": {"type": "inner"}}


@pytest.mark.parametrize(
    ("scheme", "headers", "payload", "expected"),
    [
        ("github", {"x-github-event": "pull_request"}, BODY_TYPE, "pull_request"),
        ("github", {}, BODY_TYPE, None),
        ("shopify", {"x-shopify-topic": "orders/create"}, BODY_TYPE, "orders/create"),
        ("stripe", {"x-github-event": "push"}, BODY_TYPE, "customer.subscription.updated"),
        ("kombo", {}, BODY_TYPE, "customer.subscription.updated"),
        ("standard-webhooks", {}, BODY_TYPE, "customer.subscription.updated"),
        ("standard-webhooks-ed25519", {}, BODY_TYPE, "customer.subscription.updated"),
        ("stripe", {}, {"type": 7}, None),
        ("stripe", {}, {"type": ""}, None),
        ("stripe", {}, ["type"], None),
        ("stripe", {}, "type=x", None),
        ("slack", {}, BODY_TYPE, "inner"),
        ("slack", {}, {"type": "event_callback", "event": "not an object"}, "event_callback"),
        ("slack", {}, {"type": "app_rate_limited"}, "app_rate_limited"),
        ("slack", {}, {"command": "/deploy"}, None),
        ("hmac-sha256", {"x-event": "a.b"}, BODY_TYPE, None),  # no event_header configured
    ],
)
def test_provider_event(
    scheme: str, headers: dict[str, str], payload: Any, expected: str | None
) -> None:
    assert inbound.provider_event(hook(scheme), headers, payload) == expected


def test_the_generic_scheme_reads_its_configured_event_header() -> None:
    generic = hook("hmac-sha256", signature_options={"event_header": "X-Event"})
    assert inbound.provider_event(generic, {"x-event": "a.b"}, BODY_TYPE) == "a.b"
    assert inbound.provider_event(generic, {}, BODY_TYPE) is None


# --- payloads and headers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "payload"),
    [
        (b'{"a": [1, 2.5, null]}', "application/json", {"a": [1, 2.5, None]}),
        (b'"text"', "", "text"),
        (
            b"a=1&b=&a=2",
            "application/x-www-form-urlencoded; charset=utf-8",
            {"a": ["1", "2"], "b": ""},
        ),
        (b"a=1", "text/plain", "a=1"),
        (b"\xffbad utf-8", "application/octet-stream", "\ufffdbad utf-8"),
        (
            b'{"s": "a\\u0000b", "\\u0000": ["\\u0000"]}',
            "",
            {"s": "a\ufffdb", "\ufffd": ["\ufffd"]},
        ),
        (b"nul\x00in text", "", "nul\ufffdin text"),
        (b"x=%00", "application/x-www-form-urlencoded", {"x": "\ufffd"}),
        (b"[" * 2000 + b"]" * 2000, "", "[" * 2000 + "]" * 2000),  # too deep for JSON: text
        (b"[" * 253 + b"]" * 253, "", "[" * 253 + "]" * 253),  # too deep to send on: text
        (b"[" * 252 + b"]" * 252, "", orjson.loads(b"[" * 252 + b"]" * 252)),
    ],
)
def test_payload(body: bytes, content_type: str, payload: Any) -> None:
    assert inbound.parse_payload(body, content_type) == payload


def test_credentials_are_not_kept_and_names_are_lowercased() -> None:
    kept = inbound.kept_headers(
        {"Authorization": "Basic x", "Cookie": "s=1", "Proxy-Authorization": "y", "X-A": "1"}
    )
    assert kept == {"x-a": "1"}


@pytest.mark.parametrize(
    ("scheme", "payload", "challenge"),
    [
        ("slack", {"type": "url_verification", "challenge": "abc"}, "abc"),
        ("slack", {"type": "url_verification", "challenge": 5}, None),
        ("slack", {"type": "event_callback", "challenge": "abc"}, None),
        ("github", {"type": "url_verification", "challenge": "abc"}, None),
        ("slack", "type=url_verification", None),
    ],
)
def test_slack_challenge(scheme: str, payload: Any, challenge: str | None) -> None:
    assert inbound.slack_challenge(scheme, payload) == challenge


# --- the message and its event -----------------------------------------------------------------


def test_accepted_builds_the_message_and_its_event() -> None:
    webhook = hook("stripe", connector_id="c-1")
    now = factories.utcnow()
    payload = orjson.loads(JSON_BODY)
    headers = {"Stripe-Signature": "t=1,v1=00", "Authorization": "Bearer x"}
    message, event = inbound.accepted(
        webhook, Message("evt_1", 1, JSON_BODY), headers, payload, now, ids
    )
    assert message.dedupe_key == "id:evt_1" and message.provider_event == "candidate.created"
    assert (message.tenant_id, message.app_id, message.connector_id) == (
        webhook.tenant_id, "app-1", "c-1",
    )  # fmt: skip
    assert message.headers == {"stripe-signature": "t=1,v1=00"}
    assert (message.body, message.body_size, message.received_at) == (JSON_BODY, 51, now)
    assert event is not None and event.id == message.event_id
    assert (event.type, event.tenant_id, event.app_id, event.connector_id) == (
        "inbound.received", webhook.tenant_id, "app-1", "c-1",
    )  # fmt: skip
    assert event.data == {
        "inbound_message_id": message.id,
        "webhook_id": webhook.id,
        "connector_id": "c-1",
        "provider_event": "candidate.created",
        "payload": payload,
    }


@pytest.mark.parametrize(
    ("patterns", "name", "published"),
    [
        ((), "push", True),
        ((), None, True),
        (("push",), "push", True),
        (("pull_*",), "pull_request", True),
        (("push",), "issues", False),
        (("push",), None, False),
        (("*",), None, True),
    ],
)
def test_event_types_decide_whether_the_event_is_published(
    patterns: tuple[str, ...], name: str | None, published: bool
) -> None:
    webhook = hook("github", event_types=patterns)
    headers = {"x-github-event": name} if name else {}
    message, event = inbound.accepted(
        webhook, Message("d-1", 1, b"{}"), headers, {}, factories.utcnow(), ids
    )
    assert (event is not None) is published
    assert (message.event_id is not None) is published


def test_the_public_shape_shows_text_or_base64_bodies() -> None:
    message, _ = inbound.accepted(
        hook(), Message("", 1, b"\xff\x00"), {}, "", factories.utcnow(), ids
    )
    shown = message.to_public()
    assert (shown["body"], shown["body_encoding"]) == ("/wA=", "base64")
    text = dataclasses.replace(message, body="ünï".encode())
    assert (text.to_public()["body"], text.to_public()["body_encoding"]) == ("ünï", "utf-8")
    listed = dataclasses.replace(message, body=None).to_public()  # as lists read it
    assert "body" not in listed and "body_encoding" not in listed and listed["body_size"] == 2
