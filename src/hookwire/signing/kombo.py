"""``kombo``: header ``X-Kombo-Signature``, URL-safe base64 *without padding* of HMAC-SHA256
over the raw body, keyed with the UTF-8 bytes of the whole secret; no timestamp, no message id.
Documented by Kombo ("Webhooks: verifying signatures", https://docs.kombo.dev) and docs/signing.md.
"""

from __future__ import annotations

import base64

from hookwire.signing.base import HeaderHmac


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


SCHEME = HeaderHmac("kombo", "X-Kombo-Signature", _b64url)
