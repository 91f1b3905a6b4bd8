"""The bytes a delivery sends (docs/concepts.md "Deliveries and attempts"): compact UTF-8 JSON in
the webhook's envelope.

- ``event`` (default): ``{id, type, data}`` — the shape of seeds 000-002, so a delivered body
  validates against those schemas;
- ``workspace``: ``{workspace_id, customer_id, event, state, payload}`` — seed 003, with the
  tenant as the workspace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from hookwire.domain.event import Event


def render(event: Event, kind: str) -> bytes:
    if kind == "workspace":
        return orjson.dumps(
            {
                "workspace_id": event.tenant_id,
                "customer_id": event.customer_id,
                "event": event.type,
                "state": event.state,
                "payload": event.data,
            }
        )
    return orjson.dumps({"id": event.id, "type": event.type, "data": event.data})
