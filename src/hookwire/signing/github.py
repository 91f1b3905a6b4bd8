"""``github``: header ``X-Hub-Signature-256: sha256=<lowercase hex>`` of HMAC-SHA256 over the
raw body, keyed with the UTF-8 bytes of the whole secret; no timestamp. Delivery id in
``X-GitHub-Delivery``. Documented at
https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries.
"""

from __future__ import annotations

from hookwire.signing.base import HeaderHmac


def _hex(raw: bytes) -> str:
    return "sha256=" + raw.hex()


SCHEME = HeaderHmac("github", "X-Hub-Signature-256", _hex, id_headers=("X-GitHub-Delivery",))
