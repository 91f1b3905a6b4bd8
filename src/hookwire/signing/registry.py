"""Every signature scheme by name (DESIGN §5 "Headers", §7; names as in ``keys.ALL_SCHEMES``)."""

from __future__ import annotations

from hookwire.signing import ed25519, github, kombo, shopify, slack, standard_webhooks, stripe
from hookwire.signing.base import Scheme

SCHEMES: dict[str, Scheme] = {
    module.SCHEME.name: module.SCHEME
    for module in (standard_webhooks, ed25519, kombo, github, stripe, slack, shopify)
}


def get_scheme(name: str) -> Scheme:
    """The scheme called ``name``; KeyError when there is none."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise KeyError(f"unknown signature scheme {name!r}") from None
