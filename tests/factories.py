"""Small builders of domain objects for tests."""

from __future__ import annotations

import dataclasses
from typing import Any

from hookwire.domain.principal import Principal
from hookwire.domain.webhook import Webhook
from hookwire.ids import new_id
from hookwire.signing.keys import fingerprint
from hookwire.timeutil import utcnow as utcnow


def principal(tenant: str | None = None, app: str | None = None) -> Principal:
    return Principal(tenant_id=tenant or "t_" + new_id("wh")[-10:], sub="user-1", app_id=app)


def webhook(owner: Principal, **overrides: Any) -> Webhook:
    webhook_id = new_id("wh")
    now = utcnow()
    base = Webhook(
        id=webhook_id,
        tenant_id=owner.tenant_id,
        app_id=owner.app_id,
        direction="outbound",
        url="https://receiver.example/hooks",
        vault_path=f"hookwire/{owner.tenant_id}/webhooks/{webhook_id}",
        secret_fingerprint=fingerprint("whsec_test"),
        created_at=now,
        updated_at=now,
        created_by=owner.sub,
        updated_by=owner.sub,
    )
    return dataclasses.replace(base, **overrides)
