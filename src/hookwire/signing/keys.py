"""Secret material per signature scheme: what is accepted, what is generated, fingerprints.

As docs/decisions.md records: ``standard-webhooks`` secrets are ``whsec_`` + base64 of 24-64 bytes
and the HMAC
key is the decoded bytes. Every other HMAC scheme uses the UTF-8 bytes of the whole secret
string and accepts 16-256 printable characters, so a vendor-generated secret can be entered.
``standard-webhooks-ed25519`` uses a ``whsk_`` signing key (base64 of the 32-byte Ed25519 seed;
the 64-byte seed+public form is accepted too) and exposes ``whpk_`` + base64 of the public key.
An inbound ed25519 webhook verifies, so its "secret" is the sender's ``whpk_`` public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

STANDARD: Final = "standard-webhooks"
ED25519: Final = "standard-webhooks-ed25519"
OUTBOUND_SCHEMES: Final = (STANDARD, ED25519, "kombo", "github", "stripe")
INBOUND_SCHEMES: Final = (*OUTBOUND_SCHEMES, "slack", "shopify", "hmac-sha256")
ALL_SCHEMES: Final = INBOUND_SCHEMES


def _b64decode(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def fingerprint(secret: str) -> str:
    """``sha256:`` + hex SHA-256 of the UTF-8 secret string."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def secret_problem(scheme: str, secret: str, *, inbound: bool) -> str | None:
    """Why ``secret`` is not usable for ``scheme``, or None when it is."""
    if scheme == STANDARD:
        raw = _b64decode(secret[6:]) if secret.startswith("whsec_") else None
        if raw is None or not 24 <= len(raw) <= 64:
            return "must be 'whsec_' followed by the base64 of 24 to 64 bytes"
        return None
    if scheme == ED25519:
        prefix, sizes = ("whpk_", (32,)) if inbound else ("whsk_", (32, 64))
        raw = _b64decode(secret[5:]) if secret.startswith(prefix) else None
        if raw is None or len(raw) not in sizes:
            what = "public key" if inbound else "signing key"
            return f"must be an Ed25519 {what}: '{prefix}' followed by base64 of the key bytes"
        if len(raw) == 64 and _raw_public(raw[:32]) != raw[32:]:
            return "is a 64-byte Ed25519 key whose second half is not the seed's public key"
        return None
    if not 16 <= len(secret) <= 256 or not secret.isprintable() or not secret.isascii():
        return "must be 16 to 256 printable ASCII characters"
    return None


def generate_secret(scheme: str) -> str:
    """A fresh secret for an outbound webhook of ``scheme``."""
    if scheme == ED25519:
        return "whsk_" + base64.b64encode(secrets.token_bytes(32)).decode()
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def public_key(scheme: str, secret: str, *, inbound: bool) -> str | None:
    """The ``whpk_`` key consumers verify with, for ed25519 webhooks; None otherwise."""
    if scheme != ED25519:
        return None
    if inbound:
        return secret
    return "whpk_" + base64.b64encode(_raw_public(base64.b64decode(secret[5:])[:32])).decode()


def _raw_public(seed: bytes) -> bytes:
    key = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)
