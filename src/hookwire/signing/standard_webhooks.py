"""``standard-webhooks``: Standard Webhooks 1.0, symmetric.

Headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<sig>`` (space-separated
list; every secret signs during a rotation). Signed string ``"{id}.{timestamp}.{body}"``;
HMAC-SHA256 keyed with the base64-decoded part of the ``whsec_`` secret; standard base64.
Spec: https://www.standardwebhooks.com (github.com/standard-webhooks/standard-webhooks,
spec/standard-webhooks.md, "Signature scheme" and "Webhook headers").
"""

from __future__ import annotations

from collections.abc import Sequence

from hookwire.errors import ConfigurationError, SignatureInvalid
from hookwire.signing import base
from hookwire.signing.base import Headers, Message, Secrets
from hookwire.signing.keys import STANDARD

ID, TIMESTAMP, SIGNATURE = "webhook-id", "webhook-timestamp", "webhook-signature"


def hmac_key(secret: str) -> bytes:
    key = base.b64decode(secret.removeprefix("whsec_"))
    if not key:
        raise ConfigurationError("a standard-webhooks secret must be 'whsec_' + base64")
    return key


class StandardWebhooks:
    name = STANDARD
    version = "v1"

    def signatures(self, secrets: Secrets, data: bytes) -> list[str]:
        return [base.b64(base.hmac_sha256(hmac_key(s), data)) for s in secrets]

    def matches(self, secrets: Secrets, given: Sequence[str], data: bytes) -> bool:
        return base.any_equal(self.signatures(secrets, data), given)

    def sign(self, message: Message, secrets: Secrets) -> dict[str, str]:
        data = f"{message.id}.{message.timestamp}.".encode() + message.body
        sigs = self.signatures(base.signing(secrets), data)
        return {
            ID: message.id,
            TIMESTAMP: str(message.timestamp),
            SIGNATURE: " ".join(f"{self.version},{sig}" for sig in sigs),
        }

    def verify(
        self, headers: Headers, body: bytes, secrets: Secrets, now: int, tolerance: int = 300
    ) -> Message:
        msg_id = base.header(headers, ID)
        ts = base.timestamp(base.header(headers, TIMESTAMP), TIMESTAMP, now, tolerance)
        entries = (entry.partition(",") for entry in base.header(headers, SIGNATURE).split())
        given = [sig for version, _, sig in entries if version == self.version]
        if not self.matches(secrets, base.tried(given), f"{msg_id}.{ts}.".encode() + body):
            raise SignatureInvalid(f"no {self.version} signature in {SIGNATURE} matches")
        return Message(msg_id, ts, body)


SCHEME = StandardWebhooks()
