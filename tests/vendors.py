"""Third parties as their documentation (and, where they publish one, their own library) says
they sign webhooks: the senders of the inbound tests.

Each vendor here is written independently of ``hookwire.signing``: Stripe signs with
``stripe.WebhookSignature.generate_signature_header`` (documented for tests), Slack with
``slack_sdk``'s ``SignatureVerifier.generate_signature``, Standard Webhooks with the
``standardwebhooks`` package, Ed25519 with ``cryptography``, and the others with ``hmac`` by
the rule their docs give (GitHub, Shopify and Kombo publish no library helper for this).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from slack_sdk.signature import SignatureVerifier
from standardwebhooks.webhooks import Webhook as StandardWebhook

# --- the vendors' published examples (request, secret, expected signature) ----------------------

# docs.github.com, "Validating webhook deliveries" -> "Testing the webhook payload validation".
GITHUB_SECRET, GITHUB_BODY = "It's a Secret to Everybody", b"Hello, World!"
GITHUB_SIG = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# api.slack.com/authentication/verifying-requests-from-slack, the worked example. The docs' body
# has command=%2Fwebhook-collect (with %2Fwebbot the documented signature does not reproduce).
SLACK_SECRET, SLACK_TS = "8f742231b10e8888abcd99yyyzzz85a5", 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIG = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

# github.com/standard-webhooks/standard-webhooks: libraries/python/tests/test_webhooks.py
# (test_sign_function) and libraries/go/webhook_asymmetric_test.go (TestAsymmetricWebhookSign).
SW_ID, SW_TS, SW_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SW_SECRET, SW_SIG = (
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
)
ED_KEY = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
ED_SIG = (
    "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)

# --- senders --------------------------------------------------------------------------------------

Sign = Callable[[str, bytes, int, str], dict[str, str]]  # (secret, body, ts, delivery id)


@dataclass(frozen=True)
class Vendor:
    """How one scheme's sender signs: the webhook to create, and the headers of a request."""

    scheme: str
    secret: str  # what the webhook is created with (for Ed25519: the sender's public key)
    signing_key: str  # what the sender signs with
    other_key: str  # a wrong key of the same kind
    sign: Sign
    event_name: str | None  # what the provider calls the event of BODY (see provider_event)
    id_header: str | None  # the header that carries the delivery id, if any
    required: tuple[str, ...]  # headers whose absence is a 401
    timestamped: bool = False
    options: dict[str, str] = field(default_factory=dict)

    def create_body(self, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "direction": "inbound",
            "signature_scheme": self.scheme,
            "secret": self.secret,
        }
        if self.options:
            body["signature_options"] = self.options
        return {**body, **extra}

    def headers(
        self, body: bytes, *, ts: int, delivery_id: str = "", key: str = ""
    ) -> dict[str, str]:
        return self.sign(key or self.signing_key, body, ts, delivery_id)


def _hmac(secret: str, data: bytes) -> bytes:
    return hmac.new(secret.encode(), data, hashlib.sha256).digest()


def _standard(secret: str, body: bytes, ts: int, delivery_id: str) -> dict[str, str]:
    stamp = datetime.fromtimestamp(ts, UTC)
    signature = StandardWebhook(secret).sign(delivery_id, stamp, body.decode())
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def _ed25519(key: str, body: bytes, ts: int, delivery_id: str) -> dict[str, str]:
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(key.removeprefix("whsk_")))
    signature = private.sign(f"{delivery_id}.{ts}.".encode() + body)
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1a," + base64.b64encode(signature).decode(),
        "content-type": "application/json",
    }


def _github(secret: str, body: bytes, ts: int, delivery_id: str) -> dict[str, str]:
    headers = {
        "X-Hub-Signature-256": "sha256=" + _hmac(secret, body).hex(),
        "X-GitHub-Event": "issues",
        "Content-Type": "application/json",
    }
    return headers | ({"X-GitHub-Delivery": delivery_id} if delivery_id else {})


def _stripe(secret: str, body: bytes, ts: int, delivery_id: str) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, ts)
    return {"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"}


def _slack(secret: str, body: bytes, ts: int, delivery_id: str) -> dict[str, str]:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(ts), body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature,
        "Content-Type": "application/json",
    }


def _shopify(secret: str, body: bytes, ts: int, delivery_id: str) -> dict[str, str]:
    headers = {
        "X-Shopify-Hmac-Sha256": base64.b64encode(_hmac(secret, body)).decode(),
        "X-Shopify-Topic": "orders/create",
        "Content-Type": "application/json",
    }
    if delivery_id:  # Shopify sends both; the event id repeats on a duplicate
        headers |= {"X-Shopify-Event-Id": delivery_id, "X-Shopify-Webhook-Id": f"w-{ts}"}
    return headers


def _kombo(secret: str, body: bytes, ts: int, delivery_id: str) -> dict[str, str]:
    signature = base64.urlsafe_b64encode(_hmac(secret, body)).decode().rstrip("=")
    return {"X-Kombo-Signature": signature, "Content-Type": "application/json"}


def _generic(secret: str, body: bytes, ts: int, delivery_id: str) -> dict[str, str]:
    headers = {
        "X-Acme-Signature": "sha256=" + _hmac(secret, body).hex(),
        "X-Acme-Event": "candidate.hired",
        "Content-Type": "application/json",
    }
    return headers | ({"X-Acme-Delivery": delivery_id} if delivery_id else {})


def _key(n: int) -> str:
    return "whsk_" + base64.b64encode(bytes([n]) * 32).decode()


def _public(key: str) -> str:
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(key.removeprefix("whsk_")))
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "whpk_" + base64.b64encode(raw).decode()


STANDARD_SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
SHARED = "vendor-shared-secret-0123456789"
WRONG = "someone-elses-secret-9876543210"

VENDORS: dict[str, Vendor] = {
    v.scheme: v
    for v in (
        Vendor(
            "standard-webhooks", STANDARD_SECRET, STANDARD_SECRET,
            "whsec_" + base64.b64encode(b"w" * 32).decode(), _standard, "data-changed",
            "webhook-id", ("webhook-id", "webhook-timestamp", "webhook-signature"), True,
        ),
        Vendor(
            "standard-webhooks-ed25519", _public(_key(7)), _key(7), _key(8), _ed25519,
            "data-changed", "webhook-id",
            ("webhook-id", "webhook-timestamp", "webhook-signature"), True,
        ),
        Vendor(
            "github", SHARED, SHARED, WRONG, _github, "issues", "X-GitHub-Delivery",
            ("X-Hub-Signature-256",),
        ),
        Vendor(
            "stripe", "whsec_" + SHARED, "whsec_" + SHARED, "whsec_" + WRONG, _stripe,
            "data-changed", None, ("Stripe-Signature",), True,
        ),
        Vendor(
            "slack", SHARED, SHARED, WRONG, _slack, "data-changed", None,
            ("X-Slack-Request-Timestamp", "X-Slack-Signature"), True,
        ),
        Vendor(
            "shopify", SHARED, SHARED, WRONG, _shopify, "orders/create", "X-Shopify-Webhook-Id",
            ("X-Shopify-Hmac-Sha256",),
        ),
        Vendor(
            "kombo", SHARED, SHARED, WRONG, _kombo, "data-changed", None, ("X-Kombo-Signature",),
        ),
        Vendor(
            "hmac-sha256", SHARED, SHARED, WRONG, _generic, "candidate.hired", "X-Acme-Delivery",
            ("X-Acme-Signature",),
            options={
                "header": "X-Acme-Signature", "prefix": "sha256=", "encoding": "hex",
                "id_header": "X-Acme-Delivery", "event_header": "X-Acme-Event",
            },
        ),
    )
}  # fmt: skip
