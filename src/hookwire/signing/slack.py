"""``slack``: headers ``X-Slack-Request-Timestamp: <unix seconds>`` and ``X-Slack-Signature:
v0=<lowercase hex>`` of HMAC-SHA256 over ``"v0:{timestamp}:{body}"``, keyed with the UTF-8 bytes
of the signing secret; no message id. Documented at
https://api.slack.com/authentication/verifying-requests-from-slack.
"""

from __future__ import annotations

from hookwire.signing.base import HeaderHmac


def _hex(raw: bytes) -> str:
    return "v0=" + raw.hex()


def _signed(ts: int, body: bytes) -> bytes:
    return f"v0:{ts}:".encode() + body


SCHEME = HeaderHmac(
    "slack", "X-Slack-Signature", _hex, signed=_signed, ts_header="X-Slack-Request-Timestamp"
)
