"""``stripe``: header ``Stripe-Signature: t=<unix seconds>,v1=<lowercase hex>[,v1=...]``, each v1
an HMAC-SHA256 over ``"{t}.{body}"`` keyed with the UTF-8 bytes of the whole secret (every secret
adds a v1 during a rotation). Message id: the body's JSON ``id`` (the event id), if any.
Documented at https://docs.stripe.com/webhooks#verify-manually.
"""

from __future__ import annotations

import json

from hookwire.errors import SignatureInvalid
from hookwire.signing import base
from hookwire.signing.base import Headers, Message, Secrets

HEADER = "Stripe-Signature"


def _signature(secret: str, ts: int, body: bytes) -> str:
    return base.hmac_sha256(secret.encode(), f"{ts}.".encode() + body).hex()


def _event_id(body: bytes) -> str:
    try:
        event = json.loads(body)
    except ValueError:
        return ""
    value = event.get("id") if isinstance(event, dict) else None
    return value if isinstance(value, str) else ""


class Stripe:
    name = "stripe"

    def sign(self, message: Message, secrets: Secrets) -> dict[str, str]:
        sigs = [
            f"v1={_signature(s, message.timestamp, message.body)}" for s in base.signing(secrets)
        ]
        return {HEADER: ",".join([f"t={message.timestamp}", *sigs])}

    def verify(
        self, headers: Headers, body: bytes, secrets: Secrets, now: int, tolerance: int = 300
    ) -> Message:
        pairs = [item.strip().partition("=") for item in base.header(headers, HEADER).split(",")]
        stamps = [value for key, _, value in pairs if key == "t"]
        if len(stamps) != 1:
            raise SignatureInvalid(f"{HEADER} must hold exactly one t=")
        ts = base.timestamp(stamps[0], f"{HEADER} t", now, tolerance)
        given = base.tried([value for key, _, value in pairs if key == "v1"])
        if not base.any_equal([_signature(s, ts, body) for s in secrets], given):
            raise SignatureInvalid(f"no v1 signature in {HEADER} matches")
        return Message(_event_id(body), ts, body)


SCHEME = Stripe()
