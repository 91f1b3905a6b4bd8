"""``standard-webhooks-ed25519``: Standard Webhooks 1.0, asymmetric (``v1a``).

The ``standard-webhooks`` headers and signed string ``"{id}.{timestamp}.{body}"``, with
``webhook-signature: v1a,<standard base64 of the 64-byte Ed25519 signature>``. Signs with
``whsk_`` keys (base64 of the 32-byte seed, or seed + public key; every key signs during a
rotation); verifies with ``whpk_`` keys (base64 of the raw 32-byte public key; ``whsk_`` works
too). Spec: spec/standard-webhooks.md ("Signature scheme": symmetric vs asymmetric) and
libraries/go/webhook_asymmetric.go in github.com/standard-webhooks/standard-webhooks.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hookwire.errors import ConfigurationError
from hookwire.signing import base
from hookwire.signing.base import Secrets
from hookwire.signing.keys import ED25519
from hookwire.signing.standard_webhooks import StandardWebhooks


def _raw(secret: str, prefix: str, sizes: tuple[int, ...]) -> bytes:
    raw = base.b64decode(secret.removeprefix(prefix)) if secret.startswith(prefix) else None
    if raw is None or len(raw) not in sizes:
        raise ConfigurationError(f"an Ed25519 key must be '{prefix}' + base64 of {sizes} bytes")
    return raw


def private_key(secret: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_raw(secret, "whsk_", (32, 64))[:32])


def public_key(secret: str) -> Ed25519PublicKey:
    if secret.startswith("whsk_"):
        return private_key(secret).public_key()
    return Ed25519PublicKey.from_public_bytes(_raw(secret, "whpk_", (32,)))


def _valid(key: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


class Ed25519(StandardWebhooks):
    name = ED25519
    version = "v1a"

    def signatures(self, secrets: Secrets, data: bytes) -> list[str]:
        return [base.b64(private_key(s).sign(data)) for s in secrets]

    def matches(self, secrets: Secrets, given: Sequence[str], data: bytes) -> bool:
        keys = [public_key(s) for s in secrets]
        sigs = [raw for raw in map(base.b64decode, given) if raw is not None and len(raw) == 64]
        return any(_valid(key, sig, data) for key in keys for sig in sigs)


SCHEME = Ed25519()
