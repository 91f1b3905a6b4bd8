"""``shopify``: header ``X-Shopify-Hmac-Sha256``, standard base64 of HMAC-SHA256 over the raw
body, keyed with the UTF-8 bytes of the app's client secret; no timestamp. Documented at
https://shopify.dev/docs/apps/build/webhooks/subscribe/https ("Verify webhooks"). The delivery
id is ``X-Shopify-Event-Id``, which Shopify's "Ignore duplicate webhooks" names as the one
that repeats on a duplicate, else ``X-Shopify-Webhook-Id`` (older API versions send only it).
"""

from __future__ import annotations

from hookwire.signing.base import HeaderHmac, b64

SCHEME = HeaderHmac(
    "shopify",
    "X-Shopify-Hmac-Sha256",
    b64,
    id_headers=("X-Shopify-Event-Id", "X-Shopify-Webhook-Id"),
)
