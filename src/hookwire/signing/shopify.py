"""``shopify``: header ``X-Shopify-Hmac-Sha256``, standard base64 of HMAC-SHA256 over the raw
body, keyed with the UTF-8 bytes of the app's client secret; no timestamp. Delivery id in
``X-Shopify-Webhook-Id``. Documented at
https://shopify.dev/docs/apps/build/webhooks/subscribe/https ("Verify webhooks").
"""

from __future__ import annotations

from hookwire.signing.base import HeaderHmac, b64

SCHEME = HeaderHmac("shopify", "X-Shopify-Hmac-Sha256", b64, id_header="X-Shopify-Webhook-Id")
