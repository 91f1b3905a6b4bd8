"""The secrets in force (secrets.cache), read through the local secret backend on both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hookwire.errors import HookwireError
from hookwire.secrets.cache import SecretCache
from hookwire.services.container import Services
from hookwire.timeutil import iso, utcnow

PATH = "hookwire/acme/webhooks/wh_1"


async def test_the_previous_secret_is_in_force_until_its_grace_ends(services: Services) -> None:
    now = utcnow()
    document = {"current": "new", "previous": "old", "previous_expires_at": iso(now) or ""}
    await services.secrets.put(PATH, document)
    cache = SecretCache(services.secrets)
    assert await cache.in_force(PATH, "fp-2", now - timedelta(seconds=1)) == ["new", "old"]
    assert await cache.in_force(PATH, "fp-2", now) == ["new"]  # cached, expiry still checked


async def test_a_new_fingerprint_reads_the_store_again(services: Services) -> None:
    await services.secrets.put(PATH, {"current": "one"})
    cache = SecretCache(services.secrets)
    assert await cache.in_force(PATH, "fp-1", utcnow()) == ["one"]
    await services.secrets.put(PATH, {"current": "two"})
    assert await cache.in_force(PATH, "fp-1", utcnow()) == ["one"]  # same fingerprint: cached
    assert await cache.in_force(PATH, "fp-2", utcnow()) == ["two"]


async def test_a_missing_secret_fails_and_is_not_remembered(services: Services) -> None:
    cache = SecretCache(services.secrets)
    with pytest.raises(HookwireError):
        await cache.in_force(PATH, "fp-1", utcnow())
    await services.secrets.put(PATH, {"current": "back"})
    assert await cache.in_force(PATH, "fp-1", utcnow()) == ["back"]
