"""Every signature scheme by name (docs/signing.md, docs/decisions.md; names as in
``keys.ALL_SCHEMES``)."""

from __future__ import annotations

from collections.abc import Mapping

from hookwire.signing import (
    ed25519,
    github,
    hmac_sha256,
    kombo,
    shopify,
    slack,
    standard_webhooks,
    stripe,
)
from hookwire.signing.base import Scheme

SCHEMES: dict[str, Scheme] = {
    module.SCHEME.name: module.SCHEME
    for module in (standard_webhooks, ed25519, kombo, github, stripe, slack, shopify, hmac_sha256)
}


def get_scheme(name: str) -> Scheme:
    """The scheme called ``name`` (``hmac-sha256`` with its default options); KeyError when
    there is none."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise KeyError(f"unknown signature scheme {name!r}") from None


def scheme_for(name: str, options: Mapping[str, str]) -> Scheme:
    """The scheme of a webhook: its ``signature_scheme`` configured by its
    ``signature_options`` (only ``hmac-sha256`` has options)."""
    if name == hmac_sha256.NAME and options:
        return hmac_sha256.configured(options)
    return get_scheme(name)
