"""hookwire's own events about webhooks: ``webhook.paused`` and ``webhook.resumed``.

They go to the tenant's OTHER webhooks (the one paused is not told about itself) and are
published in the same transaction as the change they announce (docs/concepts.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from hookwire.domain.delivery import Candidate, Delivery, fan_out
from hookwire.domain.event import Event
from hookwire.domain.webhook import Webhook
from hookwire.ids import new_id
from hookwire.store.base import Announcement
from hookwire.timeutil import iso

Kind = Literal["webhook.paused", "webhook.resumed"]


def announce(webhook: Webhook, kind: Kind, reason: str, at: datetime) -> Announcement:
    event = Event(
        id=new_id("evt"),
        tenant_id=webhook.tenant_id,
        type=kind,
        type_version=1,
        data={
            "webhook_id": webhook.id,
            "name": webhook.name,
            "reason": reason,
            "consecutive_failures": webhook.consecutive_failures,
            "at": iso(at),
        },
        created_at=at,
    )

    def to_others(candidates: Sequence[Candidate]) -> list[Delivery]:
        others = [w for w in candidates if w.id != webhook.id]
        return fan_out(event, others, lambda: new_id("dlv"))

    return Announcement(event, to_others)


def paused(webhook: Webhook, reason: str, at: datetime) -> Announcement:
    """The announcer the delivery engine calls when it pauses a webhook."""
    return announce(webhook, "webhook.paused", reason, at)
